"""The checks: U-shaped IsoFLOP curves, the frontier exponent, the extrapolated compute law."""

from __future__ import annotations

import math

import pandas as pd

from analysis.fits import FitError, compute_optimal_exponent, extrapolation_error, fit_power_law
from physai import Results, Verdict, verdict_in_range

from .isoflop import U_MARGIN, extrapolation_split, frontier, isoflop_table, smoothed_curves, u_shape_summary

EXTRAPOLATION_TOL = 0.20  # held-out largest runs within 20% (a convention of this project)


def _iso(results: Results) -> pd.DataFrame:
    return isoflop_table(smoothed_curves(results))


def check_u_shape(results: Results) -> Verdict:
    """Fraction of middle budgets whose IsoFLOP curve is U-shaped, expected 1."""
    summary = u_shape_summary(_iso(results))
    if summary.empty:
        return Verdict("inconclusive", math.nan, ">= 1", "no budget has enough widths")
    frac = float(summary["u_shaped"].mean())
    worst = summary.loc[summary[["left_ratio", "right_ratio"]].min(axis=1).idxmin()]
    return verdict_in_range(
        frac,
        1.0,
        1.0,
        f"{int(summary['u_shaped'].sum())}/{len(summary)} middle budgets have an "
        f"interior minimum with both ends >= {U_MARGIN:g}x it (weakest: "
        f"ends {worst['left_ratio']:.2f}x / {worst['right_ratio']:.2f}x at "
        f"C = {worst['compute']:.3g})",
    )


def check_exponent(results: Results) -> Verdict:
    """b of N*(C) ∝ C^b from interior IsoFLOP minima: its 95% interval inside (0, 1)."""
    front = frontier(_iso(results))
    interior = front[front["is_interior"].astype(bool)] if len(front) else front
    if len(interior) < 3:
        return Verdict("inconclusive", math.nan, "(0, 1)", f"{len(interior)} interior IsoFLOP minima (need >= 3)")
    try:
        b, low, high = compute_optimal_exponent(interior["compute"], interior["n_opt"])
    except FitError as error:
        return Verdict("inconclusive", math.nan, "(0, 1)", str(error))
    v_low = verdict_in_range(low, 1e-9, math.inf)
    v_high = verdict_in_range(high, -math.inf, 1 - 1e-9)
    status = "supported" if v_low.status == v_high.status == "supported" else "refuted"
    return Verdict(
        status,
        float(b),
        "interval within (0, 1)",
        f"N*(C) ∝ C^{b:.2f}, 95% interval [{low:.2f}, {high:.2f}] from {len(interior)} interior IsoFLOP minima",
    )


def extrapolation_summary(results: Results):
    """Returns: (PowerLawFit of L*(C), worst held-out relative error, n fit, n held out) or None."""
    iso = _iso(results)
    if iso.empty:
        return None
    fit_pts, held = extrapolation_split(iso)
    if len(held) == 0 or len(fit_pts) < 4:
        return None
    fit = fit_power_law(fit_pts["compute"], fit_pts["loss"])
    err = extrapolation_error(fit.predict, held["compute"].to_numpy(), held["loss"])
    return fit, err, len(fit_pts), len(held)


def check_extrapolation(results: Results) -> Verdict:
    """Worst relative error of the lower-two-thirds law L*(C) on the top third, <= 0.2."""
    try:
        out = extrapolation_summary(results)
    except FitError as error:
        return Verdict("inconclusive", math.nan, f"<= {EXTRAPOLATION_TOL}", str(error))
    if out is None:
        return Verdict("inconclusive", math.nan, f"<= {EXTRAPOLATION_TOL}", "too few budgets")
    fit, err, n_fit, n_held = out
    return verdict_in_range(
        err,
        0.0,
        EXTRAPOLATION_TOL,
        f"L*(C) = {fit.E:.3g} + {fit.A:.3g} C^-{fit.alpha:.3f} fitted on {n_fit} "
        f"budgets (lower 2/3 of log C) predicts the best runs of the {n_held} "
        f"largest budgets within {100 * err:.0f}% (worst)",
    )
