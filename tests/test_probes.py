"""Tests for physai.probes against closed forms and dense-Hessian references."""

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.flatten_util import ravel_pytree

from physai import probes

# ---------------------------------------------------------------------------
# Fixtures
# ---------------------------------------------------------------------------


def linear_apply(params, x):
    return x @ params["w"] + params["b"]


@pytest.fixture(scope="module")
def linear_model():
    # Test data come from NumPy: every eager JAX op costs a compile on CPU.
    rng = np.random.default_rng(0)
    params = {"w": rng.normal(size=5).astype(np.float32), "b": np.float32(0.3)}
    x = rng.normal(size=(16, 5)).astype(np.float32)
    return params, x


class ReluNet(nn.Module):
    hidden: int = 32

    @nn.compact
    def __call__(self, x):
        hidden = nn.relu(nn.Dense(self.hidden)(x))  # Named Dense_0.
        return nn.Dense(1)(hidden)  # Named Dense_1.


def relu_net_params(in_dim, hidden, seed):
    """Parameters in Flax's layout for ``ReluNet``, drawn with NumPy.

    Equivalent to ``model.init`` but avoids compiling dozens of tiny eager ops.
    """
    rng = np.random.default_rng(seed)

    def dense(fan_in, fan_out):
        return {
            "kernel": jnp.asarray(rng.normal(size=(fan_in, fan_out)) / np.sqrt(fan_in), jnp.float32),
            "bias": jnp.asarray(0.1 * rng.normal(size=(fan_out,)), jnp.float32),
        }

    return {"params": {"Dense_0": dense(in_dim, hidden), "Dense_1": dense(hidden, 1)}}


def tanh_mlp_apply(params, x):
    """Plain-function MLP (no Flax), showing probes work on any pure apply_fn."""
    for layer in params[:-1]:
        x = jnp.tanh(x @ layer["kernel"] + layer["bias"])
    return x @ params[-1]["kernel"] + params[-1]["bias"]


def init_tanh_mlp(sizes, seed):
    # NumPy init avoids compiling dozens of tiny eager JAX ops in the test setup.
    rng = np.random.default_rng(seed)
    return [
        {
            "kernel": jnp.asarray(rng.normal(size=(fan_in, fan_out)) / np.sqrt(fan_in), jnp.float32),
            "bias": jnp.asarray(0.1 * rng.normal(size=(fan_out,)), jnp.float32),
        }
        for fan_in, fan_out in zip(sizes[:-1], sizes[1:])
    ]


@pytest.fixture(scope="module")
def mse_problem():
    """8 -> 24 -> 24 -> 1 tanh MLP (841 parameters) + MSE on random data, with the
    exact ravelled Hessian and its eigenvalues as reference."""
    rng = np.random.default_rng(2)
    x = jnp.asarray(rng.normal(size=(64, 8)), jnp.float32)
    y = jnp.asarray(rng.normal(size=(64, 1)), jnp.float32)
    params = init_tanh_mlp([8, 24, 24, 1], seed=4)

    def loss_fn(p):
        return jnp.mean(jnp.square(tanh_mlp_apply(p, x) - y))

    flat_params, unravel = ravel_pytree(params)
    dense_hessian = jax.jit(jax.hessian(lambda flat: loss_fn(unravel(flat))))(flat_params)
    # XLA's eigh rather than NumPy's: NumPy's threaded BLAS contends with XLA's
    # thread pool and is several times slower here. float32 is ample for 1% checks.
    eigenvalues = np.asarray(jax.jit(jnp.linalg.eigvalsh)(dense_hessian), np.float64)
    return loss_fn, params, np.asarray(dense_hessian), eigenvalues


# ---------------------------------------------------------------------------
# Lipschitz
# ---------------------------------------------------------------------------


def test_linear_model_gradient_norms_and_bounds_equal_weight_norm(linear_model):
    params, x = linear_model
    w_norm = float(np.linalg.norm(params["w"]))

    @jax.jit
    def all_bounds(params, x):
        return (
            probes.input_gradient_norms(linear_apply, params, x),
            probes.lipschitz_lower_bound(linear_apply, params, x),
            probes.local_lipschitz_pgd(
                linear_apply, params, x, radius=0.5, steps=5, step_size=0.1, key=jax.random.PRNGKey(5)
            ),
            probes.spectral_norm_upper_bound([params["w"]]),
        )

    grad_norms, lower, local, (bound, per_layer) = all_bounds(params, x)
    np.testing.assert_allclose(grad_norms, w_norm, rtol=1e-5)
    np.testing.assert_allclose(lower, w_norm, rtol=1e-5)
    np.testing.assert_allclose(local, w_norm, rtol=1e-5)
    np.testing.assert_allclose(bound, w_norm, rtol=1e-5)
    assert per_layer.shape == (1,)


def test_linear_model_flip_radius_is_margin_over_weight_norm(linear_model):
    params, x = linear_model
    w = params["w"]
    # Add one point too far from the boundary to flip within max_radius.
    far_point = (20.0 * w / np.linalg.norm(w))[None]
    x = np.concatenate([x, far_point])
    radii = jax.jit(lambda p, x: probes.pgd_flip_radius(linear_apply, p, x, max_radius=5.0, num_bisections=24))(
        params, x
    )
    exact = np.abs(x @ w + params["b"]) / np.linalg.norm(w)
    assert np.all(np.asarray(exact[:-1]) < 5.0)
    np.testing.assert_allclose(radii[:-1], exact[:-1], rtol=1e-3)
    assert np.isinf(radii[-1])


def test_relu_net_lipschitz_bounds_are_ordered():
    x = jnp.asarray(np.random.default_rng(6).normal(size=(16, 4)), jnp.float32)
    model = ReluNet(hidden=32)
    params = relu_net_params(4, 32, seed=7)

    kernels = [params["params"]["Dense_0"]["kernel"], params["params"]["Dense_1"]["kernel"]]

    @jax.jit
    def all_bounds(params, x):
        grad_norms = probes.input_gradient_norms(model.apply, params, x)
        lower = jnp.max(grad_norms)  # = lipschitz_lower_bound, tested on the linear model.
        local = probes.local_lipschitz_pgd(
            model.apply, params, x, radius=1.0, steps=20, step_size=0.2, key=jax.random.PRNGKey(8)
        )
        upper, per_layer = probes.spectral_norm_upper_bound(kernels, key=jax.random.PRNGKey(9))
        return grad_norms, lower, local, upper, per_layer

    grad_norms, lower, local, upper, per_layer = all_bounds(params, x)

    exact_per_layer = [np.linalg.norm(np.asarray(k), 2) for k in kernels]
    np.testing.assert_allclose(per_layer, exact_per_layer, rtol=1e-4)
    assert np.all(np.asarray(local) >= np.asarray(grad_norms) - 1e-6)
    assert float(lower) <= float(np.max(local)) + 1e-6
    assert float(np.max(local)) <= float(upper) * (1 + 1e-5)


# ---------------------------------------------------------------------------
# Hessian
# ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def hessian_estimates(mse_problem):
    """Every matrix-free estimate on the MLP, compiled together as one jit (the
    compile dominates the test time on CPU)."""
    loss_fn, params, _, _ = mse_problem
    flat_params, unravel = ravel_pytree(params)
    v = np.random.default_rng(10).normal(size=flat_params.shape).astype(np.float32)

    @jax.jit
    def estimates(params, v):
        key = jax.random.PRNGKey(11)
        return {
            "hvp": ravel_pytree(probes.hvp(loss_fn, params, unravel(v)))[0],
            "power": probes.top_eigenvalue_power(loss_fn, params, 100, key),
            "lanczos": probes.top_eigenvalue_lanczos(loss_fn, params, 30, key),
            # Per-probe std is ~1x the trace here: 4000 probes give ~1.6% std error.
            "trace": probes.hutchinson_trace(loss_fn, params, 4000, key, batch_size=500),
            "slq": probes.stochastic_lanczos_quadrature(loss_fn, params, 40, 2, key),
        }

    return v, estimates(params, v)


def test_hvp_matches_dense_hessian(mse_problem, hessian_estimates):
    _, _, dense_hessian, _ = mse_problem
    v, estimates = hessian_estimates
    # float64 NumPy matvec (single-threaded for this size, unlike the float32 path).
    expected = np.asarray(dense_hessian, np.float64) @ np.asarray(v, np.float64)
    np.testing.assert_allclose(estimates["hvp"], expected, rtol=1e-4, atol=1e-4)


def test_top_eigenvalue_power_and_lanczos_match_dense(mse_problem, hessian_estimates):
    top = mse_problem[3][-1]
    _, estimates = hessian_estimates
    for value, vector in (estimates["power"], estimates["lanczos"]):
        assert abs(float(value) - top) / top < 0.01
        flat_vector = np.concatenate([np.ravel(leaf) for leaf in jax.tree.leaves(vector)])
        np.testing.assert_allclose(np.linalg.norm(flat_vector), 1.0, rtol=1e-4)


def test_hutchinson_trace_matches_dense(mse_problem, hessian_estimates):
    exact = np.trace(mse_problem[2])
    assert abs(float(hessian_estimates[1]["trace"]) - exact) / exact < 0.05


def test_stochastic_lanczos_quadrature_finds_top_eigenvalue_and_normalised_density(mse_problem, hessian_estimates):
    eigenvalues = mse_problem[3]
    nodes, weights = hessian_estimates[1]["slq"]
    assert nodes.shape == weights.shape == (2, 40)
    np.testing.assert_allclose(np.sum(weights, axis=1), 1.0, rtol=1e-4)
    assert abs(float(np.max(nodes)) - eigenvalues[-1]) / eigenvalues[-1] < 0.01

    grid = np.linspace(eigenvalues[0] - 1.0, eigenvalues[-1] + 1.0, 400)
    density = np.asarray(jax.jit(probes.smoothed_spectral_density)(nodes, weights, grid))
    assert density.shape == grid.shape and np.all(density >= 0)
    assert abs(np.sum(density) * (grid[1] - grid[0]) - 1.0) < 0.02


def test_hessian_probes_run_inside_scan():
    """The trainer logs sharpness inside lax.scan; every probe must trace there."""
    rng = np.random.default_rng(14)
    x = rng.normal(size=(16, 3)).astype(np.float32)
    y = x @ np.array([1.0, -2.0, 0.5], np.float32)
    # The loss is quadratic, so its Hessian 2 X^T X / n is known and constant.
    exact_eigenvalues = np.linalg.eigvalsh(2 * x.T.astype(np.float64) @ x / x.shape[0])
    grid = np.linspace(0.0, exact_eigenvalues[-1] + 1.0, 200, dtype=np.float32)

    def loss_at(w):
        return jnp.mean(jnp.square(x @ w - y))

    def train_step(w, step_key):
        logs = jnp.stack(
            [
                probes.top_eigenvalue_power(loss_at, w, 50, step_key)[0],
                probes.top_eigenvalue_power(loss_at, w, 200, step_key, tol=1e-7)[0],
                probes.top_eigenvalue_lanczos(loss_at, w, 3, step_key)[0],
                probes.hutchinson_trace(loss_at, w, 4, step_key),
            ]
        )
        density = probes.spectral_density_slq(loss_at, w, 3, 2, step_key, grid)
        return w - 0.05 * jax.grad(loss_at)(w), (logs, density)

    _, (logs, densities) = jax.jit(lambda w: jax.lax.scan(train_step, w, jax.random.split(jax.random.PRNGKey(15), 3)))(
        np.zeros(3, np.float32)
    )
    np.testing.assert_allclose(logs[:, :3], exact_eigenvalues[-1], rtol=1e-3)
    assert np.all(np.isfinite(logs[:, 3]))
    integrals = np.sum(densities, axis=1) * float(grid[1] - grid[0])
    np.testing.assert_allclose(integrals, 1.0, atol=0.02)


# ---------------------------------------------------------------------------
# Landscape
# ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def small_mlp_problem():
    rng = np.random.default_rng(16)
    x = jnp.asarray(rng.normal(size=(32, 4)), jnp.float32)
    y = jnp.asarray(rng.normal(size=(32, 1)), jnp.float32)
    model = ReluNet(hidden=8)
    params = relu_net_params(4, 8, seed=18)

    def loss_fn(p):
        return jnp.mean(jnp.square(model.apply(p, x) - y))

    return loss_fn, params


def test_filter_normalized_direction_matches_filter_norms(small_mlp_problem):
    _, params = small_mlp_problem
    direction = jax.jit(lambda p: probes.filter_normalized_direction(p, jax.random.PRNGKey(19)))(params)
    assert jax.tree.structure(direction) == jax.tree.structure(params)
    for layer in ("Dense_0", "Dense_1"):
        kernel = params["params"][layer]["kernel"]
        kernel_direction = direction["params"][layer]["kernel"]
        assert kernel_direction.shape == kernel.shape
        # One filter = one output unit = one column of the (in, out) kernel.
        np.testing.assert_allclose(np.linalg.norm(kernel_direction, axis=0), np.linalg.norm(kernel, axis=0), rtol=1e-5)
        assert not np.allclose(kernel_direction, kernel)
        np.testing.assert_array_equal(direction["params"][layer]["bias"], 0.0)


def test_loss_slices_shapes_and_origin(small_mlp_problem):
    loss_fn, params = small_mlp_problem
    alphas = np.linspace(-1.0, 1.0, 5, dtype=np.float32)  # Contains 0 at index 2.
    betas = np.linspace(-0.5, 0.5, 3, dtype=np.float32)  # Contains 0 at index 1.

    @jax.jit
    def slices(params):
        key1, key2 = jax.random.split(jax.random.PRNGKey(20))
        d1 = probes.filter_normalized_direction(params, key1)
        d2 = probes.filter_normalized_direction(params, key2)
        off_center = jax.tree.map(lambda p, a, b: p + alphas[0] * a + betas[2] * b, params, d1, d2)
        return (
            loss_fn(params),
            loss_fn(off_center),
            probes.loss_slice_1d(loss_fn, params, d1, alphas),
            probes.loss_slice_2d(loss_fn, params, d1, d2, alphas, betas),
            probes.loss_slice_2d(loss_fn, params, d1, d2, alphas, betas, batch_size=4),
        )

    loss_at_center, loss_off_center, slice_1d, slice_2d, chunked = slices(params)
    assert slice_1d.shape == (5,)
    np.testing.assert_allclose(slice_1d[2], loss_at_center, rtol=1e-6)
    assert slice_2d.shape == (5, 3)
    np.testing.assert_allclose(slice_2d[2, 1], loss_at_center, rtol=1e-6)
    np.testing.assert_allclose(slice_2d[0, 2], loss_off_center, rtol=1e-5)
    # Chunked evaluation (lax.map with batch_size) gives the same grid.
    np.testing.assert_allclose(chunked, slice_2d, rtol=1e-6)


def test_convex_quadratic_linear_path_has_no_barrier():
    rng = np.random.default_rng(21)
    matrix = rng.normal(size=(6, 6)).astype(np.float32)
    curvature = matrix @ matrix.T + 0.1 * np.eye(6, dtype=np.float32)
    center = np.arange(6.0, dtype=np.float32)

    def loss_fn(p):
        offset = p["w"] - center
        return 0.5 * offset @ curvature @ offset

    ts = np.linspace(0.0, 1.0, 21, dtype=np.float32)
    offset = rng.normal(size=6).astype(np.float32)
    other_end = {"w": center + 2.0 * rng.normal(size=6).astype(np.float32)}

    @jax.jit
    def barriers(start, mirrored_end, other_end):
        symmetric_losses = probes.linear_path_losses(loss_fn, start, mirrored_end, ts)
        asymmetric_losses = probes.linear_path_losses(loss_fn, start, other_end, ts)
        return (
            probes.path_barrier(symmetric_losses),
            symmetric_losses[0],
            probes.path_barrier_above_chord(asymmetric_losses, ts),
            jnp.max(asymmetric_losses),
        )

    symmetric_barrier, endpoint_loss, chord_barrier, max_loss = barriers(
        {"w": center + offset}, {"w": center - offset}, other_end
    )
    # Symmetric endpoints have equal losses, so max-minus-mean is <= 0 (up to rounding).
    assert float(symmetric_barrier) <= 1e-5 * float(endpoint_loss)
    # Arbitrary endpoints: the chord-relative barrier is <= 0 for convex losses.
    assert float(chord_barrier) <= 1e-5 * float(max_loss)


def test_bezier_bend_lowers_barrier_on_a_ring():
    def ring_loss(p):
        # Minima form the unit circle; a straight chord between two of them cuts
        # through the interior, where the loss rises to a bump of 1 at the origin.
        return jnp.square(jnp.sum(jnp.square(p["w"])) - 1.0)

    angle = 2.5  # Not antipodal, so the midpoint gradient breaks the symmetry.
    params_a = {"w": np.array([1.0, 0.0], np.float32)}
    params_b = {"w": np.array([np.cos(angle), np.sin(angle)], np.float32)}
    ts = np.linspace(0.0, 1.0, 51, dtype=np.float32)

    @jax.jit
    def barriers(params_a, params_b):
        linear_barrier = probes.path_barrier(probes.linear_path_losses(ring_loss, params_a, params_b, ts))
        theta, train_losses = probes.train_bezier_bend(
            ring_loss, params_a, params_b, steps=300, lr=0.05, key=jax.random.PRNGKey(24)
        )
        bezier_losses = probes.bezier_path_losses(ring_loss, params_a, theta, params_b, ts)
        start = probes.bezier_point(params_a, theta, params_b, 0.0)
        return linear_barrier, probes.path_barrier(bezier_losses), train_losses, start

    linear_barrier, bezier_barrier, train_losses, start = barriers(params_a, params_b)
    assert train_losses.shape == (300,)
    np.testing.assert_allclose(start["w"], params_a["w"], atol=1e-6)
    assert float(linear_barrier) > 0.5
    assert float(bezier_barrier) < 0.1 * float(linear_barrier)


# ---------------------------------------------------------------------------
# Lipschitz: smoothed-surrogate search for ReLU nets
# ---------------------------------------------------------------------------

from physai.probes import lipschitz as lip  # noqa: E402


def _mlp_apply(params, x):
    """A physai.models.MLP-layout 2-layer ReLU net as a plain function."""
    h = jax.nn.relu(x @ params["hidden_0"]["kernel"] + params["hidden_0"]["bias"])
    return h @ params["readout"]["kernel"] + params["readout"]["bias"]


def _mlp_params(w1, b1, a):
    return {
        "hidden_0": {"kernel": jnp.asarray(w1, jnp.float32), "bias": jnp.asarray(b1, jnp.float32)},
        "readout": {"kernel": jnp.asarray(a, jnp.float32)[:, None], "bias": jnp.zeros(1)},
    }


def test_softplus_surrogate_tends_to_the_relu_net():
    rng = np.random.default_rng(0)
    params = _mlp_params(rng.normal(size=(3, 8)), rng.normal(size=8), rng.normal(size=8))
    x = jnp.asarray(rng.normal(size=(10, 3)), jnp.float32)
    relu = np.asarray(_mlp_apply(params, x))
    far = np.abs(np.asarray(lip.softplus_mlp_apply(params, x, 1.0)) - relu).max()
    near = np.abs(np.asarray(lip.softplus_mlp_apply(params, x, 1e3)) - relu).max()
    assert near < 1e-2 < far


def test_smoothed_search_finds_the_rare_all_active_pattern():
    # Orthonormal hidden weights, no bias, positive read-out: every gate pattern occurs
    # (one per orthant) and the Lipschitz constant is exactly ||a||, reached only where
    # all 24 units are active: probability 2^-24 per sample, so sampled points miss it.
    d, w = 40, 24
    rng = np.random.default_rng(1)
    a = rng.uniform(0.5, 1.5, size=w)
    params = _mlp_params(np.eye(d)[:, :w], np.zeros(w), a)
    x = jnp.asarray(rng.normal(size=(256, d)) / np.sqrt(d), jnp.float32)
    exact = float(np.linalg.norm(a))

    @jax.jit
    def bounds(params, x):
        sampled = lip.input_gradient_norms(_mlp_apply, params, x)
        found = lip.smoothed_gradient_search(
            _mlp_apply, lip.softplus_mlp_apply, params, x[:32], radius=1.0, steps=100, step_size=0.2
        )
        walk = lip.local_lipschitz_pgd(_mlp_apply, params, x[:32], 1.0, 100, 0.2, jax.random.PRNGKey(0))
        return sampled, found, walk

    sampled, found, walk = bounds(params, x)
    assert float(sampled.max()) < 0.95 * exact  # the sampled max falls short
    assert float(walk.max()) < 0.99 * exact  # so does the random walk of local_lipschitz_pgd
    assert float(found.max()) == pytest.approx(exact, rel=1e-4)  # the search reaches it
    assert np.all(np.asarray(found) >= np.asarray(sampled[:32]) - 1e-6)  # never below the start


def test_smoothed_search_is_a_valid_lower_bound_that_matches_brute_force():
    # A random 2-d ReLU net: the exact Lipschitz constant is the largest gradient over the
    # linear regions. A dense grid over a box that holds every kink sees (nearly) every
    # region; the max over all 2^w gate subsets is an upper bound on any real gradient.
    d, w = 2, 7
    rng = np.random.default_rng(2)
    w1, b1, a = rng.normal(size=(d, w)), 0.3 * rng.normal(size=w), rng.normal(size=w)
    params = _mlp_params(w1, b1, a)
    g = np.linspace(-20, 20, 1201)
    grid = np.stack(np.meshgrid(g, g), -1).reshape(-1, 2)
    gates = (grid @ w1 + b1 > 0).astype(float)
    grid_max = np.linalg.norm(gates @ (a[:, None] * w1.T), axis=1).max()
    subsets = np.array(np.meshgrid(*[[0, 1]] * w)).reshape(w, -1).T
    subset_max = np.linalg.norm(subsets @ (a[:, None] * w1.T), axis=1).max()
    x = jnp.asarray(rng.normal(size=(16, d)), jnp.float32)
    found = jax.jit(
        lambda p, x: lip.smoothed_gradient_search(
            _mlp_apply, lip.softplus_mlp_apply, p, x, radius=jnp.inf, steps=200, step_size=1.0
        )
    )(params, x)
    assert float(found.max()) <= subset_max * (1 + 1e-5)
    assert float(found.max()) == pytest.approx(grid_max, rel=1e-4)


def test_smoothed_search_on_a_linear_model_is_the_weight_norm(linear_model):
    params, x = linear_model
    found = jax.jit(
        lambda p, x: lip.smoothed_gradient_search(
            linear_apply, lambda p, z, beta: linear_apply(p, z), p, x, radius=0.5, steps=10, step_size=0.1
        )
    )(params, x)
    np.testing.assert_allclose(found, np.linalg.norm(params["w"]), rtol=1e-5)
