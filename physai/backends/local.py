"""The ``local`` backend: shards run in this process, two at a time.

While one shard traces and compiles, the other trains on the execution slots
(``physai.execution.execution_slot``: one per core, shared by every shard, so two
shards never run more programs at once than there are cores). This pays where a
shard's Python tracing would leave cores idle (a robustness_law demo: 33 s -> 28 s
on 2 cores); XLA's compiler itself already uses every core, so on the reference
sweep of ``benchmarks/sweep_throughput.py`` it is neutral, and where other
processes fill the cores (``pytest -n 2``) one shard at a time is faster
(``PHYSAI_SHARD_THREADS=1``). Each shard runs in its own copy of the
context, so its compile time, FLOPs and progress are its own
(``physai.timing``); results do not depend on which shards overlapped.
"""

from __future__ import annotations

import contextvars
import os
import threading
from collections.abc import Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait

from physai import timing
from physai.experiment import Experiment, Shard


def shard_threads() -> int:
    """Returns: shards run at once: ``$PHYSAI_SHARD_THREADS`` if set, else 2 (one
    compiling while the other trains)."""
    return max(1, int(os.environ.get("PHYSAI_SHARD_THREADS") or 2))


class LocalRunner:
    """``runner(experiment, shards)``: yields ``(shard, tables)`` as shards finish.

    Args:
      debug: let errors in ``run`` propagate.
      threads: shards run at once (default ``shard_threads()``); 1 runs them one
        after the other in the calling thread.
    """

    def __init__(self, debug: bool = False, threads: int | None = None):
        self.debug = debug
        self.threads = shard_threads() if threads is None else max(1, threads)

    def __call__(self, experiment: Experiment, shards: Sequence[Shard]) -> Iterator[tuple[Shard, dict]]:
        from physai.worker import execute_shard

        if self.threads == 1 or len(shards) <= 1:
            for s in shards:
                yield s, execute_shard(experiment, s, self.debug)
            return
        stop = threading.Event()

        def run(s: Shard) -> dict:
            with timing.stoppable(stop):
                return execute_shard(experiment, s, self.debug)

        queue = list(shards)
        running: dict[Future, Shard] = {}
        pool = ThreadPoolExecutor(self.threads, thread_name_prefix="physai-shard")
        try:
            while queue or running:
                while queue and len(running) < self.threads:  # in plan order, never more than `threads` ahead
                    s = queue.pop(0)
                    running[pool.submit(contextvars.copy_context().run, run, s)] = s
                done, _ = wait(running, timeout=0.5, return_when=FIRST_COMPLETED)
                for f in done:
                    yield running.pop(f), f.result()
        finally:
            # the sweep ended early (Ctrl-C, an error, the caller stopped reading): the
            # shards still running stop at their next compiled chunk
            stop.set()
            pool.shutdown(wait=False, cancel_futures=True)
