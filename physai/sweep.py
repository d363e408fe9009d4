"""From a grid to stored results: trials with stable ids, shards, resume.

``plan`` expands a preset (with ``--set`` overrides) into trials and groups
them into shards; ``run_sweep`` runs the shards that are not stored yet and
writes each one atomically as soon as it finishes, so a sweep killed at any
moment resumes where it stopped and ends with the same tables.
"""
from __future__ import annotations

import ast
import hashlib
import json
import math
import sys
import time
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Mapping, Sequence

import numpy as np
import pyarrow as pa

from physai import provenance, store, timing
from physai.errors import PhysaiError
from physai.experiment import Experiment, Results, Shard, ShardResult, Trial
from physai.grid import GridError

DONE = ("ok", "diverged")  # statuses that count as stored; "failed" is retried
STRATEGIES = ("auto", "sequential", "vmap", "shard")
RESERVED = {"experiment", "preset", "trial_id", "shard_id", "status", "error", "run_seconds"}


def _plain(value: Any) -> Any:
    """Converts numpy/jax scalars to Python values so ids and Parquet types are stable."""
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return float(value)
    if hasattr(value, "item") and getattr(value, "shape", None) == ():
        return _plain(value.item())
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def trial_id(experiment: str, params: Mapping[str, Any]) -> str:
    """Stable id of a trial: hash of the canonical JSON of (experiment, parameters).

    Args:
      experiment: experiment name.
      params: every semantic parameter, seed included (no paths or backends).

    Returns:
      16 hex characters.
    """
    canon = json.dumps({"experiment": experiment, "params": {k: _plain(v) for k, v in params.items()}},
                       sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canon.encode()).hexdigest()[:16]


def shard_id(trial_ids: Iterable[str]) -> str:
    """Args: trial_ids: the member trials. Returns: 16 hex characters, order-independent."""
    return hashlib.sha256(",".join(sorted(trial_ids)).encode()).hexdigest()[:16]


# ----------------------------------------------------------------------------- overrides

def _type_name(t: type) -> str:
    return {bool: "bool", int: "int", float: "float", str: "str"}.get(t, t.__name__)


def _coerce(key: str, raw: str, value: Any, examples: Sequence[Any]) -> Any:
    kinds = {type(e) for e in examples if e is not None}
    if not kinds:
        return value
    if bool in kinds:
        if isinstance(value, bool):
            return value
    elif kinds <= {int}:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    elif kinds <= {int, float}:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
    elif kinds <= {str}:
        if isinstance(value, str):
            return value
    else:
        return value
    want = "/".join(sorted(_type_name(k) for k in kinds))
    raise PhysaiError(f"--set {key}={raw}: expected {want}, got {value!r}")


def parse_override(text: str) -> tuple[str, str, Any]:
    """Parses one ``key=value`` (value as a Python literal, else a plain string).

    Args:
      text: e.g. ``seed=[0,1]``, ``steps=2000``, ``part=rf``.

    Returns:
      ``(key, raw, value)``.
    """
    key, sep, raw = text.partition("=")
    key = key.strip()
    if not sep or not key or not raw.strip():
        raise PhysaiError(f"--set {text!r}: expected key=value")
    try:
        value = ast.literal_eval(raw.strip())
    except (ValueError, SyntaxError):
        if not raw.strip().replace("_", "").replace("-", "").replace(".", "").isalnum():
            raise PhysaiError(f"--set {key}={raw}: malformed value") from None
        value = raw.strip()
    if isinstance(value, float) and not math.isfinite(value):
        raise PhysaiError(f"--set {key}={raw}: value must be finite")
    if not isinstance(value, (int, float, str, bool, list, tuple)):
        raise PhysaiError(f"--set {key}={raw}: expected a number, a string or a list")
    return key, raw, value


# ----------------------------------------------------------------------------- planning

@dataclass(frozen=True)
class Plan:
    """The trials and shards of one run of an experiment preset.

    Attributes:
      experiment: the experiment.
      preset: preset name.
      trials: every planned trial, in grid order.
      shards: the trials grouped by static values (grid order), at most
        ``experiment.max_shard_size`` each.
    """

    experiment: Experiment
    preset: str
    trials: tuple[Trial, ...]
    shards: tuple[Shard, ...]

    @property
    def trial_ids(self) -> list[str]:
        """Returns: planned trial ids, in grid order."""
        return [t.trial_id for t in self.trials]


def plan(experiment: Experiment, preset: str, overrides: Sequence[str] = (),
         strategy: str = "auto") -> Plan:
    """Expands a preset into trials and shards.

    Args:
      experiment: the experiment.
      preset: preset name.
      overrides: ``key=value`` strings (``--set``): a grid axis takes a value or
        a list; a setting takes one value of its own type.
      strategy: trainer batching strategy recorded in each shard.

    Returns:
      The plan. Raises PhysaiError on an unknown preset, key or malformed value.
    """
    if strategy not in STRATEGIES:
        raise PhysaiError(f"unknown strategy {strategy!r}; choose from: {', '.join(STRATEGIES)}")
    p = experiment.preset(preset)
    grid, settings = p.grid, dict(p.settings)
    axes = grid.axes()
    for text in overrides:
        key, raw, value = parse_override(text)
        if key in axes:
            values = list(value) if isinstance(value, (list, tuple)) else [value]
            if not values:
                raise PhysaiError(f"--set {key}={raw}: needs at least one value")
            values = [_coerce(key, raw, v, axes[key]) for v in values]
            try:
                grid = grid.override(key, values)
            except GridError as e:
                raise PhysaiError(f"--set {key}={raw}: {e}") from None
            axes = grid.axes()
        elif key in settings:
            if isinstance(value, (list, tuple)):
                raise PhysaiError(f"--set {key}={raw}: setting {key!r} takes one value")
            settings[key] = _coerce(key, raw, value, [settings[key]])
        else:
            valid = sorted(set(axes) | set(settings))
            raise PhysaiError(f"unknown key {key!r} for {experiment.name} preset {preset}; "
                              f"choose from: {', '.join(valid)}")
    trials: list[Trial] = []
    seen: set[str] = set()
    for point in grid.points():
        params = {k: _plain(v) for k, v in {**settings, **point}.items()}
        params.setdefault("seed", 0)
        bad = RESERVED & params.keys()
        if bad:
            raise PhysaiError(f"parameter name {sorted(bad)[0]!r} is reserved")
        tid = trial_id(experiment.name, params)
        if tid not in seen:  # a chain may repeat a point; keep it once
            seen.add(tid)
            trials.append(Trial(tid, params))
    return Plan(experiment, preset, tuple(trials), tuple(_shards(experiment, preset, trials, strategy)))


def _shards(experiment: Experiment, preset: str, trials: list[Trial], strategy: str) -> list[Shard]:
    groups: dict[str, tuple[dict, list[Trial]]] = {}
    for t in trials:
        static = experiment.static_values(t.params)
        key = json.dumps({k: _plain(v) for k, v in static.items()}, sort_keys=True)
        groups.setdefault(key, (static, []))[1].append(t)
    shards = []
    size = max(1, experiment.max_shard_size)
    for static, members in groups.values():
        for i in range(0, len(members), size):
            chunk = tuple(members[i:i + size])
            shards.append(Shard(experiment.name, preset, shard_id(t.trial_id for t in chunk),
                                static, chunk, strategy))
    return shards


# ----------------------------------------------------------------------------- running

def execute_shard(experiment: Experiment, shard: Shard, debug: bool = False) -> dict[str, pa.Table]:
    """Runs one shard and returns its tables (nothing is written here).

    A shard whose ``run`` raises is returned with every trial ``failed`` and the
    error text, so the sweep goes on and a re-run retries it.

    Args:
      experiment: the experiment.
      shard: the shard.
      debug: re-raise errors from ``run`` instead of recording them.

    Returns:
      ``{"trials": ..., "curves": ... or None, "shards": ...}`` Arrow tables.
    """
    from physai import runtime

    runtime.configure()
    timing.reset()
    start = time.time()
    t0 = time.perf_counter()
    error = None
    try:
        result = experiment.run(shard)
        if not isinstance(result, ShardResult) or len(result.metrics) != len(shard.trials):
            raise RuntimeError(f"{experiment.name}.run must return a ShardResult with one "
                               f"metrics dict per trial ({len(shard.trials)})")
    except Exception as exc:  # recorded per shard: one bad shard must not stop a sweep
        if debug:
            raise
        error = f"{type(exc).__name__}: {exc}"
        print(f"physai: shard {shard.shard_id} failed: {error}", file=sys.stderr)
        result = None
    wall = time.perf_counter() - t0
    return shard_tables(experiment.name, shard, result, error, start, wall, timing.compile_seconds())


def shard_tables(experiment: str, shard: Shard, result: ShardResult | None, error: str | None,
                 start: float, wall: float = 0.0, compile_s: float = 0.0) -> dict[str, pa.Table]:
    """Builds a shard's three tables; with ``error`` every trial is ``failed``.

    Args:
      experiment: experiment name.
      shard: the shard.
      result: what ``run`` returned (ignored when ``error`` is set).
      error: the error text of a failed shard, or None.
      start: POSIX start time.
      wall: wall seconds of the shard.
      compile_s: seconds of it spent compiling.

    Returns:
      ``{"trials": ..., "curves": ... or None, "shards": ...}`` Arrow tables.
    """
    if error is not None or result is None:
        result = ShardResult([{} for _ in shard.trials], None)
    rows = []
    for t, metrics in zip(shard.trials, result.metrics):
        metrics = {k: _plain(v) for k, v in metrics.items()}
        status = metrics.pop("status", "ok") if error is None else "failed"
        clash = (set(t.params) | RESERVED) & set(metrics)
        if clash:
            raise PhysaiError(f"{experiment}: metric name {sorted(clash)[0]!r} clashes "
                              "with a parameter or a reserved column")
        rows.append({"experiment": experiment, "preset": shard.preset, "trial_id": t.trial_id,
                     "shard_id": shard.shard_id, **t.params, **metrics, "status": status,
                     "error": error, "run_seconds": (wall - compile_s) / len(shard.trials)})
    curves = None
    if result.curves is not None and len(result.curves):
        frame = result.curves[store.CURVE_COLUMNS].copy()
        frame["step"] = frame["step"].astype("int64")
        frame["value"] = frame["value"].astype("float64")
        curves = pa.Table.from_pandas(frame, preserve_index=False)
    prov = provenance.record(shard.shard_id, len(shard.trials), compile_s, wall - compile_s,
                             start, time.time(), shard.strategy)
    return {"trials": pa.Table.from_pylist(rows), "curves": curves,
            "shards": pa.Table.from_pylist([prov])}


def pending(plan_: Plan, root: str) -> list[Shard]:
    """Args: plan_: the plan; root: results root.
    Returns: shards with at least one trial not stored as ok/diverged."""
    stored = store.stored_status(root, plan_.experiment.name, plan_.preset)
    return [s for s in plan_.shards if any(stored.get(t.trial_id) not in DONE for t in s.trials)]


@dataclass
class SweepSummary:
    """Counts after a sweep: shards run and skipped, trials by status, seconds."""

    shards_run: int = 0
    shards_skipped: int = 0
    ok: int = 0
    diverged: int = 0
    failed: int = 0
    seconds: float = 0.0


def run_sweep(plan_: Plan, root: str = "results", progress: bool = True, debug: bool = False,
              runner: Callable[[Experiment, Sequence[Shard]], Iterable[tuple[Shard, dict]]] | None = None
              ) -> SweepSummary:
    """Runs the pending shards of a plan and stores each as it finishes.

    Args:
      plan_: from ``plan``.
      root: results root.
      progress: show a rich progress bar on stderr.
      debug: let errors in ``run`` propagate.
      runner: backend yielding ``(shard, tables)`` as shards finish; in-process by default.

    Returns:
      A summary of what ran.
    """
    todo = pending(plan_, root)
    summary = SweepSummary(shards_skipped=len(plan_.shards) - len(todo))
    folder = store.experiment_dir(root, plan_.experiment.name, plan_.preset)
    if runner is None:
        from physai import backends

        runner = backends.get("local", debug=debug)
    t0 = time.perf_counter()
    total = sum(len(s.trials) for s in plan_.shards)
    done = total - sum(len(s.trials) for s in todo)
    with _progress(progress, plan_.experiment.name, total, done) as advance:
        for shard, tables in runner(plan_.experiment, todo):
            store.write_shard(folder, shard.shard_id, tables["trials"], tables["curves"], tables["shards"])
            statuses = tables["trials"].column("status").to_pylist()
            summary.shards_run += 1
            summary.ok += statuses.count("ok")
            summary.diverged += statuses.count("diverged")
            summary.failed += statuses.count("failed")
            advance(len(shard.trials), summary.failed)
    summary.seconds = time.perf_counter() - t0
    return summary


class _progress:
    """A rich progress bar (trials done/total, elapsed, ETA), or nothing."""

    def __init__(self, enabled: bool, name: str, total: int, done: int):
        self.enabled, self.name, self.total, self.done = enabled, name, total, done

    def __enter__(self):
        if not self.enabled:
            return lambda n, failed: None
        from rich.console import Console
        from rich.progress import (BarColumn, MofNCompleteColumn, Progress, TextColumn,
                                   TimeElapsedColumn, TimeRemainingColumn)

        self.bar = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                            TextColumn("trials"), TimeElapsedColumn(), TextColumn("ETA"),
                            TimeRemainingColumn(), TextColumn("{task.fields[failed]}"),
                            console=Console(stderr=True), transient=False)
        self.bar.__enter__()
        task = self.bar.add_task(self.name, total=self.total, completed=self.done, failed="")

        def advance(n: int, failed: int):
            self.bar.update(task, advance=n, failed=f"{failed} failed" if failed else "")
        return advance

    def __exit__(self, *exc):
        if self.enabled:
            self.bar.__exit__(*exc)
        return False


def results(plan_: Plan, root: str = "results") -> Results:
    """Loads the stored tables restricted to the planned trials (in grid order).

    Args:
      plan_: the plan.
      root: results root.

    Returns:
      ``Results`` for checks and plots.
    """
    tables = store.load(root, plan_.experiment.name, plan_.preset, plan_.trial_ids)
    return Results(tables["trials"], tables["curves"], tables["shards"], plan_.experiment.name,
                   plan_.preset)
