"""What an experiment is: a question, hypotheses with checks, a grid, presets.

An experiment module in ``experiments/`` defines ``EXPERIMENT = Experiment(...)``
and nothing about how sweeps run. The engine (``physai.sweep``) expands the
grid into trials, groups them into shards that share static shapes, calls
``experiment.run(shard)`` for each and stores the rows; ``Hypothesis.check``
then turns the stored tidy tables into a ``Verdict``.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Callable, Literal, Mapping, Sequence

import pandas as pd

from physai.errors import PhysaiError
from physai.grid import Grid

Status = Literal["supported", "refuted", "inconclusive"]
STATUSES = ("supported", "refuted", "inconclusive")


@dataclass(frozen=True)
class Verdict:
    """The outcome of checking one hypothesis against measurements.

    Attributes:
      status: ``supported``, ``refuted`` or ``inconclusive`` (not enough data).
      measured: the measured value (a number, or a short text for compound checks).
      expected: the expected range, as text (``"[0.9, 1.1]"``, ``">= 10"``).
      explanation: one sentence a reader can follow.
      hypothesis: the hypothesis name (filled in by ``Hypothesis.evaluate``).
    """

    status: Status
    measured: Any
    expected: str
    explanation: str = ""
    hypothesis: str = ""

    def __post_init__(self):
        if self.status not in STATUSES:
            raise ValueError(f"verdict status must be one of {STATUSES}, got {self.status!r}")


def verdict_in_range(measured: float, low: float, high: float, explanation: str = "") -> Verdict:
    """A ``Verdict`` that is supported when ``low <= measured <= high``.

    Args:
      measured: the value (NaN gives ``inconclusive``).
      low, high: the closed expected range (use +-inf for one-sided ranges).
      explanation: one sentence.

    Returns:
      The verdict, with the range written as text.
    """
    if math.isinf(low) and not math.isinf(high):
        expected = f"<= {high:g}"
    elif math.isinf(high) and not math.isinf(low):
        expected = f">= {low:g}"
    else:
        expected = f"[{low:g}, {high:g}]"
    if measured is None or (isinstance(measured, float) and math.isnan(measured)):
        return Verdict("inconclusive", float("nan"), expected, explanation or "no measurement")
    status: Status = "supported" if low <= measured <= high else "refuted"
    return Verdict(status, float(measured), expected, explanation)


def all_of(verdicts: Sequence[Verdict], explanation: str = "") -> Verdict:
    """Combines sub-verdicts: supported only if each is; inconclusive beats refuted.

    Args:
      verdicts: the parts, each with its own measured value and range.
      explanation: one sentence for the whole.

    Returns:
      One verdict whose measured/expected fields list the parts.
    """
    statuses = [v.status for v in verdicts]
    status: Status = ("inconclusive" if "inconclusive" in statuses
                      else "refuted" if "refuted" in statuses else "supported")
    fmt = lambda x: f"{x:.3g}" if isinstance(x, float) else str(x)
    measured = "; ".join(f"{v.hypothesis or i}: {fmt(v.measured)}" for i, v in enumerate(verdicts))
    expected = "; ".join(f"{v.hypothesis or i}: {v.expected}" for i, v in enumerate(verdicts))
    return Verdict(status, measured, expected, explanation)


@dataclass(frozen=True)
class Results:
    """The tidy tables of one experiment and preset, restricted to the planned trials.

    Attributes:
      trials: one row per trained/solved model (parameters, metrics, status).
      curves: long format ``trial_id, step, split, metric, value``.
      shards: one provenance row per shard.
      experiment: experiment name.
      preset: preset name.
    """

    trials: pd.DataFrame
    curves: pd.DataFrame
    shards: pd.DataFrame
    experiment: str = ""
    preset: str = ""

    @property
    def ok(self) -> pd.DataFrame:
        """Returns: the trials whose status is ``ok``."""
        return self.trials[self.trials["status"] == "ok"] if len(self.trials) else self.trials


@dataclass(frozen=True)
class Hypothesis:
    """A claim with its anchor and a check.

    Attributes:
      name: short identifier (``rf_peak_location``).
      claim: the claim in words.
      anchor: paper, figure and number it comes from.
      check: pure function ``Results -> Verdict``.
    """

    name: str
    claim: str
    anchor: str
    check: Callable[[Results], Verdict]

    def evaluate(self, results: Results) -> Verdict:
        """Runs the check; an empty table gives ``inconclusive``.

        Args:
          results: the stored tables.

        Returns:
          The verdict, named after this hypothesis.
        """
        if results.trials.empty:
            v = Verdict("inconclusive", float("nan"), "", "no stored trials")
        else:
            v = self.check(results)
        return Verdict(v.status, v.measured, v.expected, v.explanation, self.name)


@dataclass(frozen=True)
class Preset:
    """A named configuration: the grid to sweep and settings for every trial.

    Attributes:
      grid: the grid of this preset.
      settings: values shared by all trials (steps, n, ...); they are parameters
        like grid values (part of the trial id, overridable with ``--set``).
      description: one line shown by ``physai list``.
    """

    grid: Grid
    settings: Mapping[str, Any] = field(default_factory=dict)
    description: str = ""


@dataclass(frozen=True)
class Trial:
    """One model to train or solve: its stable id and all its parameters."""

    trial_id: str
    params: Mapping[str, Any]


@dataclass(frozen=True)
class Shard:
    """Trials that share static values, run by one call of ``Experiment.run``.

    Attributes:
      experiment, preset: names.
      shard_id: stable hash of the member trial ids.
      static: the shared static values.
      trials: the trials, in grid order.
      strategy: batching strategy for the trainer (``auto``, ``sequential``, ``vmap``, ``shard``).
    """

    experiment: str
    preset: str
    shard_id: str
    static: Mapping[str, Any]
    trials: tuple[Trial, ...]
    strategy: str = "auto"

    def column(self, name: str) -> list[Any]:
        """Args: name: a parameter. Returns: its value for each trial, in order."""
        return [t.params[name] for t in self.trials]


@dataclass
class ShardResult:
    """What ``Experiment.run`` returns.

    Attributes:
      metrics: one dict per trial (same order as ``shard.trials``) of final
        metrics; a ``status`` key (``ok``/``diverged``) is optional, ``ok`` by default.
      curves: optional long table ``trial_id, step, split, metric, value``.
    """

    metrics: list[dict[str, Any]]
    curves: pd.DataFrame | None = None


@dataclass(frozen=True)
class Experiment:
    """One phenomenon: everything a reader needs, nothing about how sweeps run.

    Attributes:
      name: module name (``double_descent``).
      question: the question, one sentence.
      hypotheses: claims with anchors and checks.
      presets: at least ``demo`` and ``paper``.
      static: parameter names whose values change shapes or code paths, or a
        function ``params -> dict`` of derived static values (e.g. width buckets).
        Trials equal on them form a shard.
      run: ``Shard -> ShardResult``.
      plot: ``Results -> {name: matplotlib Figure}``.
      max_shard_size: cap on trials per shard (resume and progress granularity).
      tolerances: relative change per metric beyond which ``physai compare``
        reports a metric as moved (default 5%, ``physai.report.DEFAULT_TOLERANCE``).
      doc: the module docstring (shown in reports).
    """

    name: str
    question: str
    hypotheses: tuple[Hypothesis, ...]
    presets: Mapping[str, Preset]
    run: Callable[[Shard], ShardResult]
    plot: Callable[[Results], dict[str, Any]] | None = None
    static: Sequence[str] | Callable[[Mapping[str, Any]], Mapping[str, Any]] = ()
    max_shard_size: int = 64
    tolerances: Mapping[str, float] = field(default_factory=dict)
    doc: str = ""

    def __post_init__(self):
        for required in ("demo", "paper"):
            if required not in self.presets:
                raise ValueError(f"experiment {self.name!r} needs a {required!r} preset")

    def preset(self, name: str) -> Preset:
        """Args: name: preset name. Returns: the preset. Raises: PhysaiError if unknown."""
        if name not in self.presets:
            raise PhysaiError(f"unknown preset {name!r} for {self.name}; choose from: "
                              + ", ".join(self.presets))
        return self.presets[name]

    def static_values(self, params: Mapping[str, Any]) -> dict[str, Any]:
        """Args: params: a trial's parameters. Returns: its static values."""
        if callable(self.static):
            return dict(self.static(params))
        return {k: params.get(k) for k in self.static}
