"""Hessian probes: sharpness, trace and spectral density without forming the Hessian.

These are JAX equivalents of PyHessian's estimators, used for loss-landscape
curvature studies and for tracking sharpness during training (Cohen et al.,
"edge of stability": the top Hessian eigenvalue hovers around ``2 / lr``).

Conventions:
    ``loss_fn(params) -> scalar`` closes over the data batch; ``params`` is any
    pytree of float arrays. Only Hessian-vector products are used, computed by
    forward-over-reverse differentiation, so memory is a small multiple of one
    gradient (Lanczos additionally stores ``num_iters`` flat vectors).

    Every estimator runs a *fixed* number of iterations in ``lax.fori_loop`` /
    ``lax.map``, so it can be jitted and called inside a ``lax.scan`` body (e.g.
    the trainer logging sharpness every k steps). Integer arguments must be
    Python ints. The optional ``tol`` of :func:`top_eigenvalue_power` switches to
    a ``lax.while_loop``, which is still jit/scan-safe but not reverse-differentiable.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
from jax.flatten_util import ravel_pytree

LossFn = Callable[[Any], jax.Array]

# Guards normalisations of vectors that can vanish (null directions, Lanczos breakdown).
_TINY = 1e-30
# Relative size below which a Lanczos residual counts as zero (invariant subspace found).
_LANCZOS_BREAKDOWN_RTOL = 1e-6


def hvp(loss_fn: LossFn, params: Any, v: Any) -> Any:
    """Hessian-vector product ``H(params) @ v`` on pytrees.

    Forward-over-reverse (``jvp`` of ``grad``) costs about one extra gradient and
    never materialises ``H``.

    Args:
        loss_fn: Scalar loss as a function of ``params``.
        params: Point at which the Hessian is taken (pytree).
        v: Direction with the same pytree structure as ``params``.

    Returns:
        ``H @ v`` with the structure of ``params``.
    """
    return jax.jvp(jax.grad(loss_fn), (params,), (v,))[1]


def _flat_hvp_operator(loss_fn: LossFn, params: Any):
    """Returns ``(flat_params, unravel, matvec)`` with ``matvec(u) = ravel(H @ unravel(u))``.

    ``jax.linearize`` evaluates the gradient (the forward pass of the jvp) once,
    so iterative methods only pay for the tangent pass per product.
    """
    flat_params, unravel = ravel_pytree(params)
    _, grad_jvp = jax.linearize(jax.grad(loss_fn), params)

    def matvec(u: jax.Array) -> jax.Array:
        return ravel_pytree(grad_jvp(unravel(u)))[0]

    return flat_params, unravel, matvec


def _unit_normal(key: jax.Array, like: jax.Array) -> jax.Array:
    v = jax.random.normal(key, like.shape, like.dtype)
    return v / jnp.maximum(jnp.linalg.norm(v), _TINY)


def top_eigenvalue_power(
    loss_fn: LossFn,
    params: Any,
    iters: int,
    key: jax.Array,
    tol: float | None = None,
) -> tuple[jax.Array, Any]:
    """Dominant Hessian eigenpair by power iteration.

    Power iteration converges to the eigenvalue of largest *magnitude*; for
    losses near a minimum (and for MSE in general) that is the top (sharpest)
    eigenvalue. The estimate is the Rayleigh quotient ``v^T H v``, whose error
    shrinks like ``(lambda_2 / lambda_1)^(2k)``.

    Args:
        loss_fn: Scalar loss as a function of ``params``.
        params: Point at which the Hessian is taken (pytree).
        iters: Number of iterations (Python int); the maximum when ``tol`` is set.
        key: PRNG key for the random start vector.
        tol: If given, stop early once the relative change of the eigenvalue
            estimate falls below ``tol`` (uses ``lax.while_loop``). If ``None``
            (default) exactly ``iters`` iterations run in a ``lax.fori_loop``.

    Returns:
        ``(eigenvalue, eigenvector)``: a scalar and a unit-norm pytree shaped like
        ``params``.
    """
    flat_params, unravel, matvec = _flat_hvp_operator(loss_fn, params)
    v0 = _unit_normal(key, flat_params)

    def power_step(v):
        hv = matvec(v)
        eigenvalue = jnp.vdot(v, hv)  # Rayleigh quotient of the current (unit) iterate.
        return hv / jnp.maximum(jnp.linalg.norm(hv), _TINY), eigenvalue

    if tol is None:

        def fixed_step(_, carry):
            v, _ = carry
            return power_step(v)

        v, eigenvalue = jax.lax.fori_loop(0, iters, fixed_step, (v0, jnp.zeros((), flat_params.dtype)))
    else:

        def not_converged(carry):
            step, _, eigenvalue, previous = carry
            relative_change = jnp.abs(eigenvalue - previous) / jnp.maximum(jnp.abs(eigenvalue), _TINY)
            return (step < iters) & ((step < 2) | (relative_change > tol))

        def tolerance_step(carry):
            step, v, eigenvalue, _ = carry
            v_next, new_eigenvalue = power_step(v)
            return step + 1, v_next, new_eigenvalue, eigenvalue

        zero = jnp.zeros((), flat_params.dtype)
        _, v, eigenvalue, _ = jax.lax.while_loop(not_converged, tolerance_step, (jnp.asarray(0), v0, zero, zero))
    # Re-score the final (normalised) iterate so value and vector match exactly.
    eigenvalue = jnp.vdot(v, matvec(v))
    return eigenvalue, unravel(v)


def _lanczos_tridiagonal(
    matvec: Callable[[jax.Array], jax.Array], v0: jax.Array, num_iters: int
) -> tuple[jax.Array, jax.Array]:
    """Lanczos with full reorthogonalisation.

    Args:
        matvec: Symmetric linear operator on flat vectors.
        v0: Start vector (normalised internally).
        num_iters: Krylov dimension ``m`` (Python int).

    Returns:
        ``(tridiagonal, basis)``: the ``(m, m)`` matrix ``T = V^T A V`` and the
        ``(m, n)`` orthonormal Lanczos basis ``V`` (rows). After a breakdown
        (an exactly invariant Krylov subspace) the remaining rows of ``V`` are zero
        and ``T`` is padded with zeros, which adds spurious zero Ritz values with
        zero quadrature weight.
    """
    n = v0.shape[0]
    dtype = v0.dtype
    basis = jnp.zeros((num_iters, n), dtype).at[0].set(v0 / jnp.maximum(jnp.linalg.norm(v0), _TINY))
    alphas = jnp.zeros((num_iters,), dtype)
    betas = jnp.zeros((num_iters,), dtype)  # betas[i] couples basis vectors i and i + 1.

    def lanczos_step(i, state):
        basis, alphas, betas = state
        v = basis[i]
        w = matvec(v)
        alpha = jnp.vdot(v, w)
        w_scale = jnp.linalg.norm(w)
        # Full reorthogonalisation against every stored vector (unfilled rows are
        # zero and contribute nothing). Subtracting all projections also removes the
        # alpha * v_i and beta * v_{i-1} terms of the three-term recurrence. Two passes
        # ("twice is enough") keep the basis orthogonal to working precision in float32.
        w = w - basis.T @ (basis @ w)
        w = w - basis.T @ (basis @ w)
        beta = jnp.linalg.norm(w)
        not_broken_down = beta > _LANCZOS_BREAKDOWN_RTOL * jnp.maximum(w_scale, _TINY)
        beta = jnp.where(not_broken_down, beta, 0.0)
        v_next = jnp.where(not_broken_down, w / jnp.maximum(beta, _TINY), 0.0)
        # mode="drop" discards the write past the last row on the final iteration.
        basis = basis.at[i + 1].set(v_next, mode="drop")
        return basis, alphas.at[i].set(alpha), betas.at[i].set(beta)

    basis, alphas, betas = jax.lax.fori_loop(0, num_iters, lanczos_step, (basis, alphas, betas))
    off_diagonal = betas[:-1]
    tridiagonal = jnp.diag(alphas) + jnp.diag(off_diagonal, 1) + jnp.diag(off_diagonal, -1)
    return tridiagonal, basis


def top_eigenvalue_lanczos(loss_fn: LossFn, params: Any, num_iters: int, key: jax.Array) -> tuple[jax.Array, Any]:
    """Top (largest algebraic) Hessian eigenpair by Lanczos.

    Converges much faster than power iteration when the top eigenvalues are
    clustered. Stores ``num_iters`` flat parameter-sized vectors.

    Args:
        loss_fn: Scalar loss as a function of ``params``.
        params: Point at which the Hessian is taken (pytree).
        num_iters: Krylov dimension (Python int); 20-100 is typical.
        key: PRNG key for the random start vector.

    Returns:
        ``(eigenvalue, eigenvector)``: the largest Ritz value and its unit-norm Ritz
        vector as a pytree shaped like ``params``. (If the Hessian is negative
        definite and Lanczos breaks down early, padding can make this 0.)
    """
    flat_params, unravel, matvec = _flat_hvp_operator(loss_fn, params)
    tridiagonal, basis = _lanczos_tridiagonal(matvec, _unit_normal(key, flat_params), num_iters)
    ritz_values, ritz_vectors = jnp.linalg.eigh(tridiagonal)  # Ascending order.
    top_vector = basis.T @ ritz_vectors[:, -1]
    return ritz_values[-1], unravel(top_vector)


def hutchinson_trace(
    loss_fn: LossFn,
    params: Any,
    num_samples: int,
    key: jax.Array,
    batch_size: int | None = None,
) -> jax.Array:
    """Hessian trace by Hutchinson's estimator with Rademacher probes.

    ``tr(H) = E[z^T H z]`` for ``z`` with i.i.d. +-1 entries; Rademacher probes
    give the lowest variance among i.i.d. probes (``2 * sum_{i != j} H_ij^2`` per
    sample).

    Args:
        loss_fn: Scalar loss as a function of ``params``.
        params: Point at which the Hessian is taken (pytree).
        num_samples: Number of probe vectors (Python int).
        key: PRNG key for the probes.
        batch_size: Probes evaluated together with ``vmap``. ``None`` (default)
            runs them sequentially, keeping memory at one probe.

    Returns:
        Scalar trace estimate.
    """
    flat_params, _, matvec = _flat_hvp_operator(loss_fn, params)

    def quadratic_form(probe_key):
        # Probes are drawn inside the map so they are never all stored at once.
        z = jax.random.rademacher(probe_key, flat_params.shape, flat_params.dtype)
        return jnp.vdot(z, matvec(z))

    estimates = jax.lax.map(quadratic_form, jax.random.split(key, num_samples), batch_size=batch_size)
    return jnp.mean(estimates)


def stochastic_lanczos_quadrature(
    loss_fn: LossFn, params: Any, num_iters: int, num_probes: int, key: jax.Array
) -> tuple[jax.Array, jax.Array]:
    """Gauss quadrature nodes and weights of the Hessian's spectral measure.

    For each Gaussian probe ``v`` (normalised), Lanczos with ``v`` as start vector
    gives Ritz values ``theta_k`` and weights ``tau_k = (first component of the k-th
    eigenvector of T)^2``, so that ``v^T g(H) v ~ sum_k tau_k g(theta_k)``. Averaged
    over probes this approximates ``tr(g(H)) / n`` (Ubaru et al., 2017).

    Args:
        loss_fn: Scalar loss as a function of ``params``.
        params: Point at which the Hessian is taken (pytree).
        num_iters: Lanczos steps per probe (Python int).
        num_probes: Number of probes (Python int); probes run sequentially.
        key: PRNG key.

    Returns:
        ``(nodes, weights)``, each of shape ``(num_probes, num_iters)``; each row
        of ``weights`` sums to 1.
    """
    flat_params, _, matvec = _flat_hvp_operator(loss_fn, params)

    def one_probe(probe_key):
        tridiagonal, _ = _lanczos_tridiagonal(matvec, _unit_normal(probe_key, flat_params), num_iters)
        ritz_values, ritz_vectors = jnp.linalg.eigh(tridiagonal)
        return ritz_values, jnp.square(ritz_vectors[0, :])

    return jax.lax.map(one_probe, jax.random.split(key, num_probes))


def spectral_density_slq(
    loss_fn: LossFn,
    params: Any,
    num_iters: int,
    num_probes: int,
    key: jax.Array,
    grid: jax.Array,
    sigma: float | jax.Array | None = None,
) -> jax.Array:
    """Smoothed Hessian eigenvalue density by stochastic Lanczos quadrature.

    Each quadrature node is replaced by a Gaussian of width ``sigma`` (as in
    PyHessian / Ghorbani et al., 2019), giving a density over eigenvalues that
    integrates to ~1 when ``grid`` covers the spectrum.

    Args:
        loss_fn: Scalar loss as a function of ``params``.
        params: Point at which the Hessian is taken (pytree).
        num_iters: Lanczos steps per probe (Python int).
        num_probes: Number of probes (Python int).
        key: PRNG key.
        grid: 1-D array of eigenvalue locations at which to evaluate the density.
        sigma: Gaussian smoothing width; defaults to 1% of the grid's span.

    Returns:
        Density values, shape ``grid.shape``.
    """
    nodes, weights = stochastic_lanczos_quadrature(loss_fn, params, num_iters, num_probes, key)
    return smoothed_spectral_density(nodes, weights, grid, sigma)


def smoothed_spectral_density(
    nodes: jax.Array,
    weights: jax.Array,
    grid: jax.Array,
    sigma: float | jax.Array | None = None,
) -> jax.Array:
    """Gaussian-smoothed density from SLQ quadrature nodes and weights.

    Separate from :func:`spectral_density_slq` so one Lanczos run can be
    re-smoothed at several widths or grids without recomputing Hessian products.

    Args:
        nodes: Ritz values, shape ``(num_probes, num_iters)``.
        weights: Matching quadrature weights (rows sum to 1).
        grid: 1-D array of eigenvalue locations at which to evaluate the density.
        sigma: Gaussian smoothing width; defaults to 1% of the grid's span.

    Returns:
        Density values, shape ``grid.shape``, integrating to ~1 over a grid that
        covers the spectrum.
    """
    grid = jnp.asarray(grid, nodes.dtype)
    if sigma is None:
        sigma = 0.01 * (jnp.max(grid) - jnp.min(grid))
    # (grid, probe, node) Gaussian kernel, weighted and averaged over probes.
    offsets = grid[:, None, None] - nodes[None, :, :]
    kernels = jnp.exp(-0.5 * jnp.square(offsets / sigma)) / (sigma * jnp.sqrt(2.0 * jnp.pi))
    return jnp.sum(kernels * weights[None], axis=(1, 2)) / nodes.shape[0]
