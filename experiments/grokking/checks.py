"""Grokking: the checks, pure functions of the stored tables.

Every number a check compares with its range is recomputed on seed-bootstrap
resamples of the trials (``physai.evidence.bootstrap_verdict``: whole seeds are
drawn, every train fraction and weight decay of a drawn seed comes along) and the
verdict is decided by its 95% interval. The checks read whatever train fractions
and weight decays the table holds. None of them applies the trainer's convergence
caveat (``physai.evidence.unless_converged``): every hypothesis is about the
dynamics of a fixed-step budget (when test accuracy jumps, what the norm and the
Fourier spectrum do before it), not about an end state, and a grokking run's
objective is still changing when it generalises.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pandas as pd
from scipy.stats import rankdata

from analysis.stats import spearman
from physai import Results, Verdict, all_of
from physai.evidence import bootstrap_verdict, slim

from .task import TEST_ACC, TRAIN_ACC

MIN_DELAY = 10.0  # step(test) / step(train) at the smallest fraction: one order of magnitude
DELAYED = 3.0  # a run with step(test) / step(train) >= this has a transition to look across
MIN_SUCCESS = 2 / 3  # share of weight-decay runs that must grok
MIN_SPEEDUP = 1.0  # steps to generalise without / with weight decay (censored at the budget)
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


# ----------------------------------------------------------------------------- statistics (one table -> one float)


def _success_rate(df: pd.DataFrame) -> float:
    """Fraction of the table's runs that reached TEST_ACC."""
    return float(df["grokked"].to_numpy(bool).mean()) if len(df) else math.nan


def _fraction_rho(df: pd.DataFrame) -> float:
    """Spearman rho of the per-fraction median steps-to-grok (never = inf) against the fraction."""
    t = df["steps_to_grok"].to_numpy(float)
    t = np.where(np.isnan(t), np.inf, t)
    fracs, codes = np.unique(df["train_fraction"].to_numpy(float), return_inverse=True)
    med = np.array([np.median(t[codes == i]) for i in range(len(fracs))])
    if len(fracs) < 3:
        return math.nan
    if np.all(med == med[0]):  # no ordering at all (e.g. no run grokked)
        return 0.0
    return spearman(fracs, rankdata(med))  # ranks: an infinite median (never) is the slowest, not dropped


def _delay(df: pd.DataFrame) -> np.ndarray:
    """step(test) / step(train) per run; a run that has not grokked counts as budget / step(train), a lower bound
    (censored; NaN if it never memorised either)."""
    mem = df["steps_to_memorise"].to_numpy(float) if "steps_to_memorise" in df.columns else np.full(len(df), np.nan)
    return np.where(df["grokked"].to_numpy(bool), df["grok_ratio"].to_numpy(float), df["steps"].to_numpy(float) / mem)


def _delay_at_smallest(df: pd.DataFrame) -> float:
    """Median delay (censored, see _delay) over the runs at the table's smallest train fraction."""
    frac, delay = df["train_fraction"].to_numpy(float), df["delay"].to_numpy(float)
    delay = delay[(frac == frac.min()) & np.isfinite(delay)] if frac.size else delay
    return float(np.median(delay)) if delay.size else math.nan


def _delay_rho(df: pd.DataFrame) -> float:
    """Spearman rho of the runs' delays (censored, see _delay) against the train fraction."""
    return spearman(df["train_fraction"].to_numpy(float), df["delay"].to_numpy(float))


def _speedup(df: pd.DataFrame) -> float:
    """Median steps to generalise of the wd = 0 runs over that of the wd > 0 runs (one fraction's rows; a run
    that never generalised counts as the budget: censored, so the ratio is a lower bound where wd = 0 never
    does)."""
    t = np.where(df["grokked"].to_numpy(bool), df["steps_to_grok"].to_numpy(float), df["steps"].to_numpy(float))
    decayed = df["weight_decay"].to_numpy(float) > 0
    if decayed.all() or not decayed.any():
        return math.nan
    return float(np.median(t[~decayed]) / np.median(t[decayed]))


def _norm_fall_gap(df: pd.DataFrame) -> float:
    """Median end-of-run / post-memorisation-max norm of the no-decay runs minus that of the
    delayed weight-decay runs (> 0: the decayed norm falls further from its peak)."""
    decayed, fall = df["decayed"].to_numpy(bool), df["fall"].to_numpy(float)
    if decayed.all() or not decayed.any():
        return math.nan
    return float(np.median(fall[~decayed]) - np.median(fall[decayed]))


def _early_share(df: pd.DataFrame) -> float:
    """Fraction of the rows given whose Fourier Gini covered >= MIN_EARLY_RISE of its rise before the jump."""
    e = df["early_rise"].to_numpy(float)
    return float((e >= MIN_EARLY_RISE).mean()) if e.size else math.nan


# ----------------------------------------------------------------------------- checks


def check_grokking_delay(results: Results) -> Verdict:
    """Weight-decay runs grok (>= 2/3); at the smallest fraction the median step ratio is >= 10; the ratio falls
    as the fraction grows (Spearman rho < 0 with >= 3 fractions). A run that has not grokked counts as budget /
    step(train), a lower bound. 95% seed-bootstrap intervals."""
    df = _decayed(results)
    if df.empty:
        return Verdict("inconclusive", float("nan"), f">= {MIN_DELAY:g}", "no weight-decay runs")
    success = _success_rate(df)
    rate = bootstrap_verdict(
        slim(df, "grokked"), _success_rate, MIN_SUCCESS, 1.0, "fraction of runs grokking", hypothesis="success_rate"
    )
    grok = _grokked(df)
    if grok.empty:  # no run grokked: the success-rate part alone decides the claim
        return dataclasses.replace(rate, hypothesis="", explanation="no weight-decay run grokked")
    table = slim(df, "train_fraction").assign(delay=_delay(df))
    smallest = float(df["train_fraction"].min())
    parts = [
        rate,
        bootstrap_verdict(
            table, _delay_at_smallest, MIN_DELAY, math.inf, "median ratio", hypothesis=f"delay(f={smallest:g})"
        ),
    ]
    if df["train_fraction"].nunique() >= 3:
        parts.append(bootstrap_verdict(table, _delay_rho, -1.0, -1e-9, "Spearman rho", hypothesis="delay_vs_fraction"))
    return all_of(
        parts,
        f"{success:.0%} of weight-decay runs grok; step(test>={TEST_ACC:g}) / "
        f"step(train>={TRAIN_ACC:g}) median by train fraction: {_per_fraction(grok, 'grok_ratio')}",
    )


def check_weight_decay_speeds_up(results: Results) -> Verdict:
    """Per train fraction with both: median steps to generalise without weight decay over with it > 1 (runs
    that never generalise count as the budget), 95% seed-bootstrap interval."""
    ok = results.ok
    if "weight_decay" not in ok.columns or not ((ok["weight_decay"] == 0).any() and (ok["weight_decay"] > 0).any()):
        return Verdict("inconclusive", float("nan"), f"> {MIN_SPEEDUP:g}", "need runs with and without weight decay")
    parts, text = [], []
    for frac, g in ok.groupby("train_fraction"):
        if not ((g["weight_decay"] == 0).any() and (g["weight_decay"] > 0).any()):
            continue
        table = slim(g, "weight_decay", "grokked", "steps_to_grok", "steps")
        parts.append(
            bootstrap_verdict(
                table, _speedup, MIN_SPEEDUP + 1e-9, math.inf, "median steps ratio", hypothesis=f"speedup(f={frac:g})"
            )
        )
        wd0 = g[g["weight_decay"] == 0]
        text.append(
            f"{frac:g}: {wd0['grokked'].astype(bool).sum()}/{len(wd0)} wd-0 runs generalise within "
            f"{int(wd0['steps'].max())} steps (median final test accuracy {wd0['test_acc'].median():.2f})"
        )
    if not parts:
        return Verdict("inconclusive", float("nan"), f"> {MIN_SPEEDUP:g}", "no fraction with both weight decays")
    return all_of(
        parts,
        f"steps to {TEST_ACC:.0%} test accuracy, wd = 0 over wd > 0 (never = the budget, so a lower bound "
        "where wd = 0 never generalises); " + "; ".join(text),
    )


def check_more_data_sooner(results: Results) -> Verdict:
    """Median steps-to-grok (never = inf) fall strictly with the train fraction (Spearman rho over all
    fractions present, 95% seed-bootstrap interval)."""
    df = _decayed(results)
    fracs = sorted(df["train_fraction"].unique()) if len(df) else []
    if len(fracs) < 3:
        return Verdict("inconclusive", float("nan"), "[-1, -0.99]", "need >= 3 train fractions")
    med = df.assign(t=df["steps_to_grok"].fillna(np.inf)).groupby("train_fraction")["t"].median()
    text = ", ".join(f"{f:g}: {m:.0f}" for f, m in med.items())
    return bootstrap_verdict(
        slim(df, "train_fraction", "steps_to_grok"),
        _fraction_rho,
        -1.0,
        -0.99,
        "Spearman rho",
        f"Spearman rho of median steps-to-grok vs train fraction ({text})",
    )


def _delayed(results: Results) -> pd.DataFrame:
    """Grokking runs proper: weight decay > 0, test >= TEST_ACC, and generalisation at least
    DELAYED times later than memorisation (where train and test rise together there is
    no transition to look across)."""
    grok = _grokked(_decayed(results))
    return grok[grok["grok_ratio"] >= DELAYED] if len(grok) else grok


def check_weight_norm_falls(results: Results) -> Verdict:
    """From its largest value after memorisation to the end of the run, the weight norm of the delayed
    weight-decay runs falls further than that of the no-decay runs (whose norm grows): the difference of
    the median end/max ratios (no decay minus decay) > 0, by its 95% seed-bootstrap interval."""
    delayed, ok = _delayed(results), results.ok
    if "norm_max_after_memorise" not in ok.columns or delayed.empty:
        return Verdict("inconclusive", float("nan"), ">= 0", "no run generalised with a delay")
    control = ok[(ok["weight_decay"] == 0) & ok["norm_max_after_memorise"].notna()]
    if control.empty:
        return Verdict("inconclusive", float("nan"), ">= 0", "no weight-decay-0 run memorised: no control")
    rows = pd.concat([delayed.assign(decayed=True), control.assign(decayed=False)])
    table = pd.DataFrame(
        {
            "seed": rows["seed"].to_numpy(),
            "decayed": rows["decayed"].to_numpy(bool),
            "fall": (rows["norm_final"] / rows["norm_max_after_memorise"]).to_numpy(float),
        }
    )
    fall_decayed = float(np.median(table.loc[table["decayed"], "fall"]))
    fall_control = float(np.median(table.loc[~table["decayed"], "fall"]))
    return bootstrap_verdict(
        table,
        _norm_fall_gap,
        0.0,
        math.inf,
        "difference of median end/peak norm ratios",
        f"weight norm at the end of the run over its max since memorisation: median {fall_decayed:.3g} over "
        f"{len(delayed)} runs that grokked >= {DELAYED:g}x after memorising (wd > 0), {fall_control:.3g} "
        f"over {len(control)} weight-decay-0 runs; by train fraction (wd > 0): "
        + _per_fraction(delayed.assign(r=delayed["norm_final"] / delayed["norm_max_after_memorise"]), "r"),
    )


def check_fourier_first(results: Results) -> Verdict:
    """The embedding's Fourier Gini has done >= 20% of its rise before the jump in >= 80% of delayed runs
    (95% seed-bootstrap interval of that fraction)."""
    grok = _delayed(results)
    grok = grok[np.isfinite(grok["early_rise"])] if len(grok) else grok
    if grok.empty:
        return Verdict(
            "inconclusive", float("nan"), f">= {MIN_EARLY_SHARE:g}", "no grokking run with a rising Fourier Gini"
        )
    return bootstrap_verdict(
        slim(grok, "early_rise"),
        _early_share,
        MIN_EARLY_SHARE,
        1.0,
        "fraction of runs",
        f"share of delayed-grokking runs whose Fourier Gini had covered >= "
        f"{MIN_EARLY_RISE:.0%} of its memorisation-to-end rise at the last log with test "
        f"accuracy at chance (1/p) or below, before it leaves that plateau (median share covered "
        f"{grok['early_rise'].median():.2f}; Gini {grok['gini_at_memorise'].median():.2f}"
        f" -> {grok['gini_pre_jump'].median():.2f} -> {grok['gini_final'].median():.2f})",
    )
