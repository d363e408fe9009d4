"""Emergence: when and how sharply a logged curve makes its transition.

``transition_step`` is the (interpolated) step at which a curve first reaches a
level; ``transition_width`` the steps between two fractions of the curve's
observed range. Both ignore non-finite logs and accept steps in any order.
"""

from __future__ import annotations

import numpy as np

from analysis.stats import finite_pairs

__all__ = ["transition_step", "transition_width"]


def _sorted_finite_curve(steps, values, caller: str) -> tuple[np.ndarray, np.ndarray]:
    """Steps and values with non-finite entries dropped, sorted by step."""
    step_array, value_array = finite_pairs(steps, values, caller)
    order = np.argsort(step_array, kind="stable")
    return step_array[order], value_array[order]


def transition_step(steps, values, threshold: float, rising: bool = True) -> float:
    """First step at which a logged curve reaches a threshold.

    The crossing is linearly interpolated between the last logged step
    before the threshold is reached and the first one at which it is.

    Args:
        steps: Logged steps (any order; sorted internally).
        values: Metric at those steps; non-finite entries are ignored.
        threshold: Level to reach.
        rising: True when reaching means ``value >= threshold`` (accuracy);
            False when it means ``value <= threshold`` (loss).

    Returns:
        The interpolated step, the first step if the curve starts at or past
        the threshold, or nan if it never reaches it.
    """
    step_array, value_array = _sorted_finite_curve(steps, values, "transition_step")
    signed = value_array if rising else -value_array
    signed_threshold = threshold if rising else -threshold
    reached = np.flatnonzero(signed >= signed_threshold)
    if reached.size == 0:
        return float("nan")
    first = int(reached[0])
    if first == 0:
        return float(step_array[0])
    before, after = first - 1, first
    fraction = (signed_threshold - signed[before]) / (signed[after] - signed[before])
    return float(step_array[before] + fraction * (step_array[after] - step_array[before]))


def transition_width(steps, values, low: float = 0.1, high: float = 0.9, rising: bool = True) -> float:
    """Steps between reaching ``low`` and ``high`` of the curve's range.

    The levels are fractions of the way from the curve's start level to its
    end level over its observed range: ``min + f * (max - min)`` for a
    rising curve, ``max - f * (max - min)`` for a falling one.

    Args:
        steps: Logged steps.
        values: Metric at those steps.
        low: Fraction marking the start of the transition.
        high: Fraction marking its end (``high > low``).
        rising: Direction of the transition, as in `transition_step`.

    Returns:
        ``transition_step(high level) - transition_step(low level)``; nan for
        a flat curve or if a level is never reached.
    """
    if not 0 <= low < high <= 1:
        raise ValueError(f"transition_width: need 0 <= low < high <= 1, got {low}, {high}")
    _, value_array = _sorted_finite_curve(steps, values, "transition_width")
    if value_array.size == 0:
        return float("nan")
    value_min, value_max = float(value_array.min()), float(value_array.max())
    value_range = value_max - value_min
    if value_range == 0:
        return float("nan")
    if rising:
        low_level, high_level = value_min + low * value_range, value_min + high * value_range
    else:
        low_level, high_level = value_max - low * value_range, value_max - high * value_range
    start = transition_step(steps, values, low_level, rising=rising)
    end = transition_step(steps, values, high_level, rising=rising)
    return float(end - start)
