"""Induction heads: the checks, each a median over seeds with a seed-bootstrap interval,
read from the per-trial events that ``task.run_events`` stored."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from physai import Results, Verdict, all_of
from physai.evidence import bootstrap_verdict, slim, unless_converged

from .task import CONTROL_FLOOR, DROPPED, EARLY_POSITION, MAX_DROP_WINDOW, MIN_ICL_DROP, MIN_INDUCTION_RISE, WINDOW_HALF

SEED_COLUMNS = ["seed", "layers", "ok", "ratio", "dropped", "window", "induction_rise", "icl_drop"]


def seed_table(results: Results) -> pd.DataFrame:
    """One row per trial: the events the checks bootstrap over (a diverged run has NaN events)."""
    t = results.trials
    if t.empty or not set(SEED_COLUMNS[3:]) <= set(t.columns):
        return pd.DataFrame(columns=SEED_COLUMNS)
    out = t[["seed", "layers", *SEED_COLUMNS[3:]]].copy()
    out["ok"] = (t["status"] == "ok").to_numpy()
    out["dropped"] = out["dropped"].astype(bool) & out["ok"]
    # the trainer's convergence flag (absent from hand-made tables: then no caveat applies)
    extra = ["converged"] if "converged" in t.columns else []
    out[extra] = t[extra]
    return out[SEED_COLUMNS + extra].reset_index(drop=True)


def _median(column: str, fill: float = math.nan):
    """Median over the rows of ``column``; a NaN (no drop, diverged) counts as ``fill``."""

    def statistic(table: pd.DataFrame) -> float:
        values = np.asarray(table[column], float)
        return float(np.median(np.where(np.isnan(values), fill, values))) if len(values) else math.nan

    return statistic


def _per_depth(results: Results, deep: bool) -> list[tuple[int, pd.DataFrame]]:
    table = seed_table(results)
    depths = sorted({int(x) for x in table["layers"]}) if len(table) else []
    return [(d, table[table["layers"] == d]) for d in depths if (d >= 2) == deep]


def _no_depth(what: str) -> Verdict:
    return Verdict("inconclusive", math.nan, "", f"needs {what} in the grid")


def check_abrupt_drop(results: Results) -> Verdict:
    """Median over seeds of the 10% -> 90% window of the repeated-token loss's drop, as a
    fraction of training, <= 0.25 at every depth >= 2 (a run that never drops counts as 1)."""
    parts = [
        bootstrap_verdict(
            slim(rows, "window"),
            _median("window", 1.0),
            0.0,
            MAX_DROP_WINDOW,
            "median window / training",
            hypothesis=f"{d} layers",
        )
        for d, rows in _per_depth(results, deep=True)
    ]
    if not parts:
        return _no_depth("a model of >= 2 layers")
    return all_of(
        parts,
        "Window in which the repeated-token loss falls from 90% to 10% of the way between the context "
        "baseline and its final value, as a fraction of training; median over seeds, 95% seed-bootstrap interval.",
    )


def _window_check(results: Results, column: str, low: float, name: str, explanation: str) -> Verdict:
    parts = []
    for d, rows in _per_depth(results, deep=True):
        # a run without a drop has no window: its change counts as none (0)
        parts.append(
            bootstrap_verdict(slim(rows, column), _median(column, 0.0), low, math.inf, name, hypothesis=f"{d} layers")
        )
    if not parts:
        return _no_depth("a model of >= 2 layers")
    return all_of(parts, explanation)


def check_induction_score_jumps(results: Results) -> Verdict:
    """Median over seeds of the rise of the largest last-layer induction score across the
    phase-change window (drop midpoint +- 5% of training) >= 0.3, at every depth >= 2."""
    return _window_check(
        results,
        "induction_rise",
        MIN_INDUCTION_RISE,
        "median induction-score rise",
        f"Rise of the largest last-layer induction score between {WINDOW_HALF:.0%} of training before and after "
        "the midpoint of the repeated-token loss's drop; median over seeds, 95% seed-bootstrap interval.",
    )


def check_icl_score_jumps(results: Results) -> Verdict:
    """Median over seeds of the fall of the ICL score across the phase-change window >= 1 nat."""
    return _window_check(
        results,
        "icl_drop",
        MIN_ICL_DROP,
        "median ICL-score fall (nats)",
        f"Fall of the in-context learning score (loss at the last position minus loss at position "
        f"{EARLY_POSITION}) between {WINDOW_HALF:.0%} of training before and after the midpoint of the "
        "repeated-token loss's drop; median over seeds, 95% seed-bootstrap interval.",
    )


def _control_part(rows: pd.DataFrame, name: str) -> Verdict:
    """The one-layer part: median loss / baseline >= CONTROL_FLOOR. A control that stays high only
    because it was stopped while still improving says nothing: a supported part must also hold on
    the runs that met the trainer's convergence criterion alone."""

    def part(table: pd.DataFrame) -> Verdict:
        return bootstrap_verdict(
            slim(table, "ratio"), _median("ratio"), CONTROL_FLOOR, math.inf, "median loss / baseline", hypothesis=name
        )

    v = part(rows)
    return unless_converged(v, rows, recheck=part) if v.status == "supported" else v


def check_one_layer_stays_high(results: Results) -> Verdict:
    """Median final repeated-token loss / context baseline: >= 0.8 for one layer, < 0.3 for >= 2."""
    shallow, deep = _per_depth(results, deep=False), _per_depth(results, deep=True)
    if not shallow or not deep:
        return _no_depth("a one-layer model and a model of >= 2 layers")
    parts = [_control_part(rows, f"{d} layer (control)") for d, rows in shallow]
    parts += [
        bootstrap_verdict(
            slim(rows, "ratio"),
            _median("ratio"),
            0.0,
            DROPPED,
            "median loss / baseline",
            hypothesis=f"{d} layers",
            strict=True,
        )
        for d, rows in deep
    ]
    return all_of(
        parts,
        "Final repeated-token loss over the loss of a predictor uniform over the distinct tokens already in "
        "the context; median over seeds, 95% seed-bootstrap interval.",
    )
