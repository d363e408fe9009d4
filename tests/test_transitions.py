"""Tests for analysis.transitions: when and how sharply a logged curve makes its transition."""

import math

import numpy as np
import pytest

from analysis.transitions import transition_step, transition_width


def logistic(steps, midpoint=500.0, scale=50.0):
    return 1 / (1 + np.exp(-(steps - midpoint) / scale))


class TestTransitions:
    steps = np.arange(5.0, 1000.0, 10.0)  # the midpoint 500 is not a logged step

    def test_transition_step_interpolates(self):
        assert transition_step(self.steps, logistic(self.steps), 0.5) == pytest.approx(500.0, abs=1.0)
        # A loss-like (falling) curve.
        falling = 1 - logistic(self.steps)
        assert transition_step(self.steps, falling, 0.5, rising=False) == pytest.approx(500.0, abs=1.0)

    def test_transition_step_edges(self):
        values = logistic(self.steps)
        assert math.isnan(transition_step(self.steps, values, 1.5))
        assert transition_step(self.steps, values, -1.0) == self.steps[0]
        # Unsorted input and NaN logs give the same answer.
        order = np.random.default_rng(0).permutation(self.steps.size)
        noisy_values = values.copy()
        noisy_values[3] = np.nan
        assert transition_step(self.steps[order], noisy_values[order], 0.5) == pytest.approx(
            transition_step(self.steps, values, 0.5)
        )

    def test_transition_width_of_logistic(self):
        # 10%..90% of a logistic spans 2 * ln(9) * scale steps.
        for scale in (20.0, 80.0):
            values = 0.25 + 0.5 * logistic(self.steps, scale=scale)
            width = transition_width(self.steps, values)
            assert width == pytest.approx(2 * math.log(9) * scale, rel=0.03)
            assert transition_width(self.steps, 1 - values, rising=False) == pytest.approx(width)

    def test_flat_curve_has_no_width(self):
        assert math.isnan(transition_width(self.steps, np.full(self.steps.size, 0.3)))
