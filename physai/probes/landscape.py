"""Loss-landscape probes: filter-normalised slices and mode-connecting paths.

* Li et al. (2018), "Visualizing the Loss Landscape of Neural Nets": random
  directions rescaled filter by filter (:func:`filter_normalized_direction`) and
  1-D / 2-D loss slices along them (:func:`loss_slice_1d`, :func:`loss_slice_2d`).
* Garipov et al. (2018), "Loss Surfaces, Mode Connectivity, and Fast Ensembling
  of DNNs": the loss along the straight line between two solutions
  (:func:`linear_path_losses`) versus along a trained quadratic Bezier curve
  (:func:`bezier_point`, :func:`train_bezier_bend`), summarised by the barrier
  height (:func:`path_barrier`, :func:`path_barrier_above_chord`).

Conventions:
    ``loss_fn(params) -> scalar`` closes over the data; ``params`` is any pytree
    of float arrays. Grids of points are evaluated as one batched computation
    (``vmap``, or ``lax.map`` in chunks when ``batch_size`` is set to bound
    memory), never a Python loop. All functions are jit-able with ``loss_fn``
    closed over and integer arguments given as Python ints.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import optax

LossFn = Callable[[Any], jax.Array]

# Avoids 0/0 when a random direction's filter happens to be all zeros.
_TINY = 1e-10


def _batched_map(fn: Callable, xs: Any, batch_size: int | None) -> jax.Array:
    """``vmap`` over the leading axis, or chunked ``lax.map`` to cap memory."""
    if batch_size is None:
        return jax.vmap(fn)(xs)
    return jax.lax.map(fn, xs, batch_size=batch_size)


def _axpy(params: Any, direction: Any, scale: jax.Array) -> Any:
    """``params + scale * direction`` leaf by leaf."""
    return jax.tree.map(lambda p, d: p + scale * d, params, direction)


def filter_normalized_direction(params: Any, key: jax.Array) -> Any:
    """Random Gaussian direction with filter-wise normalisation (Li et al., 2018).

    Every filter of the random direction is rescaled to the norm of the
    corresponding filter of ``params``, so that a step of size 1 changes each
    neuron by as much as its own weight scale; this removes the scale invariance
    of ReLU networks that makes raw random slices incomparable across models.

    Filter convention: for leaves with ``ndim >= 2`` a filter is a slice along
    the **last** axis, i.e. one output unit. For a Flax ``Dense`` kernel of shape
    ``(in, out)`` that is a column ``kernel[:, j]``; for a Flax ``Conv`` kernel of
    shape ``(h, w, in, out)`` it is ``kernel[..., j]``. Biases and other leaves
    with ``ndim <= 1`` (LayerNorm scales, ...) get a zero direction, following
    Li et al.'s "ignore biases" choice.

    Args:
        params: Parameters (pytree) defining the filter norms.
        key: PRNG key.

    Returns:
        A pytree with the structure, shapes and dtypes of ``params``.
    """
    leaves, treedef = jax.tree.flatten(params)
    leaf_keys = jax.random.split(key, max(len(leaves), 1))

    def normalized_leaf(weight, leaf_key):
        if weight.ndim <= 1:
            return jnp.zeros_like(weight)
        direction = jax.random.normal(leaf_key, weight.shape, weight.dtype)
        reduce_axes = tuple(range(weight.ndim - 1))  # All but the output-unit axis.
        weight_norms = jnp.sqrt(jnp.sum(jnp.square(weight), axis=reduce_axes, keepdims=True))
        direction_norms = jnp.sqrt(jnp.sum(jnp.square(direction), axis=reduce_axes, keepdims=True))
        return direction * weight_norms / jnp.maximum(direction_norms, _TINY)

    return jax.tree.unflatten(treedef, [normalized_leaf(w, k) for w, k in zip(leaves, leaf_keys)])


def loss_slice_1d(
    loss_fn: LossFn,
    params: Any,
    direction: Any,
    alphas: jax.Array,
    batch_size: int | None = None,
) -> jax.Array:
    """Loss along a line: ``L(params + alpha * direction)`` for each alpha.

    Args:
        loss_fn: Scalar loss as a function of ``params``.
        params: Centre of the slice (pytree).
        direction: Direction with the structure of ``params``.
        alphas: 1-D array of step sizes.
        batch_size: If set, evaluate in chunks of this many points (memory cap).

    Returns:
        Losses, shape ``alphas.shape``.
    """
    alphas = jnp.asarray(alphas)
    return _batched_map(lambda a: loss_fn(_axpy(params, direction, a)), alphas, batch_size)


def loss_slice_2d(
    loss_fn: LossFn,
    params: Any,
    d1: Any,
    d2: Any,
    alphas: jax.Array,
    betas: jax.Array,
    batch_size: int | None = None,
) -> jax.Array:
    """Loss on a plane: ``L(params + alpha * d1 + beta * d2)`` over a grid.

    Args:
        loss_fn: Scalar loss as a function of ``params``.
        params: Centre of the slice (pytree).
        d1: First direction (structure of ``params``).
        d2: Second direction (structure of ``params``).
        alphas: 1-D array of coefficients along ``d1``.
        betas: 1-D array of coefficients along ``d2``.
        batch_size: If set, evaluate in chunks of this many grid points.

    Returns:
        Losses of shape ``(len(alphas), len(betas))``; entry ``[i, j]`` is at
        ``(alphas[i], betas[j])``.
    """
    alphas, betas = jnp.asarray(alphas), jnp.asarray(betas)
    alpha_grid, beta_grid = jnp.meshgrid(alphas, betas, indexing="ij")

    def loss_at(coefficients):
        alpha, beta = coefficients
        return loss_fn(_axpy(_axpy(params, d1, alpha), d2, beta))

    # Flatten the grid so one vmap (or chunked map) covers every point.
    flat_losses = _batched_map(loss_at, (alpha_grid.ravel(), beta_grid.ravel()), batch_size)
    return flat_losses.reshape(alpha_grid.shape)


def linear_path_losses(
    loss_fn: LossFn,
    params_a: Any,
    params_b: Any,
    ts: jax.Array,
    batch_size: int | None = None,
) -> jax.Array:
    """Loss along the straight line ``(1 - t) * a + t * b``.

    Args:
        loss_fn: Scalar loss as a function of ``params``.
        params_a: Endpoint at ``t = 0`` (pytree).
        params_b: Endpoint at ``t = 1`` (same structure).
        ts: 1-D array of interpolation coefficients.
        batch_size: If set, evaluate in chunks of this many points.

    Returns:
        Losses, shape ``ts.shape``.
    """

    def loss_at(t):
        return loss_fn(jax.tree.map(lambda a, b: (1.0 - t) * a + t * b, params_a, params_b))

    return _batched_map(loss_at, jnp.asarray(ts), batch_size)


def bezier_point(params_a: Any, theta: Any, params_b: Any, t: jax.Array) -> Any:
    """Point on the quadratic Bezier curve ``(1-t)^2 a + 2 t (1-t) theta + t^2 b``.

    Args:
        params_a: Endpoint at ``t = 0`` (pytree).
        theta: Control point (same structure); the curve passes near, not through, it.
        params_b: Endpoint at ``t = 1`` (same structure).
        t: Scalar curve parameter in ``[0, 1]``.

    Returns:
        Pytree with the structure of ``params_a``.
    """
    return jax.tree.map(
        lambda a, c, b: jnp.square(1.0 - t) * a + 2.0 * t * (1.0 - t) * c + jnp.square(t) * b,
        params_a,
        theta,
        params_b,
    )


def bezier_path_losses(
    loss_fn: LossFn,
    params_a: Any,
    theta: Any,
    params_b: Any,
    ts: jax.Array,
    batch_size: int | None = None,
) -> jax.Array:
    """Loss along a quadratic Bezier curve at each ``t`` in ``ts``.

    Args:
        loss_fn: Scalar loss as a function of ``params``.
        params_a: Endpoint at ``t = 0`` (pytree).
        theta: Control point (same structure).
        params_b: Endpoint at ``t = 1`` (same structure).
        ts: 1-D array of curve parameters.
        batch_size: If set, evaluate in chunks of this many points.

    Returns:
        Losses, shape ``ts.shape``.
    """
    return _batched_map(lambda t: loss_fn(bezier_point(params_a, theta, params_b, t)), jnp.asarray(ts), batch_size)


def train_bezier_bend(
    loss_fn: LossFn,
    params_a: Any,
    params_b: Any,
    steps: int,
    lr: float,
    key: jax.Array,
    batch_ts: int = 8,
) -> tuple[Any, jax.Array]:
    """Trains the control point of a quadratic Bezier curve between two solutions.

    Following Garipov et al. (2018), ``theta`` starts at the midpoint of the
    endpoints (so the initial curve is the straight line) and minimises the
    expected loss along the curve, ``E_{t ~ U(0,1)} L(bezier(a, theta, b, t))``,
    estimated with ``batch_ts`` fresh samples of ``t`` per step. Optimised with
    Adam inside ``lax.scan``, so the whole loop compiles once.

    Note: if the problem is symmetric about the straight line (e.g. two antipodal
    points of a ring), the gradient with respect to ``theta`` is exactly zero at
    the midpoint and the curve cannot bend; perturb ``theta`` or the endpoints.

    Args:
        loss_fn: Scalar loss as a function of ``params``.
        params_a: Endpoint at ``t = 0`` (pytree, kept fixed).
        params_b: Endpoint at ``t = 1`` (kept fixed).
        steps: Optimisation steps (Python int).
        lr: Adam learning rate.
        key: PRNG key for sampling ``t``.
        batch_ts: Samples of ``t`` per step (Python int).

    Returns:
        ``(theta, losses)``: the trained control point and the per-step Monte
        Carlo estimate of the expected curve loss, shape ``(steps,)``.
    """
    theta = jax.tree.map(lambda a, b: 0.5 * (a + b), params_a, params_b)
    optimizer = optax.adam(lr)

    def expected_curve_loss(theta, ts):
        curve_losses = jax.vmap(lambda t: loss_fn(bezier_point(params_a, theta, params_b, t)))(ts)
        return jnp.mean(curve_losses)

    def train_step(carry, step_key):
        theta, optimizer_state = carry
        ts = jax.random.uniform(step_key, (batch_ts,))
        loss, grads = jax.value_and_grad(expected_curve_loss)(theta, ts)
        updates, optimizer_state = optimizer.update(grads, optimizer_state, theta)
        return (optax.apply_updates(theta, updates), optimizer_state), loss

    (theta, _), losses = jax.lax.scan(train_step, (theta, optimizer.init(theta)), jax.random.split(key, steps))
    return theta, losses


def path_barrier(losses: jax.Array) -> jax.Array:
    """Barrier height: maximum loss along a path minus the mean endpoint loss.

    Args:
        losses: 1-D array of losses along a path, first and last entries at the
            endpoints (e.g. from :func:`linear_path_losses`).

    Returns:
        Scalar ``max(losses) - (losses[0] + losses[-1]) / 2``. Positive values
        mean the path crosses a ridge; note that with unequal endpoint losses it
        is positive even for a monotone path (see :func:`path_barrier_above_chord`).
    """
    losses = jnp.asarray(losses)
    return jnp.max(losses) - 0.5 * (losses[0] + losses[-1])


def path_barrier_above_chord(losses: jax.Array, ts: jax.Array) -> jax.Array:
    """Barrier relative to the chord between endpoint losses (Frankle et al., 2020).

    ``max_t [L(t) - ((1 - t) L(0) + t L(1))]``: unlike :func:`path_barrier` it is
    zero for a path whose loss is linear in ``t`` and ``<= 0`` for any convex loss
    along a straight line, whatever the endpoint losses.

    Args:
        losses: 1-D array of losses along a path.
        ts: Matching 1-D array of path parameters, ``ts[0] = 0`` and ``ts[-1] = 1``.

    Returns:
        Scalar barrier.
    """
    losses, ts = jnp.asarray(losses), jnp.asarray(ts)
    chord = (1.0 - ts) * losses[0] + ts * losses[-1]
    return jnp.max(losses - chord)
