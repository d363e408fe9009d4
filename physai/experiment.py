"""What an experiment is: a question, hypotheses with checks, a grid, presets.

An experiment module in ``experiments/`` defines ``EXPERIMENT = Experiment(...)``
and nothing about how sweeps run. The engine (``physai.sweep``) expands the
grid into trials, groups them into shards that share static shapes, calls
``experiment.run(shard)`` for each and stores the rows; ``Hypothesis.check``
then turns the stored tidy tables into a ``Verdict``.
"""

from __future__ import annotations

import dataclasses
import math
import typing
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal

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
      interval: ``(low, high)`` confidence interval of ``measured`` (bootstrap over
        independent units, or exact), or None for a verdict without one.
      n: the number of independent units (seeds, pairs, runs) behind ``measured``.
      statistic: what ``measured`` is (``median ratio``, ``Spearman rho``, ``slope``).
    """

    status: Status
    measured: Any
    expected: str
    explanation: str = ""
    hypothesis: str = ""
    interval: tuple[float, float] | None = None
    n: int | None = None
    statistic: str = ""

    def __post_init__(self):
        if self.status not in STATUSES:
            raise ValueError(f"verdict status must be one of {STATUSES}, got {self.status!r}")

    def measured_text(self) -> str:
        """Returns: the measurement as a reader should see it: statistic, value,
        interval and units, e.g. ``Spearman rho 0.95 [0.90, 0.99] (n = 5)``."""
        value = f"{self.measured:.4g}" if isinstance(self.measured, float) else str(self.measured)
        if isinstance(self.measured, float) and math.isnan(self.measured):
            value = "n/a"
        parts = [self.statistic, value] if self.statistic else [value]
        if self.interval is not None:
            parts.append(f"[{self.interval[0]:.4g}, {self.interval[1]:.4g}]")
        if self.n is not None:
            parts.append(f"(n = {self.n})")
        return " ".join(parts)

    def named(self, hypothesis: str) -> Verdict:
        """Args: hypothesis: a name. Returns: this verdict under that name (for ``all_of`` parts)."""
        return dataclasses.replace(self, hypothesis=hypothesis)


def verdict_in_range(measured: float, low: float, high: float, explanation: str = "", hypothesis: str = "") -> Verdict:
    """A ``Verdict`` that is supported when ``low <= measured <= high``.

    Args:
      measured: the value (NaN gives ``inconclusive``).
      low, high: the closed expected range (use +-inf for one-sided ranges).
      explanation: one sentence.
      hypothesis: a name, for a part of an ``all_of`` verdict.

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
        return Verdict("inconclusive", float("nan"), expected, explanation or "no measurement", hypothesis)
    status: Status = "supported" if low <= measured <= high else "refuted"
    return Verdict(status, float(measured), expected, explanation, hypothesis)


CONFIDENCE = 0.95  # two-sided: a true claim is refuted by chance with probability <= 2.5%


def verdict_from_interval(
    estimate: float,
    interval: tuple[float, float],
    low: float,
    high: float,
    n: int,
    statistic: str,
    explanation: str = "",
    hypothesis: str = "",
    strict: bool = False,
) -> Verdict:
    """A verdict decided by an interval, not by a point estimate.

    Supported when the whole interval lies inside ``[low, high]``; refuted when it
    lies wholly outside; inconclusive when it straddles a bound (the reason says
    which, and that more independent units would decide). With ``strict`` the range
    is open, ``(low, high)``: an ordering claim ("noise raises the peak": a ratio
    ``> 1``) is not supported by an interval that touches 1, nor refuted by one
    that only reaches it.

    Args:
      estimate: the point estimate (e.g. a median over seeds).
      interval: its ``CONFIDENCE`` interval ``(lo, hi)`` (NaN: inconclusive).
      low, high: the expected range (+-inf for one-sided).
      n: independent units behind the estimate.
      statistic: what the estimate is (``median ratio``, ``Spearman rho``).
      explanation: one sentence.
      hypothesis: a name, for a part of an ``all_of`` verdict.
      strict: the range is open (its bounds excluded).

    Returns:
      The verdict, carrying the interval, ``n`` and the statistic.
    """
    base = verdict_in_range(estimate, low, high, explanation, hypothesis)
    if strict:
        expected = base.expected.replace("<=", "<").replace(">=", ">").replace("[", "(").replace("]", ")")
        base = dataclasses.replace(base, expected=expected)
    lo, hi = (float(interval[0]), float(interval[1])) if interval is not None else (math.nan, math.nan)
    fields = dict(interval=(lo, hi), n=int(n), statistic=statistic)
    if base.status == "inconclusive" or math.isnan(lo) or math.isnan(hi):
        why = explanation or "no interval: too few independent units"
        return dataclasses.replace(base, status="inconclusive", explanation=why, **fields)
    inside = (low < lo and hi < high) if strict else (low <= lo and hi <= high)
    outside = (hi <= low or lo >= high) if strict else (hi < low or lo > high)
    if inside:
        status: Status = "supported"
    elif outside:
        status = "refuted"
    else:
        status = "inconclusive"
        bound = low if lo <= low <= hi else high
        straddle = f"the interval [{lo:.4g}, {hi:.4g}] straddles the bound {bound:g}: more independent units needed"
        explanation = f"{explanation} ({straddle})" if explanation else straddle
    return dataclasses.replace(base, status=status, explanation=explanation, **fields)


def all_of(verdicts: Sequence[Verdict], explanation: str = "") -> Verdict:
    """Combines sub-verdicts: supported only if each is; inconclusive beats refuted.

    Args:
      verdicts: the parts, each with its own measured value and range.
      explanation: one sentence for the whole.

    Returns:
      One verdict whose measured/expected fields list the parts; its explanation
      adds why each part that is not supported is not (when the part says).
    """
    statuses = [v.status for v in verdicts]
    status: Status = (
        "inconclusive" if "inconclusive" in statuses else "refuted" if "refuted" in statuses else "supported"
    )
    measured = "; ".join(f"{v.hypothesis or i}: {v.measured_text()}" for i, v in enumerate(verdicts))
    expected = "; ".join(f"{v.hypothesis or i}: {v.expected}" for i, v in enumerate(verdicts))
    # why a part was not supported (an interval that straddles, runs that had not converged)
    reasons = [
        f"{v.hypothesis or i}: {v.explanation}"
        for i, v in enumerate(verdicts)
        if v.status != "supported" and v.explanation and v.explanation not in explanation  # not said twice
    ]
    if reasons:
        explanation = f"{explanation} ({'; '.join(reasons)})" if explanation else "; ".join(reasons)
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
class Source:
    """Where a hypothesis and its threshold come from, traceable without leaving the project.

    Attributes:
      paper: authors, year and venue (``Nakkiran et al. 2021, ICLR``).
      where: the figure, table, theorem or section (``Fig. 4``, ``Thm 1``).
      statement: the paper's own number or statement the check tests.
      tolerance: why the expected range is what it is: derived from theory (say
        how), the seed-to-seed spread of a stated pilot, or stated by the paper.
        Never a range fitted to the measurement it judges.
    """

    paper: str
    where: str
    statement: str
    tolerance: str

    def __str__(self) -> str:
        return f"{self.paper}, {self.where}: {self.statement}"


@dataclass(frozen=True)
class Hypothesis:
    """A claim with its source and a check.

    Attributes:
      name: short identifier (``rf_peak_location``).
      claim: the claim in words, with its expected range.
      anchor: a one-line citation (shown in lists and reports).
      check: pure function ``Results -> Verdict``.
      source: the paper, figure or theorem, its number and the tolerance's reason.
    """

    name: str
    claim: str
    anchor: str
    check: Callable[[Results], Verdict]
    source: Source | None = None

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
        return v.named(self.name)


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


_COERCE = {int: int, float: float, str: str, bool: bool}


@dataclass(frozen=True)
class Static:
    """Base class of an experiment's typed static values (the shard key).

    Static values change array shapes or code paths (n, widths, steps, ...):
    trials equal on them share one compiled program and form a shard. Declare
    them once as a frozen dataclass whose fields name trial parameters::

        @dataclass(frozen=True)
        class Static(physai.Static):
            d: int
            n: int
            steps: int

    ``from_params`` builds it from a trial's parameters, casting each value to
    its declared type; a field that is no parameter is an error naming it (a
    misspelt key never becomes ``None``). Values computed from parameters
    (a compiled width bucket, a step count) come from overriding ``derived``.
    """

    @classmethod
    def derived(cls, params: Mapping[str, Any]) -> dict[str, Any]:
        """Args: params: a trial's parameters. Returns: static fields that are not
        parameters themselves, computed from them (default: none)."""
        return {}

    @classmethod
    def from_params(cls, params: Mapping[str, Any]) -> Static:
        """Args: params: a trial's parameters. Returns: the typed static values.
        Raises: PhysaiError naming a field that is neither a parameter nor derived."""
        values = {**params, **cls.derived(params)}
        hints = typing.get_type_hints(cls)
        out = {}
        for f in dataclasses.fields(cls):
            if f.name not in values:
                raise PhysaiError(
                    f"static value {f.name!r} of {cls.__module__}.{cls.__qualname__} "
                    "is not a parameter of this preset (nor derived)"
                )
            kind, value = hints.get(f.name), values[f.name]
            cast = _COERCE.get(kind)
            if cast is int and not float(value).is_integer():
                raise PhysaiError(f"static value {f.name!r} must be an integer, got {value!r}")
            out[f.name] = cast(value) if cast is not None else value
        return cls(**out)

    def asdict(self) -> dict[str, Any]:
        """Returns: the field values by name."""
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}


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
      static: the shared static values, typed (the experiment's ``Static``).
      trials: the trials, in grid order.
      strategy: batching strategy for the trainer (``auto``, ``sequential``, ``vmap``, ``shard``).
      params_dir: where ``physai.train.run_shard`` saves each trial's final parameters
        (``--save-params``; ``physai.store.params``); empty: not saved.
    """

    experiment: str
    preset: str
    shard_id: str
    static: Any
    trials: tuple[Trial, ...]
    strategy: str = "auto"
    params_dir: str = ""

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
      presets: at least ``tiny`` (seconds; the end-to-end tests run it), ``demo``
        (about a minute on 2 CPU cores) and ``paper``.
      static: a ``Static`` subclass: the typed values that change shapes or code
        paths. Trials equal on them form a shard. ``None``: one shard group.
      run: ``Shard -> ShardResult``.
      plot: ``Results -> {name: matplotlib Figure}``.
      max_shard_size: cap on trials per shard (resume and progress granularity).
      cost: ``(static, n_trials) -> relative cost`` of a shard; the sweep starts
        the costliest shards first so parallel workers finish together
        (default: the number of trials).
      tolerances: relative change per metric beyond which ``physai compare``
        reports a metric as moved (default 5%, ``physai.report.DEFAULT_TOLERANCE``).
      doc: the module docstring (shown in reports).
      domains: allowed values of this experiment's own parameters, added to (or
        replacing) ``physai.domains.COMMON``; a trial outside them is refused.
      module: the importable module that defines it (``physai.registry`` fills
        it in; worker processes import it to get the experiment back).
    """

    name: str
    question: str
    hypotheses: tuple[Hypothesis, ...]
    presets: Mapping[str, Preset]
    run: Callable[[Shard], ShardResult]
    plot: Callable[[Results], dict[str, Any]] | None = None
    static: type[Static] | None = None
    max_shard_size: int = 64
    cost: Callable[[Any, int], float] | None = None
    tolerances: Mapping[str, float] = field(default_factory=dict)
    doc: str = ""
    domains: Mapping[str, Any] = field(default_factory=dict)
    module: str = ""

    REQUIRED_PRESETS: ClassVar[tuple[str, ...]] = ("tiny", "demo", "paper")

    def __post_init__(self):
        if self.static is not None and not (isinstance(self.static, type) and issubclass(self.static, Static)):
            raise TypeError(f"experiment {self.name!r}: static must be a physai.Static subclass")
        for required in self.REQUIRED_PRESETS:
            if required not in self.presets:
                raise ValueError(f"experiment {self.name!r} needs a {required!r} preset")

    def preset(self, name: str) -> Preset:
        """Args: name: preset name. Returns: the preset. Raises: PhysaiError if unknown."""
        if name not in self.presets:
            raise PhysaiError(f"unknown preset {name!r} for {self.name}; choose from: " + ", ".join(self.presets))
        return self.presets[name]

    def static_values(self, params: Mapping[str, Any]) -> Static:
        """Args: params: a trial's parameters. Returns: its typed static values."""
        return (self.static or Static).from_params(params)

    def shard_cost(self, shard: Shard) -> float:
        """Args: shard: a shard of this experiment. Returns: its estimated relative cost."""
        if self.cost is None:
            return float(len(shard.trials))
        return float(self.cost(shard.static, len(shard.trials)))
