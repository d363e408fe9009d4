"""Tables the checks and plots read: medians over seeds, the interpolation threshold
p_interp, the smoothest interpolator Lip_min(p), L*, p_smooth and the collapse spread."""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable

import numpy as np
import pandas as pd

from analysis.stats import aggregate
from physai import Results

ANCHOR_D = 20  # the paper preset's middle d, where parts a, c, d are checked (``anchor_d``)
CHECK_RESAMPLES = 100  # bootstrap resamples of the plotted per-p median bands


def _frame(results_or_table) -> pd.DataFrame:
    """The ok trials: ``Results.ok``, or a table already restricted to them (a bootstrap resample)."""
    return results_or_table.ok if isinstance(results_or_table, Results) else results_or_table


def arrays(results_or_table, swept: list[int] | None = None) -> dict[str, np.ndarray]:
    """The ok trials as ``column -> numpy array`` (the checks' statistics, recomputed on every
    bootstrap resample, read these rather than filtering DataFrames). A dict passes through.

    Args: results_or_table: ``Results``, a trials table or such a dict; swept: the d values
      with a penalty sweep when already known (a seed resample of the grid has the same).
    """
    if isinstance(results_or_table, dict):
        return results_or_table
    df = _frame(results_or_table)
    a = {c: df[c].to_numpy() for c in df.columns}
    if swept is not None:
        a["_swept_ds"] = swept
    return a


def reduce_by(keys: np.ndarray, values: np.ndarray, reduce) -> tuple[np.ndarray, np.ndarray]:
    """``reduce`` of ``values`` per distinct key; returns (sorted keys, reduced values)."""
    if keys.size == 0:
        return keys.astype(float), values.astype(float)
    order = np.argsort(keys, kind="stable")
    k, v = keys[order], values[order]
    uniq, starts = np.unique(k, return_index=True)
    return uniq, np.array([reduce(x) for x in np.split(v, starts[1:])], dtype=float)


def lip_min_curve(a: dict, d: float, value: str) -> tuple[np.ndarray, np.ndarray]:
    """Lip_min per p at ``d``: per (p, seed) the smallest ``value`` among interpolating models,
    median over seeds. Returns (p, Lip_min), sorted by p."""
    if "d" not in a or not len(a["d"]):
        return np.array([]), np.array([])
    m = (a["d"] == d) & a["interpolates"].astype(bool)
    p, seed, v = a["p"][m].astype(float), a["seed"][m], a[value][m].astype(float)
    if p.size == 0:
        return p, v
    ps, ip = np.unique(p, return_inverse=True)
    ss, js = np.unique(seed, return_inverse=True)
    grid = np.full((ps.size, ss.size), np.nan)
    np.fmin.at(grid, (ip, js), v)
    if not np.isnan(grid).any():
        return ps, np.median(grid, axis=1)
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return ps, np.nanmedian(grid, axis=1)


def medians(df: pd.DataFrame, value: str, band: bool = True) -> pd.DataFrame:
    """Median over seeds per p, sorted by p.

    Args: df: trials; value: the column; band: also a bootstrap band per p (``low``,
      ``high``, ``n``; for plots: the checks' statistics need the median only and are
      resampled as a whole).
    """
    if df.empty:
        return pd.DataFrame(columns=["p", "median", "low", "high", "n"] if band else ["p", "median"])
    if not band:
        p, med = reduce_by(df["p"].to_numpy(float), df[value].to_numpy(float), np.nanmedian)
        return pd.DataFrame({"p": p, "median": med})
    med = aggregate(df, "p", value, n_resamples=CHECK_RESAMPLES)
    return med.sort_values("p").reset_index(drop=True)


def anchor_d(results_or_table) -> float:
    """The d where parts a, c, d are checked and L* is set: the middle of the d values with a
    penalty sweep (the upper middle of an even count), else of all d present; NaN with none.
    The paper preset's {10, 20, 40} give 20 (``ANCHOR_D``)."""
    ds = swept_ds(results_or_table) or ds_of(results_or_table)
    return ds[len(ds) // 2] if ds else float("nan")


def plain_runs(results: Results, d: int) -> pd.DataFrame:
    ok = _frame(results)
    if ok.empty or "penalty" not in ok.columns:
        return ok.iloc[0:0]
    return ok[(ok["penalty"] == 0) & (ok["d"] == d)]


def p_interp(results: Results, d: int) -> float:
    """Smallest p from which plain training interpolates in >= half the seeds at every larger p.

    Args: results; d: dimension. Returns: that p, or NaN if the largest p does not interpolate.
    """
    a = arrays(results)
    if "penalty" not in a:
        return float("nan")
    m = (a["penalty"] == 0) & (a["d"] == d)
    if not m.any():
        return float("nan")
    ps, rate = reduce_by(a["p"][m].astype(float), a["interpolates"][m].astype(float), np.mean)
    ok = rate >= 0.5
    if not ok[-1]:
        return float("nan")
    first = len(ok) - int(np.argmin(ok[::-1])) if not ok.all() else 0
    return float(ps[first])


def lip_column(results_or_table) -> str:
    """The Lipschitz estimate the checks use: ``lip_search`` (the tighter lower bound found by
    the smoothed-surrogate search) when the table has it, else ``lip_est`` (the sampled max;
    tables stored before the search existed).

    Args: results_or_table: ``Results`` or a trials DataFrame. Returns: the column name.
    """
    a = arrays(results_or_table)
    if "lip_search" in a and pd.notna(a["lip_search"]).any():
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


def smoothest(results: Results, d: int, value: str | None = None, band: bool = False) -> pd.DataFrame:
    """Lip_min per p: per (p, seed) the smallest Lip estimate among interpolating models,
    median over seeds.

    Args: results; d: dimension; value: the measurement minimised (default
      :func:`lip_column`); band: add the plots' bootstrap band per p.

    Returns:
      ``p, median`` (with ``band``: ``low, high, n``, n = seeds with an interpolating
      model), sorted by p.
    """
    value = value or lip_column(results)
    if not band:
        p, med = lip_min_curve(arrays(results), d, value)
        return pd.DataFrame({"p": p, "median": med})
    ok = _frame(results)
    if ok.empty or "d" not in ok.columns:
        return medians(ok.iloc[0:0], value, band)
    fit = ok[(ok["d"] == d) & ok["interpolates"].astype(bool)]
    if fit.empty:
        return medians(fit, value, band)
    per_seed = fit.groupby(["p", "seed"], as_index=False)[value].min()
    return medians(per_seed, value, band)


def smoothest_choice(results: Results, d: float, value: str | None = None) -> pd.DataFrame:
    """The models behind ``smoothest``: per (p, seed) the interpolating model of smallest Lip,
    with the largest penalty swept at that (d, p).

    Returns: those rows (``p, seed, penalty, top_penalty, converged`` ...), sorted by p.
    """
    ok = _frame(results)
    value = value or lip_column(results)
    at_d = ok[ok["d"] == d]
    fit = at_d[at_d["interpolates"].astype(bool)]
    if fit.empty:
        return fit.assign(top_penalty=[])
    best = fit.loc[fit.groupby(["p", "seed"])[value].idxmin()]
    top = at_d.groupby("p")["penalty"].max()
    return best.assign(top_penalty=top.reindex(best["p"]).to_numpy()).sort_values("p")


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
    return int(arrays(results)["n"][0])


def ds_of(results: Results) -> list[int]:
    a = arrays(results)
    return sorted(int(d) for d in np.unique(a["d"])) if "d" in a else []


MIN_PENALTIES = 2  # a "penalty sweep" needs at least this many positive strengths


def swept_ds(results: Results) -> list[int]:
    """Returns: the d values with a penalty sweep (parts b and c need one; plain runs are part a)."""
    a = arrays(results)
    if "penalty" not in a or not len(a["penalty"]):
        return []
    if "_swept_ds" in a:  # a resample keeps every (d, penalty) of the grid: computed once
        return a["_swept_ds"]
    m = a["penalty"] > 0
    pairs = np.unique(np.stack([a["d"][m].astype(float), a["penalty"][m].astype(float)]), axis=1)
    ds, counts = np.unique(pairs[0], return_counts=True)
    return sorted(int(d) for d, k in zip(ds, counts, strict=True) if k >= MIN_PENALTIES)


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
    a = arrays(results)
    value = value or lip_column(a)
    if "d" not in a or not len(a["d"]):
        return float("nan"), 0
    n = n_of(a)
    curves = {}
    for d in swept_ds(a):
        p, med = lip_min_curve(a, d, value)
        pi = p_interp(a, d)
        if not math.isnan(pi):
            p, med = p[p >= pi], med[p >= pi]
        if len(p) >= 2:
            scale = n * d if axis == "p_over_nd" else n
            curves[d] = (p / scale, med)
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
    """L*, the fixed smoothness that defines p_smooth: Lip_min of the anchor d (``anchor_d``) at p = n d.

    The law calls an interpolator smooth when its Lipschitz constant is O(1), reached at
    p ~ nd; the O(1) constant is unspecified, so we take the value our smoothest
    interpolators reach there at the anchor d (log-log interpolated between swept sizes).
    Every d is then asked for the same smoothness. Estimator-agnostic: it rescales with
    the Lipschitz estimate in use.

    Args: results; value: the Lipschitz column (default :func:`lip_column`).
    Returns: L*, or NaN without a penalty sweep, or when the anchor's Lip_min has fewer
      than two sizes.
    """
    a = arrays(results)
    anchor = anchor_d(a)
    if anchor not in swept_ds(a):
        return float("nan")
    p, med = lip_min_curve(a, anchor, value or lip_column(a))
    if len(p) < 2:
        return float("nan")
    return float(interp_loglog(p, med, n_of(a) * anchor))


def p_smooth_ratios(results: Results, value: str | None = None) -> pd.DataFrame:
    """Per d: p_interp, p_smooth (Lip_min first <= L*, see :func:`l_star`) and their ratio.

    Returns:
      ``d, p_interp, p_smooth, ratio, censored``; where Lip_min never falls to
      L*, ``p_smooth`` is the largest p swept (a lower bound) and ``censored`` is True.
    """
    return pd.DataFrame(smooth_ratio_rows(results, value), columns=["d", "p_interp", "p_smooth", "ratio", "censored"])


def smooth_ratio_rows(results: Results, value: str | None = None) -> list[dict]:
    """Per d: p_interp, p_smooth (Lip_min first <= L*, see :func:`l_star`) and their ratio.

    Returns:
      ``d, p_interp, p_smooth, ratio, censored``; where Lip_min never falls to
      L*, ``p_smooth`` is the largest p swept (a lower bound) and ``censored`` is True.
    """
    rows = []
    a = arrays(results)
    value = value or lip_column(a)
    level = l_star(a, value)
    for d in swept_ds(a):
        p, med = lip_min_curve(a, d, value)
        pi = p_interp(a, d)
        if not math.isnan(pi):
            p, med = p[p >= pi], med[p >= pi]
        ps = crossing(p, med, level) if len(p) and not math.isnan(level) else float("nan")
        censored = bool(len(p) and math.isnan(ps))
        if censored:
            ps = float(p.max())
        rows.append({"d": d, "p_interp": pi, "p_smooth": ps, "ratio": ps / pi, "censored": censored})
    return rows
