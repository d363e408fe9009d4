"""Curve fits for scaling laws and emergence.

Scaling laws are fitted the way Hoffmann et al. (2022, "Training
Compute-Optimal Large Language Models", Approach 3) fit theirs: the model is
written in log space with ``A = exp(a)``, ``E = exp(e)`` so that E, A, B
stay positive without constraints and the prediction is a ``logsumexp`` of
its terms (numerically stable over many decades), and the Huber loss of the
log residuals is minimised with L-BFGS-B from a grid of starting points,
keeping the best optimum. Huber with a small ``delta`` behaves like an L1
loss on the log residuals and is therefore robust to a few outlier runs.

Also here: IsoFLOP minima (Chinchilla Approach 2), the compute-optimal
exponent from them, extrapolation error on held-out points, and transition
step/width of emergence curves.

All randomness (bootstrap) is driven by explicit seeds.
"""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Callable

import numpy as np
import pandas as pd
from scipy import optimize, special

from analysis.stats import finite_pairs, loglog_slope
from physai.runtime import single_threaded_blas

__all__ = [
    "FitError",
    "PowerLawFit",
    "ChinchillaFit",
    "fit_power_law",
    "fit_chinchilla",
    "isoflop_minima",
    "compute_optimal_exponent",
    "extrapolation_error",
    "transition_step",
    "transition_width",
]

_NAN_PAIR = (float("nan"), float("nan"))

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
        theta[..., 1 + j, None] - theta[..., 1 + n_features + j, None] * log_features[:, j]
        for j in range(n_features)
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


def _huber_objective(
    thetas: np.ndarray, log_features: np.ndarray, log_loss: np.ndarray, delta: float
) -> np.ndarray:
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
    axes = (
        [_GRID_LOG_E]
        + [_GRID_LOG_COEFFICIENTS] * n_features
        + [_GRID_EXPONENTS] * n_features
    )
    return np.array(list(itertools.product(*axes)), dtype=float)


def _bounds(n_features: int) -> list[tuple[float, float]]:
    """L-BFGS-B box constraints in the theta layout."""
    return (
        [_BOUNDS_LOG_E]
        + [_BOUNDS_LOG_COEFFICIENT] * n_features
        + [_BOUNDS_EXPONENT] * n_features
    )


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


def _fit_and_bootstrap(
    log_features: np.ndarray,
    log_loss: np.ndarray,
    delta: float,
    bootstrap: int,
    groups: np.ndarray | None,
    seed: int,
) -> tuple[np.ndarray, float, np.ndarray | None]:
    """Full-data fit plus, when ``bootstrap > 0``, its bootstrap refits.

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


def _percentile_interval(samples: np.ndarray, confidence: float) -> tuple[float, float]:
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


def _validate_fit_inputs(
    named_arrays: dict[str, object], n_params: int, huber_delta: float, bootstrap: int, groups
) -> tuple[list[np.ndarray], np.ndarray | None]:
    """Check shapes, values and options shared by the scaling-law fitters.

    Returns:
        The validated arrays (in the order given) and groups as an array.
    """
    raw_lengths = {name: np.size(values) for name, values in named_arrays.items()}
    if len(set(raw_lengths.values())) != 1:
        raise FitError(f"inputs must have the same length, got {raw_lengths}")
    n_points = next(iter(raw_lengths.values()))
    if n_points < n_params + 1:
        raise FitError(
            f"need at least {n_params + 1} points to fit {n_params} parameters, got {n_points}"
        )
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


# --------------------------------------------------------------------------
# Public fitters.
# --------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class PowerLawFit:
    """Fitted ``L = E + A * N**-alpha``.

    Attributes:
        E: Irreducible loss (>= 0).
        A: Coefficient of the power-law term.
        alpha: Exponent.
        loss: Final objective: sum of Huber losses of the log residuals.
        alpha_ci: Bootstrap percentile interval of alpha; (nan, nan) without bootstrap.
        E_ci: Bootstrap percentile interval of E; (nan, nan) without bootstrap.
        A_ci: Bootstrap percentile interval of A; (nan, nan) without bootstrap.
    """

    E: float
    A: float
    alpha: float
    loss: float
    alpha_ci: tuple[float, float] = _NAN_PAIR
    E_ci: tuple[float, float] = _NAN_PAIR
    A_ci: tuple[float, float] = _NAN_PAIR

    def predict(self, N) -> np.ndarray:
        """Predicted loss at sizes N.

        Args:
            N: Scalar or array of positive sizes.

        Returns:
            ``E + A * N**-alpha`` as a float array.
        """
        return self.E + self.A * np.asarray(N, dtype=float) ** -self.alpha


@dataclasses.dataclass(frozen=True)
class ChinchillaFit:
    """Fitted ``L = E + A / N**alpha + B / D**beta`` (Hoffmann et al. 2022).

    Attributes:
        E: Irreducible loss (>= 0).
        A: Coefficient of the model-size term.
        B: Coefficient of the data-size term.
        alpha: Model-size exponent.
        beta: Data-size exponent.
        loss: Final objective: sum of Huber losses of the log residuals.
        alpha_ci, beta_ci, E_ci: Bootstrap percentile intervals; (nan, nan)
            without bootstrap.
        exponent_ci: Bootstrap interval of `compute_optimal_exponent`.
    """

    E: float
    A: float
    B: float
    alpha: float
    beta: float
    loss: float
    alpha_ci: tuple[float, float] = _NAN_PAIR
    beta_ci: tuple[float, float] = _NAN_PAIR
    E_ci: tuple[float, float] = _NAN_PAIR
    exponent_ci: tuple[float, float] = _NAN_PAIR

    @property
    def compute_optimal_exponent(self) -> float:
        """Exponent a in N_opt ∝ C**a under C = 6ND: beta / (alpha + beta)."""
        return self.beta / (self.alpha + self.beta)

    def predict(self, N, D) -> np.ndarray:
        """Predicted loss for model sizes N trained on D tokens/samples.

        Args:
            N: Scalar or array of positive model sizes.
            D: Scalar or array of positive data sizes, broadcastable with N.

        Returns:
            ``E + A / N**alpha + B / D**beta`` as a float array.
        """
        N = np.asarray(N, dtype=float)
        D = np.asarray(D, dtype=float)
        return self.E + self.A * N**-self.alpha + self.B * D**-self.beta


def fit_power_law(
    N,
    L,
    huber_delta: float = 1e-3,
    bootstrap: int = 0,
    groups=None,
    seed: int = 0,
    confidence: float = 0.95,
) -> PowerLawFit:
    """Fit ``L = E + A * N**-alpha`` by Huber regression in log space.

    Args:
        N: 1-D array-like of positive sizes (parameters, data, steps, ...).
        L: 1-D array-like of positive losses, same length as N.
        huber_delta: Huber threshold on log residuals; small values make the
            fit L1-like and robust to outlier runs.
        bootstrap: Number of bootstrap refits for the intervals (0: none).
        groups: Optional labels (e.g. seeds), one per point; when given the
            bootstrap resamples whole groups instead of single points, which
            respects correlation between points of one run.
        seed: Seed of the numpy Generator driving the bootstrap.
        confidence: Two-sided confidence level of the bootstrap intervals.

    Returns:
        A `PowerLawFit`.

    Raises:
        FitError: For mismatched lengths, fewer than 4 points, non-finite or
            non-positive values, fewer than 2 distinct sizes, or bad options.
    """
    (sizes, losses), groups = _validate_fit_inputs(
        {"N": N, "L": L}, n_params=3, huber_delta=huber_delta, bootstrap=bootstrap, groups=groups
    )
    log_features = np.log(sizes)[:, None]
    log_loss = np.log(losses)
    theta, objective, replicates = _fit_and_bootstrap(
        log_features, log_loss, huber_delta, bootstrap, groups, seed
    )
    intervals = {}
    if replicates is not None:
        intervals = {
            "E_ci": _percentile_interval(np.exp(replicates[:, 0]), confidence),
            "A_ci": _percentile_interval(np.exp(replicates[:, 1]), confidence),
            "alpha_ci": _percentile_interval(replicates[:, 2], confidence),
        }
    return PowerLawFit(
        E=float(np.exp(theta[0])),
        A=float(np.exp(theta[1])),
        alpha=float(theta[2]),
        loss=objective,
        **intervals,
    )


def fit_chinchilla(
    N,
    D,
    L,
    huber_delta: float = 1e-3,
    bootstrap: int = 0,
    seed: int = 0,
    groups=None,
    confidence: float = 0.95,
) -> ChinchillaFit:
    """Fit ``L = E + A / N**alpha + B / D**beta`` (Chinchilla Approach 3).

    The objective is evaluated at all 4500 points of the Hoffmann et al.
    starting grid, and L-BFGS-B is run from the best 20 only, which finds the
    same optimum as running from every start at a fraction of the cost.

    Args:
        N: 1-D array-like of positive model sizes.
        D: 1-D array-like of positive data sizes, same length.
        L: 1-D array-like of positive losses, same length.
        huber_delta: Huber threshold on log residuals.
        bootstrap: Number of bootstrap refits for the intervals (0: none).
        seed: Seed of the numpy Generator driving the bootstrap.
        groups: Optional labels (e.g. seeds) to resample as whole groups.
        confidence: Two-sided confidence level of the bootstrap intervals.

    Returns:
        A `ChinchillaFit`.

    Raises:
        FitError: For mismatched lengths, fewer than 6 points, non-finite or
            non-positive values, fewer than 2 distinct N or D, or bad options.
    """
    (model_sizes, data_sizes, losses), groups = _validate_fit_inputs(
        {"N": N, "D": D, "L": L},
        n_params=5,
        huber_delta=huber_delta,
        bootstrap=bootstrap,
        groups=groups,
    )
    log_features = np.column_stack([np.log(model_sizes), np.log(data_sizes)])
    log_loss = np.log(losses)
    theta, objective, replicates = _fit_and_bootstrap(
        log_features, log_loss, huber_delta, bootstrap, groups, seed
    )
    intervals = {}
    if replicates is not None:
        alphas, betas = replicates[:, 3], replicates[:, 4]
        with np.errstate(invalid="ignore", divide="ignore"):
            exponents = betas / (alphas + betas)
        intervals = {
            "E_ci": _percentile_interval(np.exp(replicates[:, 0]), confidence),
            "alpha_ci": _percentile_interval(alphas, confidence),
            "beta_ci": _percentile_interval(betas, confidence),
            "exponent_ci": _percentile_interval(exponents[np.isfinite(exponents)], confidence)
            if np.isfinite(exponents).any()
            else _NAN_PAIR,
        }
    return ChinchillaFit(
        E=float(np.exp(theta[0])),
        A=float(np.exp(theta[1])),
        B=float(np.exp(theta[2])),
        alpha=float(theta[3]),
        beta=float(theta[4]),
        loss=objective,
        **intervals,
    )


# --------------------------------------------------------------------------
# IsoFLOP analysis (Chinchilla Approach 2).
# --------------------------------------------------------------------------


def isoflop_minima(
    df: pd.DataFrame,
    compute_col: str,
    size_col: str,
    loss_col: str,
    window: int = 2,
) -> pd.DataFrame:
    """Loss-minimising size for each compute budget of an IsoFLOP sweep.

    For each budget, repeated runs at one size (seeds) are reduced to their
    median loss, the sampled argmin is located, and a parabola in log(size)
    is fitted to the argmin and its ``window`` neighbours on each side; its
    vertex (clipped to the fitted range) gives ``n_opt`` and ``loss_opt``.
    When the argmin is the smallest or largest sampled size the curve is not
    U-shaped, the true optimum may lie outside the sweep, and the sampled
    argmin is reported with ``is_interior=False``.

    Args:
        df: One row per run.
        compute_col: Column with the compute budget (e.g. FLOPs).
        size_col: Column with the model size (positive).
        loss_col: Column with the final loss; non-finite losses (diverged
            runs) are ignored.
        window: Neighbours on each side of the argmin used in the parabola.

    Returns:
        DataFrame with columns ``compute, n_opt, loss_opt, is_interior``,
        one row per budget, sorted by compute.
    """
    missing = [c for c in (compute_col, size_col, loss_col) if c not in df.columns]
    if missing:
        raise KeyError(f"isoflop_minima: columns {missing} not in DataFrame")
    if window < 1:
        raise ValueError(f"isoflop_minima: window must be >= 1, got {window}")
    rows = []
    for compute, budget in df.groupby(compute_col, sort=True):
        budget = budget[np.isfinite(budget[loss_col].to_numpy(dtype=float))]
        if budget.empty:
            continue
        per_size = budget.groupby(size_col, sort=True)[loss_col].median()
        sizes = per_size.index.to_numpy(dtype=float)
        losses = per_size.to_numpy(dtype=float)
        argmin = int(np.argmin(losses))
        is_interior = 0 < argmin < sizes.size - 1
        n_opt, loss_opt = sizes[argmin], losses[argmin]
        if is_interior:
            lo, hi = max(argmin - window, 0), min(argmin + window + 1, sizes.size)
            log_sizes = np.log(sizes[lo:hi])
            curvature, slope, intercept = np.polyfit(log_sizes, losses[lo:hi], deg=2)
            # An interior argmin of noisy points can still give a concave or
            # flat parabola; then the sampled argmin is the better estimate.
            if curvature > 0:
                log_vertex = np.clip(-slope / (2 * curvature), log_sizes[0], log_sizes[-1])
                n_opt = float(np.exp(log_vertex))
                loss_opt = float(np.polyval([curvature, slope, intercept], log_vertex))
        rows.append(
            {
                "compute": compute,
                "n_opt": float(n_opt),
                "loss_opt": float(loss_opt),
                "is_interior": bool(is_interior),
            }
        )
    return pd.DataFrame(rows, columns=["compute", "n_opt", "loss_opt", "is_interior"])


def compute_optimal_exponent(
    compute, n_opt, confidence: float = 0.95
) -> tuple[float, float, float]:
    """Exponent b of ``n_opt ∝ compute**b`` with a t-based interval.

    Args:
        compute: Compute budgets (positive).
        n_opt: Compute-optimal sizes, e.g. ``isoflop_minima(...)["n_opt"]``
            (preferably only interior minima).
        confidence: Two-sided confidence level.

    Returns:
        ``(b, low, high)``.

    Raises:
        FitError: With fewer than 3 finite positive points.
    """
    try:
        return loglog_slope(compute, n_opt, confidence=confidence)
    except ValueError as error:
        raise FitError(f"compute_optimal_exponent: {error}") from error


def extrapolation_error(
    fit_predict: Callable[..., np.ndarray], x_holdout, y_holdout
) -> float:
    """Worst relative error of a fitted law on held-out points.

    Args:
        fit_predict: Prediction function, e.g. ``PowerLawFit.predict`` or
            ``ChinchillaFit.predict``.
        x_holdout: Held-out inputs; a tuple is unpacked into positional
            arguments, so pass ``(N, D)`` for a Chinchilla fit.
        y_holdout: Observed values at the held-out inputs (non-zero).

    Returns:
        ``max |pred - y| / |y|``.

    Raises:
        FitError: For empty, non-finite or zero observations, or when the
            prediction shape does not match.
    """
    observed = np.asarray(y_holdout, dtype=float).ravel()
    if observed.size == 0:
        raise FitError("extrapolation_error: no held-out points")
    if not np.all(np.isfinite(observed)) or np.any(observed == 0):
        raise FitError("extrapolation_error: held-out values must be finite and non-zero")
    inputs = x_holdout if isinstance(x_holdout, tuple) else (x_holdout,)
    predicted = np.asarray(fit_predict(*inputs), dtype=float).ravel()
    if predicted.shape != observed.shape:
        raise FitError(
            f"extrapolation_error: {predicted.size} predictions for {observed.size} observations"
        )
    return float(np.max(np.abs(predicted - observed) / np.abs(observed)))


# --------------------------------------------------------------------------
# Emergence: when and how sharply a curve transitions.
# --------------------------------------------------------------------------


def _sorted_finite_curve(steps, values, caller: str) -> tuple[np.ndarray, np.ndarray]:
    """Steps and values with non-finite entries dropped, sorted by step."""
    step_array, value_array = finite_pairs(steps, values, caller)
    order = np.argsort(step_array, kind="stable")
    return step_array[order], value_array[order]


def transition_step(steps, values, threshold: float, rising: bool = True) -> float:
    """First step at which a logged curve reaches a threshold.

    The crossing is linearly interpolated between the last logged step
    before the threshold is reached and the first one at which it is.

    Args:
        steps: Logged steps (any order; sorted internally).
        values: Metric at those steps; non-finite entries are ignored.
        threshold: Level to reach.
        rising: True when reaching means ``value >= threshold`` (accuracy);
            False when it means ``value <= threshold`` (loss).

    Returns:
        The interpolated step, the first step if the curve starts at or past
        the threshold, or nan if it never reaches it.
    """
    step_array, value_array = _sorted_finite_curve(steps, values, "transition_step")
    signed = value_array if rising else -value_array
    signed_threshold = threshold if rising else -threshold
    reached = np.flatnonzero(signed >= signed_threshold)
    if reached.size == 0:
        return float("nan")
    first = int(reached[0])
    if first == 0:
        return float(step_array[0])
    before, after = first - 1, first
    fraction = (signed_threshold - signed[before]) / (signed[after] - signed[before])
    return float(step_array[before] + fraction * (step_array[after] - step_array[before]))


def transition_width(
    steps, values, low: float = 0.1, high: float = 0.9, rising: bool = True
) -> float:
    """Steps between reaching ``low`` and ``high`` of the curve's range.

    The levels are fractions of the way from the curve's start level to its
    end level over its observed range: ``min + f * (max - min)`` for a
    rising curve, ``max - f * (max - min)`` for a falling one.

    Args:
        steps: Logged steps.
        values: Metric at those steps.
        low: Fraction marking the start of the transition.
        high: Fraction marking its end (``high > low``).
        rising: Direction of the transition, as in `transition_step`.

    Returns:
        ``transition_step(high level) - transition_step(low level)``; nan for
        a flat curve or if a level is never reached.
    """
    if not 0 <= low < high <= 1:
        raise ValueError(f"transition_width: need 0 <= low < high <= 1, got {low}, {high}")
    _, value_array = _sorted_finite_curve(steps, values, "transition_width")
    if value_array.size == 0:
        return float("nan")
    value_min, value_max = float(value_array.min()), float(value_array.max())
    value_range = value_max - value_min
    if value_range == 0:
        return float("nan")
    if rising:
        low_level, high_level = value_min + low * value_range, value_min + high * value_range
    else:
        low_level, high_level = value_max - low * value_range, value_max - high * value_range
    start = transition_step(steps, values, low_level, rising=rising)
    end = transition_step(steps, values, high_level, rising=rising)
    return float(end - start)
