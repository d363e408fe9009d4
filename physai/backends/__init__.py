"""Where shards run. A backend takes an experiment and its pending shards and
yields ``(shard, tables)`` as each shard finishes; the driver (``physai.sweep``)
writes the tables, so workers need no shared filesystem.

* ``local``: in this process (default), two shards at a time.
* ``processes``: a pool of ``spawn``-started worker processes, one core each.
* ``ray``: Ray tasks, one per shard, on a local instance or an existing cluster.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterable

from physai.errors import PhysaiError

BACKENDS = ("local", "processes", "ray")

# Set by the sweep's Ctrl-C handler; runners check it while they wait, so an interrupt
# whose KeyboardInterrupt was swallowed (raised inside a finaliser) still stops the sweep.
INTERRUPTED = threading.Event()


def stop_if_interrupted() -> None:
    """Raises KeyboardInterrupt when Ctrl-C was pressed during this sweep."""
    if INTERRUPTED.is_set():
        raise KeyboardInterrupt


def import_path_without_cwd(paths: Iterable[str]) -> list[str]:
    """Args: paths: an import path (``sys.path``). Returns: it without ``""`` and without
    the working directory, unless ``PYTHONPATH`` names that directory explicitly.

    Workers must never import from the directory where a user happens to run
    physai: a folder there named like a module (``multiprocessing/``, ``json/``)
    would be executed by every worker.
    """
    cwd = os.path.realpath(os.getcwd())
    explicit = {os.path.realpath(p) for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p}
    return [p for p in paths if p and (os.path.realpath(p) != cwd or os.path.realpath(p) in explicit)]


def get(
    name: str, workers: int | None = None, address: str | None = None, retries: int = 2, debug: bool = False
) -> Callable:
    """Returns a runner for ``physai.sweep.run_sweep``.

    Args:
      name: ``local``, ``processes`` or ``ray``.
      workers: worker processes (``processes``; default: one per core).
      address: Ray cluster address (``ray``; default: start a local instance).
      retries: times a shard whose worker died is retried before it is recorded failed.
      debug: let errors in ``run`` propagate (``local`` only).

    Returns:
      ``runner(experiment, shards) -> iterable of (shard, tables)``.
    """
    if name == "local":
        from physai.backends.local import LocalRunner

        return LocalRunner(debug=debug)
    if name == "processes":
        from physai.backends.processes import ProcessRunner

        return ProcessRunner(workers=workers, retries=retries)
    if name == "ray":
        from physai.backends.ray_backend import RayRunner

        return RayRunner(address=address, retries=retries)
    raise PhysaiError(f"unknown backend {name!r}; choose from: {', '.join(BACKENDS)}")
