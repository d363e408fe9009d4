"""rl_verifiable_rewards: the exact pass@k against sampling, and every check on hand-made tables
that must pass and must fail."""

import jax
import jax.numpy as jnp
import numpy as np
import pandas as pd

from experiments import rl_verifiable_rewards as rl
from physai import Results
from tests.falsification import falsifies

SEEDS = range(6)


def _results(values: dict) -> Results:
    """One trial per (regime, seed); values[regime] = dict column -> (mean, spread)."""
    rng = np.random.default_rng(0)
    rows = []
    for regime, cols in values.items():
        for seed in SEEDS:
            row = {"trial_id": f"{regime}{seed}", "regime": regime, "seed": seed, "status": "ok"}
            for col, (mean, spread) in cols.items():
                row[col] = mean + spread * rng.standard_normal()
            rows.append(row)
    return Results(pd.DataFrame(rows), pd.DataFrame(), pd.DataFrame(), "rl_verifiable_rewards", "test")


def _table(base1, rl1, baseK, rlK, regimes=rl.REGIMES):
    cols = {
        "base_pass1_heldout": (base1, 0.01),
        "rl_pass1_heldout": (rl1, 0.01),
        "base_passK_heldout": (baseK, 0.01),
        "rl_passK_heldout": (rlK, 0.01),
    }
    return _results({r: cols for r in regimes})


def test_exact_success_matches_sampled_rollouts():
    p = 7
    key = jax.random.PRNGKey(0)
    params = rl.init(key, p, 16)
    f, g = jax.random.permutation(jax.random.PRNGKey(1), p), jax.random.permutation(jax.random.PRNGKey(2), p)
    q = np.asarray(rl.success(params, f, g))
    n = 20000
    xs = jnp.repeat(jnp.arange(p), n)
    z = jax.random.categorical(jax.random.PRNGKey(3), rl.log_policy(params, rl.C1, xs))
    y = jax.random.categorical(jax.random.PRNGKey(4), rl.log_policy(params, rl.C2, z))
    sampled = np.asarray((y == f[g][xs]).reshape(p, n).mean(1))
    assert np.all(np.abs(sampled - q) < 5 * np.sqrt(q * (1 - q) / n) + 1e-3)


@falsifies("rl_verifiable_rewards", "pass1_rises")
def test_pass1_rises_can_fail():
    assert rl.check_pass1_rises(_table(0.2, 0.6, 1, 1)).status == "supported"
    assert rl.check_pass1_rises(_table(0.2, 0.1, 1, 1)).status == "refuted"


@falsifies("rl_verifiable_rewards", "coverage_narrows")
def test_coverage_narrows_can_fail():
    assert rl.check_coverage_narrows(_table(0.2, 0.6, 0.95, 0.9)).status == "supported"
    assert rl.check_coverage_narrows(_table(0.2, 0.6, 0.7, 0.95)).status == "refuted"


@falsifies("rl_verifiable_rewards", "new_skill_from_components")
def test_new_skill_can_fail():
    assert rl.check_new_skill(_table(0.1, 0.5, 0.5, 0.9)).status == "supported"
    assert rl.check_new_skill(_table(0.1, 0.1, 0.5, 0.4)).status == "refuted"


@falsifies("rl_verifiable_rewards", "no_skill_without_component")
def test_control_can_fail():
    assert rl.check_control(_table(0.0, 0.0, 0.01, 0.01)).status == "supported"
    assert rl.check_control(_table(0.0, 0.3, 0.01, 0.6)).status == "refuted"


def test_missing_regime_is_inconclusive():
    assert rl.check_new_skill(_table(0.1, 0.5, 0.5, 0.9, regimes=["sharpen"])).status == "inconclusive"
