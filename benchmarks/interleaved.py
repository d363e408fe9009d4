"""Two ways of doing the same work, timed in turn in one process (``minibatch_draws.py``,
``progress_cost.py``): each way runs once untimed, so its programs are compiled, then the two
alternate, so that both share the machine's load."""

from __future__ import annotations

import statistics
from collections.abc import Callable


def medians(first: Callable[[], float], second: Callable[[], float], repeats: int) -> tuple[float, float]:
    """Args: first, second: zero-argument calls that run the work and return its seconds;
    repeats: timed runs of each. Returns: the median seconds of ``first`` and of ``second``."""
    first(), second()
    a, b = [], []
    for _ in range(repeats):
        a.append(first())
        b.append(second())
    return statistics.median(a), statistics.median(b)
