"""The quanta experiment's checks: learning order, loss exponent, abrupt emergence."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pandas as pd

from physai import Results, Verdict, all_of, verdict_in_range
from physai.evidence import bootstrap_verdict, unless_converged

MIN_LEARNED = 4  # runs with fewer learned tasks say nothing about order
MIN_TAU = 0.9
EXPONENT_TOL = 0.15
MAX_WIDTH_RATIO = 0.25  # median rise width / onset spread
SETTINGS = ("n_tasks", "n_bits", "k", "alpha", "lr", "batch_size", "steps", "n_train", "max_overlap")


def _ordered_runs(results: Results) -> pd.DataFrame:
    df = results.ok
    if df.empty or "n_learned" not in df.columns:
        return df.iloc[0:0]
    return df[(df["n_learned"] >= MIN_LEARNED) & np.isfinite(df["order_tau"])]


def _median_of(column: str):
    """Returns: ``table -> median of column`` (the statistic a bootstrap recomputes)."""
    return lambda t: float(np.median(t[column].to_numpy(float)))


# Learning order and abruptness are properties of the fixed-budget training trajectory (when
# each task rises), not of an end state: no convergence caveat applies to them.


def check_learning_order(results: Results) -> Verdict:
    """Median over runs (>= MIN_LEARNED learned tasks) of Kendall tau(onset, rank) >= 0.9,
    decided by the seed-bootstrap interval of that median."""
    runs = _ordered_runs(results)
    if runs.empty:
        return Verdict("inconclusive", float("nan"), f">= {MIN_TAU:g}", f"no run learned >= {MIN_LEARNED} tasks")
    exact = float((runs["order_tau"] >= 1 - 1e-9).mean())
    return bootstrap_verdict(
        runs,
        _median_of("order_tau"),
        MIN_TAU,
        1.0,
        "median Kendall tau",
        f"over {len(runs)} runs learning {int(runs['n_learned'].min())}-"
        f"{int(runs['n_learned'].max())} tasks, onsets follow frequency rank "
        f"({exact:.0%} in exact order)",
    )


def loss_vs_params(df: pd.DataFrame) -> pd.DataFrame:
    """Median final mean loss over seeds per parameter count (sorted by n_params)."""
    return df.groupby("n_params", as_index=False)["test_loss"].median().sort_values("n_params")


def loss_exponent(table: pd.DataFrame) -> float:
    """Minus the log-log slope of the median (over seeds) loss vs parameters; NaN with < 3 sizes."""
    n, loss = table["n_params"].to_numpy(float), table["test_loss"].to_numpy(float)
    sizes = np.unique(n)
    if sizes.size < 3:
        return float("nan")
    med = np.array([np.median(loss[n == s]) for s in sizes])
    return float(-np.polyfit(np.log(sizes), np.log(med), 1)[0])


def _configurations(df: pd.DataFrame) -> list[tuple[str, pd.DataFrame]]:
    """The runs split by every setting that varies besides width and seed (one part each)."""
    varying = [c for c in SETTINGS if c in df.columns and df[c].nunique() > 1]
    if not varying:
        return [("", df)]
    return [
        (", ".join(f"{c}={v:g}" for c, v in zip(varying, key if isinstance(key, tuple) else (key,), strict=True)), g)
        for key, g in df.groupby(varying, sort=True)
    ]


def check_loss_exponent(results: Results) -> Verdict:
    """Minus the log-log slope of median loss vs parameters lies within alpha +- 0.15, decided by
    its seed-bootstrap interval, per configuration (each alpha present gets its own part);
    inconclusive while runs had not converged (the law is about the loss a net of each size
    ends at)."""
    df = results.ok
    if df.empty or "test_loss" not in df.columns:
        return Verdict("inconclusive", float("nan"), "", "no runs")
    parts = []
    for name, g in _configurations(df):
        alpha = float(g["alpha"].iloc[0])
        if g["n_params"].nunique() < 3:
            parts.append(verdict_in_range(float("nan"), -math.inf, math.inf, "need >= 3 widths", name))
            continue
        text = (
            f"mean loss ∝ N^-{loss_exponent(g):.3f} over N = {int(g['n_params'].min())}..{int(g['n_params'].max())}, "
            f"predicted L ∝ N^-alpha with alpha = {alpha:g}"
        )

        def decide(rows: pd.DataFrame, alpha=alpha, text=text, name=name) -> Verdict:
            return bootstrap_verdict(
                rows,
                loss_exponent,
                alpha - EXPONENT_TOL,
                alpha + EXPONENT_TOL,
                "exponent (minus log-log slope)",
                text,
                hypothesis=name,
            )

        v = decide(g)
        caveated = unless_converged(v, g, recheck=decide)
        if caveated is not v and v.explanation not in caveated.explanation:
            caveated = dataclasses.replace(caveated, explanation=f"{caveated.explanation}; {v.explanation}")
        parts.append(caveated)
    return parts[0] if len(parts) == 1 else all_of(parts, "one part per configuration")


def check_emerge_abruptly(results: Results) -> Verdict:
    """Median rise width / onset spread <= 0.25 and median order tau >= 0.9, each decided by
    its seed-bootstrap interval."""
    runs = _ordered_runs(results)
    runs = runs[np.isfinite(runs["width_ratio"])] if len(runs) else runs
    if runs.empty:
        return Verdict("inconclusive", float("nan"), "", f"no run learned >= {MIN_LEARNED} tasks")
    ratio = float(runs["width_ratio"].median())
    drop = float(runs["loss_max_drop_share"].median())
    parts = [
        bootstrap_verdict(
            runs, _median_of("width_ratio"), 0.0, MAX_WIDTH_RATIO, "median ratio", hypothesis="width_over_spread"
        ),
        bootstrap_verdict(
            runs, _median_of("order_tau"), MIN_TAU, 1.0, "median Kendall tau", hypothesis="onset_order_tau"
        ),
    ]
    return all_of(
        parts,
        f"each task rises over a median {runs['median_rise'].median():.0f} steps "
        f"while onsets spread over {runs['onset_spread'].median():.0f} steps "
        f"(ratio {ratio:.3f}); the mean loss's largest single-log drop is "
        f"{drop:.0%} of its total drop",
    )
