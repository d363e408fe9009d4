"""Compile-time accounting: the trainer reports XLA compile seconds here so the
sweep can store compile and run time separately in each shard's provenance."""

from __future__ import annotations

import time
from contextlib import contextmanager

_compile_seconds = 0.0


def reset() -> None:
    """Zeroes the compile-time counter (called at the start of each shard)."""
    global _compile_seconds
    _compile_seconds = 0.0


def compile_seconds() -> float:
    """Returns: seconds spent compiling since the last ``reset``."""
    return _compile_seconds


@contextmanager
def compiling():
    """Context manager that adds its wall time to the compile counter."""
    global _compile_seconds
    t0 = time.perf_counter()
    try:
        yield
    finally:
        _compile_seconds += time.perf_counter() - t0
