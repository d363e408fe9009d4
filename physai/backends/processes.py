"""A pool of ``spawn``-started worker processes, one core each.

Workers are started with ``spawn``, never ``fork``: forking a process in which
JAX has started its thread pools can deadlock.

Workers are *not* pinned to cores by default. XLA:CPU splits large matmuls by
the number of cores the process may use, so a worker pinned to one core sums
in another order than an unpinned process and its numbers differ in the last
bits (measured: width-256 MLPs diverged to different losses). Unpinned
workers give tables identical to ``local`` and ``ray``; ``pin=True`` trades
that for less oversubscription.

The driver hands one shard at a time to each idle worker over its own pipe,
so it always knows which shard a worker holds. A worker that dies (killed,
out of memory) is replaced and its shard retried up to ``retries`` times, then
recorded as failed; the rest of the sweep goes on.
"""

from __future__ import annotations

import collections
import contextlib
import multiprocessing
import os
import signal
import sys
import time
from collections.abc import Iterator, Sequence
from multiprocessing.connection import wait

from physai import identity, timing
from physai.backends import stop_if_interrupted, wire
from physai.errors import PhysaiError


def _worker(index: int, conn, module: str, env: dict[str, str], core: int | None) -> None:
    # Ctrl-C reaches every process of the terminal's group: the driver handles it and
    # stops the workers, so a worker ignores it instead of printing a traceback.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _drop_working_directory()
    # Environment first: JAX reads XLA/CUDA settings when it is imported.
    os.environ.update(env)
    if core is not None and hasattr(os, "sched_setaffinity"):
        try:
            os.sched_setaffinity(0, {core})
        except OSError:
            pass
    from physai import registry, worker

    experiment = registry.from_module(module)

    def progress(trials: float) -> None:  # training progress inside the shard, for the driver's bar
        conn.send_bytes(PROGRESS + repr(trials).encode())

    with timing.progress_to(progress):
        while True:
            try:
                message = conn.recv_bytes()
            except EOFError:
                return
            if not message:  # the driver's "stop"
                return
            shard = wire.decode_shard(experiment, message)
            conn.send_bytes(wire.pack(worker.execute_shard(experiment, shard)))


PROGRESS = b"progress "  # a worker's progress message; a shard's tables start with their JSON header


def _receive(conn) -> bytes | None:
    """The worker's next result message, or None; progress messages on the way are
    passed to ``timing.report_progress`` (the sweep's bar)."""
    try:
        while conn.poll():
            message = conn.recv_bytes()
            if not message.startswith(PROGRESS):
                return message
            timing.report_progress(float(message[len(PROGRESS) :]))
    except (EOFError, OSError):
        pass
    return None


def _drop_working_directory() -> None:
    """Removes the working directory from the import path unless ``PYTHONPATH`` names it.

    A folder in the directory where a user runs physai (``multiprocessing/``,
    ``json/``, a downloaded results folder's contents) must never be imported by a
    worker. The interpreter's own start-up is protected by ``PYTHONSAFEPATH``
    (set by the driver when it starts workers); this covers the import path the
    worker inherits from the driver.
    """
    from physai.backends import import_path_without_cwd

    sys.path[:] = import_path_without_cwd(sys.path)


@contextlib.contextmanager
def safe_start():
    """Sets ``PYTHONSAFEPATH=1`` while worker processes start, so that their interpreter
    does not put the working directory first on the import path before physai runs."""
    old = os.environ.get("PYTHONSAFEPATH")
    os.environ["PYTHONSAFEPATH"] = "1"
    try:
        yield
    finally:
        if old is None:
            os.environ.pop("PYTHONSAFEPATH", None)
        else:
            os.environ["PYTHONSAFEPATH"] = old


def _gpu_count() -> int:
    try:
        import jax

        return len([d for d in jax.devices() if d.platform == "gpu"])
    except Exception:
        return 0


def worker_env(index: int, workers: int, gpus: int) -> dict[str, str]:
    """Per-worker settings: one GPU per process where there are GPUs, and no
    memory preallocation when several processes share one GPU.

    Args:
      index: worker index.
      workers: number of workers.
      gpus: GPUs on this machine.

    Returns:
      Environment variables for the worker.
    """
    if gpus == 0:
        return {"JAX_PLATFORMS": os.environ.get("JAX_PLATFORMS", "cpu")}
    env = {"CUDA_VISIBLE_DEVICES": str(index % gpus)}
    if workers > gpus:
        env["XLA_PYTHON_CLIENT_PREALLOCATE"] = "false"
    return env


class _Slot:
    def __init__(self, process, conn):
        self.process, self.conn, self.shard = process, conn, None


class ProcessRunner:
    """Runs shards in ``workers`` spawned processes (callable as a sweep runner).

    Args:
      workers: number of processes (default: usable cores).
      retries: retries of a shard whose worker died before it is recorded failed.
      pin: pin worker i to core i (faster under oversubscription, but results
        then differ in the last bits from an unpinned run; see the module doc).
    """

    def __init__(self, workers: int | None = None, retries: int = 2, pin: bool = False):
        cores = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None
        self.cores = cores
        self.workers = workers if workers is not None else (len(cores) if cores else os.cpu_count() or 1)
        if self.workers < 1:
            raise PhysaiError("--workers must be at least 1")
        self.retries = retries
        self.pin = pin

    def _start(self, ctx, index: int, module: str, gpus: int) -> _Slot:
        parent, child = ctx.Pipe()
        core = self.cores[index % len(self.cores)] if (self.pin and self.cores and gpus == 0) else None
        process = ctx.Process(
            target=_worker,
            name=f"physai-worker-{index}",
            daemon=True,
            args=(index, child, module, worker_env(index, self.workers, gpus), core),
        )
        with safe_start():
            process.start()
        child.close()
        return _Slot(process, parent)

    def __call__(self, experiment, shards: Sequence) -> Iterator:
        from physai.worker import shard_tables

        if not shards:
            return
        module = identity.module_of(experiment)
        ctx = multiprocessing.get_context("spawn")
        gpus = _gpu_count()
        queue = collections.deque(shards)
        attempts: collections.Counter = collections.Counter()
        slots = [self._start(ctx, i, module, gpus) for i in range(min(self.workers, len(shards)))]
        idle_deaths = 0
        try:
            while queue or any(s.shard is not None for s in slots):
                stop_if_interrupted()
                for slot in slots:
                    if slot.shard is None and queue and slot.process.is_alive():
                        slot.shard = queue.popleft()
                        slot.conn.send_bytes(wire.encode_shard(slot.shard))
                wait([s.conn for s in slots] + [s.process.sentinel for s in slots], timeout=1.0)
                for i, slot in enumerate(slots):
                    message = _receive(slot.conn)
                    if message is not None:
                        shard, slot.shard = slot.shard, None
                        yield shard, wire.unpack(message)
                        continue
                    if slot.process.is_alive():
                        continue
                    # The worker died: replace it and retry (or fail) the shard it held.
                    code = slot.process.exitcode
                    shard = slot.shard
                    slot.conn.close()
                    slots[i] = self._start(ctx, i, module, gpus)
                    if shard is None:
                        idle_deaths += 1
                        if idle_deaths > self.retries + len(slots):
                            raise PhysaiError(
                                f"worker processes keep dying on start (exit code {code}); try --backend local --debug"
                            )
                        continue
                    attempts[shard.shard_id] += 1
                    print(
                        f"physai: worker running shard {shard.shard_id} died (exit code {code}); "
                        f"attempt {attempts[shard.shard_id]} of {self.retries + 1}",
                        file=sys.stderr,
                    )
                    if attempts[shard.shard_id] > self.retries:
                        yield (
                            shard,
                            shard_tables(
                                experiment.name,
                                shard,
                                None,
                                f"worker died (exit code {code}) {attempts[shard.shard_id]} times",
                                time.time(),
                            ),
                        )
                    else:
                        queue.appendleft(shard)
        finally:
            for slot in slots:
                try:
                    slot.conn.send_bytes(b"")
                except (OSError, ValueError):
                    pass
            deadline = time.time() + 5
            for slot in slots:
                slot.process.join(max(0.0, deadline - time.time()))
                if slot.process.is_alive():
                    slot.process.kill()
                    slot.process.join()
