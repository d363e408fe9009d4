"""The checks of hypotheses a-d: pure functions of the stored tables (``Results -> Verdict``)."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pandas as pd
from scipy import stats as sps

from physai import Results, Verdict, all_of, verdict_from_interval, verdict_in_range
from physai.evidence import bootstrap_over, bootstrap_verdict, unless_converged, unless_interior

from .summaries import (
    anchor_d,
    arrays,
    beside_sampled_max,
    collapse_spread,
    l_star,
    lip_column,
    lip_min_curve,
    medians,
    n_of,
    p_interp,
    p_smooth_ratios,
    plain_runs,
    reduce_by,
    smooth_ratio_rows,
    smoothest,
    smoothest_choice,
    swept_ds,
)

MONOTONE_SLACK = 1.05  # a: a successive rise of the median Lip_est by <= 5% counts as seed noise
PLAIN_SLOPE = (-0.5, 0.0)
SMOOTH_SLOPE = (-0.7, -0.3)
COLLAPSE_MAX = 1.5  # b: max_d / min_d of Lip_min at equal p/(nd)
RATIO_SLOPE = (0.5, 1.5)
REG_RATIO_MIN = 1.2  # c
FLIP_RHO_MIN = 0.8  # d
SETTLED_MSE = 1e-8  # a plain run fitted to float precision has settled (see ``_settled``)
COLUMNS = (
    "d", "n", "p", "p_over_nd", "p_over_n", "bound", "seed", "penalty", "interpolates",
    "lip_est", "lip_search", "lip_upper", "flip_radius", "grad_norm_median", "train_mse",
    "converged",
)  # fmt: skip


def _table(results: Results) -> pd.DataFrame:
    """The ok trials, narrowed to the columns the checks read (each resample copies them)."""
    ok = results.ok
    return ok[[c for c in COLUMNS if c in ok.columns]]


def _slope(curve) -> float:
    """Least-squares log-log slope of a curve ``(p, median)`` (NaN with fewer than 3 sizes)."""
    p, med = _xy(curve)
    if len(p) < 3:
        return float("nan")
    return float(np.polyfit(np.log(p), np.log(med), 1)[0])


def _xy(curve) -> tuple[np.ndarray, np.ndarray]:
    """A curve as arrays: a ``(p, median)`` pair or a DataFrame with those columns."""
    if isinstance(curve, pd.DataFrame):
        return curve["p"].to_numpy(float), curve["median"].to_numpy(float)
    return curve


def _settled(rows: pd.DataFrame) -> pd.DataFrame:
    """``rows`` with ``converged`` also true where the training MSE sits at float precision.

    A plain interpolator's MSE keeps falling towards 1e-14, where its relative change over
    the last tenth of the steps is rounding noise, not training: such a run has reached its
    end state (the fit) although the trainer's relative criterion flags it.
    """
    if "converged" not in rows.columns or "train_mse" not in rows.columns:
        return rows
    flags = rows["converged"].astype("boolean").fillna(False) | (rows["train_mse"] < SETTLED_MSE)
    return rows.assign(converged=flags)


def _with_text(caveated: Verdict, original: Verdict) -> Verdict:
    """A caveated verdict that still carries the original explanation after its reason."""
    if not original.explanation or original.explanation in caveated.explanation:
        return caveated
    return dataclasses.replace(caveated, explanation=f"{caveated.explanation}; {original.explanation}")


def _recheck(decide, source: pd.DataFrame, rows: pd.DataFrame):
    """The ``recheck`` of ``unless_converged`` for a verdict ``decide(source)`` that rests on
    ``rows`` (a subset of ``source``): the same check on the settled runs of ``source`` alone.

    ``kept`` (the settled runs of ``rows``, with ``source``'s index) drops the unsettled runs
    the verdict rests on; every other unsettled run of ``source`` goes too, so that no
    unsettled model (a smoothest one's runner-up) stands in for a dropped one.
    """
    if decide is None:
        return None

    def recheck(kept: pd.DataFrame) -> Verdict:
        drop = rows.index.difference(kept.index)
        if "converged" in source.columns:
            flags = _settled(source)["converged"].astype("boolean").fillna(False).to_numpy(bool)
            drop = drop.union(source.index[~flags])
        return decide(source.drop(index=drop))

    return recheck


def _converged(verdict: Verdict, rows: pd.DataFrame, decide=None, source: pd.DataFrame | None = None) -> Verdict:
    """``unless_converged`` on the settled flags (``_settled``), keeping the explanation;
    with ``decide`` (``source -> Verdict``, the check), rechecked without the unsettled runs."""
    return _with_text(unless_converged(verdict, _settled(rows), recheck=_recheck(decide, source, rows)), verdict)


def _smoothest_caveats(
    verdict: Verdict,
    chosen: pd.DataFrame,
    ok: pd.DataFrame,
    edge_rows: pd.DataFrame | None = None,
    decide=None,
) -> Verdict:
    """The caveats of a verdict resting on the smoothest interpolators ``chosen`` (rows of
    ``smoothest_choice``): runs not converged (with ``decide``, ``ok -> Verdict``, unless the
    check without them gives the same verdict); a chosen penalty (among ``edge_rows``,
    default ``chosen``) that is the largest swept at its size: a stronger one might still
    interpolate, more smoothly."""
    out = unless_converged(verdict, _settled(chosen), recheck=_recheck(decide, ok, chosen))
    rows = chosen if edge_rows is None else edge_rows
    edge = rows[(rows["penalty"] > 0) & (rows["penalty"] >= rows["top_penalty"])] if "top_penalty" in rows else rows[:0]
    if not edge.empty:
        first = edge.iloc[0]
        sizes = edge[["d", "p"]].drop_duplicates()
        more = f" and {len(sizes) - 1} more sizes" if len(sizes) > 1 else ""
        swept = ok.loc[(ok["d"] == first["d"]) & (ok["p"] == first["p"]), "penalty"].unique()
        what = f"penalty at d = {int(first['d'])}, p = {int(first['p'])}{more}"
        out = unless_interior(out, swept, float(first["penalty"]), what)
    return _with_text(out, verdict)


# ----------------------------------------------------------------------------- checks: a


def _plain_past_threshold(table, d: float) -> tuple[pd.DataFrame, float]:
    """Plain interpolators at ``d`` from the interpolation threshold on, and that threshold."""
    plain = plain_runs(table, d)
    pi = p_interp(table, d)
    if plain.empty or math.isnan(pi):
        return plain.iloc[0:0], pi
    return plain[(plain["p"] >= pi) & plain["interpolates"].astype(bool)], pi


def _plain_curve(table, d: float, value: str) -> tuple[np.ndarray, np.ndarray]:
    """Median over seeds per p of ``value`` for the plain interpolators at ``d`` past p_interp:
    ``(p, median)`` arrays (the statistics' fast path)."""
    a = arrays(table)
    pi = p_interp(a, d)
    if math.isnan(pi):
        return np.array([]), np.array([])
    m = (a["penalty"] == 0) & (a["d"] == d) & (a["p"] >= pi) & a["interpolates"].astype(bool)
    return reduce_by(a["p"][m].astype(float), a[value][m].astype(float), np.nanmedian)


def _largest_rise(curve) -> float:
    _, m = _xy(curve)
    if len(m) < 3:
        return float("nan")
    return float(np.max(m[1:] / m[:-1]))


def check_plain_above_bound(results: Results) -> Verdict:
    """a: min over interpolating plain models (every d) of Lip_est / sqrt(nd/p) >= 1.

    Decided by the seed-bootstrap interval of that minimum. No convergence caveat: the
    bound holds for every model that fits, however far its training went.
    """
    ok = _table(results)
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
    return bootstrap_verdict(
        fit,
        lambda t: float((t[col] / t["bound"]).min()),
        1.0,
        math.inf,
        "smallest Lip/bound ratio",
        f"smallest {col} / sqrt(nd/p) over {len(fit)} interpolating plain models "
        f"(at d = {int(worst['d'])}, p = {int(worst['p'])}){other}; the "
        f"spectral-norm upper bound is {upper.min():.1f}..{upper.max():.1f}x {col}",
    )


def check_plain_nonincreasing(results: Results) -> Verdict:
    """a: the median Lip_est never rises by more than MONOTONE_SLACK between successive p
    (at the anchor d), decided by the seed-bootstrap interval of the largest rise."""
    table = _table(results)
    d = anchor_d(table)
    fit, pi = _plain_past_threshold(table, d)
    col = lip_column(results)
    med = medians(fit, col, band=False)
    if len(med) < 3:
        return verdict_in_range(float("nan"), 0, MONOTONE_SLACK, "fewer than 3 interpolating sizes")
    other = beside_sampled_max(results, lambda c: f"{_largest_rise(medians(fit, c, band=False)):.2f}")

    def decide(t: pd.DataFrame) -> Verdict:
        return bootstrap_verdict(
            t[t["d"] == d],
            lambda t: _largest_rise(_plain_curve(arrays(t), d, col)),
            0.0,
            MONOTONE_SLACK,
            "largest successive ratio of medians",
            f"largest ratio of successive median {col} over {len(med)} sizes "
            f"from p_interp = {pi:.0f} (d = {d}); 1 = flat{other}",
        )

    return _converged(decide(table), fit, decide, table)


def check_plain_slope(results: Results) -> Verdict:
    """a: log-log slope of the median Lip_est of plain interpolators vs p in [-0.5, 0] (at the
    anchor d), decided by its seed-bootstrap interval."""
    table = _table(results)
    d = anchor_d(table)
    fit, pi = _plain_past_threshold(table, d)
    col = lip_column(results)
    med = medians(fit, col, band=False)
    if len(med) < 3:
        return verdict_in_range(float("nan"), *PLAIN_SLOPE, "fewer than 3 interpolating sizes")
    other = beside_sampled_max(results, lambda c: f"slope {_slope(medians(fit, c, band=False)):.2f}")

    def decide(t: pd.DataFrame) -> Verdict:
        return bootstrap_verdict(
            t[t["d"] == d],
            lambda t: _slope(_plain_curve(arrays(t), d, col)),
            *PLAIN_SLOPE,
            "log-log slope",
            f"plain Adam interpolators' {col} (d = {d}, p from {pi:.0f}, {len(med)} sizes); "
            f"theory's bound: -0.5{other}",
        )

    return _converged(decide(table), fit, decide, table)


# ----------------------------------------------------------------------------- checks: b


def _smooth_window(table, d: float, value: str) -> tuple[np.ndarray, np.ndarray]:
    """Lip_min between p ~ n (from p_interp on) and p ~ nd: ``(p, Lip_min)`` arrays."""
    a = arrays(table)
    n = n_of(a)
    p, med = lip_min_curve(a, d, value)
    pi = p_interp(a, d)
    lo = max(n, pi) if not math.isnan(pi) else n
    keep = (p >= lo * 0.999) & (p <= 1.001 * n * d)
    return p[keep], med[keep]


def check_smooth_slope(results: Results) -> Verdict:
    """b: slope of Lip_min vs p between p ~ n and p ~ nd in [-0.7, -0.3] (at the anchor d),
    decided by its seed-bootstrap interval; inconclusive where the smoothest interpolators
    had not converged or sit at the largest penalty swept."""
    table = _table(results)
    d = anchor_d(table)
    swept = swept_ds(table)
    if d not in swept:
        return verdict_in_range(float("nan"), *SMOOTH_SLOPE, "no penalty sweep")
    col = lip_column(results)
    win_p, _ = _smooth_window(table, d, col)
    if len(win_p) < 3:
        return verdict_in_range(float("nan"), *SMOOTH_SLOPE, "fewer than 3 sizes between n and nd")
    other = beside_sampled_max(results, lambda c: f"slope {_slope(_smooth_window(table, d, c)):.2f}")
    at_d = table[table["d"] == d]

    def decide(t: pd.DataFrame) -> Verdict:
        return bootstrap_verdict(
            t[t["d"] == d],
            lambda t: _slope(_smooth_window(arrays(t, swept), d, col)),
            *SMOOTH_SLOPE,
            "log-log slope",
            f"smoothest interpolators over the penalty sweep, {col} (d = {d}, "
            f"p = {int(win_p.min())}..{int(win_p.max())}); theory -0.5{other}",
        )

    chosen = smoothest_choice(at_d, d, col)
    chosen = chosen[chosen["p"].isin(win_p)]
    return _smoothest_caveats(decide(table), chosen, table, decide=decide)


def _collapse_rows(table: pd.DataFrame, value: str) -> pd.DataFrame:
    """The smoothest interpolators behind the collapse: every swept d, from its p_interp on,
    inside the p/(nd) range common to all d."""
    parts, spans = [], []
    for d in swept_ds(table):
        chosen = smoothest_choice(table, d, value)
        pi = p_interp(table, d)
        if not math.isnan(pi):
            chosen = chosen[chosen["p"] >= pi]
        if chosen["p"].nunique() >= 2:
            parts.append(chosen)
            spans.append((chosen["p_over_nd"].min(), chosen["p_over_nd"].max()))
    if len(parts) < 2:
        return table.iloc[0:0]
    lo, hi = max(s[0] for s in spans), min(s[1] for s in spans)
    rows = pd.concat(parts)
    return rows[(rows["p_over_nd"] >= lo * (1 - 1e-9)) & (rows["p_over_nd"] <= hi * (1 + 1e-9))]


def _spread_ratio(a: dict, value: str) -> float:
    return collapse_spread(a, "p_over_n", value)[0] / collapse_spread(a, "p_over_nd", value)[0]


def check_collapse(results: Results) -> Verdict:
    """b: curves for several d collapse against p/(nd): the spread is <= 1.5 and below the p/n
    spread; each part decided by its seed-bootstrap interval."""
    table = _table(results)
    swept = swept_ds(table)
    if len(swept) < 2:
        return verdict_in_range(float("nan"), 1.0, COLLAPSE_MAX, "needs penalty sweeps at two d or more")
    col = lip_column(results)
    spread, points = collapse_spread(table, "p_over_nd", col)
    spread_n, _ = collapse_spread(table, "p_over_n", col)
    typical = ""
    if "grad_norm_median" in table.columns:
        typical = (
            f"; typical smoothness (median gradient norm) spreads "
            f"{collapse_spread(table, 'p_over_nd', 'grad_norm_median')[0]:.2f} vs p/(nd), "
            f"{collapse_spread(table, 'p_over_n', 'grad_norm_median')[0]:.2f} vs p/n"
        )
    typical = (
        beside_sampled_max(
            results,
            lambda c: (
                f"spreads {collapse_spread(table, 'p_over_nd', c)[0]:.2f} vs p/(nd), "
                f"{collapse_spread(table, 'p_over_n', c)[0]:.2f} vs p/n"
            ),
        )
        + typical
    )
    text = (
        f"max over {points} common p/(nd) points of max_d/min_d Lip_min ({col}, "
        f"d = {swept_ds(table)}): {spread:.2f}; against p/n the spread is {spread_n:.2f}{typical}"
    )

    def decide(t: pd.DataFrame) -> Verdict:
        parts = [
            bootstrap_verdict(
                t,
                lambda t: collapse_spread(arrays(t, swept), "p_over_nd", col)[0],
                1.0,
                COLLAPSE_MAX,
                "max_d/min_d Lip_min",
                hypothesis="spread_vs_p_over_nd",
            ),
            bootstrap_verdict(
                t,
                lambda t: _spread_ratio(arrays(t, swept), col),
                1.0,
                math.inf,
                "ratio of spreads p/n : p/(nd)",
                hypothesis="tighter_than_p_over_n",
            ),
        ]
        return all_of(parts, text)

    return _smoothest_caveats(decide(table), _collapse_rows(table, col), table, decide=decide)


def _ratio_slope(table: pd.DataFrame, value: str) -> float:
    """Log-log slope of p_smooth/p_interp vs d, censored ratios at their lower bounds."""
    rows = [r for r in smooth_ratio_rows(table, value) if np.isfinite(r["ratio"])]
    if len(rows) < 2:
        return float("nan")
    return float(np.polyfit(np.log([r["d"] for r in rows]), np.log([r["ratio"] for r in rows]), 1)[0])


def check_smooth_params_grow_with_d(results: Results) -> Verdict:
    """b: log-log slope of p_smooth/p_interp vs d in [0.5, 1.5] (proportional: 1), decided by
    its seed-bootstrap interval.

    A d whose Lip_min never reaches L* gives only a lower bound on its ratio. The
    least-squares slope decreases as a point left of the mean log d rises (and increases
    for one right of it), so with every censored d left of the mean the slope at the
    bounds is an upper bound on the true slope (a lower bound when all lie right of it):
    refuted when that one-sided interval lies wholly outside the range on its side,
    otherwise inconclusive.
    """
    table = _table(results)
    col = lip_column(results)
    swept = swept_ds(table)
    v, tab = _grow_verdict(table, col, swept)
    if tab is None:
        return v

    def decide(t: pd.DataFrame) -> Verdict:
        return _grow_verdict(t, col, swept)[0]

    return _smoothest_caveats(v, _p_smooth_rows(table, tab, col), table, decide=decide)


def _grow_verdict(table: pd.DataFrame, col: str, swept: list) -> tuple[Verdict, pd.DataFrame | None]:
    """The verdict of ``check_smooth_params_grow_with_d`` on ``table`` and its p_smooth table
    (None when L* or p_smooth is missing)."""
    level = l_star(table, col)
    tab = p_smooth_ratios(table, col).dropna(subset=["ratio"])
    if len(tab) < 2 or math.isnan(level):
        why = "L*, p_smooth (Lip_min <= L*) or p_interp missing for >= 2 d"
        return verdict_in_range(float("nan"), *RATIO_SLOPE, why), None
    text = f"L* = {level:.2f} ({col}, at d = {anchor_d(table)}); " + ", ".join(
        f"d={int(r.d)}: {'>' if r.censored else ''}{r.p_smooth:.0f}/{r.p_interp:.0f}"
        f"={'>' if r.censored else ''}{r.ratio:.1f}"
        for r in tab.itertuples()
    )
    slope, interval, n = bootstrap_over(table, lambda t: _ratio_slope(arrays(t, swept), col))
    name = "log-log slope"
    v = verdict_from_interval(slope, interval, *RATIO_SLOPE, n, name, f"p_smooth/p_interp vs d ({text})")
    x = np.log(tab["d"].to_numpy(float))
    cens = tab["censored"].to_numpy()
    if cens.any():
        left, right = (x[cens] < x.mean()).all(), (x[cens] > x.mean()).all()
        lo, hi = interval
        if left and hi < RATIO_SLOPE[0]:
            why = "slope at the censored ratios' lower bounds bounds the slope from above: it grows slower than ~d"
            v = verdict_from_interval(slope, interval, *RATIO_SLOPE, n, f"{name} (upper bound)", f"{why} ({text})")
        elif right and lo > RATIO_SLOPE[1]:
            why = "slope at the censored ratios' lower bounds bounds the slope from below"
            v = verdict_from_interval(slope, interval, *RATIO_SLOPE, n, f"{name} (lower bound)", f"{why} ({text})")
        else:
            v = Verdict(
                "inconclusive",
                v.measured,
                v.expected,
                f"Lip_min does not reach L* = {level:.2f} within the swept p for some d "
                f"(slope {slope:.2f} with censored ratios at their lower bounds; {text})",
                interval=interval,
                n=n,
                statistic=f"{name} (one-sided bound)",
            )
    return v, tab


def _p_smooth_rows(table: pd.DataFrame, tab: pd.DataFrame, value: str) -> pd.DataFrame:
    """The smoothest interpolators around each d's p_smooth (the sizes bracketing the crossing,
    or the largest size when censored) and at the anchor's p = nd (which sets L*)."""
    parts = []
    anchor = anchor_d(table)
    for r in tab.itertuples():
        chosen = smoothest_choice(table, r.d, value)
        ps = np.sort(chosen["p"].unique())
        around = ps[np.searchsorted(ps, r.p_smooth * (1 - 1e-9)) - 1 :][:2] if len(ps) else ps
        if r.d == anchor:
            nd = n_of(table) * anchor
            around = np.union1d(around, ps[np.searchsorted(ps, nd * (1 - 1e-9)) - 1 :][:2])
        parts.append(chosen[chosen["p"].isin(around)])
    return pd.concat(parts) if parts else table.iloc[0:0]


# ----------------------------------------------------------------------------- checks: c, d


def _reg_ratio(a: dict, d: float, value: str) -> float:
    """min over p in [p_interp, nd/2] of Lip_min(p) / Lip_min(p_max) at ``d``."""
    n = n_of(a)
    p, med = lip_min_curve(a, d, value)
    pi = p_interp(a, d)
    if p.size == 0 or math.isnan(pi) or p[-1] <= n * d / 2:
        return float("nan")
    small = (p >= pi) & (p <= n * d / 2)
    if not small.any():
        return float("nan")
    return float((med[small] / med[-1]).min())


def check_regularisation_not_size(results: Results) -> Verdict:
    """c: min over p in [p_interp, nd/2] of Lip_min(p) / Lip_min(p_max) >= 1.2 (at the anchor
    d), decided by its seed-bootstrap interval."""
    table = _table(results)
    d = anchor_d(table)
    swept = swept_ds(table)
    if d not in swept:
        return verdict_in_range(float("nan"), REG_RATIO_MIN, math.inf, "no penalty sweep")
    n = n_of(table)
    col = lip_column(results)
    curve = smoothest(table, d, col)
    pi = p_interp(table, d)
    if curve.empty or math.isnan(pi):
        return verdict_in_range(float("nan"), REG_RATIO_MIN, math.inf, "no interpolation threshold")
    big = curve.iloc[-1]
    small = curve[(curve["p"] >= pi) & (curve["p"] <= n * d / 2)]
    if small.empty or big["p"] <= n * d / 2:
        return verdict_in_range(float("nan"), REG_RATIO_MIN, math.inf, "needs sizes below nd/2 and a larger one")
    ratio = small["median"] / big["median"]
    worst = small.loc[ratio.idxmin()]
    at_d = table[table["d"] == d]
    text = (
        f"best penalised interpolator at p = {int(worst['p'])} stays "
        f"{ratio.min():.2f}x rougher than at p = {int(big['p'])} "
        f"(d = {d}, {at_d['penalty'].nunique()} penalties up to {at_d['penalty'].max():g})"
    )

    def decide(t: pd.DataFrame) -> Verdict:
        return bootstrap_verdict(
            t[t["d"] == d],
            lambda t: _reg_ratio(arrays(t, swept), d, col),
            REG_RATIO_MIN,
            math.inf,
            "smallest ratio Lip_min(p)/Lip_min(p_max)",
            text,
        )

    v = decide(table)
    chosen = smoothest_choice(at_d, d, col)
    # Only the small sizes' penalty edges can flip a supported verdict: a stronger penalty
    # at p_max could only lower Lip_min(p_max) and raise the ratio.
    used = chosen[chosen["p"].isin([*small["p"], big["p"]])]
    return _smoothest_caveats(v, used, table, edge_rows=chosen[chosen["p"].isin(small["p"])], decide=decide)


def _spearman(curve) -> float:
    p, med = _xy(curve)
    if len(p) < 3:
        return float("nan")
    return float(sps.spearmanr(p, med).statistic)


def check_flip_radius_grows(results: Results) -> Verdict:
    """d: Spearman correlation of p with the median flip radius of plain interpolators >= 0.8
    (at the anchor d), decided by its seed-bootstrap interval."""
    table = _table(results)
    d = anchor_d(table)
    fit, _ = _plain_past_threshold(table, d)
    med = medians(fit, "flip_radius", band=False)
    if len(med) < 3:
        return verdict_in_range(float("nan"), FLIP_RHO_MIN, 1.0, "fewer than 3 interpolating sizes")
    text = (
        f"median L2 PGD flip radius {med['median'].iloc[0]:.3f} at "
        f"p = {int(med['p'].iloc[0])} -> {med['median'].iloc[-1]:.3f} at "
        f"p = {int(med['p'].iloc[-1])} (d = {d}, plain interpolators)"
    )

    def decide(t: pd.DataFrame) -> Verdict:
        return bootstrap_verdict(
            t[t["d"] == d],
            lambda t: _spearman(_plain_curve(arrays(t), d, "flip_radius")),
            FLIP_RHO_MIN,
            1.0,
            "Spearman rho",
            text,
        )

    return _converged(decide(table), fit, decide, table)
