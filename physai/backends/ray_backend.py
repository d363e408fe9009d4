"""Ray tasks, one per shard, on a local Ray instance or an existing cluster.

Ray is an optional extra (``pip install 'physai[ray]'``) imported only here.
Each task returns its shard's tables as Arrow IPC bytes; the driver writes
them, so nodes need no shared filesystem. Worker death is retried by Ray
itself (``max_retries``); a shard that still fails is recorded as failed.

Nodes must be able to import physai and the experiment module (install the
project on every node, or start the cluster from a checkout with the same
``PYTHONPATH``).
"""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator, Sequence

from physai import identity
from physai.backends import wire
from physai.errors import PhysaiError


def _is_loopback(address: str | None) -> bool:
    if address is None:
        return True  # a local instance for this sweep serves this machine only
    from urllib.parse import urlsplit

    host = urlsplit(address if "://" in address else f"tcp://{address}").hostname or ""
    return host in ("localhost", "127.0.0.1", "::1") or host.startswith("127.")


def _import_ray(address: str | None):
    import os

    if _is_loopback(address) and "ray" not in sys.modules:
        # Ray rewrites 127.0.0.1 to this machine's network address unless it runs
        # in single-machine mode; keep a loopback cluster on loopback.
        os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")
    try:
        import ray
    except ImportError:
        raise PhysaiError("the ray backend needs the optional extra: pip install 'physai[ray]'") from None
    return ray


def _run_shard(module: str, shard: bytes) -> bytes:
    from physai import registry, worker

    experiment = registry.from_module(module)
    return wire.pack(worker.execute_shard(experiment, wire.decode_shard(experiment, shard)))


class RayRunner:
    """Runs shards as Ray tasks (callable as a sweep runner).

    Args:
      address: cluster address (``HOST:PORT`` or ``ray://...``); ``None`` starts a
        local instance for this sweep.
      retries: Ray's ``max_retries`` for a task whose worker died.
      num_cpus: CPUs reserved per task (1: single-core shards, like ``processes``).
    """

    def __init__(self, address: str | None = None, retries: int = 2, num_cpus: float = 1.0):
        self.ray = _import_ray(address)
        self.address, self.retries, self.num_cpus = address, retries, num_cpus
        self._check_reachable()  # before anything is written

    def _check_reachable(self) -> None:
        """Fails fast on an address nothing listens on (ray.init would retry for minutes)."""
        import socket
        from urllib.parse import urlsplit

        if not self.address or self.address == "auto":
            return
        target = urlsplit(self.address if "://" in self.address else f"tcp://{self.address}")
        try:
            host, port = target.hostname, target.port
        except ValueError:
            host, port = None, None
        if not host or not port:
            raise PhysaiError(f"--address {self.address}: expected HOST:PORT or ray://HOST:PORT")
        try:
            socket.create_connection((host, port), timeout=5).close()
        except OSError as e:
            raise PhysaiError(f"cannot reach Ray at {self.address}: {e.strerror or e}") from None

    def _connect(self) -> bool:
        ray = self.ray
        if ray.is_initialized():
            return False
        import os

        # Workers import the experiment module: give them the driver's import path, but
        # never the working directory (unless PYTHONPATH names it): a folder there must
        # not be imported by workers. PYTHONSAFEPATH keeps it off their start-up path too.
        from physai.backends import import_path_without_cwd

        path = os.pathsep.join(import_path_without_cwd(sys.path))
        env = {"env_vars": {"PYTHONPATH": path, "PYTHONSAFEPATH": "1"}}
        try:
            if self.address:
                ray.init(address=self.address, runtime_env=env, log_to_driver=False, logging_level="ERROR")
            else:
                ray.init(
                    runtime_env=env,
                    log_to_driver=False,
                    logging_level="ERROR",
                    include_dashboard=False,
                    _node_ip_address="127.0.0.1",
                )
        except Exception as e:  # ConnectionError, TimeoutError, RuntimeError, depending on the failure
            where = self.address or "a local instance"
            reason = str(e).splitlines()[0] if str(e) else type(e).__name__
            raise PhysaiError(f"cannot connect to Ray at {where}: {reason}") from None
        return True

    def __call__(self, experiment, shards: Sequence) -> Iterator:
        from physai.worker import shard_tables

        if not shards:
            return
        ray = self.ray
        started = self._connect()
        try:
            task = ray.remote(num_cpus=self.num_cpus, max_retries=self.retries)(_run_shard)
            module = identity.module_of(experiment)
            refs = {task.remote(module, wire.encode_shard(s)): s for s in shards}
            while refs:
                done, _ = ray.wait(list(refs), num_returns=1)
                for ref in done:
                    shard = refs.pop(ref)
                    try:
                        yield shard, wire.unpack(ray.get(ref))
                    except (ray.exceptions.RayError, OSError) as e:
                        message = str(e).splitlines()[0] if str(e) else type(e).__name__
                        print(f"physai: shard {shard.shard_id} failed on Ray: {message}", file=sys.stderr)
                        yield (
                            shard,
                            shard_tables(
                                experiment.name, shard, None, f"ray: {type(e).__name__}: {message}", time.time()
                            ),
                        )
        finally:
            if started:
                ray.shutdown()
