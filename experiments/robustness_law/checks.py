"""The checks of hypotheses a-d: pure functions of the stored tables (``Results -> Verdict``)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from analysis.stats import loglog_slope, rank_correlation
from physai import Results, Verdict, verdict_in_range

from .summaries import (
    ANCHOR_D,
    CHECK_RESAMPLES,
    beside_sampled_max,
    collapse_spread,
    l_star,
    lip_column,
    medians,
    n_of,
    p_interp,
    p_smooth_ratios,
    plain_runs,
    smoothest,
    swept_ds,
)

MONOTONE_SLACK = 1.05  # a: a successive rise of the median Lip_est by <= 5% counts as seed noise
PLAIN_SLOPE = (-0.5, 0.0)
SMOOTH_SLOPE = (-0.7, -0.3)
COLLAPSE_MAX = 1.5  # b: max_d / min_d of Lip_min at equal p/(nd)
RATIO_SLOPE = (0.5, 1.5)
REG_RATIO_MIN = 1.2  # c
FLIP_RHO_MIN = 0.8  # d

# ----------------------------------------------------------------------------- checks: a


def _plain_past_threshold(results: Results) -> tuple[pd.DataFrame, float]:
    """Plain interpolators at ANCHOR_D from the interpolation threshold on, and that threshold."""
    plain = plain_runs(results, ANCHOR_D)
    pi = p_interp(results, ANCHOR_D)
    if plain.empty or math.isnan(pi):
        return plain.iloc[0:0], pi
    return plain[(plain["p"] >= pi) & plain["interpolates"].astype(bool)], pi


def check_plain_above_bound(results: Results) -> Verdict:
    """a: min over interpolating plain models (every d) of Lip_est / sqrt(nd/p) >= 1."""
    ok = results.ok
    if ok.empty or "penalty" not in ok.columns:
        return verdict_in_range(float("nan"), 1.0, math.inf)
    fit = ok[(ok["penalty"] == 0) & ok["interpolates"].astype(bool)]
    if fit.empty:
        return verdict_in_range(float("nan"), 1.0, math.inf, "no plain model interpolates")
    col = lip_column(results)
    ratio = fit[col] / fit["bound"]
    worst = fit.loc[ratio.idxmin()]
    upper = fit["lip_upper"] / fit[col] if "lip_upper" in fit.columns else pd.Series([np.nan])
    other = beside_sampled_max(results, lambda c: f"{(fit[c] / fit['bound']).min():.2f}")
    return verdict_in_range(
        float(ratio.min()),
        1.0,
        math.inf,
        f"smallest {col} / sqrt(nd/p) over {len(fit)} interpolating plain models "
        f"(at d = {int(worst['d'])}, p = {int(worst['p'])}){other}; the "
        f"spectral-norm upper bound is {upper.min():.1f}..{upper.max():.1f}x {col}",
    )


def check_plain_nonincreasing(results: Results) -> Verdict:
    """a: the median Lip_est never rises by more than MONOTONE_SLACK between successive p."""
    fit, pi = _plain_past_threshold(results)
    col = lip_column(results)
    med = medians(fit, col)
    if len(med) < 3:
        return verdict_in_range(float("nan"), 0, MONOTONE_SLACK, "fewer than 3 interpolating sizes")

    def largest_rise(m):
        return float(np.max(m["median"].to_numpy()[1:] / m["median"].to_numpy()[:-1]))

    other = beside_sampled_max(results, lambda c: f"{largest_rise(medians(fit, c)):.2f}")
    return verdict_in_range(
        largest_rise(med),
        0.0,
        MONOTONE_SLACK,
        f"largest ratio of successive median {col} over {len(med)} sizes "
        f"from p_interp = {pi:.0f} (d = {ANCHOR_D}); 1 = flat{other}",
    )


def _slope_text(curve: pd.DataFrame) -> str:
    """Args: curve: medians (``p``, ``median``). Returns: ``"slope <log-log slope>"``."""
    return f"slope {loglog_slope(curve['p'], curve['median'])[0]:.2f}"


def check_plain_slope(results: Results) -> Verdict:
    """a: log-log slope of the median Lip_est of plain interpolators vs p in [-0.5, 0]."""
    fit, pi = _plain_past_threshold(results)
    col = lip_column(results)
    med = medians(fit, col)
    if len(med) < 3:
        return verdict_in_range(float("nan"), *PLAIN_SLOPE, "fewer than 3 interpolating sizes")
    slope, low, high = loglog_slope(med["p"], med["median"])
    other = beside_sampled_max(results, lambda c: _slope_text(medians(fit, c)))
    return verdict_in_range(
        slope,
        *PLAIN_SLOPE,
        f"plain Adam interpolators' {col} (d = {ANCHOR_D}, p from {pi:.0f}): "
        f"slope {slope:.2f} (95% CI {low:.2f}..{high:.2f}); theory's bound: "
        f"-0.5{other}",
    )


# ----------------------------------------------------------------------------- checks: b


def _smooth_window(results: Results, d: int, value: str | None = None) -> pd.DataFrame:
    """Lip_min between p ~ n (from p_interp on) and p ~ nd."""
    n = n_of(results)
    curve = smoothest(results, d, value)
    pi = p_interp(results, d)
    lo = max(n, pi) if not math.isnan(pi) else n
    return curve[(curve["p"] >= lo * 0.999) & (curve["p"] <= 1.001 * n * d)]


def check_smooth_slope(results: Results) -> Verdict:
    """b: slope of Lip_min vs p between p ~ n and p ~ nd in [-0.7, -0.3] (at ANCHOR_D)."""
    if ANCHOR_D not in swept_ds(results):
        return verdict_in_range(float("nan"), *SMOOTH_SLOPE, f"no penalty sweep at d = {ANCHOR_D}")
    win = _smooth_window(results, ANCHOR_D)
    if len(win) < 3:
        return verdict_in_range(float("nan"), *SMOOTH_SLOPE, "fewer than 3 sizes between n and nd")
    slope, low, high = loglog_slope(win["p"], win["median"])
    col = lip_column(results)
    other = beside_sampled_max(results, lambda c: _slope_text(_smooth_window(results, ANCHOR_D, c)))
    return verdict_in_range(
        slope,
        *SMOOTH_SLOPE,
        f"smoothest interpolators over the penalty sweep, {col} (d = {ANCHOR_D}, "
        f"p = {int(win['p'].min())}..{int(win['p'].max())}): slope {slope:.2f} "
        f"(95% CI {low:.2f}..{high:.2f}); theory -0.5{other}",
    )


def check_collapse(results: Results) -> Verdict:
    """b: curves for several d collapse against p/(nd): spread <= 1.5 and below the p/n spread."""
    if len(swept_ds(results)) < 2:
        return verdict_in_range(float("nan"), 1.0, COLLAPSE_MAX, "needs penalty sweeps at two d or more")
    spread, points = collapse_spread(results, "p_over_nd")
    spread_n, _ = collapse_spread(results, "p_over_n")
    typical = ""
    if "grad_norm_median" in results.ok.columns:
        typical = (
            f"; typical smoothness (median gradient norm) spreads "
            f"{collapse_spread(results, 'p_over_nd', 'grad_norm_median')[0]:.2f} vs p/(nd), "
            f"{collapse_spread(results, 'p_over_n', 'grad_norm_median')[0]:.2f} vs p/n"
        )
    col = lip_column(results)
    typical = (
        beside_sampled_max(
            results,
            lambda c: (
                f"spreads {collapse_spread(results, 'p_over_nd', c)[0]:.2f} vs p/(nd), "
                f"{collapse_spread(results, 'p_over_n', c)[0]:.2f} vs p/n"
            ),
        )
        + typical
    )
    v = verdict_in_range(
        spread,
        1.0,
        COLLAPSE_MAX,
        f"max over {points} common p/(nd) points of max_d/min_d Lip_min ({col}, "
        f"d = {swept_ds(results)}); against p/n the spread is {spread_n:.2f}{typical}",
    )
    if v.status == "supported" and not (spread < spread_n):
        return Verdict(
            "refuted",
            spread,
            f"<= {COLLAPSE_MAX:g} and < p/n spread {spread_n:.2f}",
            f"collapses no better against p/(nd) than against p/n{typical}",
        )
    return v


def check_smooth_params_grow_with_d(results: Results) -> Verdict:
    """b: log-log slope of p_smooth/p_interp vs d in [0.5, 1.5] (proportional: 1).

    A d whose Lip_min never reaches L* gives only a lower bound on its ratio:
    if that lower bound already exceeds the ratio of a larger d, the ratio does not
    grow with d (refuted); if the slope with censored ratios at their bounds is a
    one-sided bound that already lies outside the range, refuted; otherwise a
    censored d makes the verdict inconclusive.
    """
    level = l_star(results)
    tab = p_smooth_ratios(results).dropna(subset=["ratio"])
    if len(tab) < 2 or math.isnan(level):
        return verdict_in_range(
            float("nan"), *RATIO_SLOPE, "L*, p_smooth (Lip_min <= L*) or p_interp missing for >= 2 d"
        )
    text = f"L* = {level:.2f} ({lip_column(results)}); " + ", ".join(
        f"d={int(r.d)}: {'>' if r.censored else ''}{r.p_smooth:.0f}/{r.p_interp:.0f}"
        f"={'>' if r.censored else ''}{r.ratio:.1f}"
        for r in tab.itertuples()
    )
    expected = f"[{RATIO_SLOPE[0]:g}, {RATIO_SLOPE[1]:g}]"
    for small in tab[tab["censored"]].itertuples():
        larger = tab[(tab["d"] > small.d) & ~tab["censored"]]
        if (larger["ratio"] < small.ratio).any():
            return Verdict(
                "refuted",
                text,
                expected,
                f"Lip_min never reaches L* = {level:.2f} at d = {int(small.d)} although it "
                f"does at a larger d with fewer parameters per p_interp: the ratio "
                f"does not grow with d",
            )
    x, y = np.log(tab["d"].to_numpy(float)), np.log(tab["ratio"].to_numpy(float))
    slope = float(np.polyfit(x, y, 1)[0])
    if tab["censored"].any():
        # Censored ratios are lower bounds. The least-squares slope decreases as a point
        # left of the mean log d rises (and increases for one right of it), so with every
        # censored d left of the mean the slope at the bounds is an upper bound on the
        # true slope (a lower bound when all lie right of it).
        cens = tab["censored"].to_numpy()
        left, right = (x[cens] < x.mean()).all(), (x[cens] > x.mean()).all()
        if left and slope < RATIO_SLOPE[0]:
            return Verdict(
                "refuted",
                text,
                expected,
                f"slope <= {slope:.2f} (censored ratios at their lower bounds): p_smooth/p_interp grows slower than ~d",
            )
        if right and slope > RATIO_SLOPE[1]:
            return Verdict("refuted", text, expected, f"slope >= {slope:.2f} (censored ratios at their lower bounds)")
        return Verdict(
            "inconclusive",
            text,
            expected,
            f"Lip_min does not reach L* = {level:.2f} within the swept p for some d "
            f"(slope {slope:.2f} with censored ratios at their lower bounds)",
        )
    return verdict_in_range(slope, *RATIO_SLOPE, f"log-log slope of p_smooth/p_interp vs d ({text}); 1 = proportional")


# ----------------------------------------------------------------------------- checks: c, d


def check_regularisation_not_size(results: Results) -> Verdict:
    """c: min over p in [p_interp, nd/2] of Lip_min(p) / Lip_min(p_max) >= 1.2 (at ANCHOR_D)."""
    if ANCHOR_D not in swept_ds(results):
        return verdict_in_range(float("nan"), REG_RATIO_MIN, math.inf, f"no penalty sweep at d = {ANCHOR_D}")
    n = n_of(results)
    curve = smoothest(results, ANCHOR_D)
    pi = p_interp(results, ANCHOR_D)
    if curve.empty or math.isnan(pi):
        return verdict_in_range(float("nan"), REG_RATIO_MIN, math.inf, "no interpolation threshold")
    big = curve.iloc[-1]
    small = curve[(curve["p"] >= pi) & (curve["p"] <= n * ANCHOR_D / 2)]
    if small.empty or big["p"] <= n * ANCHOR_D / 2:
        return verdict_in_range(float("nan"), REG_RATIO_MIN, math.inf, "needs sizes below nd/2 and a larger one")
    ratio = small["median"] / big["median"]
    worst = small.loc[ratio.idxmin()]
    return verdict_in_range(
        float(ratio.min()),
        REG_RATIO_MIN,
        math.inf,
        f"best penalised interpolator at p = {int(worst['p'])} stays "
        f"{ratio.min():.2f}x rougher than at p = {int(big['p'])} "
        f"(d = {ANCHOR_D}, {results.ok['penalty'].nunique()} penalties up to "
        f"{results.ok['penalty'].max():g})",
    )


def check_flip_radius_grows(results: Results) -> Verdict:
    """d: Spearman correlation of p with the median flip radius of plain interpolators >= 0.8."""
    fit, _ = _plain_past_threshold(results)
    med = medians(fit, "flip_radius")
    if len(med) < 3:
        return verdict_in_range(float("nan"), FLIP_RHO_MIN, 1.0, "fewer than 3 interpolating sizes")
    rho, _, _ = rank_correlation(med["p"], med["median"], n_resamples=CHECK_RESAMPLES)
    return verdict_in_range(
        float(rho),
        FLIP_RHO_MIN,
        1.0,
        f"median L2 PGD flip radius {med['median'].iloc[0]:.3f} at "
        f"p = {int(med['p'].iloc[0])} -> {med['median'].iloc[-1]:.3f} at "
        f"p = {int(med['p'].iloc[-1])} (d = {ANCHOR_D}, plain interpolators)",
    )
