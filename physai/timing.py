"""Time: compile-time accounting and the ETA of a sweep.

The trainer reports XLA compile seconds and the FLOPs it executed here, so the
sweep can store compile time, run time and efficiency in each shard's provenance; ``seconds_per_trial`` reads those
stored timings back so a sweep's ETA is known before its first shard ends.

The counters and the progress sink are context variables: the local backend runs
two shards at once, each in its own copy of the context (one compiling while the
other trains), and the trainer's trial threads run in copies of their shard's, so
every shard counts only its own seconds and FLOPs.
"""

from __future__ import annotations

import contextvars
import threading
import time
from collections.abc import Callable, Sequence
from contextlib import contextmanager
from pathlib import Path


class _Counters:
    """One shard's compile seconds, FLOPs and seconds spent waiting for an execution
    slot while none of its trials held one (``waiting_for``)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.compile_seconds = 0.0
        self.flops = 0.0
        self.idle_seconds = 0.0
        self.waiting = 0  # the shard's threads waiting for a slot
        self.holding = 0  # ... and holding one
        self.idle_since: float | None = None

    def changed(self) -> None:
        """Call under ``lock`` after ``waiting``/``holding`` changed: the shard is idle
        while some of its threads wait and none executes."""
        now = time.perf_counter()
        if self.idle_since is not None:
            self.idle_seconds += now - self.idle_since
        self.idle_since = now if self.waiting and not self.holding else None


_counters: contextvars.ContextVar[_Counters | None] = contextvars.ContextVar("physai_counters", default=None)
_process_counters = _Counters()  # where work outside any shard (no ``reset`` yet) is counted


def _current() -> _Counters:
    return _counters.get() or _process_counters


_stop: contextvars.ContextVar[threading.Event | None] = contextvars.ContextVar("physai_stop", default=None)


def reset() -> None:
    """Starts fresh counters for compile time, FLOPs and idle time (called at the start
    of each shard, in the context the shard runs in)."""
    _counters.set(_Counters())


def add_flops(n: float) -> None:
    """Args: n: floating-point operations a shard executed (XLA's cost analysis, see
    ``physai.train.flops_per_trial``)."""
    c = _current()
    with c.lock:
        c.flops += n


def flops() -> float:
    """Returns: FLOPs counted since the last ``reset``; NaN when nothing was counted
    (a shard solved in numpy, or trained outside ``physai.train``)."""
    n = _current().flops
    return n if n > 0 else float("nan")


def compile_seconds() -> float:
    """Returns: seconds spent compiling since the last ``reset``."""
    return _current().compile_seconds


def idle_seconds() -> float:
    """Returns: seconds since the last ``reset`` in which the shard waited for an
    execution slot (``waiting_for``) that another shard held: neither compile nor run time."""
    return _current().idle_seconds


@contextmanager
def compiling():
    """Context manager that adds its wall time to the compile counter."""
    t0 = time.perf_counter()
    try:
        yield
    finally:
        c = _current()
        with c.lock:
            c.compile_seconds += time.perf_counter() - t0


@contextmanager
def waiting_for(slots: threading.Semaphore):
    """Holds one of ``slots`` (the process's execution slots, one per core) inside the
    block; the time the shard waits while none of its trials executes counts as idle."""
    c = _current()
    with c.lock:
        c.waiting += 1
        c.changed()
    try:
        while not slots.acquire(timeout=0.2):
            stop_if_requested()
    finally:
        with c.lock:
            c.waiting -= 1
            c.changed()
    with c.lock:
        c.holding += 1
        c.changed()
    try:
        yield
    finally:
        slots.release()
        with c.lock:
            c.holding -= 1
            c.changed()


@contextmanager
def stoppable(event: threading.Event):
    """Lets the trainer stop this context's work (at its next compiled chunk) once
    ``event`` is set: how the local backend stops the shards still running when the
    sweep ends early (Ctrl-C, an error)."""
    token = _stop.set(event)
    try:
        yield
    finally:
        _stop.reset(token)


def stop_if_requested() -> None:
    """Raises KeyboardInterrupt when this context's work was asked to stop (``stoppable``)."""
    event = _stop.get()
    if event is not None and event.is_set():
        raise KeyboardInterrupt


_progress_sink: contextvars.ContextVar[Callable[[float], None] | None] = contextvars.ContextVar(
    "physai_progress_sink", default=None
)
_progress_lock = threading.Lock()


@contextmanager
def progress_to(sink: Callable[[float], None]):
    """Sends the trainer's progress inside a shard to ``sink`` while the context is open.

    Args:
      sink: called with the number of trials' worth of training just done (a
        fraction of a trial per call: ``physai.train`` reports after each compiled
        chunk of logging blocks), one call at a time.
    """
    token = _progress_sink.set(sink)
    try:
        yield
    finally:
        _progress_sink.reset(token)


@contextmanager
def progress_of_shard(trials: int):
    """Passes progress on to the enclosing sink, at most ``trials`` in all: a shard
    whose ``run`` trains more than once (several step counts, a second model) cannot
    report more than its own trials."""
    reported = 0.0
    outer = _progress_sink.get()

    def clipped(n: float) -> None:
        nonlocal reported
        n = min(n, trials - reported)
        if n > 0 and outer is not None:
            reported += n
            outer(n)

    token = _progress_sink.set(clipped)
    try:
        yield
    finally:
        _progress_sink.reset(token)


def report_progress(trials: float) -> None:
    """Args: trials: trials' worth of training just done (e.g. 8 trials x 1/16 of their steps = 0.5)."""
    sink = _progress_sink.get()
    if sink is not None:
        with _progress_lock:  # trial threads report concurrently
            sink(trials)


REFERENCE_ROOT = Path(__file__).resolve().parent.parent / "results" / "reference"


def seconds_per_trial(folders: Sequence[Path]) -> float | None:
    """What a trial of an experiment preset took before: the ETA before any shard ends.

    Args:
      folders: ``<root>/<experiment>/<preset>`` folders to read stored shard timings
        from, in order of preference (this results root first, then the reference run).

    Returns:
      Seconds (compile + run) per trial over the stored shards of the first folder that
      has any, or None when none has.
    """
    import pyarrow.parquet as pq

    for folder in folders:
        trials = seconds = 0.0
        for path in sorted((Path(folder) / "shards").glob("*.parquet")):
            try:
                t = pq.read_table(path, columns=["n_trials", "compile_seconds", "run_seconds"]).to_pydict()
            except Exception:  # damaged or of an older schema: no estimate from it
                continue
            trials += sum(t["n_trials"])
            seconds += sum(t["compile_seconds"]) + sum(t["run_seconds"])
        if trials:
            return seconds / trials
    return None


def eta_seconds(elapsed: float, ran: float, remaining: float, prior: float | None) -> float:
    """Seconds left in a sweep.

    Args:
      elapsed: seconds since the sweep started.
      ran: trials' worth of work done by this sweep (fractional inside a shard).
      remaining: trials' worth still to do.
      prior: seconds per trial from earlier runs (``seconds_per_trial``), or None.

    Returns:
      The observed rate's projection once a trial's worth has run (or, with no prior,
      once anything has); before that, the prior's estimate less the time already
      spent (never below 0); NaN with neither. The first fraction of a trial carries
      the compilation, so its rate alone would overstate the time left.
    """
    if ran >= 1 or (ran > 0 and prior is None):
        return elapsed / ran * remaining
    if prior is None:
        return float("nan")
    return max(prior * remaining - elapsed, 0.0)


def _peak_file() -> Path:
    from physai import runtime

    return runtime.cache_dir().parent / "matmul_peak.json"


def matmul_peak(measure: bool = True, reps: int = 5) -> float | None:
    """This machine's float32 matmul peak in GFLOP/s, measured once and cached.

    The best of ``reps`` jitted 2048 x 2048 products on JAX's default device, cached
    per host, device and core count next to the compilation cache, so shard
    efficiencies (``gflops_per_second`` / peak) compare runs on one machine.

    Args:
      measure: measure when nothing is cached (a few seconds); else return None.
      reps: timed products.

    Returns:
      GFLOP/s, or None when not cached and ``measure`` is False.
    """
    import json
    import os
    import socket

    import jax
    import jax.numpy as jnp

    device = jax.devices()[0]
    key = f"{socket.gethostname()}|{device.platform}:{device.device_kind}|{os.cpu_count()}"
    path = _peak_file()
    try:
        cached = json.loads(path.read_text())
    except (OSError, ValueError):
        cached = {}
    if key in cached or not measure:
        return cached.get(key)
    m = 2048
    a = jax.random.normal(jax.random.key(0), (m, m), jnp.float32)
    dot = jax.jit(jnp.dot)
    dot(a, a).block_until_ready()
    best = float("inf")
    for _ in range(reps):
        t0 = time.perf_counter()
        dot(a, a).block_until_ready()
        best = min(best, time.perf_counter() - t0)
    cached[key] = 2.0 * m**3 / best / 1e9
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(cached, indent=1))
    except OSError:  # a read-only cache folder: measured again next time
        pass
    return cached[key]


def efficiency(shards) -> dict[str, float]:
    """Compile and run time, throughput and fraction of peak of stored shards.

    Args:
      shards: provenance rows (a DataFrame with ``compile_seconds``, ``run_seconds``
        and, for shards trained by ``physai.train``, ``flops``).

    Returns:
      ``compile_seconds``, ``run_seconds``, ``gflops`` (total), ``gflops_per_second``
      (over the run seconds of the shards whose FLOPs were counted) and
      ``fraction_of_peak`` (NaN when not counted; the peak is measured if not cached).
    """
    nan = float("nan")
    out = {
        "compile_seconds": float(shards["compile_seconds"].sum()) if len(shards) else nan,
        "run_seconds": float(shards["run_seconds"].sum()) if len(shards) else nan,
        "gflops": nan,
        "gflops_per_second": nan,
        "fraction_of_peak": nan,
    }
    if "flops" not in shards or not shards["flops"].notna().any():
        return out
    counted = shards[shards["flops"].notna()]
    out["gflops"] = float(counted["flops"].sum()) / 1e9
    seconds = float(counted["run_seconds"].sum())
    out["gflops_per_second"] = out["gflops"] / seconds if seconds > 0 else nan
    peak = matmul_peak()
    out["fraction_of_peak"] = out["gflops_per_second"] / peak if peak else nan
    return out
