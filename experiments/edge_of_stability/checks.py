"""Edge of stability: the checks, pure functions of the stored tables.

Each number is decided by its 95% seed-bootstrap interval (``physai.evidence.bootstrap_verdict``:
whole seeds resampled); one part per eta present in the table. None is wrapped with
``physai.evidence.unless_converged``: progressive sharpening and the edge are about the GD
trajectory, measured on a window that ends where the loss reaches its floor (the explanation
says how many windows got there); the control's claim is for the budget.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from physai import Results, Verdict, all_of
from physai.evidence import bootstrap_verdict

from .window import CONVERGED_FRACTION, with_window

MIN_SHARPENING = 1.5  # progressive sharpening: rise >= 1.5x before reaching 2/eta
HOVER_RANGE = (0.9, 1.1)  # median lambda*eta/2 over the edge window (catapult excluded)
HOVER_MAX = 1.3  # max lambda*eta/2 over the edge window (catapult excluded)
MIN_LOSS_UP = 0.05  # non-monotone loss: >= 1 in 20 log intervals of the edge window goes up
BELOW_ONE = float(np.nextafter(1.0, 0.0))  # control: max lambda*eta/2 < 1 (strict)


def _role(results: Results, role: str) -> pd.DataFrame:
    ok = with_window(results)
    return ok[ok["role"] == role] if "role" in ok.columns else ok.iloc[0:0]


def _per_eta(results: Results, expected: str, part) -> list[Verdict] | Verdict:
    """One verdict per eta planned for the edge-of-stability role (a diverged run still
    counts: an eta whose every run diverged is an inconclusive part), each from
    ``part(runs, lr) -> [Verdict]``; a single inconclusive verdict if there are none."""
    eos = _role(results, "eos")
    t = results.trials
    lrs = sorted(t.loc[t["role"] == "eos", "lr"].unique()) if "role" in t.columns else []
    if eos.empty or not lrs:
        return Verdict("inconclusive", math.nan, expected, "no edge-of-stability runs")
    parts = []
    for lr in lrs:
        runs = eos[np.isclose(eos["lr"], lr)]
        if runs.empty:
            parts.append(Verdict("inconclusive", math.nan, expected, f"eta={lr:g}: every run diverged", f"eta={lr:g}"))
        else:
            parts.extend(part(runs, lr))
    return parts


def least_sharpening(runs: pd.DataFrame) -> float:
    """Least (over runs) sharpening ratio; a run that does not reach 0.9 * 2/eta in the
    first half of training counts as no sharpening (0)."""
    late = runs["reach_step"].isna().to_numpy() | (runs["reach_step"].to_numpy() > runs["steps"].to_numpy() / 2)
    sharpening = np.where(late, 0.0, runs["sharpening"].to_numpy(float))
    return float(np.nanmin(np.nan_to_num(sharpening, nan=0.0))) if len(runs) else math.nan


def median_of(column: str):
    """Returns: table -> the median of ``column`` over its rows (a NaN row, a run with no
    edge window, counts as 0: it did not hover)."""
    return lambda runs: (
        float(np.median(np.nan_to_num(runs[column].to_numpy(float), nan=0.0))) if len(runs) else math.nan
    )


def largest(column: str):
    """Returns: table -> the largest value of ``column`` over its rows (NaN if any row is NaN)."""
    return lambda runs: float(np.max(runs[column].to_numpy(float))) if len(runs) else math.nan


def check_progressive_sharpening(results: Results) -> Verdict:
    """Per eta present: the least sharpening over seeds, with its seed-bootstrap interval."""

    def part(runs, lr):
        table = runs[["seed", "reach_step", "steps", "sharpening"]]
        return [
            bootstrap_verdict(
                table, least_sharpening, MIN_SHARPENING, math.inf, "least ratio", hypothesis=f"eta={lr:g}"
            )
        ]

    parts = _per_eta(results, f">= {MIN_SHARPENING:g}", part)
    return (
        parts
        if isinstance(parts, Verdict)
        else all_of(
            parts,
            "Least (over seeds) ratio of the sharpness on first reaching 0.9 * 2/eta to its initial "
            "value, 0 if 2/eta is not reached in the first half; 95% seed-bootstrap interval.",
        )
    )


def check_edge_of_stability(results: Results) -> Verdict:
    """Per eta present: over the edge window (first reaching 0.9 * 2/eta to the loss floor,
    the catapult left out), the median over seeds of each run's median ratio and the
    largest ratio of any run, each with its seed-bootstrap interval."""
    notes = []

    def part(runs, lr):
        table, name = runs[["seed", "edge_median", "edge_max"]], f"eta={lr:g}"
        done = int(runs["edge_converged"].astype(bool).sum())
        peak = np.nanmax(runs["catapult_peak"].to_numpy(float), initial=-math.inf)
        notes.append(f"{name}: catapult peak {peak:.3g}, {done} of {len(runs)} windows reach the loss floor")
        return [
            bootstrap_verdict(table, median_of("edge_median"), *HOVER_RANGE, "median", hypothesis=f"{name} median"),
            bootstrap_verdict(table, largest("edge_max"), -math.inf, HOVER_MAX, "max", hypothesis=f"{name} max"),
        ]

    parts = _per_eta(results, str(HOVER_RANGE), part)
    return (
        parts
        if isinstance(parts, Verdict)
        else all_of(
            parts,
            "lambda_max * eta / 2 from the first log point at 0.9 * 2/eta until the training loss reaches "
            f"{CONVERGED_FRACTION:g} of its initial value (the loss floor), the catapult (first overshoot "
            "above 2/eta and the drop that ends it) left out: median over seeds of each run's median, and "
            "the largest value of any run; 95% seed-bootstrap intervals. Reported, not checked: "
            + "; ".join(notes)
            + ".",
        )
    )


def check_non_monotone_loss(results: Results) -> Verdict:
    """Per eta present: the median over seeds of the fraction of log intervals in the edge
    window whose training loss went up is >= MIN_LOSS_UP; the control's loss never goes up."""

    def part(runs, lr):
        table = runs[["seed", "loss_up_fraction"]]
        return [
            bootstrap_verdict(
                table, median_of("loss_up_fraction"), MIN_LOSS_UP, math.inf, "median", hypothesis=f"eta={lr:g}"
            )
        ]

    parts = _per_eta(results, f">= {MIN_LOSS_UP:g}", part)
    if isinstance(parts, Verdict):
        return parts
    control = _role(results, "control")
    if control.empty:
        parts.append(Verdict("inconclusive", math.nan, "0", "no control runs", "control"))
    else:
        table = control[["seed", "loss_up_fraction"]]
        parts.append(bootstrap_verdict(table, largest("loss_up_fraction"), -math.inf, 0.0, "max", hypothesis="control"))
    return all_of(
        parts,
        "Fraction of the log intervals in the edge window whose training loss went up (a rise "
        "between log points implies a rise on some step): median over seeds per eta, and the "
        "largest over the control runs (their whole run); 95% seed-bootstrap intervals.",
    )


def check_small_eta_control(results: Results) -> Verdict:
    """The largest lambda_max * eta / 2 of any control run over its whole budget is < 1."""
    control = _role(results, "control")
    if control.empty:
        return Verdict("inconclusive", math.nan, "< 1", "no control runs")
    etas = ", ".join(f"{lr:g}" for lr in sorted(control["lr"].unique()))
    done = int(control["converged"].astype(bool).sum()) if "converged" in control else 0
    budget = ", ".join(f"{int(s)}" for s in sorted(control["steps"].unique())) if "steps" in control else "?"
    return bootstrap_verdict(
        control[["seed", "max_ratio"]],
        largest("max_ratio"),
        -math.inf,
        BELOW_ONE,
        "max",
        f"With a small step (eta = {etas}) the sharpness stays below 2/eta within the budget of "
        f"{budget} steps: largest lambda_max * eta / 2 over all control runs and log points, 95% "
        f"seed-bootstrap interval. {done} of {len(control)} control runs met the trainer's convergence "
        "criterion; a claim for this budget, not for the converged network.",
    )
