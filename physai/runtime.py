"""Process-wide JAX settings: the persistent compilation cache.

Compiling a training program costs 1-2 s on CPU; with the persistent cache a
later process loads it in ~0.05 s. JAX only caches programs that took longer
than ``jax_persistent_cache_min_compile_time_secs`` (1 s by default), which
skips most of ours, so we set it to 0.
"""

from __future__ import annotations

import contextlib
import os
import sys
import threading
from pathlib import Path

_configured = False


def cache_dir() -> Path:
    """Returns: ``$PHYSAI_CACHE_DIR``, else ``$XDG_CACHE_HOME/physai/jax``, else ``~/.cache/physai/jax``."""
    if os.environ.get("PHYSAI_CACHE_DIR"):
        return Path(os.environ["PHYSAI_CACHE_DIR"])
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "physai" / "jax"


def configure(compilation_cache: bool | None = None) -> None:
    """Turns on the persistent compilation cache (once per process).

    Args:
      compilation_cache: force on/off; by default on unless ``PHYSAI_NO_CACHE=1``.
    """
    global _configured
    if _configured:
        return
    import jax

    if compilation_cache is None:
        compilation_cache = os.environ.get("PHYSAI_NO_CACHE", "") not in ("1", "true")
    if compilation_cache:
        path = cache_dir()
        try:
            path.mkdir(parents=True, exist_ok=True, mode=0o700)
            owner = path.stat().st_uid
            if hasattr(os, "getuid") and owner != os.getuid():
                # The cache holds executable code: another user who owns the folder could
                # replace compiled programs. Never take it over (no chmod); run without it.
                print(
                    f"physai: warning: compilation cache {path} belongs to another user "
                    f"(uid {owner}); running without it (set PHYSAI_CACHE_DIR)",
                    file=sys.stderr,
                )
                _configured = True
                return
            path.chmod(0o700)  # ours: keep it private
            jax.config.update("jax_compilation_cache_dir", str(path))
            jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)
            jax.config.update("jax_persistent_cache_min_entry_size_bytes", 0)
        except OSError:
            pass  # an unwritable home only costs compile time
    _configured = True


_blas_lock = threading.Lock()
_blas_users = 0
_blas_limits = None


@contextlib.contextmanager
def single_threaded_blas():
    """Holds numpy/scipy's BLAS (OpenBLAS) to one thread inside the block.

    Our linear algebra is many small calls (L-BFGS steps, 200 x 3200 SVDs).
    OpenBLAS's worker threads spin between calls, and on 2 cores shared with
    other processes that was measured 15-100x slower than one thread. The limit
    is process-wide, so it is counted: shards running at once (the local backend)
    keep it until the last of them leaves its block.
    """
    global _blas_users, _blas_limits
    from threadpoolctl import threadpool_limits

    with _blas_lock:
        if _blas_users == 0:
            _blas_limits = threadpool_limits(limits=1, user_api="blas")
        _blas_users += 1
    try:
        yield
    finally:
        with _blas_lock:
            _blas_users -= 1
            if _blas_users == 0:
                _blas_limits.restore_original_limits()
                _blas_limits = None
