"""The engine of ``analysis.fits``: "a constant plus power laws" fitted in log space.

The model is written with ``A = exp(a)``, ``E = exp(e)`` so that E, A, B stay
positive without constraints, and the prediction is a ``logsumexp`` of its
terms (numerically stable over many decades). The Huber loss of the log
residuals is minimised with L-BFGS-B from the best points of a starting grid
(Hoffmann et al. 2022, Approach 3), keeping the best optimum; a bootstrap
refits resampled points (or resampled groups of points) from that optimum.

``analysis.fits`` states the laws (``fit_power_law``, ``fit_chinchilla``); this
module only knows parameter vectors ``theta = [e, c_1..c_m, p_1..p_m]``.
"""

from __future__ import annotations

import itertools

import numpy as np
from scipy import optimize, special

from physai.runtime import single_threaded_blas

__all__ = ["FitError", "fit_and_bootstrap", "percentile_interval", "validate_fit_inputs"]

# Starting grid of Hoffmann et al. (2022), Appendix D.2.
_GRID_EXPONENTS = (0.0, 0.5, 1.0, 1.5, 2.0)
_GRID_LOG_COEFFICIENTS = (0.0, 5.0, 10.0, 15.0, 20.0, 25.0)
_GRID_LOG_E = (-1.0, -0.5, 0.0, 0.5, 1.0)

# Box constraints keep L-BFGS-B away from overflow; exponents are
# non-negative because the laws describe loss that falls with scale.
_BOUNDS_LOG_E = (-30.0, 10.0)
_BOUNDS_LOG_COEFFICIENT = (-30.0, 100.0)
_BOUNDS_EXPONENT = (0.0, 10.0)

# L-BFGS-B runs per full fit (the best grid points) and per bootstrap refit
# (the full-data optimum plus this many of the best grid points).
_N_STARTS_FULL = 20
_N_STARTS_BOOTSTRAP = 2


class FitError(ValueError):
    """Raised when data cannot be fitted (too few, mismatched or invalid points)."""


# --------------------------------------------------------------------------
# Generic "constant plus power laws" model in log space.
#
# Parameters theta = [e, c_1..c_m, p_1..p_m] with log-features X (n, m):
#   log pred = logsumexp(e, c_1 - p_1 X_1, ..., c_m - p_m X_m)
# i.e. pred = exp(e) + sum_j exp(c_j) * size_j ** -p_j.
# --------------------------------------------------------------------------


def _log_terms(theta: np.ndarray, log_features: np.ndarray) -> list[np.ndarray]:
    """Log of each additive term; works for one theta (P,) or a stack (S, P).

    Args:
        theta: Parameters, shape ``(P,)`` or ``(S, P)`` with ``P = 1 + 2m``.
        log_features: Log sizes, shape ``(n, m)``.

    Returns:
        List of ``m + 1`` arrays of shape ``(..., n)``; the first is the
        constant term ``e``, the others ``c_j - p_j * log size_j``.
    """
    n_features = log_features.shape[1]
    theta = np.asarray(theta, dtype=float)
    n_points = log_features.shape[0]
    constant_term = np.broadcast_to(theta[..., 0:1], theta.shape[:-1] + (n_points,))
    power_terms = [
        theta[..., 1 + j, None] - theta[..., 1 + n_features + j, None] * log_features[:, j] for j in range(n_features)
    ]
    return [constant_term, *power_terms]


def _logsumexp_terms(log_terms: list[np.ndarray]) -> np.ndarray:
    """Stable log of the sum of exp(terms), elementwise over same-shape arrays.

    Hand-rolled over a short list of arrays rather than scipy.special.logsumexp
    on a stacked array: it avoids the stacking copy and the per-call overhead,
    which dominate when L-BFGS-B evaluates the objective thousands of times.
    """
    max_term = log_terms[0]
    for term in log_terms[1:]:
        max_term = np.maximum(max_term, term)
    total = np.zeros_like(max_term)
    for term in log_terms:
        total += np.exp(term - max_term)
    return max_term + np.log(total)


def _huber_objective(thetas: np.ndarray, log_features: np.ndarray, log_loss: np.ndarray, delta: float) -> np.ndarray:
    """Sum over points of huber(delta, log pred - log L) for a stack of thetas.

    Args:
        thetas: Parameters, shape ``(S, P)``.
        log_features: Log sizes, shape ``(n, m)``.
        log_loss: Log losses, shape ``(n,)``.
        delta: Huber threshold.

    Returns:
        Objective per theta, shape ``(S,)``.
    """
    # Chunk the stack so memory stays at ~2**20 floats per intermediate.
    chunk = max(1, 2**20 // max(log_loss.size, 1))
    values = []
    for first in range(0, thetas.shape[0], chunk):
        log_pred = _logsumexp_terms(_log_terms(thetas[first : first + chunk], log_features))
        values.append(special.huber(delta, log_pred - log_loss).sum(axis=-1))
    return np.concatenate(values)


def _huber_objective_and_gradient(
    theta: np.ndarray, log_features: np.ndarray, log_loss: np.ndarray, delta: float
) -> tuple[float, np.ndarray]:
    """Objective scaled by 1/delta and its analytic gradient, for L-BFGS-B.

    Dividing by delta keeps gradients O(1) per point whatever delta is, so
    the optimiser's tolerances mean the same thing for any delta.
    """
    n_features = log_features.shape[1]
    log_terms = _log_terms(theta, log_features)
    log_pred = _logsumexp_terms(log_terms)
    residual = log_pred - log_loss
    objective = special.huber(delta, residual).sum() / delta
    # d huber / d residual = clip(residual, -delta, delta); d log_pred /
    # d log_term_j = softmax weight of term j.
    residual_weight = np.clip(residual, -delta, delta) / delta
    gradient = np.empty_like(theta, dtype=float)
    gradient[0] = (residual_weight * np.exp(log_terms[0] - log_pred)).sum()
    for j in range(n_features):
        weighted = residual_weight * np.exp(log_terms[1 + j] - log_pred)
        gradient[1 + j] = weighted.sum()
        gradient[1 + n_features + j] = -(weighted * log_features[:, j]).sum()
    return float(objective), gradient


def _start_grid(n_features: int) -> np.ndarray:
    """Cartesian grid of starts [e, c_1..c_m, p_1..p_m] (Hoffmann et al. 2022)."""
    axes = [_GRID_LOG_E] + [_GRID_LOG_COEFFICIENTS] * n_features + [_GRID_EXPONENTS] * n_features
    return np.array(list(itertools.product(*axes)), dtype=float)


def _bounds(n_features: int) -> list[tuple[float, float]]:
    """L-BFGS-B box constraints in the theta layout."""
    return [_BOUNDS_LOG_E] + [_BOUNDS_LOG_COEFFICIENT] * n_features + [_BOUNDS_EXPONENT] * n_features


def _best_grid_starts(
    grid: np.ndarray,
    log_features: np.ndarray,
    log_loss: np.ndarray,
    delta: float,
    n_starts: int,
) -> np.ndarray:
    """The n_starts grid points with the lowest objective on this data."""
    values = _huber_objective(grid, log_features, log_loss, delta)
    order = np.argsort(values, kind="stable")
    return grid[order[:n_starts]]


def _minimise_from(
    starts: np.ndarray, log_features: np.ndarray, log_loss: np.ndarray, delta: float
) -> tuple[np.ndarray, float]:
    """Run L-BFGS-B from every start and return the best (theta, huber sum)."""
    bounds = _bounds(log_features.shape[1])
    lower, upper = np.array(bounds).T
    best_theta, best_value = None, np.inf
    with single_threaded_blas():
        for start in starts:
            result = optimize.minimize(
                _huber_objective_and_gradient,
                np.clip(start, lower, upper),
                args=(log_features, log_loss, delta),
                jac=True,
                method="L-BFGS-B",
                bounds=bounds,
                options={"maxiter": 2000, "ftol": 1e-13, "gtol": 1e-9},
            )
            if np.isfinite(result.fun) and result.fun < best_value:
                best_theta, best_value = result.x, float(result.fun)
    if best_theta is None:
        raise FitError("optimisation failed from every starting point")
    return best_theta, best_value * delta


def _fit_log_space(
    log_features: np.ndarray, log_loss: np.ndarray, delta: float
) -> tuple[np.ndarray, float, np.ndarray]:
    """Full-data fit: prune the start grid, then L-BFGS-B from the best starts.

    Returns:
        ``(theta, huber_sum, starts)``; ``starts`` are the pruned grid
        points, best first, reused to seed bootstrap refits.
    """
    grid = _start_grid(log_features.shape[1])
    starts = _best_grid_starts(grid, log_features, log_loss, delta, _N_STARTS_FULL)
    theta, objective = _minimise_from(starts, log_features, log_loss, delta)
    return theta, objective, starts


def fit_and_bootstrap(
    log_features: np.ndarray,
    log_loss: np.ndarray,
    delta: float,
    bootstrap: int = 0,
    groups: np.ndarray | None = None,
    seed: int = 0,
) -> tuple[np.ndarray, float, np.ndarray | None]:
    """Full-data fit plus, when ``bootstrap > 0``, its bootstrap refits.

    Args:
        log_features: Log sizes, shape ``(n, m)`` (one column per power law).
        log_loss: Log losses, shape ``(n,)``.
        delta: Huber threshold on the log residuals.
        bootstrap: Number of bootstrap refits (0: none).
        groups: Optional labels, one per point, resampled as whole groups.
        seed: Seed of the numpy Generator driving the bootstrap.

    Returns:
        ``(theta, huber_sum, replicates)``; ``replicates`` is ``None`` without
        a bootstrap, else an array ``(bootstrap, P)`` of refitted parameters.
    """
    theta, objective, starts = _fit_log_space(log_features, log_loss, delta)
    if bootstrap <= 0:
        return theta, objective, None
    replicates = _bootstrap_thetas(
        log_features,
        log_loss,
        delta,
        np.vstack([theta, starts[:_N_STARTS_BOOTSTRAP]]),
        bootstrap,
        groups,
        seed,
    )
    return theta, objective, replicates


def _bootstrap_thetas(
    log_features: np.ndarray,
    log_loss: np.ndarray,
    delta: float,
    starts: np.ndarray,
    n_resamples: int,
    groups: np.ndarray | None,
    seed: int,
) -> np.ndarray:
    """Refit on resampled points (or resampled groups of points).

    Each refit starts only from ``starts`` (the full-data optimum and the
    best grid points of the full data) rather than from the whole grid: a
    resample's optimum lies near the full-data one, and this keeps the
    bootstrap affordable.

    Returns:
        Array ``(n_resamples, P)`` of fitted parameters.
    """
    rng = np.random.default_rng(seed)
    n_points = log_loss.size
    if groups is not None:
        _, group_index = np.unique(groups, return_inverse=True)
        members = [np.flatnonzero(group_index == k) for k in range(group_index.max() + 1)]
    thetas = []
    for _ in range(n_resamples):
        if groups is None:
            indices = rng.integers(0, n_points, size=n_points)
        else:
            chosen = rng.integers(0, len(members), size=len(members))
            indices = np.concatenate([members[k] for k in chosen])
        theta, _ = _minimise_from(starts, log_features[indices], log_loss[indices], delta)
        thetas.append(theta)
    return np.array(thetas)


def percentile_interval(samples: np.ndarray, confidence: float) -> tuple[float, float]:
    """Two-sided percentile interval of bootstrap replicates."""
    tail = 100 * (1 - confidence) / 2
    low, high = np.percentile(samples, [tail, 100 - tail])
    return float(low), float(high)


def _validated_array(values, name: str) -> np.ndarray:
    """1-D float array of finite, strictly positive values, else FitError."""
    array = np.asarray(values, dtype=float).ravel()
    if not np.all(np.isfinite(array)):
        raise FitError(f"{name} contains non-finite values (NaN or inf)")
    if np.any(array <= 0):
        raise FitError(f"{name} must be strictly positive (it is fitted in log space)")
    return array


def validate_fit_inputs(
    named_arrays: dict[str, object],
    n_params: int,
    huber_delta: float,
    bootstrap: int = 0,
    groups=None,
) -> tuple[list[np.ndarray], np.ndarray | None]:
    """Check shapes, values and options shared by the scaling-law fitters.

    Args:
        named_arrays: The inputs by name, the fitted values (losses) last.
        n_params: Parameters of the law (at least one more point is needed).
        huber_delta, bootstrap, groups: The fitter's options.

    Returns:
        The validated arrays (in the order given) and groups as an array.
    """
    raw_lengths = {name: np.size(values) for name, values in named_arrays.items()}
    if len(set(raw_lengths.values())) != 1:
        raise FitError(f"inputs must have the same length, got {raw_lengths}")
    n_points = next(iter(raw_lengths.values()))
    if n_points < n_params + 1:
        raise FitError(f"need at least {n_params + 1} points to fit {n_params} parameters, got {n_points}")
    arrays = [_validated_array(values, name) for name, values in named_arrays.items()]
    for name, array in zip(named_arrays, arrays[:-1]):
        if np.unique(array).size < 2:
            raise FitError(f"{name} must take at least 2 distinct values")
    if not (np.isfinite(huber_delta) and huber_delta > 0):
        raise FitError(f"huber_delta must be positive and finite, got {huber_delta}")
    if bootstrap < 0:
        raise FitError(f"bootstrap must be >= 0, got {bootstrap}")
    if groups is not None:
        groups = np.asarray(groups).ravel()
        if groups.size != n_points:
            raise FitError(f"groups must have one label per point: {groups.size} != {n_points}")
    return arrays, groups
