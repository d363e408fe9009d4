"""Summary statistics with uncertainty for experiment results.

Experiments repeat every configuration over a handful of seeds, so the
statistics here are chosen to be robust for small samples: medians with
bootstrap percentile intervals, rank correlations with paired-bootstrap
intervals, and log-log slopes with t-based intervals.

All functions are pure: they take numpy arrays or pandas DataFrames and
return numbers or new DataFrames. Randomness (bootstrap resampling) is
driven by an explicit ``seed`` so that the same inputs and seed always give
the same numbers.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence

import numpy as np
import pandas as pd
from scipy import stats as scipy_stats

__all__ = ["median_ci", "aggregate", "rank_correlation", "spearman", "loglog_slope", "finite_pairs"]

_NAN_TRIPLE = (float("nan"), float("nan"), float("nan"))


def median_ci(
    values,
    confidence: float = 0.95,
    n_resamples: int = 2000,
    seed: int = 0,
) -> tuple[float, float, float]:
    """Median with a bootstrap percentile confidence interval.

    The percentile method is used (rather than BCa) because it stays
    well-defined for the very small samples typical of seed repeats.

    Args:
        values: 1-D array-like of observations; NaNs are dropped.
        confidence: Two-sided confidence level of the interval, in (0, 1).
        n_resamples: Number of bootstrap resamples.
        seed: Seed of the numpy Generator driving the resampling.

    Returns:
        ``(median, low, high)`` as floats. ``(v, v, v)`` when a single (or
        only identical) value remains, ``(nan, nan, nan)`` when none does.
    """
    array = np.asarray(values, dtype=float).ravel()
    array = array[~np.isnan(array)]
    if array.size == 0:
        return _NAN_TRIPLE
    median = float(np.median(array))
    # A degenerate sample has a degenerate bootstrap distribution; scipy
    # would warn and return NaN, but the honest interval is the point itself.
    if array.size == 1 or np.ptp(array) == 0:
        return median, median, median
    result = scipy_stats.bootstrap(
        (array,),
        np.median,
        n_resamples=n_resamples,
        confidence_level=confidence,
        method="percentile",
        vectorized=True,
        rng=np.random.default_rng(seed),
    )
    interval = result.confidence_interval
    return median, float(interval.low), float(interval.high)


def aggregate(
    df: pd.DataFrame,
    by: str | Sequence[str],
    value: str,
    confidence: float = 0.95,
    seed: int = 0,
    n_resamples: int = 2000,
) -> pd.DataFrame:
    """Aggregate a metric over repeats (typically seeds) with `median_ci`.

    Args:
        df: Long-format results, one row per run.
        by: Column name or names identifying a configuration; every other
            varying column (e.g. ``seed``) is aggregated over.
        value: Name of the metric column to summarise.
        confidence: Two-sided confidence level of the intervals.
        seed: Seed for the bootstrap; the same seed is used for every group
            so each group's interval depends only on its own values.
        n_resamples: Number of bootstrap resamples per group.

    Returns:
        DataFrame with columns ``*by, median, low, high, n`` (``n`` counts
        non-NaN values), one row per group, sorted by the group keys.
    """
    by_columns = [by] if isinstance(by, str) else list(by)
    missing = [c for c in [*by_columns, value] if c not in df.columns]
    if missing:
        raise KeyError(f"aggregate: columns {missing} not in DataFrame")
    rows = []
    for key, group in df.groupby(by_columns, sort=True, dropna=False):
        key_tuple = key if isinstance(key, tuple) else (key,)
        finite_values = group[value].to_numpy(dtype=float)
        median, low, high = median_ci(finite_values, confidence=confidence, n_resamples=n_resamples, seed=seed)
        rows.append(
            {
                **dict(zip(by_columns, key_tuple)),
                "median": median,
                "low": low,
                "high": high,
                "n": int(np.count_nonzero(~np.isnan(finite_values))),
            }
        )
    columns = [*by_columns, "median", "low", "high", "n"]
    return pd.DataFrame(rows, columns=columns)


def finite_pairs(x, y, name: str) -> tuple[np.ndarray, np.ndarray]:
    """The paired entries of x and y where both are finite.

    Args:
        x, y: Array-likes of equal length (flattened).
        name: The calling function, named in the error message.

    Returns:
        ``(x, y)`` as float arrays with every pair holding a NaN or inf dropped.

    Raises:
        ValueError: If x and y differ in length.
    """
    x_array = np.asarray(x, dtype=float).ravel()
    y_array = np.asarray(y, dtype=float).ravel()
    if x_array.shape != y_array.shape:
        raise ValueError(f"{name}: x and y must have the same length, got {x_array.size} and {y_array.size}")
    keep = np.isfinite(x_array) & np.isfinite(y_array)
    return x_array[keep], y_array[keep]


def spearman(x, y) -> float:
    """Spearman rho of two short vectors (average ranks for ties; NaN when either is constant
    or fewer than 3 finite pairs remain).

    Without ``scipy.stats.spearmanr``'s argument checking: a seed bootstrap calls it a
    thousand times per check, and on vectors of ten values the checking dominates.
    """
    x_array, y_array = finite_pairs(x, y, "spearman")
    if x_array.size < 3:
        return float("nan")
    rx, ry = scipy_stats.rankdata(x_array), scipy_stats.rankdata(y_array)
    rx, ry = rx - rx.mean(), ry - ry.mean()
    denominator = float(np.sqrt((rx * rx).sum() * (ry * ry).sum()))
    return float((rx * ry).sum() / denominator) if denominator > 0 else float("nan")


def rank_correlation(
    x,
    y,
    method: str = "spearman",
    n_resamples: int = 2000,
    seed: int = 0,
    confidence: float = 0.95,
) -> tuple[float, float, float]:
    """Rank correlation with a paired-bootstrap percentile interval.

    Pairs ``(x_i, y_i)`` are resampled together, so the interval reflects
    the sampling variability of the association, not of each margin.

    Args:
        x: 1-D array-like.
        y: 1-D array-like of the same length; pairs with a non-finite entry
            are dropped.
        method: ``"spearman"`` or ``"kendall"`` (tau-b).
        n_resamples: Number of bootstrap resamples.
        seed: Seed of the numpy Generator driving the resampling.
        confidence: Two-sided confidence level of the interval.

    Returns:
        ``(rho, low, high)``. The interval is ``(nan, nan)`` when the
        bootstrap distribution is undefined (e.g. constant data).

    Raises:
        ValueError: For an unknown method, mismatched lengths, or fewer than
            3 finite pairs.
    """
    correlations = {
        "spearman": scipy_stats.spearmanr,
        "kendall": scipy_stats.kendalltau,
    }
    if method not in correlations:
        raise ValueError(f"rank_correlation: method must be one of {sorted(correlations)}, got {method!r}")
    correlation = correlations[method]
    x_array, y_array = finite_pairs(x, y, "rank_correlation")
    if x_array.size < 3:
        raise ValueError(f"rank_correlation: need at least 3 finite pairs, got {x_array.size}")

    def statistic(x_sample, y_sample):
        return correlation(x_sample, y_sample).statistic

    rho = float(statistic(x_array, y_array))
    if not np.isfinite(rho):
        return _NAN_TRIPLE
    # Resample indices ourselves rather than via scipy.stats.bootstrap: a
    # resample that happens to make x or y constant has an undefined rank
    # correlation, and those must be dropped rather than poison the interval.
    rng = np.random.default_rng(seed)
    indices = rng.integers(0, x_array.size, size=(n_resamples, x_array.size))
    with warnings.catch_warnings(), np.errstate(invalid="ignore", divide="ignore"):
        warnings.simplefilter("ignore", scipy_stats.ConstantInputWarning)
        replicates = np.array([statistic(x_array[idx], y_array[idx]) for idx in indices], dtype=float)
    replicates = replicates[np.isfinite(replicates)]
    if replicates.size == 0:
        return rho, float("nan"), float("nan")
    tail = 100 * (1 - confidence) / 2
    low, high = np.percentile(replicates, [tail, 100 - tail])
    return rho, float(low), float(high)


def loglog_slope(x, y, confidence: float = 0.95) -> tuple[float, float, float]:
    """Least-squares slope of ``log y`` on ``log x`` with a t interval.

    Args:
        x: 1-D array-like of positive values.
        y: 1-D array-like of positive values, same length; pairs where
            either entry is non-finite or non-positive are dropped.
        confidence: Two-sided confidence level of the interval.

    Returns:
        ``(slope, low, high)``; ``low == high == slope`` when the points lie
        exactly on a line.

    Raises:
        ValueError: For mismatched lengths, fewer than 3 usable points, or
            fewer than 2 distinct x values.
    """
    x_array, y_array = finite_pairs(x, y, "loglog_slope")
    positive = (x_array > 0) & (y_array > 0)
    x_array, y_array = x_array[positive], y_array[positive]
    if x_array.size < 3:
        raise ValueError(f"loglog_slope: need at least 3 finite positive (x, y) points, got {x_array.size}")
    if np.unique(x_array).size < 2:
        raise ValueError("loglog_slope: x must take at least 2 distinct values")
    fit = scipy_stats.linregress(np.log(x_array), np.log(y_array))
    degrees_of_freedom = x_array.size - 2
    t_quantile = scipy_stats.t.ppf((1 + confidence) / 2, degrees_of_freedom)
    half_width = t_quantile * fit.stderr
    return float(fit.slope), float(fit.slope - half_width), float(fit.slope + half_width)
