"""Solvable scaling model: closed forms against Monte Carlo, and every check on hand-made
tables that must pass and must fail."""

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


# ----------------------------------------------------------------------------- checks


SEEDS = 5


def _rows(exponent_of=lambda part, a: a, plateau=1.0, seeds=SEEDS, alphas=ss.ALPHAS, m=M):
    """Synthetic trials: excess loss = size^-exponent below M with seeded seed-to-seed noise
    (2% per point), plateau * sigma^2 beyond (1% noise on the data curve)."""
    rng = np.random.default_rng(0)
    sizes = sorted({4, 8, 16, 32, m // 16, m // 4, m, 2 * m, 4 * m})
    rows = []
    for part in ("features", "data"):
        start = ss.PLATEAU_FEATURES if part == "features" else ss.PLATEAU_DATA
        for alpha in alphas:
            for size in sizes:
                for seed in range(seeds):
                    if size >= start * m:
                        loss = plateau * NOISE * (1 if part == "features" else 1 + 0.01 * abs(rng.standard_normal()))
                    else:
                        noise = np.exp(0.02 * rng.standard_normal())
                        loss = NOISE + 0.5 * size ** -exponent_of(part, alpha) * noise
                    rows.append(
                        {
                            "part": part,
                            "alpha": alpha,
                            "size": size,
                            "seed": seed,
                            "M": m,
                            "noise_var": NOISE,
                            "ridge": 1e-8,
                            "loss": loss,
                            "excess_loss": loss - NOISE,
                        }
                    )
    trials = pd.DataFrame(rows)
    trials["status"] = "ok"
    return Results(trials, pd.DataFrame(), pd.DataFrame(), "scaling_solvable", "test")


def test_exponent_checks_pass_on_exact_power_laws():
    assert ss.check_features_exponent(_rows()).status == "supported"
    assert ss.check_data_exponent(_rows()).status == "supported"
    slope, low, high = ss.exponent(_rows().trials.query("part == 'data' and alpha == 1.0"))
    assert slope == pytest.approx(-1.0, abs=0.02) and low <= slope <= high


@falsifies("scaling_solvable", "features_exponent", "data_exponent")
def test_exponent_checks_fail_when_the_exponent_is_off_by_more_than_tolerance():
    exact = _rows()
    assert ss.check_features_exponent(exact).status == "supported"
    assert ss.check_data_exponent(exact).status == "supported"
    off = _rows(exponent_of=lambda part, a: a + 0.2 if part == "features" else a)
    assert ss.check_features_exponent(off).status == "refuted"
    assert ss.check_data_exponent(off).status == "supported"
    off = _rows(exponent_of=lambda part, a: 0.75 if a == 1.0 else a)
    assert ss.check_data_exponent(off).status == "refuted"


@falsifies("scaling_solvable", "plateau_at_M")
def test_plateau_check_passes_on_floor_and_fails_without_plateau():
    assert ss.check_plateau(_rows()).status == "supported"
    # The loss beyond M stays 3x above the floor: no plateau.
    assert ss.check_plateau(_rows(plateau=3.0)).status == "refuted"
    # A power law so steep that its extrapolation is already at the floor: the plateau
    # would not be distinguishable from the law itself.
    steep = _rows(exponent_of=lambda part, a: 3.0)
    assert ss.check_plateau(steep).status == "refuted"


def test_checks_are_inconclusive_without_trials_of_a_part():
    res = _rows()
    only_features = Results(res.trials[res.trials["part"] == "features"], res.curves, res.shards)
    assert ss.check_data_exponent(only_features).status == "inconclusive"


def test_checks_compute_a_verdict_for_an_alpha_and_M_no_preset_contains():
    # alpha = 0.75 and M = 640 are in no preset: every curve present gets its own part with a
    # computed interval and the range alpha +- 0.10 of its own alpha.
    res = _rows(alphas=(0.75,), m=640)
    for check in (ss.check_features_exponent, ss.check_data_exponent, ss.check_plateau):
        verdict = check(res)
        assert verdict.status == "supported", (check.__name__, verdict)
        assert "alpha=0.75" in verdict.measured and "n/a" not in verdict.measured
    assert "[0.65, 0.85]" in ss.check_data_exponent(res).expected
    # Two latent dimensions in one table: one part per (M, alpha), each named by its M.
    both = Results(pd.concat([_rows().trials, _rows(m=640).trials]), pd.DataFrame(), pd.DataFrame())
    verdict = ss.check_features_exponent(both)
    assert verdict.status == "supported" and "M=640 alpha=0.5" in verdict.measured


# ----------------------------------------------------------------------------- engine


def test_presets_cover_fit_range_and_plateau():
    for name in ("demo", "paper"):
        params = [t.params for t in sweep.plan(ss.EXPERIMENT, name).trials]
        for part in ("features", "data"):
            sizes = {p["size"] for p in params if p["part"] == part}
            m = params[0]["M"]
            assert len([s for s in sizes if s <= m * ss.FIT_MAX_OVER_M]) >= 5
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
