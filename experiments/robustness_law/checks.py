"""The checks of hypotheses 1-3: pure functions of the stored tables (``Results -> Verdict``)."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pandas as pd

from physai import Results, Verdict, verdict_in_range
from physai.evidence import bootstrap_verdict, unless_converged, unless_interior

from .summaries import K_SMOOTH, arrays, ds_of, floor_by_d, lower_column, ratio_curves, smooth_rows, smoothest

C_BOUND = 1.0  # 1: Lip_min / sqrt(nd/p) >= C_BOUND (the constant, see the hypothesis's Source)
SHRINK_MAX = 0.0  # 2: per-doubling d-dependence at the largest d minus that at the smallest d
SMOOTH_RATIO_MIN = 4.0  # 3: p_smooth / p_interp
SETTLED_MSE = 1e-8  # a plain run fitted to float precision has settled (see ``_settled``)
COLUMNS = (
    "d", "n", "p", "ratio", "p_over_nd", "bound", "seed", "penalty", "interpolates",
    "lip_est", "lip_search", "lip_upper", "lip_floor", "train_mse", "converged",
)  # fmt: skip


def _table(results: Results) -> pd.DataFrame:
    """The ok trials, narrowed to the columns the checks read (each resample copies them)."""
    ok = results.ok if isinstance(results, Results) else results
    ok = ok[[c for c in COLUMNS if c in ok.columns]]
    if "ratio" not in ok.columns and "p_over_nd" in ok.columns:  # stored before the grid swept ``ratio``
        ok = ok.assign(ratio=ok["p_over_nd"])
    return ok


def _settled(rows: pd.DataFrame) -> pd.DataFrame:
    """``rows`` with ``converged`` also true where the training MSE sits at float precision
    (a plain interpolator's relative objective change there is rounding noise)."""
    if "converged" not in rows.columns or "train_mse" not in rows.columns:
        return rows
    flags = rows["converged"].astype("boolean").fillna(False) | (rows["train_mse"] < SETTLED_MSE)
    return rows.assign(converged=flags)


def _with_text(caveated: Verdict, original: Verdict) -> Verdict:
    if not original.explanation or original.explanation in caveated.explanation:
        return caveated
    return dataclasses.replace(caveated, explanation=f"{caveated.explanation}; {original.explanation}")


def _caveats(verdict: Verdict, ok: pd.DataFrame, chosen: pd.DataFrame, decide=None) -> Verdict:
    """The caveats of a verdict resting on the smoothest interpolators ``chosen`` (rows of
    ``smoothest``): runs not converged (unless ``decide`` on the settled runs alone gives the
    same verdict; with ``decide`` None, no convergence caveat), and a chosen penalty that is
    the largest swept at its (d, ratio): a stronger one might still interpolate, more
    smoothly (the grid should make every largest penalty fail to interpolate)."""
    out = verdict
    if decide is not None and "converged" in ok.columns and len(chosen):
        rows = _settled(ok.iloc[chosen["index"].to_numpy(int)])

        def recheck(kept: pd.DataFrame) -> Verdict:
            flags = _settled(ok)["converged"].astype("boolean").fillna(False).to_numpy(bool)
            return decide(ok[flags])

        out = unless_converged(out, rows, recheck=recheck)
    edge = chosen[(chosen["penalty"] > 0) & (chosen["penalty"] >= chosen["top_penalty"])]
    if not edge.empty:
        first = edge.iloc[0]
        cells = edge[["d", "ratio"]].drop_duplicates()
        more = f" and {len(cells) - 1} more (d, p/(nd))" if len(cells) > 1 else ""
        swept = ok.loc[(ok["d"] == first["d"]) & (ok["ratio"] == first["ratio"]), "penalty"].unique()
        what = f"penalty at d = {int(first['d'])}, p/(nd) = {first['ratio']:g}{more}"
        out = unless_interior(out, swept, float(first["penalty"]), what)
    return _with_text(out, verdict)


def _floors(a) -> str:
    return ", ".join(f"d = {d}: {f:.2f}" for d, f in floor_by_d(a).items()) or "n/a"


# ----------------------------------------------------------------------------- 1: no interpolator below the bound


def _min_ratio(t, column: str) -> float:
    a = arrays(t)
    m = a["interpolates"].astype(bool)
    return float(np.min(a[column][m].astype(float) / a["bound"][m].astype(float))) if m.any() else float("nan")


def check_no_interpolator_below_bound(results: Results) -> Verdict:
    """1: min over interpolating models of Lip / sqrt(nd/p) >= C_BOUND, from both sides.

    Supported when the seed-bootstrap interval of the smallest ratio of the LOWER estimate
    lies above C_BOUND (every model is at least that rough); refuted only when the interval
    of the smallest ratio of the UPPER estimate (the spectral-norm product) lies below it (a
    model provably smoother than the bound allows); else inconclusive. A supported verdict
    is inconclusive when the smoothest model of some (d, ratio) used the largest penalty.
    """
    ok = _table(results)
    expected = f">= {C_BOUND:g}"
    if ok.empty or "interpolates" not in ok.columns or not ok["interpolates"].astype(bool).any():
        return verdict_in_range(float("nan"), C_BOUND, math.inf, "no model interpolates")
    low_col = lower_column(ok)
    low = bootstrap_verdict(
        ok[["seed", "interpolates", "bound", low_col]],
        lambda t: _min_ratio(t, low_col),
        C_BOUND,
        math.inf,
        f"smallest {low_col} / sqrt(nd/p)",
    )
    fit = ok[ok["interpolates"].astype(bool)]
    ratio = fit[low_col] / fit["bound"]
    worst = fit.iloc[int(np.argmin(ratio.to_numpy()))]
    upper_min = float((fit["lip_upper"] / fit["bound"]).min()) if "lip_upper" in fit else float("nan")
    where = (
        f"at d = {int(worst['d'])}, p/(nd) = {worst['p'] / (worst['n'] * worst['d']):.3g}, penalty {worst['penalty']:g}"
    )
    text = (
        f"over {len(fit)} interpolating models, smallest lower-estimate ratio {ratio.min():.2f} ({where}); "
        f"smallest upper-estimate (spectral product) ratio {upper_min:.2f}; data floors {_floors(ok)}"
    )
    if low.status == "supported":
        out = dataclasses.replace(low, explanation=text)
        # no convergence caveat: the bound holds for every model that fits, however trained
        return _caveats(out, ok, smoothest(ok))
    up = bootstrap_verdict(
        ok[["seed", "interpolates", "bound", "lip_upper"]],
        lambda t: _min_ratio(t, "lip_upper"),
        C_BOUND,
        math.inf,
        "smallest lip_upper / sqrt(nd/p)",
    )
    if up.status == "refuted":
        return dataclasses.replace(up, explanation=f"an interpolator is provably below the bound: {text}")
    reason = (
        "the lower estimate dips below the bound but the upper one does not: the Lipschitz constant "
        "is not pinned down on that side"
        if low.status == "refuted"
        else "the interval straddles the constant"
    )
    return dataclasses.replace(low, status="inconclusive", expected=expected, explanation=f"{reason}; {text}")


# ----------------------------------------------------------------------------- 2: the constant settles with d


def _common_ratios(curves: dict, floors: dict) -> list[float]:
    """The ratios every d reaches with an interpolator in >= half its seeds and where the bound
    sqrt(nd/p) exceeds every d's data floor (there the law, not the data, sets how smooth an
    interpolator can be)."""
    common = None
    for d, c in curves.items():
        ok = c["ratio"][(c["share"] >= 0.5) & (c["bound"] > floors.get(d, 0.0))]
        common = set(ok.tolist()) if common is None else common & set(ok.tolist())
    return sorted(common or [])


def d_dependence(t, value: str | None = None) -> tuple[float, float, list[float]]:
    """Mean over common ratios of |log R(d_{i+1}) / R(d_i)| per doubling of d, for the two
    smallest and the two largest d (R = Lip_min / sqrt(nd/p)).

    Returns: ``(first, last, ratios used)``; NaN without three d or a common ratio.
    """
    a = arrays(t)
    ds = ds_of(a)
    curves = ratio_curves(a, value)
    if len(ds) < 3 or len(curves) < len(ds):
        return float("nan"), float("nan"), []
    rs = _common_ratios(curves, floor_by_d(a))
    if not rs:
        return float("nan"), float("nan"), []
    R = {d: dict(zip(curves[d]["ratio"].tolist(), curves[d]["R"], strict=True)) for d in ds}

    def per_doubling(d1, d2):
        return float(np.mean([abs(math.log(R[d2][r] / R[d1][r])) for r in rs]) / math.log2(d2 / d1))

    return per_doubling(ds[0], ds[1]), per_doubling(ds[-2], ds[-1]), rs


def _shrink(t) -> float:
    first, last, _ = d_dependence(t)
    return last - first


def check_constant_settles(results: Results) -> Verdict:
    """2: the d-dependence of R = Lip_min / sqrt(nd/p) at matched p/(nd) shrinks as d grows:
    (per-doubling |log change| between the two largest d) - (that between the two smallest)
    <= SHRINK_MAX, by its seed-bootstrap interval."""
    ok = _table(results)
    if ok.empty or "ratio" not in ok.columns:
        return verdict_in_range(float("nan"), -math.inf, SHRINK_MAX, "no ratio column")
    first, last, rs = d_dependence(ok)
    curves = ratio_curves(ok)
    at = ", ".join(
        f"d = {d}: " + "/".join(f"{R:.2f}" for r, R in zip(c["ratio"], c["R"], strict=True) if r in rs)
        for d, c in curves.items()
    )
    text = (
        f"per-doubling |log change| of R {first:.3f} (two smallest d) -> {last:.3f} (two largest d) "
        f"over p/(nd) targets {', '.join(f'{r:g}' for r in rs) or 'none'}; R (lower estimate) {at}; "
        f"data floors {_floors(ok)}"
    )
    cols = [c for c in COLUMNS if c in ok.columns]
    v = bootstrap_verdict(ok[cols], _shrink, -math.inf, SHRINK_MAX, "d-dependence change", text)
    chosen = smoothest(ok)
    chosen = chosen[chosen["ratio"].isin(rs)]
    return _caveats(v, ok, chosen, check_constant_settles)


# ----------------------------------------------------------------------------- 3: smooth needs more parameters


def _min_smooth_ratio(t) -> float:
    rows = smooth_rows(t)
    return float(min(r["ratio"] for r in rows)) if rows else float("nan")


def check_smooth_needs_more_params(results: Results) -> Verdict:
    """3: at every d, p_smooth / p_interp >= SMOOTH_RATIO_MIN (``summaries.smooth_rows``).

    Both censorings make the measured ratio a lower bound on the true one, so they can
    support but not refute: a refutation resting on a censored d is inconclusive."""
    ok = _table(results)
    if ok.empty or "lip_floor" not in ok.columns:
        return verdict_in_range(float("nan"), SMOOTH_RATIO_MIN, math.inf, "no data floor column")
    rows = smooth_rows(ok)
    if not rows:
        return verdict_in_range(float("nan"), SMOOTH_RATIO_MIN, math.inf, "no d with both p_interp and Lip_min")
    desc = "; ".join(
        f"d = {r['d']}: p_interp {r['p_interp']:.0f}{' (at most)' if r['interp_censored'] else ''}, "
        f"p_smooth {r['p_smooth']:.0f}{' (at least)' if r['smooth_censored'] else ''} (Lip_min <= "
        f"{K_SMOOTH:g} x floor = {r['level']:.2f}), ratio {r['ratio']:.1f}"
        for r in rows
    )
    cols = [c for c in COLUMNS if c in ok.columns]
    v = bootstrap_verdict(ok[cols], _min_smooth_ratio, SMOOTH_RATIO_MIN, math.inf, "smallest p_smooth / p_interp", desc)
    worst = min(rows, key=lambda r: r["ratio"])
    if v.status == "refuted" and (worst["smooth_censored"] or worst["interp_censored"]):
        v = dataclasses.replace(
            v, status="inconclusive", explanation=f"censored at d = {worst['d']}: the ratio is a lower bound; {desc}"
        )
    return _caveats(v, ok, smoothest(ok), check_smooth_needs_more_params)
