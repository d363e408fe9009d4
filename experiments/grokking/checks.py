"""Grokking: the checks, pure functions of the stored tables."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from scipy import stats as sps

from physai import Results, Verdict, all_of, verdict_in_range

from .task import JUMP_ACC, TEST_ACC, TRAIN_ACC

MIN_DELAY = 3.0  # step(test) / step(train) where grokking happens
MIN_SUCCESS = 2 / 3  # share of weight-decay runs that must grok
MAX_NORM_RATIO = 0.95  # norm at grokking / max norm over memorisation phase
MIN_EARLY_RISE = 0.2  # share of the Fourier-sparsity rise done before the jump
MIN_EARLY_SHARE = 0.8  # share of grokking runs where that holds


def _decayed(results: Results) -> pd.DataFrame:
    ok = results.ok
    return ok[ok["weight_decay"] > 0] if "weight_decay" in ok.columns else ok.iloc[0:0]


def _grokked(df: pd.DataFrame) -> pd.DataFrame:
    return df[df["grokked"].astype(bool)] if len(df) else df


def _per_fraction(df: pd.DataFrame, value: str) -> str:
    parts = []
    for frac, g in df.groupby("train_fraction"):
        parts.append(f"{frac:g}: {g[value].median():.3g} (n={len(g)})")
    return ", ".join(parts)


def check_grokking_delay(results: Results) -> Verdict:
    """Weight-decay runs grok (>= 2/3) and late (median step ratio >= 3)."""
    df = _decayed(results)
    if df.empty:
        return Verdict("inconclusive", float("nan"), f">= {MIN_DELAY:g}", "no weight-decay runs")
    success = float(df["grokked"].astype(bool).mean())
    grok = _grokked(df)
    if grok.empty:  # no run grokked: the success-rate part alone refutes the claim
        return verdict_in_range(success, MIN_SUCCESS, 1.0, "no weight-decay run grokked")
    ratio = float(grok["grok_ratio"].median())
    parts = [
        verdict_in_range(success, MIN_SUCCESS, 1.0, hypothesis="success_rate"),
        verdict_in_range(ratio, MIN_DELAY, math.inf, hypothesis="median_ratio"),
    ]
    per = _per_fraction(grok, "grok_ratio") if len(grok) else "none grokked"
    return all_of(
        parts,
        f"{success:.0%} of weight-decay runs grok; step(test>={TEST_ACC:g}) / "
        f"step(train>={TRAIN_ACC:g}) median by train fraction: {per}",
    )


def check_no_weight_decay(results: Results) -> Verdict:
    """The wd = 0 control never reaches 95% test accuracy within the budget."""
    ok = results.ok
    df = ok[ok["weight_decay"] == 0] if "weight_decay" in ok.columns else ok.iloc[0:0]
    if df.empty:
        return Verdict("inconclusive", float("nan"), "<= 0", "no weight-decay-0 runs")
    rate = float(df["grokked"].astype(bool).mean())
    best = _per_fraction(df, "test_acc")
    return verdict_in_range(
        rate,
        0.0,
        0.0,
        f"share of wd-0 runs reaching {TEST_ACC:.0%} test "
        f"accuracy within {int(df['steps'].iloc[0])} steps; "
        f"median final test accuracy by fraction: {best}",
    )


def check_more_data_sooner(results: Results) -> Verdict:
    """Median steps-to-grok (never = inf) fall strictly with the train fraction."""
    df = _decayed(results)
    fracs = sorted(df["train_fraction"].unique()) if len(df) else []
    if len(fracs) < 3:
        return Verdict("inconclusive", float("nan"), "[-1, -0.99]", "need >= 3 train fractions")
    med = [float(np.median(df.loc[df["train_fraction"] == f, "steps_to_grok"].fillna(np.inf))) for f in fracs]
    if len(set(med)) < len(med):
        rho = float(sps.spearmanr(fracs, med).statistic) if len(set(med)) > 1 else 0.0
    else:
        rho = float(sps.spearmanr(fracs, med).statistic)
    text = ", ".join(f"{f:g}: {m:.0f}" for f, m in zip(fracs, med))
    return verdict_in_range(rho, -1.0, -0.99, f"Spearman rho of median steps-to-grok vs train fraction ({text})")


def _delayed(results: Results) -> pd.DataFrame:
    """Grokking runs proper: weight decay > 0, test >= TEST_ACC, and generalisation at least
    MIN_DELAY times later than memorisation (where train and test rise together there is
    no transition to look across)."""
    grok = _grokked(_decayed(results))
    return grok[grok["grok_ratio"] >= MIN_DELAY] if len(grok) else grok


def check_weight_norm_falls(results: Results) -> Verdict:
    """Norm at grokking / max norm over [memorise, grok] <= 0.95 (median over delayed runs)."""
    delayed = _delayed(results)
    if delayed.empty:
        return Verdict("inconclusive", float("nan"), f"<= {MAX_NORM_RATIO:g}", "no run generalised with a delay")
    ratio = delayed["norm_at_grok"] / delayed["norm_peak"]
    final = float((delayed["norm_final"] / delayed["norm_peak"]).median())
    every = _grokked(_decayed(results))
    every_ratio = float((every["norm_at_grok"] / every["norm_peak"]).median())
    return verdict_in_range(
        float(ratio.median()),
        0.0,
        MAX_NORM_RATIO,
        f"median weight norm at step(test >= {TEST_ACC:g}) over its max since "
        f"memorisation, over {len(delayed)} runs that generalised >= "
        f"{MIN_DELAY:g}x later than they memorised (at the end of the run: "
        f"{final:.3g}; over all {len(every)} generalising wd > 0 runs: "
        f"{every_ratio:.3g}); by train fraction: " + _per_fraction(delayed.assign(r=ratio), "r"),
    )


def check_fourier_first(results: Results) -> Verdict:
    """The embedding's Fourier Gini has done >= 20% of its rise before the jump in >= 80% of runs."""
    grok = _delayed(results)
    grok = grok[np.isfinite(grok["early_rise"])] if len(grok) else grok
    if grok.empty:
        return Verdict(
            "inconclusive", float("nan"), f">= {MIN_EARLY_SHARE:g}", "no grokking run with a rising Fourier Gini"
        )
    share = float((grok["early_rise"] >= MIN_EARLY_RISE).mean())
    return verdict_in_range(
        share,
        MIN_EARLY_SHARE,
        1.0,
        f"share of delayed-grokking runs whose Fourier Gini had covered >= "
        f"{MIN_EARLY_RISE:.0%} of its memorisation-to-end rise before test "
        f"accuracy reached {JUMP_ACC:.0%} (median share covered "
        f"{grok['early_rise'].median():.2f}; Gini {grok['gini_at_memorise'].median():.2f}"
        f" -> {grok['gini_pre_jump'].median():.2f} -> {grok['gini_final'].median():.2f})",
    )
