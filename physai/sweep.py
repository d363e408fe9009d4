"""From a grid to stored results: trials with stable ids, shards, resume.

``plan`` expands a preset (with ``--set`` overrides) into trials and groups
them into shards; ``run_sweep`` runs the shards that are not stored yet and
writes each one atomically as soon as it finishes, so a sweep killed at any
moment resumes where it stopped and ends with the same tables.
"""

from __future__ import annotations

import ast
import contextlib
import dataclasses
import hashlib
import json
import math
import signal
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from physai import backends, domains, identity, store, timing
from physai.errors import PhysaiError
from physai.experiment import Experiment, Results, Shard, Trial
from physai.grid import GridError
from physai.progress import SweepProgress
from physai.worker import RESERVED
from physai.worker import plain as _plain

DONE = store.DONE  # statuses that count as stored; "failed" is retried (alias of store.DONE)
STRATEGIES = ("auto", "sequential", "vmap", "shard")
MAX_TRIALS = 10**6  # a grid larger than this is refused unless the limit is raised


def trial_id(experiment: str, params: Mapping[str, Any]) -> str:
    """Stable id of a trial: hash of the canonical JSON of (experiment, parameters).

    Args:
      experiment: experiment name.
      params: every semantic parameter, seed included (no paths or backends).

    Returns:
      16 hex characters.
    """
    canon = json.dumps(
        {"experiment": experiment, "params": {k: _plain(v) for k, v in params.items()}},
        sort_keys=True,
        separators=(",", ":"),
    )
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


def plan(
    experiment: Experiment,
    preset: str,
    overrides: Sequence[str] = (),
    strategy: str = "auto",
    max_trials: int = MAX_TRIALS,
) -> Plan:
    """Expands a preset into trials and shards.

    Args:
      experiment: the experiment.
      preset: preset name.
      overrides: ``key=value`` strings (``--set``): a grid axis takes a value or
        a list; a setting takes one value of its own type.
      strategy: trainer batching strategy recorded in each shard.
      max_trials: the largest grid accepted (counted before it is built).

    Returns:
      The plan. Raises PhysaiError on an unknown preset, key or malformed value,
      a value outside its domain (``physai.domains``) or a grid over ``max_trials``.
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
            raise PhysaiError(
                f"unknown key {key!r} for {experiment.name} preset {preset}; choose from: {', '.join(valid)}"
            )
    size = grid.size()
    if size > max_trials:  # counted before any point is built
        raise PhysaiError(
            f"{experiment.name} preset {preset}: the grid has {size:,} trials, over the "
            f"limit of {max_trials:,} (raise it with --max-trials)"
        )
    trials: list[Trial] = []
    seen: set[str] = set()
    allowed = {**domains.COMMON, **experiment.domains}
    for point in grid.points():
        params = {k: _plain(v) for k, v in {**settings, **point}.items()}
        params.setdefault("seed", 0)
        bad = RESERVED & params.keys()
        if bad:
            raise PhysaiError(f"parameter name {sorted(bad)[0]!r} is reserved")
        domains.check(params, allowed, f"{experiment.name} preset {preset}")
        tid = trial_id(experiment.name, params)
        if tid not in seen:  # a chain may repeat a point; keep it once
            seen.add(tid)
            trials.append(Trial(tid, params))
    return Plan(experiment, preset, tuple(trials), tuple(_shards(experiment, preset, trials, strategy)))


def _shards(experiment: Experiment, preset: str, trials: list[Trial], strategy: str) -> list[Shard]:
    groups: dict[str, tuple[dict, list[Trial]]] = {}
    for t in trials:
        static = experiment.static_values(t.params)
        key = json.dumps({k: _plain(v) for k, v in static.asdict().items()}, sort_keys=True)
        groups.setdefault(key, (static, []))[1].append(t)
    shards = []
    size = max(1, experiment.max_shard_size)
    for static, members in groups.values():
        for i in range(0, len(members), size):
            chunk = tuple(members[i : i + size])
            shards.append(Shard(experiment.name, preset, shard_id(t.trial_id for t in chunk), static, chunk, strategy))
    return shards


def saving_params(plan_: Plan, root: str) -> Plan:
    """Args: plan_: a plan; root: results root. Returns: the same plan whose shards save
    each trial's trained parameters (``--save-params``, ``physai.store.params``)."""
    folder = str(store.experiment_dir(root, plan_.experiment.name, plan_.preset) / store.params.FOLDER)
    return dataclasses.replace(plan_, shards=tuple(dataclasses.replace(s, params_dir=folder) for s in plan_.shards))


def _params_saved(shard: Shard, trial: Trial) -> bool:
    return store.params.params_path(shard.params_dir, trial.trial_id).exists()


def missing_params(plan_: Plan) -> int:
    """Args: plan_: from ``saving_params``. Returns: planned trials with no saved parameters."""
    return sum(not _params_saved(s, t) for s in plan_.shards if s.params_dir for t in s.trials)


def pending(plan_: Plan, root: str, recompute: set[str] = frozenset()) -> list[Shard]:
    """Args: plan_: the plan; root: results root; recompute: stored shard files whose
    trials must run again (results of other code, with ``--rerun``).
    Returns: shards with at least one trial not stored as ok/diverged, or stored in a
    shard file whose curves or provenance are truncated, unreadable or (provenance)
    missing, so that a re-run repairs them, or (``saving_params``) with parameters not
    saved; costliest first (``Experiment.cost``), so that parallel workers do not end on
    one long shard."""
    folder = store.experiment_dir(root, plan_.experiment.name, plan_.preset)
    stored = store.stored_outcomes(root, plan_.experiment.name, plan_.preset)
    intact: dict[str, bool] = {}

    def done(trial_id: str) -> bool:
        outcome = stored.get(trial_id)
        if outcome is None or outcome.status not in DONE or outcome.shard in recompute:
            return False
        if outcome.shard not in intact:  # footers only: cheap; checksums are verified on load
            intact[outcome.shard] = store.intact(folder, outcome.shard)
        return intact[outcome.shard]

    def saved(s: Shard) -> bool:  # with --save-params, a shard is done when its parameters are kept too
        return not s.params_dir or all(_params_saved(s, t) for t in s.trials)

    todo = [s for s in plan_.shards if not (all(done(t.trial_id) for t in s.trials) and saved(s))]
    return sorted(todo, key=plan_.experiment.shard_cost, reverse=True)  # stable: grid order on ties


@dataclass
class SweepSummary:
    """Counts after a sweep: shards run and skipped, trials by status, seconds."""

    shards_run: int = 0
    shards_skipped: int = 0
    ok: int = 0
    diverged: int = 0
    failed: int = 0
    seconds: float = 0.0


def run_sweep(
    plan_: Plan,
    root: str = "results",
    progress: bool = True,
    debug: bool = False,
    runner: Callable[[Experiment, Sequence[Shard]], Iterable[tuple[Shard, dict]]] | None = None,
    rerun: bool = False,
) -> SweepSummary:
    """Runs the pending shards of a plan and stores each as it finishes.

    Args:
      plan_: from ``plan``.
      root: results root.
      progress: show a rich progress bar on stderr.
      debug: let errors in ``run`` propagate.
      runner: backend yielding ``(shard, tables)`` as shards finish; in-process by default.
      rerun: recompute the planned shards whose stored results came from other code
        (``physai.identity``); each is replaced atomically when its new tables are
        written, so a killed re-run loses nothing. Without it such results stop the
        sweep with a one-line error naming what changed.

    Returns:
      A summary of what ran.
    """
    folder = store.experiment_dir(root, plan_.experiment.name, plan_.preset)
    # leftovers of a killed run: its temporary files, a damaged trials file, a
    # half-done compaction; a damaged shard is then pending and re-run
    store.repair(folder)
    stale = identity.stale_shards(plan_, root)
    if stale and not rerun:
        raise PhysaiError(identity.stale_message(plan_, stale, root))
    todo = pending(plan_, root, recompute=set(stale))
    summary = SweepSummary(shards_skipped=len(plan_.shards) - len(todo))
    if runner is None:
        runner = backends.get("local", debug=debug)
    t0 = time.perf_counter()
    total = sum(len(s.trials) for s in plan_.shards)
    done = total - sum(len(s.trials) for s in todo)
    prior = None
    if progress and todo:  # the ETA before the first shard ends, from earlier runs' timings
        reference = timing.REFERENCE_ROOT / plan_.experiment.name / plan_.preset
        prior = timing.seconds_per_trial([folder, reference])
    bar = SweepProgress(progress, plan_.experiment.name, total, done, prior)
    shards = runner(plan_.experiment, todo)
    with bar, _ctrl_c_recorded(), timing.progress_to(bar.trained), contextlib.closing(_closable(shards)):
        for shard, tables in shards:
            backends.stop_if_interrupted()
            store.write_shard(folder, shard.shard_id, tables["trials"], tables["curves"], tables["shards"])
            statuses = tables["trials"].column("status").to_pylist()
            summary.shards_run += 1
            summary.ok += statuses.count("ok")
            summary.diverged += statuses.count("diverged")
            summary.failed += statuses.count("failed")
            bar.advance(len(shard.trials), summary.failed)
    summary.seconds = time.perf_counter() - t0
    return summary


class _closable:
    """``close()`` for a runner's iterator (a generator's stops the shards it still runs)."""

    def __init__(self, it):
        self.it = it

    def close(self):
        close = getattr(self.it, "close", None)
        if close is not None:
            close()


@contextlib.contextmanager
def _ctrl_c_recorded():
    """Ctrl-C stops a sweep even when its KeyboardInterrupt is lost.

    Python raises KeyboardInterrupt wherever the main thread happens to be; raised
    inside a finaliser (``__del__``, a garbage-collected buffer) it is printed and
    dropped, and the sweep would run on. The handler also records the interrupt,
    and the sweep and the backends check the record between shards and while waiting.
    """
    if threading.current_thread() is not threading.main_thread() or (
        signal.getsignal(signal.SIGINT) is not signal.default_int_handler
    ):
        yield  # Ctrl-C is ignored (a background job) or handled by the caller
        return

    def record(signum, frame):
        backends.INTERRUPTED.set()
        raise KeyboardInterrupt

    backends.INTERRUPTED.clear()
    signal.signal(signal.SIGINT, record)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, signal.default_int_handler)
        backends.INTERRUPTED.clear()


def results(plan_: Plan, root: str = "results") -> Results:
    """Loads the stored tables restricted to the planned trials (in grid order).

    Args:
      plan_: the plan.
      root: results root.

    Returns:
      ``Results`` for checks and plots.
    """
    tables = store.load(root, plan_.experiment.name, plan_.preset, plan_.trial_ids)
    return Results(tables["trials"], tables["curves"], tables["shards"], plan_.experiment.name, plan_.preset)
