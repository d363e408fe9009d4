"""Proof that each check can fail: a registry of falsification tests.

A falsification test feeds a hypothesis's check a configuration where the claim
is false (a negative control run at tiny scale, or a results table built so the
claim does not hold) and asserts the verdict is not ``supported``, usually
``refuted``; beside it, a table where the claim holds must give ``supported``.
Mark such a test with ``@falsifies(experiment, hypothesis, ...)``;
``tests/test_falsification.py`` fails when any hypothesis of any registered
experiment has none.
"""

from __future__ import annotations

COVERED: dict[tuple[str, str], list[str]] = {}


def falsifies(experiment: str, *hypotheses: str):
    """Marks a test as the falsification test of these hypotheses of ``experiment``."""

    def mark(test):
        for h in hypotheses:
            COVERED.setdefault((experiment, h), []).append(f"{test.__module__}.{test.__name__}")
        test.falsifies = (experiment, hypotheses)
        return test

    return mark
