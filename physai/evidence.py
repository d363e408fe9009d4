"""Evidence behind a verdict: seed-bootstrap intervals, convergence and grid-edge caveats.

A check computes one number from a results table (a slope, a ratio of medians,
a rank correlation). Its uncertainty comes from the independent units behind the
table, usually the seeds: ``bootstrap_verdict`` resamples whole seeds with
replacement (every row of a drawn seed comes along, so statistics paired by seed
stay paired), recomputes the number on each resample and decides the verdict by
the percentile interval (``physai.verdict_from_interval``). The resampling uses a
fixed generator seed, so the same table always gives the same verdict.

Two caveats turn a decided verdict into ``inconclusive`` with the reason:
``unless_converged`` when it rests on runs that had not met the trainer's
convergence criterion, and ``unless_interior`` when the optimum it rests on sits
at the edge of the swept values (the true optimum may lie outside the grid).
"""

from __future__ import annotations

import dataclasses
import math
import os
import warnings
from collections.abc import Callable, Sequence

import numpy as np
import pandas as pd

from physai.experiment import CONFIDENCE, Verdict, verdict_from_interval

N_RESAMPLES = 1000  # percentile 95% interval: the 25th and 975th of 1000 replicates


def n_resamples() -> int:
    """Returns: bootstrap replicates per interval: ``N_RESAMPLES``, or ``PHYSAI_BOOTSTRAP_RESAMPLES``
    (the unit tests use fewer: their tables are built to be decided, and time is short)."""
    return int(os.environ.get("PHYSAI_BOOTSTRAP_RESAMPLES", N_RESAMPLES))


def bootstrap_over(
    table: pd.DataFrame,
    statistic: Callable[[pd.DataFrame], float],
    unit: str = "seed",
    resamples: int | None = None,
    confidence: float = CONFIDENCE,
    seed: int = 0,
) -> tuple[float, tuple[float, float], int]:
    """A statistic of a table and its cluster-bootstrap percentile interval.

    Args:
      table: the rows the statistic reads (one or more per unit).
      statistic: table -> float (NaN when it cannot be computed on a resample).
      unit: the column holding the independent unit; a resample draws as many
        units as there are, with replacement, and relabels them ``0..k-1`` so a
        unit drawn twice counts as two units.
      resamples: bootstrap replicates (default ``n_resamples()``).
      confidence: two-sided level of the interval.
      seed: the resampling generator's seed (fixed: same table, same interval).

    Returns:
      ``(estimate, (low, high), n_units)``. The interval is NaN when fewer than two
      units exist or when more than a tenth of the replicates are undefined (the
      statistic is then too fragile to bound).
    """
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        estimate = _as_float(statistic(table))
    if unit not in table.columns or not len(table):
        return estimate, (math.nan, math.nan), 0
    codes, units = pd.factorize(table[unit], sort=True)
    k = len(units)
    if k < 2 or math.isnan(estimate):
        return estimate, (math.nan, math.nan), k
    rows_of = [np.flatnonzero(codes == u) for u in range(k)]
    columns = {c: table[c].to_numpy() for c in table.columns}  # a resample is built from arrays: ~2x faster
    rng = np.random.default_rng(seed)
    resamples = resamples or n_resamples()
    replicates = np.empty(resamples)
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        for r in range(resamples):
            drawn = rng.integers(0, k, size=k)
            index = np.concatenate([rows_of[u] for u in drawn])
            sample = {c: v[index] for c, v in columns.items()}
            sample[unit] = np.repeat(np.arange(k), [len(rows_of[u]) for u in drawn])
            replicates[r] = _as_float(statistic(pd.DataFrame(sample, copy=False)))
    finite = replicates[np.isfinite(replicates)]
    if finite.size < 0.9 * resamples:
        return estimate, (math.nan, math.nan), k
    tail = 100 * (1 - confidence) / 2
    low, high = np.percentile(finite, [tail, 100 - tail])
    return estimate, (float(low), float(high)), k


def slim(table: pd.DataFrame, *columns: str, unit: str = "seed") -> pd.DataFrame:
    """The unit column and the columns a statistic reads: a narrow table resamples faster."""
    return table[[unit, *(c for c in dict.fromkeys(columns) if c != unit)]]


def bootstrap_verdict(
    table: pd.DataFrame,
    statistic: Callable[[pd.DataFrame], float],
    low: float,
    high: float,
    name: str,
    explanation: str = "",
    hypothesis: str = "",
    unit: str = "seed",
    strict: bool = False,
) -> Verdict:
    """A verdict decided by the seed-bootstrap interval of ``statistic(table)``.

    Args:
      table: the rows the statistic reads.
      statistic: table -> float.
      low, high: the expected range (+-inf for one-sided).
      name: what the statistic is (``median ratio``, ``Spearman rho``, ``slope``).
      explanation: one sentence.
      hypothesis: a name, for a part of an ``all_of`` verdict.
      unit: the column of independent units.
      strict: the range is open, for an ordering claim (see ``verdict_from_interval``).

    Returns:
      Supported when the interval lies inside ``[low, high]``, refuted when wholly
      outside, inconclusive otherwise (see ``verdict_from_interval``).
    """
    estimate, interval, n = bootstrap_over(table, statistic, unit)
    if n < 2 and not math.isnan(estimate):
        explanation = (
            f"{explanation} (one {unit} only: no interval)" if explanation else f"one {unit} only: no interval"
        )
    return verdict_from_interval(estimate, interval, low, high, n, name, explanation, hypothesis, strict)


def _as_float(value) -> float:
    try:
        value = float(value)
    except (TypeError, ValueError):
        return math.nan
    return value if math.isfinite(value) else math.nan


def _inconclusive(verdict: Verdict, reason: str) -> Verdict:
    """The verdict made inconclusive for ``reason``, keeping what it said before."""
    said = f": {verdict.explanation}" if verdict.explanation else ""
    if verdict.status == "inconclusive":
        return dataclasses.replace(verdict, explanation=f"{reason}; and{said or ' inconclusive'}")
    return dataclasses.replace(verdict, status="inconclusive", explanation=f"{reason} (else {verdict.status}){said}")


def unless_converged(
    verdict: Verdict,
    table: pd.DataFrame,
    column: str = "converged",
    recheck: Callable[[pd.DataFrame], Verdict] | None = None,
) -> Verdict:
    """Makes a verdict inconclusive when it rests on runs that had not converged.

    Args:
      verdict: the verdict computed from ``table``.
      table: the trials it rests on; ``column`` holds each run's convergence flag
        (``physai.train.run_shard`` records it). A table without it passes through.
      column: the flag column.
      recheck: the same check as a function of the trials it rests on. When given,
        the check is repeated on the converged runs alone: if it reaches the same
        verdict, the verdict does not rest on the unconverged runs and stands (its
        explanation says how many there were).

    Returns:
      ``verdict`` unchanged when every run converged, or (``recheck``) when the
      converged runs alone give the same status; otherwise inconclusive, naming how
      many of how many runs had not converged.
    """
    if column not in table.columns or not len(table):
        return verdict
    flags = table[column].astype("boolean").fillna(False).to_numpy(bool)
    missing = int((~flags).sum())
    if missing == 0:
        return verdict
    unconverged = f"{missing} of {len(flags)} runs had not converged"
    if recheck is not None and verdict.status != "inconclusive" and flags.any():
        again = recheck(table[flags])
        if again.status == verdict.status:
            note = f"{unconverged}; the converged runs alone give the same verdict ({again.measured_text()})"
            return dataclasses.replace(verdict, explanation=f"{verdict.explanation}; {note}".lstrip("; "))
    return _inconclusive(verdict, f"{unconverged}: train longer")


def unless_interior(
    verdict: Verdict, swept: Sequence[float], best: float, what: str, refutation_stands: bool = False
) -> Verdict:
    """Makes a verdict inconclusive when the optimum it rests on lies at a grid edge.

    Args:
      verdict: the verdict that uses the optimum.
      swept: the values of the swept parameter.
      best: the value at which the optimum was found.
      what: the parameter's name, for the reason.
      refutation_stands: keep a refutation. Right for a claim that the optimum lies
        *inside* a window, e.g. a double-descent peak at the interpolation threshold:
        a maximum at the grid's end lies outside the window, and a higher one beyond
        the grid would lie further out still.

    Returns:
      ``verdict`` unchanged when ``best`` is strictly inside the swept range (or it is
      a refutation that stands); otherwise inconclusive ("optimum at the edge of the
      swept <what>: widen the grid").
    """
    if refutation_stands and verdict.status == "refuted":
        return verdict
    values = sorted(set(float(v) for v in swept))
    if len(values) >= 3 and values[0] < float(best) < values[-1]:
        return verdict
    return _inconclusive(verdict, f"optimum at the edge of the swept {what} ({best:g}): widen the grid")
