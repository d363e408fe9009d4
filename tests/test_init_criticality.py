"""init_criticality: the sampler is exact, and every check can fail on a synthetic table."""

import itertools
import math

import jax
import jax.numpy as jnp
import numpy as np
import pandas as pd
import pytest

from experiments import init_criticality as ic
from experiments.init_criticality import trainability
from physai import Results
from tests.falsification import falsifies

DEPTH = 48
RELU_WIDTHS = (64, 128, 256, 512)
TANH_WIDTHS = (192, 384, 768, 1536)  # L/n <= 1/4 for all four at L = 48
SEEDS = range(4)


def _law(activation, cw, width, layers, *, slope=None, tanh=None, variance=None, kurt=None):
    """Per-layer moments of the effective theory (or of a broken variant, when a law is given)."""
    if activation == "relu":
        m2 = cw * np.exp((layers - 1) * (math.log(cw / 2) if slope is None else slope))
    else:
        m2 = ic.tanh_kernel(layers.size) * (1 - 0.3 * layers / width) if tanh is None else tanh(layers)
    var = (5 * (layers - 1) + 2) / width if variance is None else variance(layers, width)
    excess = (15 if activation == "relu" else 2) * (layers - 1) / width if kurt is None else kurt(layers, width)
    return {"m2": m2, "m4": 3 * m2**2 * (1 + excess / 3), "logq_var": var}


def _results(**broken) -> Results:
    """A synthetic paper-like table: ReLU at C_W in {1.5, 2, 2.5}, tanh at C_W = 1, 4 seeds, with
    0.2% seed-to-seed noise on every moment."""
    rng = np.random.default_rng(0)
    layers = np.arange(1, DEPTH + 1, dtype=float)
    trials, curves = [], []
    configs = [("relu", cw, w) for cw, w in itertools.product((1.5, 2.0, 2.5), RELU_WIDTHS)]
    configs += [("tanh", 1.0, w) for w in TANH_WIDTHS]
    for (activation, cw, width), seed in itertools.product(configs, SEEDS):
        tid = f"{activation}-{cw}-{width}-{seed}"
        trials.append(dict(trial_id=tid, seed=seed, activation=activation, cw=cw, cb=0.0, width=width, status="ok"))
        for metric, values in _law(activation, cw, width, layers, **broken).items():
            noisy = values * (1 + 0.002 * rng.standard_normal(layers.size))
            curves.append(pd.DataFrame(dict(trial_id=tid, step=layers, split="init", metric=metric, value=noisy)))
    return Results(pd.DataFrame(trials), pd.concat(curves, ignore_index=True), pd.DataFrame())


@pytest.fixture(scope="module")
def holds():
    return _results()


@falsifies("init_criticality", "relu_depth_slope")
def test_relu_slope_fails_when_the_growth_factor_is_off(holds):
    assert ic.check_relu_slope(holds).status == "supported"
    off = _results(slope=math.log(1.05))  # every C_W grows by 5% per layer: only C_W = 2.1 would
    assert ic.check_relu_slope(off).status == "refuted"


@falsifies("init_criticality", "tanh_kernel_decay")
def test_tanh_decay_fails_when_the_kernel_decays_like_1_over_l(holds):
    assert ic.check_tanh_decay(holds).status == "supported"
    assert ic.check_tanh_decay(_results(tanh=lambda k: 1 / k)).status == "refuted"  # a_1 = -1: l K -> 1
    assert ic.check_tanh_decay(_results(tanh=lambda k: 1 / (3 * k))).status == "refuted"  # a_1 = -3


@falsifies("init_criticality", "relu_variance_slope")
def test_variance_fails_without_the_one_over_width_scaling_or_with_another_constant(holds):
    assert ic.check_relu_variance(holds).status == "supported"
    fixed = _results(variance=lambda k, n: (5 * (k - 1) + 2) / 64)  # does not shrink with width
    assert ic.check_relu_variance(fixed).status == "refuted"
    three = _results(variance=lambda k, n: (3 * (k - 1) + 2) / n)  # a slope of 3, not 5
    assert ic.check_relu_variance(three).status == "refuted"


@falsifies("init_criticality", "kurtosis_depth_width")
def test_kurtosis_fails_when_it_falls_with_depth_or_grows_with_width(holds):
    assert ic.check_kurtosis(holds).status == "supported"
    falling = _results(kurt=lambda k, n: 10 * (DEPTH - k + 1) / n)
    assert ic.check_kurtosis(falling).status == "refuted"
    growing = _results(kurt=lambda k, n: 0.1 * k * n / 64)  # grows with depth, but also with width
    assert ic.check_kurtosis(growing).status == "refuted"


def test_tanh_band_contains_the_infinite_width_recursion():
    # the band's corrections are derived, not fitted: the exact recursion from K(1) = 1 must lie inside
    for depth in (8, 16, 32, 64, 128):
        low, high = ic.tanh_band(depth)
        assert low <= depth * ic.tanh_kernel(depth)[-1] <= high


def test_weight_free_sampler_matches_explicit_weight_matrices():
    """The one-input shortcut against real Gaussian weight matrices (same law, different draws)."""
    width, depth, nets, cw = 16, 4, 4000, 2.0
    fast = ic.ensemble_moments(jax.random.key(0), cw, 0.0, "relu", width, depth, nets)

    def explicit(key):
        x = jnp.ones(width)  # ||x||^2 / n_0 = 1
        out = []
        for k in jax.random.split(key, depth):
            w = jax.random.normal(k, (width, width)) * jnp.sqrt(cw / width)
            z = w @ x
            out.append(jnp.mean(z * z))
            x = jax.nn.relu(z)
        return jnp.stack(out)

    q = jax.vmap(explicit)(jax.random.split(jax.random.key(1), nets))
    np.testing.assert_allclose(np.asarray(q.mean(0)), np.asarray(fast["m2"]), rtol=0.1)
    np.testing.assert_allclose(np.asarray(jnp.var(jnp.log(q), 0, ddof=1)), np.asarray(fast["logq_var"]), rtol=0.15)
    # and the exact variance law of the sampler: (l - 1) n Var ln X + n Var ln chi^2_n/n, ~ (5.7 (l-1) + 2.1)/16
    assert float(fast["logq_var"][-1]) == pytest.approx((6.71 * 3 + 2.13) / width, rel=0.1)


# ----------------------------------------------------------------------------- trainability

TRAIN_CWS = (1.0, 1.25, 1.75, 3.0, 4.0)
TRAIN_DEPTHS = (8, 16, 32, 64, 128)


def _train_results(accuracy) -> Results:
    """Synthetic training trials on the paper grid: ``accuracy(cw, depth, six_xi)`` per point,
    with +-0.02 seed noise."""
    rng = np.random.default_rng(1)
    rows = []
    for cw, depth, seed in itertools.product(TRAIN_CWS, TRAIN_DEPTHS, range(4)):
        acc = accuracy(cw, depth, 6 * ic.correlation_depth(cw, 0.05)) + 0.02 * rng.standard_normal()
        rows.append(dict(trial_id=f"t{cw}-{depth}-{seed}", part="train", seed=seed, cw=cw, cb=0.05, depth=depth,
                         width=64, status="ok", train_acc=acc))  # fmt: skip
    return Results(pd.DataFrame(rows), pd.DataFrame(), pd.DataFrame())


@falsifies("init_criticality", "trainable_depth")
def test_trainability_fails_when_depth_alone_or_nothing_decides():
    follows = _train_results(lambda cw, depth, six_xi: 0.95 if depth < six_xi else 0.5)
    assert ic.check_trainability(follows).status == "supported"
    shallow = _train_results(lambda cw, depth, six_xi: 0.95 if depth <= 32 else 0.5)  # depth alone decides
    assert ic.check_trainability(shallow).status != "supported"
    everything = _train_results(lambda cw, depth, six_xi: 0.95)  # every net trains: no boundary at all
    assert ic.check_trainability(everything).status == "refuted"
    inverted = _train_results(lambda cw, depth, six_xi: 0.5 if depth < six_xi else 0.95)
    assert ic.check_trainability(inverted).status == "refuted"


def test_correlation_depth_matches_the_closed_forms():
    # ordered phase: chi_c = chi_1 = cw E[sech^4(sqrt(q*) z)] at the fixed point q*
    x, w = np.polynomial.hermite_e.hermegauss(81)
    w = w / w.sum()
    q = trainability.q_star(1.0, 0.05)
    assert q == pytest.approx(1.0 * np.sum(w * np.tanh(np.sqrt(q) * x) ** 2) + 0.05, rel=1e-10)
    chi1 = 1.0 * np.sum(w / np.cosh(np.sqrt(q) * x) ** 4)
    assert ic.correlation_depth(1.0, 0.05) == pytest.approx(-1 / np.log(chi1), rel=1e-6)
    # criticality (sigma_b = 0, sigma_w^2 = 1: q* = 0, chi_1 = 1) has an infinite depth scale;
    # xi_c is largest near the order-to-chaos transition (~1.76 at sigma_b^2 = 0.05) on both sides
    assert ic.correlation_depth(1.0, 0.0) > 1e3
    xi = [ic.correlation_depth(cw, 0.05) for cw in (1.0, 1.5, 1.75, 2.5, 4.0)]
    assert xi[0] < xi[1] < xi[2] and xi[2] > xi[3] > xi[4]
