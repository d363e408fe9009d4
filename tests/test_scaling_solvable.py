"""Solvable scaling model: closed forms against Monte Carlo, and every check on hand-made
tables that must pass and must fail."""

import functools
import math

import numpy as np
import pandas as pd
import pytest

from experiments import scaling_solvable as ss
from physai import Results, sweep
from tests.falsification import falsifies

M = 1000
NOISE = 1e-4


def _spectrum(m=30, alpha=1.0):
    lam = np.arange(1, m + 1) ** -(1 + alpha)
    return lam / lam.sum()


# ----------------------------------------------------------------------------- closed forms


@pytest.mark.parametrize("P", [10, 60])
def test_data_loss_matches_monte_carlo_over_teacher_and_noise(P):
    rng = np.random.default_rng(1)
    lam = _spectrum()
    x = rng.standard_normal((P, lam.size)) * np.sqrt(lam)
    ridge, noise_var = 1e-3, 0.01
    losses = []
    for _ in range(4000):
        beta = rng.standard_normal(lam.size)
        y = x @ beta + np.sqrt(noise_var) * rng.standard_normal(P)
        b = np.linalg.solve(x.T @ x + ridge * np.eye(lam.size), x.T @ y)
        losses.append(noise_var + (b - beta) @ (lam * (b - beta)))
    assert ss.data_loss(x, lam, noise_var, ridge) == pytest.approx(np.mean(losses), rel=0.05)


def test_features_loss_matches_monte_carlo_and_reaches_floor_at_full_rank():
    rng = np.random.default_rng(2)
    lam = _spectrum()
    a = rng.standard_normal((8, lam.size)) * np.sqrt(lam)
    losses = []
    for _ in range(4000):
        u = np.sqrt(lam) * rng.standard_normal(lam.size)  # Lambda^1/2 beta
        losses.append(0.01 + u @ u - u @ a.T @ np.linalg.solve(a @ a.T, a @ u))
    assert ss.features_loss(a, lam, 0.01) == pytest.approx(np.mean(losses), rel=0.05)
    full = rng.standard_normal((2 * lam.size, lam.size)) * np.sqrt(lam)
    assert ss.features_loss(full, lam, 0.01) == pytest.approx(0.01, abs=1e-12)


# ----------------------------------------------------------------------------- theory


def test_theory_matches_exact_losses_and_limits():
    rng = np.random.default_rng(3)
    lam = _spectrum(m=400, alpha=1.0)
    # Features: the mean of the exact loss over draws of W against the self-consistent theory.
    exact = np.mean([ss.features_loss(rng.standard_normal((40, 400)) * np.sqrt(lam), lam, 0.0) for _ in range(20)])
    assert ss.theory_excess(40, lam) == pytest.approx(exact, rel=0.03)
    # Data with noise beyond M: ordinary least squares, sigma^2 M / (P - M) (exact: / (P - M - 1)).
    assert ss.theory_excess(1600, lam, 0.01) == pytest.approx(0.01 * 400 / 1200)
    assert ss.theory_excess(1600, lam, 0.01, 1e-12) == pytest.approx(0.01 * 400 / 1200, rel=1e-3)
    assert ss.theory_excess(400, lam) == 0.0
    # The window: the theory's local exponent crosses alpha +- WINDOW_TOL inside (1, M).
    low, high = ss.fit_window(2000, 1.0)
    assert 4 < low < high < 2000 * 0.5
    assert abs(ss.local_exponent(math.sqrt(low * high), 2000, 1.0) - 1.0) <= ss.WINDOW_TOL


# ----------------------------------------------------------------------------- checks


SEEDS = 5
SIZES = sorted({int(s) for s in np.geomspace(4, 4 * M, 30)} - set(range(M // 2 + 1, 2 * M)))


@functools.cache
def _rows(law="theory", data_noise=True, seeds=SEEDS, alphas=ss.ALPHAS, m=M, shift=0.0):
    """Synthetic trials: the finite-size theory (``law="theory"``) or a bare power law
    ``0.5 size^-(alpha + shift)`` up to M (``law="power"``), times 2% seed-to-seed noise;
    ``data_noise=False`` drops the noise variance from the data curve."""
    rng = np.random.default_rng(0)
    rows = []
    for part in ("features", "data"):
        for alpha in alphas:
            lam = ss._spectrum(m, alpha)
            for size in SIZES if m == M else sorted({int(s) for s in np.geomspace(4, 4 * m, 30)}):
                if part == "features" and size >= m:
                    excess = 0.0
                elif law == "power" and size < m:
                    excess = 0.5 * size ** -(alpha + shift)
                else:
                    noise = NOISE if (part == "data" and data_noise) else 0.0
                    excess = ss.theory_excess(size, lam, noise, 1e-8 * size if part == "data" else 0.0)
                for seed in range(seeds):
                    loss = NOISE + excess * np.exp(0.02 * rng.standard_normal())
                    rows.append(
                        {"part": part, "alpha": alpha, "size": size, "seed": seed, "M": m, "noise_var": NOISE}
                        | {"ridge": 1e-8, "loss": loss, "excess_loss": loss - NOISE}
                    )
    trials = pd.DataFrame(rows)
    trials["status"] = "ok"
    return Results(trials, pd.DataFrame(), pd.DataFrame(), "scaling_solvable", "test")


def test_checks_pass_on_the_theory():
    res = _rows()
    for check in (ss.check_features_exponent, ss.check_features_theory, ss.check_data_theory):
        assert check(res).status == "supported", (check.__name__, check(res))


@falsifies("scaling_solvable", "features_exponent")
def test_exponent_check_fails_when_the_exponent_is_off_by_more_than_tolerance():
    assert ss.check_features_exponent(_rows(law="power")).status == "supported"
    assert ss.check_features_exponent(_rows(law="power", shift=0.2)).status == "refuted"
    assert ss.check_features_exponent(_rows(law="power", shift=-0.2)).status == "refuted"


@falsifies("scaling_solvable", "features_theory")
def test_features_theory_fails_on_a_power_law_that_runs_on_to_M():
    # The bare power law misses the bend before M (and the level at small N).
    assert ss.check_features_theory(_rows(law="power")).status == "refuted"
    assert ss.check_features_theory(_rows()).status == "supported"


@falsifies("scaling_solvable", "data_theory")
def test_data_theory_fails_without_the_noise_variance():
    assert ss.check_data_theory(_rows(data_noise=False)).status == "refuted"
    assert ss.check_data_theory(_rows()).status == "supported"


def test_checks_are_inconclusive_without_trials_of_a_part():
    res = _rows()
    only_features = Results(res.trials[res.trials["part"] == "features"], res.curves, res.shards)
    assert ss.check_data_theory(only_features).status == "inconclusive"


def test_checks_compute_a_verdict_for_an_alpha_and_M_no_preset_contains():
    # alpha = 0.75 and M = 640 are in no preset: every curve present gets its own part.
    res = _rows(alphas=(0.75,), m=640)
    for check in (ss.check_features_exponent, ss.check_features_theory, ss.check_data_theory):
        verdict = check(res)
        assert verdict.status == "supported", (check.__name__, verdict)
        assert "alpha=0.75" in verdict.measured and "n/a" not in verdict.measured
    assert "[0.65, 0.85]" in ss.check_features_exponent(res).expected
    # Two latent dimensions in one table: one part per (M, alpha), each named by its M.
    both = Results(pd.concat([_rows().trials, res.trials]), pd.DataFrame(), pd.DataFrame())
    verdict = ss.check_features_theory(both)
    assert verdict.status == "supported" and "M=640 alpha=0.75" in verdict.measured


# ----------------------------------------------------------------------------- engine


def test_presets_cover_fit_range_and_plateau():
    for name in ("demo", "paper"):
        params = [t.params for t in sweep.plan(ss.EXPERIMENT, name).trials]
        for part in ("features", "data"):
            sizes = {p["size"] for p in params if p["part"] == part}
            m = params[0]["M"]
            low, high = ss.fit_window(m, max(ss.ALPHAS))
            assert len([s for s in sizes if low <= s <= high]) >= 3
            assert max(sizes) >= m
        assert {p["alpha"] for p in params} == set(ss.ALPHAS)


# ----------------------------------------------------------------------------- curricula


def test_power_law_spectrum_and_samples():
    import jax

    from physai.curricula import manifold, spectra

    lam = np.asarray(spectra.power_law_spectrum(50, 1.0))
    assert lam.sum() == pytest.approx(1.0, rel=1e-5) and np.all(np.diff(lam) < 0)
    assert lam[0] / lam[9] == pytest.approx(10**2.0, rel=1e-4)  # i^-(1 + alpha)
    x = np.asarray(spectra.power_law_gaussian(jax.random.key(0), 20000, 50, 1.0))
    assert np.allclose(x.var(axis=0)[:5], lam[:5], rtol=0.05)
    data = spectra.power_law_teacher(jax.random.key(1), 100, 10, 50, 1.0, noise=0.0)
    assert np.allclose(data["y_train"], data["x_train"] @ data["beta"], atol=1e-5)
    # Manifold data: the inputs lie in a d-dimensional subspace of R^D, fixed teacher key.
    a = manifold.manifold_teacher_student(jax.random.key(2), 200, 10, 3, 16, teacher_key=jax.random.key(5))
    assert np.linalg.matrix_rank(np.asarray(a["x_train"]), tol=1e-4) == 3
    b = manifold.manifold_teacher_student(jax.random.key(3), 200, 10, 3, 16, teacher_key=jax.random.key(5))
    t = manifold.manifold_teacher_params(jax.random.key(5), 3, 16, 512)
    z = np.asarray(b["x_train"]) @ np.asarray(t["embed"])  # back to latent coordinates
    assert np.allclose(manifold.manifold_teacher_apply(t, z), b["y_train"], atol=1e-4)
