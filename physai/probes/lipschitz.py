"""Lipschitz and robustness probes for scalar-output models.

These probes support tests of Bubeck & Sellke's law of robustness, which relates
the number of parameters needed to interpolate data *smoothly* to the model's
Lipschitz constant. We measure that constant from both sides:

* lower bounds: the largest input-gradient norm observed at data points
  (:func:`input_gradient_norms`, :func:`lipschitz_lower_bound`) and a tighter one
  found by searching a ball around each point (:func:`local_lipschitz_pgd`);
* an upper bound: the product of layer spectral norms
  (:func:`spectral_norm_upper_bound`), valid for 1-Lipschitz activations;
* and a behavioural robustness measure, the smallest L2 perturbation that flips
  a binary classifier's sign (:func:`pgd_flip_radius`).

Conventions:
    ``apply_fn(params, x)`` maps a *batch* ``x`` of shape ``(n, *input_shape)``
    to outputs with one scalar per point (shape ``(n,)`` or ``(n, 1)``). To get a
    per-point scalar function we call it on a batch of one and reshape to a
    scalar, which works for Flax ``model.apply`` and for plain functions alike.

    All functions are pure and jit-able when ``apply_fn`` is closed over and the
    integer arguments (``steps``, ``iters``...) are Python ints, e.g.
    ``jax.jit(lambda p, x: input_gradient_norms(model.apply, p, x))``.
    Per-point work is vectorised with ``jax.vmap``; the only Python loop is over
    layers in :func:`spectral_norm_upper_bound`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import jax
import jax.numpy as jnp

ApplyFn = Callable[[Any, jax.Array], jax.Array]

# Guards divisions by gradient norms that can be exactly zero (dead ReLU regions).
_TINY = 1e-12


def _per_point_scalar_fn(apply_fn: ApplyFn, params: Any) -> Callable[[jax.Array], jax.Array]:
    """Turns a batched model into a function of a single unbatched point."""

    def scalar_fn(x_single: jax.Array) -> jax.Array:
        # A batch of one keeps models that require a batch axis (Flax, x @ w) happy;
        # reshape(()) fails loudly if the model is not scalar-output.
        return jnp.reshape(apply_fn(params, x_single[None]), ())

    return scalar_fn


def _l2_norm(v: jax.Array) -> jax.Array:
    """L2 norm over all axes of one (unbatched) point."""
    return jnp.sqrt(jnp.sum(jnp.square(v)))


def _project_to_ball(delta: jax.Array, radius: jax.Array) -> jax.Array:
    """Euclidean projection of ``delta`` onto the L2 ball of ``radius`` around 0."""
    norm = _l2_norm(delta)
    return delta * jnp.minimum(1.0, radius / jnp.maximum(norm, _TINY))


def _random_unit_direction(key: jax.Array, shape: tuple[int, ...], dtype) -> jax.Array:
    direction = jax.random.normal(key, shape, dtype)
    return direction / jnp.maximum(_l2_norm(direction), _TINY)


def input_gradient_norms(apply_fn: ApplyFn, params: Any, x: jax.Array) -> jax.Array:
    """Per-point L2 norm of the input gradient of a scalar-output model.

    Args:
        apply_fn: ``apply_fn(params, x_batch)`` returning one scalar per point.
        params: Model parameters (any pytree).
        x: Inputs, shape ``(n, *input_shape)``.

    Returns:
        Array of shape ``(n,)`` with ``||d f(x_i) / d x_i||_2``.
    """
    gradient_fn = jax.grad(_per_point_scalar_fn(apply_fn, params))
    return jax.vmap(lambda xi: _l2_norm(gradient_fn(xi)))(x)


def lipschitz_lower_bound(apply_fn: ApplyFn, params: Any, x: jax.Array) -> jax.Array:
    """Empirical Lipschitz lower bound: the largest input-gradient norm over ``x``.

    Any observed gradient norm lower-bounds the (L2) Lipschitz constant of a
    differentiable function, so the maximum over the data is the tightest such
    bound these points give.

    Args:
        apply_fn: ``apply_fn(params, x_batch)`` returning one scalar per point.
        params: Model parameters (any pytree).
        x: Inputs, shape ``(n, *input_shape)``.

    Returns:
        Scalar ``max_i ||grad_x f(x_i)||_2``.
    """
    return jnp.max(input_gradient_norms(apply_fn, params, x))


def local_lipschitz_pgd(
    apply_fn: ApplyFn,
    params: Any,
    x: jax.Array,
    radius: float,
    steps: int,
    step_size: float,
    key: jax.Array,
) -> jax.Array:
    """Local Lipschitz lower bound by projected gradient ascent on the gradient norm.

    From each point ``x_i`` we run ``steps`` iterations of normalised L2 gradient
    ascent on ``||grad_z f(z)||`` over the ball ``||z - x_i|| <= radius``,
    projecting back onto the ball after each step, and return the largest
    gradient norm seen along the trajectory (the start point included, so the
    result is never below :func:`input_gradient_norms`).

    For piecewise-linear networks (ReLU) the gradient norm is piecewise constant,
    so its gradient is zero almost everywhere and plain ascent would not move.
    Whenever the ascent direction vanishes we therefore take a step in a random
    direction instead, which turns the search into a random walk inside the ball
    that still visits neighbouring linear regions.

    Args:
        apply_fn: ``apply_fn(params, x_batch)`` returning one scalar per point.
        params: Model parameters (any pytree).
        x: Starting points, shape ``(n, *input_shape)``.
        radius: L2 radius of the search ball around each point.
        steps: Number of ascent steps (Python int).
        step_size: L2 length of each step.
        key: PRNG key for the random exploration steps.

    Returns:
        Array of shape ``(n,)``: the largest gradient norm found near each point.
    """
    scalar_fn = _per_point_scalar_fn(apply_fn, params)
    gradient_fn = jax.grad(scalar_fn)

    def half_squared_gradient_norm(z):
        # Squared norm is smooth at zero gradient; its gradient points the same way.
        return 0.5 * jnp.sum(jnp.square(gradient_fn(z)))

    ascent_fn = jax.value_and_grad(half_squared_gradient_norm)

    def search_one_point(x_start, point_key):
        def ascent_step(step_index, carry):
            z, best_norm = carry
            half_sq_norm, ascent = ascent_fn(z)
            best_norm = jnp.maximum(best_norm, jnp.sqrt(2.0 * half_sq_norm))
            ascent_norm = _l2_norm(ascent)
            random_direction = _random_unit_direction(jax.random.fold_in(point_key, step_index), z.shape, z.dtype)
            direction = jnp.where(ascent_norm > _TINY, ascent / jnp.maximum(ascent_norm, _TINY), random_direction)
            z = x_start + _project_to_ball(z + step_size * direction - x_start, radius)
            return z, best_norm

        z_final, best_norm = jax.lax.fori_loop(0, steps, ascent_step, (x_start, jnp.zeros((), x_start.dtype)))
        # The last iterate has not been scored inside the loop.
        return jnp.maximum(best_norm, _l2_norm(gradient_fn(z_final)))

    point_keys = jax.random.split(key, x.shape[0])
    return jax.vmap(search_one_point)(x, point_keys)


def spectral_norm_upper_bound(
    weight_matrices: Sequence[jax.Array],
    iters: int = 100,
    key: jax.Array | None = None,
) -> tuple[jax.Array, jax.Array]:
    """Lipschitz upper bound as the product of layer spectral norms.

    For a network ``W_L s(... s(W_1 x + b_1) ...)`` with 1-Lipschitz activations
    ``s`` (ReLU, tanh, ...), ``Lip(f) <= prod_l ||W_l||_2``. Each spectral norm is
    estimated by power iteration on ``W^T W`` (a fixed number of iterations in a
    ``lax.fori_loop``, so it is jit-able). Power iteration approaches the top
    singular value from below; with the default 100 iterations the error is
    negligible unless the top two singular values nearly coincide.

    Args:
        weight_matrices: Layer weights in any orientation (the spectral norm is
            transpose-invariant, so Flax ``(in, out)`` kernels work as is). 1-D
            arrays are treated as a single-column matrix; conv kernels should be
            reshaped by the caller (this bound is only exact for dense layers).
        iters: Power-iteration steps per matrix (Python int).
        key: PRNG key for the start vectors; defaults to ``PRNGKey(0)``.

    Returns:
        ``(upper_bound, per_layer_norms)``: the scalar product and an array of
        shape ``(num_layers,)`` with each layer's spectral norm.
    """
    if key is None:
        key = jax.random.PRNGKey(0)
    layer_keys = jax.random.split(key, len(weight_matrices))
    # Python loop over layers (not data): shapes differ per layer.
    per_layer_norms = jnp.stack(
        [
            _spectral_norm_power_iteration(_as_matrix(w), iters, layer_key)
            for w, layer_key in zip(weight_matrices, layer_keys)
        ]
    )
    return jnp.prod(per_layer_norms), per_layer_norms


def _as_matrix(weight: jax.Array) -> jax.Array:
    """1-D weights become a column; higher-rank ones keep their first axis as rows."""
    weight = jnp.asarray(weight)
    if weight.ndim == 1:
        return weight[:, None]
    return jnp.reshape(weight, (weight.shape[0], -1))


def _spectral_norm_power_iteration(matrix: jax.Array, iters: int, key: jax.Array) -> jax.Array:
    """Largest singular value of ``matrix`` by power iteration on ``M^T M``."""
    v0 = _random_unit_direction(key, (matrix.shape[1],), matrix.dtype)

    def power_step(_, v):
        u = matrix.T @ (matrix @ v)
        return u / jnp.maximum(jnp.linalg.norm(u), _TINY)

    v = jax.lax.fori_loop(0, iters, power_step, v0)
    return jnp.linalg.norm(matrix @ v)


def pgd_flip_radius(
    apply_fn: ApplyFn,
    params: Any,
    x: jax.Array,
    max_radius: float,
    steps: int = 20,
    num_bisections: int = 20,
    step_size_factor: float = 2.5,
) -> jax.Array:
    """Smallest L2 perturbation radius that flips a binary classifier's sign.

    The classifier predicts ``y = sign f(x)``. For a candidate radius ``r`` we
    run ``steps`` iterations of L2 PGD on the margin ``m(delta) = y f(x + delta)``
    (normalised gradient descent steps of length ``step_size_factor * r / steps``,
    the Madry et al. heuristic, each followed by projection onto
    ``||delta|| <= r``) and call ``r`` *flipping* if the margin went negative at
    any iterate. The radius is then located by bisection on ``[0, max_radius]``.

    Bisection assumes that success is monotone in ``r`` (true for the exact
    attack, approximately true for PGD). The returned radius is the smallest one
    at which PGD *demonstrably* flipped the sign, hence an upper bound on the true
    minimal adversarial radius, accurate to ``max_radius / 2**num_bisections``.
    For a linear model it converges to ``|f(x)| / ||w||``.

    Args:
        apply_fn: ``apply_fn(params, x_batch)`` returning one scalar per point.
        params: Model parameters (any pytree).
        x: Clean points, shape ``(n, *input_shape)``.
        max_radius: Largest radius tried.
        steps: PGD steps per radius (Python int).
        num_bisections: Bisection steps (Python int).
        step_size_factor: PGD step length as a multiple of ``r / steps``.

    Returns:
        Array of shape ``(n,)`` of flip radii; ``inf`` where no flip was found
        within ``max_radius``.
    """
    scalar_fn = _per_point_scalar_fn(apply_fn, params)

    def flip_radius_one_point(x_clean):
        # Points exactly on the boundary count as positive, so they flip at r -> 0.
        label = jnp.where(scalar_fn(x_clean) >= 0, 1.0, -1.0).astype(x_clean.dtype)
        margin_and_grad = jax.value_and_grad(lambda delta: label * scalar_fn(x_clean + delta))

        def flips_within(radius):
            step_length = step_size_factor * radius / steps

            def pgd_step(_, carry):
                delta, smallest_margin = carry
                margin, grad = margin_and_grad(delta)
                smallest_margin = jnp.minimum(smallest_margin, margin)
                direction = grad / jnp.maximum(_l2_norm(grad), _TINY)
                delta = _project_to_ball(delta - step_length * direction, radius)
                return delta, smallest_margin

            delta, smallest_margin = jax.lax.fori_loop(
                0, steps, pgd_step, (jnp.zeros_like(x_clean), jnp.asarray(jnp.inf, x_clean.dtype))
            )
            final_margin = label * scalar_fn(x_clean + delta)
            return jnp.minimum(smallest_margin, final_margin) < 0

        def bisection_step(_, bounds):
            low, high = bounds
            middle = 0.5 * (low + high)
            flipped = flips_within(middle)
            return jnp.where(flipped, low, middle), jnp.where(flipped, middle, high)

        top = jnp.asarray(max_radius, x_clean.dtype)
        _, high = jax.lax.fori_loop(0, num_bisections, bisection_step, (jnp.zeros_like(top), top))
        return jnp.where(flips_within(top), high, jnp.inf)

    return jax.vmap(flip_radius_one_point)(x)


def softplus_mlp_apply(params: Any, x: jax.Array, beta: jax.Array) -> jax.Array:
    """A ReLU MLP with every ReLU replaced by ``softplus(beta z) / beta``.

    The surrogate's hidden-unit derivative is ``sigmoid(beta z)``, which tends to
    the ReLU's 0/1 gate as ``beta -> inf``, so its input gradient is a smooth
    interpolation of the ReLU network's piecewise-constant one. Used by
    :func:`smoothed_gradient_search` to find ReLU activation patterns with large
    gradients.

    Args:
        params: Parameters laid out as :class:`physai.models.MLP` (``hidden_0`` ...
            ``hidden_{L-1}`` and ``readout``, each with ``kernel`` and optional
            ``bias``; no residual connections).
        x: Inputs, shape ``(n, d)``.
        beta: Inverse temperature (traced scalar).

    Returns:
        Outputs, shape ``(n, out)``.
    """
    names = sorted((k for k in params if k.startswith("hidden_")), key=lambda s: int(s.split("_")[1]))
    h = x
    for name in names + ["readout"]:
        layer = params[name]
        h = h @ layer["kernel"] + (layer["bias"] if "bias" in layer else 0.0)
        if name != "readout":
            h = jax.nn.softplus(beta * h) / beta
    return h


def smoothed_gradient_search(
    apply_fn: ApplyFn,
    smooth_apply_fn: Callable[[Any, jax.Array, jax.Array], jax.Array],
    params: Any,
    x: jax.Array,
    radius: float,
    steps: int,
    step_size: float,
    beta_start: float = 2.0,
    beta_end: float = 200.0,
) -> jax.Array:
    """Lipschitz lower bound for piecewise-linear nets by ascent on a smoothed surrogate.

    A ReLU network's input-gradient norm is piecewise constant, so ascending it
    directly (:func:`local_lipschitz_pgd`) is a random walk. Here we instead ascend
    the gradient norm of a smooth surrogate ``smooth_apply_fn(params, z, beta)``
    (e.g. :func:`softplus_mlp_apply`, whose gates are ``sigmoid(beta z)``) with
    normalised steps, annealing ``beta`` geometrically from ``beta_start`` to
    ``beta_end`` so that the surrogate approaches the ReLU net, and *score the true
    gradient norm* ``||grad_z apply_fn(params, z)||`` at every iterate. Every scored
    value is the exact gradient norm of the model at a real point, so the returned
    maximum is a valid lower bound on the model's Lipschitz constant (on the union
    of the search balls), never below the value at the start point.

    Args:
        apply_fn: ``apply_fn(params, x_batch)``, the model, one scalar per point.
        smooth_apply_fn: ``(params, x_batch, beta) -> outputs``, its smooth surrogate.
        params: Model parameters.
        x: Start points, shape ``(n, d)``.
        radius: L2 radius of the search ball around each start point (``inf``: none).
        steps: Ascent steps (Python int).
        step_size: L2 length of the first step; it decays linearly to a tenth.
        beta_start, beta_end: the surrogate's inverse temperature schedule.

    Returns:
        Array of shape ``(n,)``: the largest true gradient norm met from each start.
    """
    true_grad = jax.grad(_per_point_scalar_fn(apply_fn, params))

    def surrogate_half_sq_norm(z, beta):
        g = jax.grad(lambda zz: jnp.reshape(smooth_apply_fn(params, zz[None], beta), ()))(z)
        return 0.5 * jnp.sum(jnp.square(g))

    ascent_fn = jax.grad(surrogate_half_sq_norm)
    log_ratio = jnp.log(beta_end / beta_start)

    def search_one_point(x_start):
        def step(i, carry):
            z, best = carry
            frac = i / max(steps - 1, 1)
            beta = beta_start * jnp.exp(log_ratio * frac)
            ascent = ascent_fn(z, beta)
            direction = ascent / jnp.maximum(_l2_norm(ascent), _TINY)
            length = step_size * (1.0 - 0.9 * frac)
            z = x_start + _project_to_ball(z + length * direction - x_start, radius)
            return z, jnp.maximum(best, _l2_norm(true_grad(z)))

        _, best = jax.lax.fori_loop(0, steps, step, (x_start, _l2_norm(true_grad(x_start))))
        return best

    return jax.vmap(search_one_point)(x)
