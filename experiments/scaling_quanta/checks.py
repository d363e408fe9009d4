"""The quanta experiment's checks: learning order, loss exponent, abrupt emergence."""

from __future__ import annotations

import numpy as np
import pandas as pd

from analysis.stats import loglog_slope
from physai import Results, Verdict, all_of, verdict_in_range

MIN_LEARNED = 4  # runs with fewer learned tasks say nothing about order
MIN_TAU = 0.9
EXPONENT_TOL = 0.15
MAX_WIDTH_RATIO = 0.25  # median rise width / onset spread


def _ordered_runs(results: Results) -> pd.DataFrame:
    df = results.ok
    if df.empty or "n_learned" not in df.columns:
        return df.iloc[0:0]
    return df[(df["n_learned"] >= MIN_LEARNED) & np.isfinite(df["order_tau"])]


def check_learning_order(results: Results) -> Verdict:
    """Median over runs (>= MIN_LEARNED learned tasks) of Kendall tau(onset, rank) >= 0.9."""
    runs = _ordered_runs(results)
    if runs.empty:
        return Verdict("inconclusive", float("nan"), f">= {MIN_TAU:g}", f"no run learned >= {MIN_LEARNED} tasks")
    tau = float(runs["order_tau"].median())
    exact = float((runs["order_tau"] >= 1 - 1e-9).mean())
    return verdict_in_range(
        tau,
        MIN_TAU,
        1.0,
        f"over {len(runs)} runs learning {int(runs['n_learned'].min())}-"
        f"{int(runs['n_learned'].max())} tasks, onsets follow frequency rank "
        f"(median Kendall tau {tau:.3f}; {exact:.0%} in exact order)",
    )


def loss_vs_params(df: pd.DataFrame) -> pd.DataFrame:
    """Median final mean loss over seeds per parameter count (sorted by n_params)."""
    return df.groupby("n_params", as_index=False)["test_loss"].median().sort_values("n_params")


def check_loss_exponent(results: Results) -> Verdict:
    """Minus the log-log slope of median loss vs parameters lies within alpha +- 0.15."""
    df = results.ok
    if df.empty or "test_loss" not in df.columns:
        return Verdict("inconclusive", float("nan"), "", "no runs")
    alpha = float(df["alpha"].iloc[0])
    med = loss_vs_params(df)
    if len(med) < 3:
        return Verdict("inconclusive", float("nan"), "", "need >= 3 widths")
    slope, lo, hi = loglog_slope(med["n_params"], med["test_loss"])
    return verdict_in_range(
        -slope,
        alpha - EXPONENT_TOL,
        alpha + EXPONENT_TOL,
        f"mean loss ∝ N^-{-slope:.3f} (95% CI [{-hi:.3f}, {-lo:.3f}]) over "
        f"N = {int(med['n_params'].min())}..{int(med['n_params'].max())}, "
        f"predicted L ∝ N^-alpha with alpha = {alpha:g}",
    )


def check_emerge_abruptly(results: Results) -> Verdict:
    """Median rise width / onset spread <= 0.25 and median order tau >= 0.9."""
    runs = _ordered_runs(results)
    runs = runs[np.isfinite(runs["width_ratio"])] if len(runs) else runs
    if runs.empty:
        return Verdict("inconclusive", float("nan"), "", f"no run learned >= {MIN_LEARNED} tasks")
    ratio = float(runs["width_ratio"].median())
    tau = float(runs["order_tau"].median())
    drop = float(runs["loss_max_drop_share"].median())
    parts = [
        verdict_in_range(ratio, 0.0, MAX_WIDTH_RATIO, hypothesis="width_over_spread"),
        verdict_in_range(tau, MIN_TAU, 1.0, hypothesis="onset_order_tau"),
    ]
    return all_of(
        parts,
        f"each task rises over a median {runs['median_rise'].median():.0f} steps "
        f"while onsets spread over {runs['onset_spread'].median():.0f} steps "
        f"(ratio {ratio:.3f}); the mean loss's largest single-log drop is "
        f"{drop:.0%} of its total drop",
    )
