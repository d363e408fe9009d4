"""Tables the checks and plots read: per (d, ratio, seed) the smoothest interpolator, its
Lip / sqrt(nd/p) from below and above, the data floor, p_interp and p_smooth per d.

Every function works on ``column -> numpy array`` dicts (``arrays``): the checks recompute
their statistics on a thousand seed resamples, which DataFrame group-bys make slow.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import pandas as pd

from physai import Results

K_SMOOTH = 2.0  # smooth = Lip_min within this factor of the data floor (see ``p_smooth``)


def arrays(results_or_table) -> dict[str, np.ndarray]:
    """The ok trials as ``column -> numpy array``; a dict passes through.

    Args: results_or_table: ``Results``, a trials DataFrame (already the ok rows) or a dict.
    """
    if isinstance(results_or_table, dict):
        return results_or_table
    df = results_or_table.ok if isinstance(results_or_table, Results) else results_or_table
    return {c: df[c].to_numpy() for c in df.columns}


def lower_column(a) -> str:
    """The lower Lipschitz estimate: ``lip_search`` (gradient-norm search) when present, else
    the sampled max ``lip_est``."""
    a = arrays(a)
    if "lip_search" in a and len(a["lip_search"]) and np.isfinite(a["lip_search"].astype(float)).any():
        return "lip_search"
    return "lip_est"


def reduce_by(keys: np.ndarray, values: np.ndarray, reduce) -> tuple[np.ndarray, np.ndarray]:
    """``reduce`` of ``values`` per distinct key; returns (sorted keys, reduced values)."""
    if keys.size == 0:
        return keys.astype(float), values.astype(float)
    order = np.argsort(keys, kind="stable")
    k, v = keys[order], values[order]
    uniq, starts = np.unique(k, return_index=True)
    return uniq, np.array([reduce(x) for x in np.split(v, starts[1:])], dtype=float)


def median_over_seeds(keys: np.ndarray, seeds: np.ndarray, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Median over seeds per key, vectorised (one value per (key, seed), as ``smoothest_arrays``
    gives): returns (sorted keys, medians; NaN where no seed has a value)."""
    if keys.size == 0:
        return keys.astype(float), values.astype(float)
    ks, ik = np.unique(keys, return_inverse=True)
    ss, js = np.unique(seeds, return_inverse=True)
    grid = np.full((ks.size, ss.size), np.nan)
    grid[ik.ravel(), js.ravel()] = values
    if not np.isnan(grid).any():
        return ks, np.median(grid, axis=1)
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        return ks, np.nanmedian(grid, axis=1)


def ds_of(a) -> list[int]:
    a = arrays(a)
    return sorted(int(d) for d in np.unique(a["d"])) if "d" in a and len(a["d"]) else []


def smoothest_arrays(a, value: str | None = None) -> dict[str, np.ndarray]:
    """Per (d, ratio, seed) the interpolating model of smallest lower estimate, as arrays
    (the fast path of :func:`smoothest`, recomputed on every bootstrap resample).

    Returns: ``d, ratio, seed, p, bound, penalty, top_penalty, lower, upper, floor, index``
      (``index``: its row in ``a``; ``top_penalty``: the largest penalty swept at that
      (d, ratio)); empty arrays without interpolators.
    """
    a = arrays(a)
    value = value or lower_column(a)
    keys = ("d", "ratio", "seed", "p", "bound", "penalty", "top_penalty", "lower", "upper", "floor", "index")
    empty = {k: np.array([]) for k in keys}
    if "d" not in a or not len(a["d"]):
        return empty
    fit = np.flatnonzero(a["interpolates"].astype(bool))
    if fit.size == 0:
        return empty
    # tables stored before the grid swept ``ratio`` hold the achieved p/(nd) only
    r = (a["ratio"] if "ratio" in a else a["p_over_nd"]).astype(float)
    d, s = a["d"].astype(float), a["seed"].astype(float)
    v = a[value].astype(float)
    # sort by cell, then by the estimate: the first row of each cell is its smoothest model
    order = fit[np.lexsort((v[fit], s[fit], r[fit], d[fit]))]
    cell = np.stack([d[order], r[order], s[order]], axis=1)
    first = np.ones(order.size, bool)
    first[1:] = np.any(cell[1:] != cell[:-1], axis=1)
    best = order[first]
    # the largest penalty per (d, ratio), looked up for each chosen model
    dr = np.stack([d, r], axis=1)
    uniq, inverse = np.unique(dr, axis=0, return_inverse=True)
    top = np.full(len(uniq), -np.inf)
    np.maximum.at(top, inverse.ravel(), a["penalty"].astype(float))
    nan = np.full(best.size, np.nan)
    return {
        "d": d[best],
        "ratio": r[best],
        "seed": s[best],
        "p": a["p"].astype(float)[best],
        "bound": a["bound"].astype(float)[best],
        "penalty": a["penalty"].astype(float)[best],
        "top_penalty": top[inverse.ravel()[best]],
        "lower": v[best],
        "upper": a["lip_upper"].astype(float)[best] if "lip_upper" in a else nan,
        "floor": a["lip_floor"].astype(float)[best] if "lip_floor" in a else nan,
        "index": best,
    }


def smoothest(a, value: str | None = None) -> pd.DataFrame:
    """:func:`smoothest_arrays` as a DataFrame (for the caveats and the plots)."""
    return pd.DataFrame(smoothest_arrays(a, value))


def floor_by_d(a) -> dict[int, float]:
    """Each d's data floor (median over seeds of ``lip_floor``): no interpolator of its points
    can be smoother. Empty when the table lacks the column."""
    a = arrays(a)
    if "lip_floor" not in a or not len(a["d"]):
        return {}
    # one floor per (d, seed): every model of a seed sees the same training points
    d, s = a["d"].astype(float), a["seed"].astype(float)
    ds, first = np.unique(np.stack([d, s], axis=1), axis=0, return_index=True)
    keys, f = median_over_seeds(ds[:, 0], ds[:, 1], a["lip_floor"].astype(float)[first])
    return {int(x): float(y) for x, y in zip(keys, f, strict=True)}


def ratio_curves(a, value: str | None = None) -> dict[int, dict[str, np.ndarray]]:
    """Per d, per ratio (a grid value): the median over seeds of the smoothest interpolator's
    Lip / sqrt(nd/p) from below (``R``) and above (``RU``), its p and bound, and the share
    of seeds with an interpolator. Returns: ``d -> column -> array`` sorted by ratio."""
    a = arrays(a)
    sm = smoothest_arrays(a, value)
    n_seeds = max(len(np.unique(a["seed"])), 1) if "seed" in a else 1
    out = {}
    for d in ds_of(a):
        m = sm["d"] == d
        if not m.any():
            continue
        r, seed = sm["ratio"][m], sm["seed"][m]
        ratio, R = median_over_seeds(r, seed, sm["lower"][m] / sm["bound"][m])
        _, RU = median_over_seeds(r, seed, sm["upper"][m] / sm["bound"][m])
        _, p = median_over_seeds(r, seed, sm["p"][m])
        _, bound = median_over_seeds(r, seed, sm["bound"][m])
        k = np.bincount(np.unique(r, return_inverse=True)[1].ravel(), minlength=ratio.size)
        out[d] = {"ratio": ratio, "R": R, "RU": RU, "p": p, "bound": bound, "share": k / n_seeds}
    return out


def p_interp(a, d: float) -> float:
    """Smallest p from which plain training interpolates in >= half the seeds at every larger p.

    Args: a: the trials; d: dimension. Returns: that p, or NaN if the largest p does not interpolate.
    """
    a = arrays(a)
    if "penalty" not in a or not len(a["penalty"]):
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


def smooth_rows(a, value: str | None = None) -> list[dict]:
    """Per d: p_interp, p_smooth and their ratio.

    p_smooth is where the smoothest interpolator's Lip_min (median over seeds) first falls to
    ``K_SMOOTH`` x the d's data floor: the law's "O(1)-Lipschitz", made concrete as "within a
    factor 2 of the smoothest any interpolator of these points can be". Both ends may be
    censored: ``smooth_censored`` when Lip_min never gets there (p_smooth := the largest p, a
    lower bound), ``interp_censored`` when plain training interpolates already at the
    smallest p swept (the true threshold is at or below it). Either makes the ratio a lower bound.

    Returns: ``d, p_interp, p_smooth, ratio, level, smooth_censored, interp_censored`` per d.
    """
    a = arrays(a)
    sm = smoothest_arrays(a, value)
    floors = floor_by_d(a)
    rows = []
    for d in ds_of(a):
        pi = p_interp(a, d)
        m = sm["d"] == d
        if not m.any() or math.isnan(pi) or d not in floors:
            continue
        p, lip = median_over_seeds(sm["p"][m], sm["seed"][m], sm["lower"][m])
        keep = p >= pi
        p, lip = p[keep], lip[keep]
        level = K_SMOOTH * floors[d]
        ps = crossing(p, lip, level) if len(p) else float("nan")
        smooth_censored = bool(math.isnan(ps))
        if smooth_censored:
            ps = float(p.max()) if len(p) else float("nan")
        p_min = float(a["p"][(a["d"] == d) & (a["penalty"] == 0)].astype(float).min())
        rows.append(
            {
                "d": d,
                "p_interp": pi,
                "p_smooth": ps,
                "ratio": ps / pi,
                "level": level,
                "smooth_censored": smooth_censored,
                "interp_censored": bool(pi <= p_min),
            }
        )
    return rows
