"""Tables the checks and plots read: medians over seeds, the interpolation threshold
p_interp, the smoothest interpolator Lip_min(p), L*, p_smooth and the collapse spread."""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import pandas as pd

from analysis.stats import aggregate
from physai import Results

ANCHOR_D = 20  # parts a, c, d are checked at this d (the middle of the swept d)
CHECK_RESAMPLES = 100  # bootstrap resamples in checks (only medians are used)


def medians(df: pd.DataFrame, value: str) -> pd.DataFrame:
    """Median over seeds per p (with p/(nd), p/n), sorted by p."""
    if df.empty:
        return pd.DataFrame(columns=["p", "median", "low", "high", "n"])
    med = aggregate(df, "p", value, n_resamples=CHECK_RESAMPLES)
    return med.sort_values("p").reset_index(drop=True)


def plain_runs(results: Results, d: int) -> pd.DataFrame:
    ok = results.ok
    if ok.empty or "penalty" not in ok.columns:
        return ok.iloc[0:0]
    return ok[(ok["penalty"] == 0) & (ok["d"] == d)]


def p_interp(results: Results, d: int) -> float:
    """Smallest p from which plain training interpolates in >= half the seeds at every larger p.

    Args: results; d: dimension. Returns: that p, or NaN if the largest p does not interpolate.
    """
    plain = plain_runs(results, d)
    if plain.empty:
        return float("nan")
    rate = plain.groupby("p")["interpolates"].mean().sort_index()
    ok = (rate >= 0.5).to_numpy()
    if not ok[-1]:
        return float("nan")
    first = len(ok) - int(np.argmin(ok[::-1])) if not ok.all() else 0
    return float(rate.index[first])


def lip_column(results_or_table) -> str:
    """The Lipschitz estimate the checks use: ``lip_search`` (the tighter lower bound found by
    the smoothed-surrogate search) when the table has it, else ``lip_est`` (the sampled max;
    tables stored before the search existed).

    Args: results_or_table: ``Results`` or a trials DataFrame. Returns: the column name.
    """
    df = results_or_table.ok if isinstance(results_or_table, Results) else results_or_table
    if "lip_search" in df.columns and df["lip_search"].notna().any():
        return "lip_search"
    return "lip_est"


def beside_sampled_max(results: Results, describe: Callable[[str], str]) -> str:
    """The same statistic on the sampled max, appended to a verdict's explanation.

    Args:
      results: the tables; when the checks use ``lip_search``, every verdict also reports
        the sampled max ``lip_est``.
      describe: ``column -> text``: the check's statistic computed on that column.

    Returns:
      ``"; sampled max lip_est: <describe('lip_est')>"``, or ``""`` when the checks already
      use ``lip_est``.
    """
    if lip_column(results) == "lip_est":
        return ""
    return f"; sampled max lip_est: {describe('lip_est')}"


def smoothest(results: Results, d: int, value: str | None = None) -> pd.DataFrame:
    """Lip_min per p: per (p, seed) the smallest Lip estimate among interpolating models,
    median over seeds.

    Args: results; d: dimension; value: the measurement minimised (default
      :func:`lip_column`).

    Returns:
      ``p, median, low, high, n`` (n = seeds with an interpolating model), sorted by p.
    """
    ok = results.ok
    value = value or lip_column(results)
    if ok.empty or "d" not in ok.columns:
        return medians(ok.iloc[0:0], value)
    fit = ok[(ok["d"] == d) & ok["interpolates"].astype(bool)]
    if fit.empty:
        return medians(fit, value)
    per_seed = fit.groupby(["p", "seed"], as_index=False)[value].min()
    return medians(per_seed, value)


def interp_loglog(x, y, at):
    """Log-log linear interpolation of (x, y) at ``at`` (NaN outside the range)."""
    x, y = np.log(np.asarray(x, float)), np.log(np.asarray(y, float))
    return np.exp(np.interp(np.log(at), x, y, left=np.nan, right=np.nan))


def crossing(p, lip, level: float) -> float:
    """Where a decreasing curve first falls to ``level`` (log-log interpolation).

    Args: p, lip: the curve (sorted by p); level: the value. Returns: that p, NaN if never.
    """
    p, lip = np.asarray(p, float), np.asarray(lip, float)
    below = np.nonzero(lip <= level)[0]
    if below.size == 0:
        return float("nan")
    j = int(below[0])
    if j == 0:
        return float(p[0])
    t = (math.log(level) - math.log(lip[j - 1])) / (math.log(lip[j]) - math.log(lip[j - 1]))
    return float(math.exp(math.log(p[j - 1]) + t * (math.log(p[j]) - math.log(p[j - 1]))))


def n_of(results: Results) -> int:
    return int(results.ok["n"].iloc[0])


def ds_of(results: Results) -> list[int]:
    ok = results.ok
    return sorted(int(d) for d in ok["d"].unique()) if "d" in ok.columns else []


MIN_PENALTIES = 2  # a "penalty sweep" needs at least this many positive strengths


def swept_ds(results: Results) -> list[int]:
    """Returns: the d values with a penalty sweep (parts b and c need one; plain runs are part a)."""
    ok = results.ok
    if ok.empty or "penalty" not in ok.columns:
        return []
    counts = ok[ok["penalty"] > 0].groupby("d")["penalty"].nunique()
    return sorted(int(d) for d, k in counts.items() if k >= MIN_PENALTIES)


def collapse_spread(results: Results, axis: str = "p_over_nd", value: str | None = None) -> tuple[float, int]:
    """Largest max_d / min_d ratio of Lip_min at equal ``axis`` (p/(nd) or p/n).

    Each d's curve (from its p_interp on) is interpolated log-log at the union of
    grid points inside the range common to all d.

    Args: results; axis: ``p_over_nd`` or ``p_over_n``; value: the per-model
      measurement minimised over penalties (default :func:`lip_column`;
      ``grad_norm_median`` as a diagnostic of typical rather than worst-case smoothness).

    Returns:
      ``(spread, points)``; NaN and 0 when fewer than 2 d or no common range.
    """
    n = n_of(results)
    curves = {}
    for d in swept_ds(results):
        c = smoothest(results, d, value)
        pi = p_interp(results, d)
        if not math.isnan(pi):
            c = c[c["p"] >= pi]
        if len(c) >= 2:
            scale = n * d if axis == "p_over_nd" else n
            curves[d] = (c["p"].to_numpy() / scale, c["median"].to_numpy())
    if len(curves) < 2:
        return float("nan"), 0
    lo = max(x.min() for x, _ in curves.values())
    hi = min(x.max() for x, _ in curves.values())
    at = np.unique(np.concatenate([x for x, _ in curves.values()]))
    at = at[(at >= lo * (1 - 1e-9)) & (at <= hi * (1 + 1e-9))]
    if at.size == 0:
        return float("nan"), 0
    # ``at`` lies inside every curve's range, so no curve is extrapolated.
    values = np.stack([interp_loglog(x, y, np.clip(at, x.min(), x.max())) for x, y in curves.values()])
    return float(np.max(values.max(axis=0) / values.min(axis=0))), int(at.size)


def l_star(results: Results, value: str | None = None) -> float:
    """L*, the fixed smoothness that defines p_smooth: Lip_min of the anchor d at p = n d.

    The law calls an interpolator smooth when its Lipschitz constant is O(1), reached at
    p ~ nd; the O(1) constant is unspecified, so we take the value our smoothest
    interpolators reach there at d = ANCHOR_D (log-log interpolated between swept sizes).
    Every d is then asked for the same smoothness. Estimator-agnostic: it rescales with
    the Lipschitz estimate in use.

    Args: results; value: the Lipschitz column (default :func:`lip_column`).
    Returns: L*, or NaN without a penalty sweep at ANCHOR_D spanning p = nd.
    """
    if ANCHOR_D not in swept_ds(results):
        return float("nan")
    c = smoothest(results, ANCHOR_D, value)
    if len(c) < 2:
        return float("nan")
    return float(interp_loglog(c["p"], c["median"], n_of(results) * ANCHOR_D))


def p_smooth_ratios(results: Results, value: str | None = None) -> pd.DataFrame:
    """Per d: p_interp, p_smooth (Lip_min first <= L*, see :func:`l_star`) and their ratio.

    Returns:
      ``d, p_interp, p_smooth, ratio, censored``; where Lip_min never falls to
      L*, ``p_smooth`` is the largest p swept (a lower bound) and ``censored`` is True.
    """
    rows = []
    level = l_star(results, value)
    for d in swept_ds(results):
        c = smoothest(results, d, value)
        pi = p_interp(results, d)
        if not math.isnan(pi):
            c = c[c["p"] >= pi]
        ps = crossing(c["p"], c["median"], level) if len(c) and not math.isnan(level) else float("nan")
        censored = bool(len(c) and math.isnan(ps))
        if censored:
            ps = float(c["p"].max())
        rows.append({"d": d, "p_interp": pi, "p_smooth": ps, "ratio": ps / pi, "censored": censored})
    return pd.DataFrame(rows, columns=["d", "p_interp", "p_smooth", "ratio", "censored"])
