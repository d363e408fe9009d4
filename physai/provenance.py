"""Where a number came from: commit, versions, device, flags, host and times."""

from __future__ import annotations

import functools
import importlib.metadata
import os
import platform
import socket
import subprocess
import sys
from pathlib import Path

PACKAGES = ("jax", "jaxlib", "flax", "optax", "numpy", "scipy", "pandas", "pyarrow")


@functools.cache
def git_state() -> tuple[str, bool]:
    """Returns: ``(commit, dirty)`` of the checkout holding physai, or ``("unknown", False)``."""
    root = Path(__file__).resolve().parent.parent
    try:
        commit = subprocess.run(
            ["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True, text=True, timeout=10, check=True
        ).stdout.strip()
        # Dirty means the code differs from the commit: stored results under results/
        # (a reference run replacing results/reference) do not count.
        dirty = bool(
            subprocess.run(
                [
                    "git",
                    "-C",
                    str(root),
                    "status",
                    "--porcelain",
                    "--untracked-files=no",
                    "--",
                    ".",
                    ":(exclude)results",
                ],
                capture_output=True,
                text=True,
                timeout=10,
                check=True,
            ).stdout.strip()
        )
        return commit, dirty
    except (OSError, subprocess.SubprocessError):
        return "unknown", False


@functools.cache
def versions() -> dict[str, str]:
    """Returns: ``{package: version}`` for python and the numerical stack."""
    out = {"python": platform.python_version()}
    for name in PACKAGES:
        try:
            out[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            out[name] = "absent"
    return out


def device() -> str:
    """Returns: the JAX default device, e.g. ``cpu:cpu x1`` or ``gpu:NVIDIA H200 x1``."""
    import jax

    devs = jax.devices()
    return f"{devs[0].platform}:{devs[0].device_kind} x{len(devs)}"


def record(
    shard_id: str,
    n_trials: int,
    compile_s: float,
    run_s: float,
    start: float,
    end: float,
    strategy: str,
    flops: float = float("nan"),
) -> dict:
    """Builds one provenance row for a shard.

    Args:
      shard_id: the shard.
      n_trials: trials in it.
      compile_s: seconds spent compiling (reported by the trainer).
      run_s: wall seconds of the shard minus compile seconds.
      start, end: POSIX timestamps.
      strategy: the batching strategy used.
      flops: floating-point operations executed (NaN: not counted).

    Returns:
      A flat dict (one Parquet row).
    """
    commit, dirty = git_state()
    row = {
        "shard_id": shard_id,
        "n_trials": n_trials,
        "git_commit": commit,
        "git_dirty": dirty,
        "device": device(),
        "xla_flags": os.environ.get("XLA_FLAGS", ""),
        "argv": " ".join(sys.argv),
        "host": socket.gethostname(),
        "pid": os.getpid(),
        "strategy": strategy,
        "compile_seconds": compile_s,
        "run_seconds": run_s,
        "flops": float(flops),
        "gflops_per_second": float(flops) / run_s / 1e9 if run_s > 0 else float("nan"),
        "start": start,
        "end": end,
    }
    row.update({f"version_{k}": v for k, v in versions().items()})
    return row
