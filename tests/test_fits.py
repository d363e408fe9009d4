"""Tests for analysis.fits: scaling-law fits recover known parameters, bad
input raises FitError, IsoFLOP minima and extrapolation error."""

import math

import numpy as np
import pandas as pd
import pytest

from analysis.fits import (
    ChinchillaFit,
    FitError,
    PowerLawFit,
    compute_optimal_exponent,
    extrapolation_error,
    fit_chinchilla,
    fit_power_law,
    isoflop_minima,
)

# Hoffmann et al. (2022) Approach 3 estimates.
CHINCHILLA_TRUTH = {"E": 1.69, "A": 406.4, "B": 410.7, "alpha": 0.34, "beta": 0.28}


def chinchilla_loss(N, D, E, A, B, alpha, beta):
    return E + A / N**alpha + B / D**beta


def noisy(loss, relative_noise, seed):
    return loss * (1 + relative_noise * np.random.default_rng(seed).standard_normal(np.shape(loss)))


class TestFitChinchilla:
    def test_recovers_chinchilla_parameters(self):
        """Design: a dense 40 x 40 grid, N in [1e8, 1e10] x D in [1e10, 1e12]
        (two decades each, the scale of the Chinchilla runs), 0.5% noise.

        Over only two decades E trades off against the power-law terms: with
        a 10 x 10 grid the standard error of E is ~0.025 (Fisher information,
        confirmed by simulation: 17/30 noise seeds within +-0.02), so that
        design cannot pin E to +-0.02. The error shrinks as 1/sqrt(points);
        at 1600 points the rms errors over 60 noise seeds were E 0.006,
        alpha 0.004, beta 0.004, with 60/60 within +-0.02.
        """
        N, D = np.meshgrid(np.logspace(8, 10, 40), np.logspace(10, 12, 40), indexing="ij")
        N, D = N.ravel(), D.ravel()
        L = noisy(chinchilla_loss(N, D, **CHINCHILLA_TRUTH), 0.005, seed=0)

        fit = fit_chinchilla(N, D, L)

        assert isinstance(fit, ChinchillaFit)
        assert fit.alpha == pytest.approx(CHINCHILLA_TRUTH["alpha"], abs=0.02)
        assert fit.beta == pytest.approx(CHINCHILLA_TRUTH["beta"], abs=0.02)
        assert fit.E == pytest.approx(CHINCHILLA_TRUTH["E"], abs=0.02)
        true_exponent = 0.28 / (0.34 + 0.28)
        assert fit.compute_optimal_exponent == pytest.approx(true_exponent, abs=0.02)
        # Without bootstrap the intervals are NaN, never made-up numbers.
        assert all(math.isnan(x) for x in fit.alpha_ci + fit.beta_ci + fit.E_ci)
        # The fit reproduces the data to within the noise.
        assert np.median(np.abs(fit.predict(N, D) / L - 1)) < 0.005

    def test_bootstrap_intervals_bracket_estimates(self):
        N, D = np.meshgrid(np.logspace(7, 9, 6), np.logspace(9, 11, 6), indexing="ij")
        N, D = N.ravel(), D.ravel()
        L = noisy(chinchilla_loss(N, D, **CHINCHILLA_TRUTH), 0.005, seed=1)

        fit = fit_chinchilla(N, D, L, bootstrap=20, seed=0)

        for estimate, (low, high) in [
            (fit.alpha, fit.alpha_ci),
            (fit.beta, fit.beta_ci),
            (fit.E, fit.E_ci),
            (fit.compute_optimal_exponent, fit.exponent_ci),
        ]:
            assert low <= high
            assert low - 1e-6 <= estimate <= high + 1e-6
        assert fit.alpha_ci[1] - fit.alpha_ci[0] > 0

    def test_bootstrap_is_deterministic_for_a_seed(self):
        N, D = np.meshgrid(np.logspace(7, 9, 4), np.logspace(9, 11, 4), indexing="ij")
        L = noisy(chinchilla_loss(N, D, **CHINCHILLA_TRUTH), 0.005, seed=2)
        first = fit_chinchilla(N.ravel(), D.ravel(), L.ravel(), bootstrap=3, seed=7)
        assert first == fit_chinchilla(N.ravel(), D.ravel(), L.ravel(), bootstrap=3, seed=7)

    def test_group_bootstrap_resamples_whole_seeds(self):
        # A 5 x 5 grid, 6 seeds each; a seed's runs share an offset,
        # so resampling seeds (not points) is the honest bootstrap.
        N, D = np.meshgrid(np.logspace(7, 9, 5), np.logspace(9, 11, 5), indexing="ij")
        seeds = np.repeat(np.arange(6), N.size)
        N, D = np.tile(N.ravel(), 6), np.tile(D.ravel(), 6)
        seed_offset = 1 + 0.01 * np.random.default_rng(3).standard_normal(6)
        L = noisy(chinchilla_loss(N, D, **CHINCHILLA_TRUTH) * seed_offset[seeds], 0.002, seed=4)

        fit = fit_chinchilla(N, D, L, bootstrap=10, groups=seeds, seed=0)

        assert fit.alpha == pytest.approx(0.34, abs=0.02)
        assert fit.alpha_ci[0] <= fit.alpha <= fit.alpha_ci[1]
        assert fit.alpha_ci[1] - fit.alpha_ci[0] > 0

    def test_noise_free_fit_is_near_exact(self):
        N, D = np.meshgrid(np.logspace(7, 9, 5), np.logspace(9, 11, 5), indexing="ij")
        L = chinchilla_loss(N, D, **CHINCHILLA_TRUTH)
        fit = fit_chinchilla(N.ravel(), D.ravel(), L.ravel())
        assert fit.alpha == pytest.approx(0.34, abs=1e-3)
        assert fit.beta == pytest.approx(0.28, abs=1e-3)
        assert fit.E == pytest.approx(1.69, abs=1e-2)
        assert fit.loss < 1e-6


class TestFitPowerLaw:
    N = np.logspace(1, 4, 30)
    TRUTH = {"E": 0.5, "A": 3.0, "alpha": 0.7}

    def truth_loss(self):
        return self.TRUTH["E"] + self.TRUTH["A"] * self.N ** -self.TRUTH["alpha"]

    def test_recovers_exponent(self):
        L = noisy(self.truth_loss(), 0.005, seed=0)

        fit = fit_power_law(self.N, L)

        assert isinstance(fit, PowerLawFit)
        assert fit.alpha == pytest.approx(0.7, abs=0.02)
        assert fit.E == pytest.approx(0.5, abs=0.02)
        np.testing.assert_allclose(fit.predict(self.N), self.truth_loss(), rtol=0.01)

    def test_robust_to_an_outlier_run(self):
        L = noisy(self.truth_loss(), 0.005, seed=5)
        L[10] *= 1.5  # one diverged run
        fit = fit_power_law(self.N, L)
        assert fit.alpha == pytest.approx(0.7, abs=0.02)


class TestFitErrors:
    def test_fit_error_is_a_value_error(self):
        assert issubclass(FitError, ValueError)

    @pytest.mark.parametrize(
        "N, L, match",
        [
            ([10, 100, 1000], [1.0, 0.8, 0.7], "at least 4 points"),
            ([10, 100, 1000, 1e4], [1.0, np.nan, 0.7, 0.6], "non-finite"),
            ([10, 100, 1000, 1e4], [1.0, np.inf, 0.7, 0.6], "non-finite"),
            ([10, 100, 1000, 1e4], [1.0, -0.8, 0.7, 0.6], "positive"),
            ([10, 0, 1000, 1e4], [1.0, 0.8, 0.7, 0.6], "positive"),
            ([10, 100, 1000, 1e4, 1e5], [1.0, 0.8, 0.7, 0.6], "same length"),
            ([10, 10, 10, 10], [1.0, 0.8, 0.7, 0.6], "distinct"),
        ],
    )
    def test_power_law_bad_input(self, N, L, match):
        with pytest.raises(FitError, match=match):
            fit_power_law(N, L)

    def test_power_law_bad_options(self):
        N, L = [10, 100, 1000, 1e4], [1.0, 0.8, 0.7, 0.6]
        with pytest.raises(FitError, match="huber_delta"):
            fit_power_law(N, L, huber_delta=0)

    def test_chinchilla_bad_input(self):
        N = np.array([1e7, 1e8, 1e9, 1e7, 1e8, 1e9])
        D = np.array([1e9, 1e9, 1e9, 1e10, 1e10, 1e10])
        L = np.array([3.0, 2.8, 2.6, 2.7, 2.5, 2.3])
        with pytest.raises(FitError, match="at least 6 points"):
            fit_chinchilla(N[:5], D[:5], L[:5])
        with pytest.raises(FitError, match="same length"):
            fit_chinchilla(N, D[:5], L)
        with pytest.raises(FitError, match="non-finite"):
            fit_chinchilla(N, D, np.where(np.arange(6) == 2, np.nan, L))
        with pytest.raises(FitError, match="positive"):
            fit_chinchilla(N, -D, L)
        with pytest.raises(FitError, match="groups"):
            fit_chinchilla(N, D, L, bootstrap=5, groups=[0, 1])
        with pytest.raises(FitError, match="bootstrap"):
            fit_chinchilla(N, D, L, bootstrap=-1)


def isoflop_frame(budgets, true_exponent=0.5, coefficient=0.1, size_offsets=None):
    """Exact parabolas in log N with a known optimum n_opt = 0.1 * C**0.5.

    Sizes are placed off the optimum (offsets -0.9..+1.1 decades) so that
    a grid argmin alone could not give the right answer.
    """
    if size_offsets is None:
        size_offsets = np.linspace(-0.9, 1.1, 9)
    rows = []
    for compute in budgets:
        n_opt = coefficient * compute**true_exponent
        loss_opt = 10.0 * compute**-0.05
        for seed in range(2):
            for size in n_opt * 10.0**size_offsets:
                loss = loss_opt + 0.3 * np.log(size / n_opt) ** 2
                rows.append({"flops": compute, "params": size, "seed": seed, "loss": loss})
    return pd.DataFrame(rows)


class TestIsoflop:
    def test_recovers_known_optimum_and_exponent(self):
        budgets = [1e15, 1e16, 1e17, 1e18]
        minima = isoflop_minima(isoflop_frame(budgets), "flops", "params", "loss")

        assert list(minima.columns) == ["compute", "n_opt", "loss_opt", "is_interior"]
        assert minima["compute"].tolist() == budgets
        assert minima["is_interior"].all()
        np.testing.assert_allclose(minima["n_opt"], 0.1 * np.array(budgets) ** 0.5, rtol=1e-6)
        np.testing.assert_allclose(minima["loss_opt"], 10.0 * np.array(budgets) ** -0.05, rtol=1e-6)

        exponent, low, high = compute_optimal_exponent(minima["compute"], minima["n_opt"])
        assert exponent == pytest.approx(0.5, abs=1e-6)
        # Exact data: the interval degenerates to the estimate, up to rounding.
        assert low - 1e-9 <= 0.5 <= high + 1e-9

    def test_edge_minimum_is_not_interior(self):
        # Every sampled size is above the optimum: the curve is monotone.
        df = isoflop_frame([1e16], size_offsets=np.linspace(0.2, 1.5, 6))
        df = pd.concat([df, isoflop_frame([1e17])])
        minima = isoflop_minima(df, "flops", "params", "loss").set_index("compute")

        assert not minima.loc[1e16, "is_interior"]
        assert minima.loc[1e16, "n_opt"] == pytest.approx(df["params"][df["flops"] == 1e16].min())
        assert minima.loc[1e17, "is_interior"]

    def test_diverged_runs_are_ignored(self):
        df = isoflop_frame([1e16])
        df.loc[df["params"] == df["params"].max(), "loss"] = np.nan
        minima = isoflop_minima(df, "flops", "params", "loss")
        assert minima["n_opt"].iloc[0] == pytest.approx(0.1 * 1e16**0.5, rel=1e-6)

    def test_compute_optimal_exponent_needs_three_points(self):
        with pytest.raises(FitError, match="at least 3"):
            compute_optimal_exponent([1e15, 1e16], [1e6, 1e7])


class TestExtrapolation:
    def test_fit_on_small_sizes_extrapolates(self):
        N = np.logspace(1, 3, 20)
        fit = fit_power_law(N, 0.5 + 3.0 * N**-0.7)
        holdout = np.array([1e4, 1e5])
        assert extrapolation_error(fit.predict, holdout, 0.5 + 3.0 * holdout**-0.7) < 1e-3

    def test_is_max_relative_error(self):
        y = np.array([1.0, 2.0, 4.0])
        prediction = np.array([1.1, 2.0, 3.0])
        assert extrapolation_error(lambda x: prediction, np.arange(3), y) == pytest.approx(0.25)

    def test_tuple_inputs_are_unpacked(self):
        fit = ChinchillaFit(E=1.0, A=1.0, B=1.0, alpha=0.5, beta=0.5, loss=0.0)
        N, D = np.array([1e2, 1e4]), np.array([1e4, 1e6])
        assert extrapolation_error(fit.predict, (N, D), fit.predict(N, D)) == 0.0
