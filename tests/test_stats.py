"""Tests for analysis.stats: medians with bootstrap intervals, aggregation
over seeds, rank correlations and log-log slopes."""

import math

import numpy as np
import pandas as pd
import pytest

from analysis.stats import aggregate, loglog_slope, median_ci, rank_correlation, spearman


class TestMedianCi:
    def test_known_data_interval_brackets_median(self):
        median, low, high = median_ci(np.arange(1.0, 10.0), n_resamples=1000, seed=0)
        assert median == 5.0
        assert 1.0 <= low < median < high <= 9.0

    def test_width_matches_asymptotic_standard_error(self):
        # For normal data the median's standard error is sqrt(pi/2) * sigma / sqrt(n).
        values = np.random.default_rng(1).normal(10.0, 2.0, size=400)
        median, low, high = median_ci(values, seed=0)
        expected_half_width = 1.96 * math.sqrt(math.pi / 2) * 2.0 / math.sqrt(400)
        assert (high - low) / 2 == pytest.approx(expected_half_width, rel=0.3)
        assert low < 10.0 < high

    def test_deterministic_for_a_seed(self):
        values = [3.0, 1.0, 4.0, 1.0, 5.0, 9.0, 2.0]
        assert median_ci(values, seed=3) == median_ci(values, seed=3)

    def test_nans_are_dropped(self):
        median, low, high = median_ci([1.0, np.nan, 2.0, 3.0, np.nan])
        assert median == 2.0
        assert 1.0 <= low <= 2.0 <= high <= 3.0

    def test_single_value_and_constant_values(self):
        assert median_ci([7.5]) == (7.5, 7.5, 7.5)
        assert median_ci([2.0, 2.0, 2.0, np.nan]) == (2.0, 2.0, 2.0)

    def test_all_nan_and_empty(self):
        for values in ([np.nan, np.nan], []):
            assert all(math.isnan(x) for x in median_ci(values))


class TestAggregate:
    def test_one_sorted_row_per_group_with_counts(self):
        df = pd.DataFrame(
            {
                "width": [64, 64, 64, 16, 16, 16, 16],
                "seed": [0, 1, 2, 0, 1, 2, 3],
                "loss": [1.0, 3.0, 2.0, 5.0, 4.0, np.nan, 6.0],
            }
        )
        result = aggregate(df, by="width", value="loss")
        assert list(result.columns) == ["width", "median", "low", "high", "n"]
        assert result["width"].tolist() == [16, 64]
        assert result["median"].tolist() == [5.0, 2.0]
        assert result["n"].tolist() == [3, 3]
        assert (result["low"] <= result["median"]).all()
        assert (result["median"] <= result["high"]).all()

    def test_several_keys(self):
        df = pd.DataFrame(
            {
                "optimizer": ["sgd", "adam", "sgd", "adam", "adam"],
                "lr": [0.1, 0.1, 0.1, 0.01, 0.01],
                "acc": [0.5, 0.9, 0.7, 0.8, 0.6],
            }
        )
        result = aggregate(df, by=["optimizer", "lr"], value="acc")
        assert list(zip(result["optimizer"], result["lr"])) == [
            ("adam", 0.01),
            ("adam", 0.1),
            ("sgd", 0.1),
        ]
        assert result["median"].tolist() == pytest.approx([0.7, 0.9, 0.6])
        assert result["n"].tolist() == [2, 1, 2]

    def test_missing_column_raises(self):
        with pytest.raises(KeyError):
            aggregate(pd.DataFrame({"a": [1]}), by="a", value="missing")


class TestRankCorrelation:
    @pytest.mark.parametrize("method", ["spearman", "kendall"])
    def test_correlated_data_has_interval_above_zero(self, method):
        rng = np.random.default_rng(0)
        x = rng.normal(size=60)
        y = x + 0.3 * rng.normal(size=60)
        rho, low, high = rank_correlation(x, y, method=method, n_resamples=500)
        assert rho > 0.6
        assert 0 < low < rho < high <= 1

    @pytest.mark.parametrize("method", ["spearman", "kendall"])
    def test_anticorrelated_data_has_negative_interval(self, method):
        x = np.arange(30.0)
        y = -np.exp(x / 10) + np.random.default_rng(1).normal(scale=0.5, size=30)
        rho, low, high = rank_correlation(x, y, method=method, n_resamples=500)
        assert -1 <= low <= rho <= high < 0

    def test_independent_data_interval_contains_zero(self):
        rng = np.random.default_rng(2)
        rho, low, high = rank_correlation(rng.normal(size=80), rng.normal(size=80), n_resamples=500)
        assert low < 0 < high
        assert abs(rho) < 0.3

    def test_nonfinite_pairs_dropped_and_bad_inputs_raise(self):
        x = [1.0, 2.0, np.nan, 4.0, 5.0]
        y = [2.0, 4.0, 1.0, 8.0, 10.0]
        assert rank_correlation(x, y, n_resamples=100)[0] == pytest.approx(1.0)
        with pytest.raises(ValueError, match="method"):
            rank_correlation(x, y, method="pearson")
        with pytest.raises(ValueError, match="same length"):
            rank_correlation([1, 2, 3], [1, 2])
        with pytest.raises(ValueError, match="at least 3"):
            rank_correlation([1, 2], [1, 2])


class TestLoglogSlope:
    def test_recovers_slope_with_interval(self):
        x = np.logspace(1, 4, 25)
        y = 3.0 * x**-0.5 * np.exp(0.02 * np.random.default_rng(0).normal(size=x.size))
        slope, low, high = loglog_slope(x, y)
        assert slope == pytest.approx(-0.5, abs=0.02)
        assert low < -0.5 < high
        assert high - low < 0.05

    def test_exact_power_law_has_zero_width_interval(self):
        x = np.array([1.0, 10.0, 100.0, 1000.0])
        slope, low, high = loglog_slope(x, 2.0 * x**0.75)
        assert slope == pytest.approx(0.75)
        assert low == pytest.approx(0.75) and high == pytest.approx(0.75)

    def test_higher_confidence_gives_wider_interval(self):
        x = np.logspace(0, 2, 10)
        y = x**1.2 * np.exp(0.05 * np.random.default_rng(3).normal(size=10))
        _, low_90, high_90 = loglog_slope(x, y, confidence=0.90)
        _, low_99, high_99 = loglog_slope(x, y, confidence=0.99)
        assert high_99 - low_99 > high_90 - low_90

    def test_too_few_usable_points_raise(self):
        # Only two points are finite and positive.
        with pytest.raises(ValueError, match="at least 3"):
            loglog_slope([1.0, 2.0, -3.0, np.nan], [1.0, 2.0, 3.0, 4.0])
        with pytest.raises(ValueError, match="at least 3"):
            loglog_slope([1.0, 2.0, 3.0], [1.0, 0.0, np.inf])


def test_spearman_matches_scipy_with_ties_and_is_nan_when_undefined():
    from scipy.stats import spearmanr

    rng = np.random.default_rng(0)
    x, y = rng.integers(0, 4, 12).astype(float), rng.normal(size=12)
    assert spearman(x, y) == pytest.approx(spearmanr(x, y).statistic, abs=1e-12)
    assert math.isnan(spearman([1.0, 1.0, 1.0], [1.0, 2.0, 3.0]))
    assert math.isnan(spearman([1.0, 2.0], [1.0, 2.0]))
