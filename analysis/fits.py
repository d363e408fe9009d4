"""Curve fits for scaling laws.

Scaling laws are fitted the way Hoffmann et al. (2022, "Training
Compute-Optimal Large Language Models", Approach 3) fit theirs: the model is
written in log space with ``A = exp(a)``, ``E = exp(e)`` so that E, A, B
stay positive without constraints and the prediction is a ``logsumexp`` of
its terms (numerically stable over many decades), and the Huber loss of the
log residuals is minimised with L-BFGS-B from a grid of starting points,
keeping the best optimum (``analysis.lawfit``). Huber with a small ``delta``
behaves like an L1 loss on the log residuals and is therefore robust to a
few outlier runs.

Also here: IsoFLOP minima (Chinchilla Approach 2), the compute-optimal
exponent from them, and extrapolation error on held-out points. Transition
step and width of emergence curves are in ``analysis.transitions``.

All randomness (bootstrap) is driven by explicit seeds.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import numpy as np
import pandas as pd

from analysis.lawfit import FitError, fit_and_bootstrap, percentile_interval, validate_fit_inputs
from analysis.stats import loglog_slope

__all__ = [
    "FitError",
    "PowerLawFit",
    "ChinchillaFit",
    "fit_power_law",
    "fit_chinchilla",
    "isoflop_minima",
    "compute_optimal_exponent",
    "extrapolation_error",
]

_NAN_PAIR = (float("nan"), float("nan"))


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
    """

    E: float
    A: float
    alpha: float
    loss: float

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


def fit_power_law(N, L, huber_delta: float = 1e-3) -> PowerLawFit:
    """Fit ``L = E + A * N**-alpha`` by Huber regression in log space.

    Args:
        N: 1-D array-like of positive sizes (parameters, data, steps, compute, ...).
        L: 1-D array-like of positive losses, same length as N.
        huber_delta: Huber threshold on log residuals; small values make the
            fit L1-like and robust to outlier runs.

    Returns:
        A `PowerLawFit`.

    Raises:
        FitError: For mismatched lengths, fewer than 4 points, non-finite or
            non-positive values, fewer than 2 distinct sizes, or a bad huber_delta.
    """
    (sizes, losses), _ = validate_fit_inputs({"N": N, "L": L}, n_params=3, huber_delta=huber_delta)
    theta, objective, _ = fit_and_bootstrap(np.log(sizes)[:, None], np.log(losses), huber_delta)
    return PowerLawFit(E=float(np.exp(theta[0])), A=float(np.exp(theta[1])), alpha=float(theta[2]), loss=objective)


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
    (model_sizes, data_sizes, losses), groups = validate_fit_inputs(
        {"N": N, "D": D, "L": L},
        n_params=5,
        huber_delta=huber_delta,
        bootstrap=bootstrap,
        groups=groups,
    )
    log_features = np.column_stack([np.log(model_sizes), np.log(data_sizes)])
    log_loss = np.log(losses)
    theta, objective, replicates = fit_and_bootstrap(log_features, log_loss, huber_delta, bootstrap, groups, seed)
    intervals = {}
    if replicates is not None:
        alphas, betas = replicates[:, 3], replicates[:, 4]
        with np.errstate(invalid="ignore", divide="ignore"):
            exponents = betas / (alphas + betas)
        intervals = {
            "E_ci": percentile_interval(np.exp(replicates[:, 0]), confidence),
            "alpha_ci": percentile_interval(alphas, confidence),
            "beta_ci": percentile_interval(betas, confidence),
            "exponent_ci": percentile_interval(exponents[np.isfinite(exponents)], confidence)
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


def compute_optimal_exponent(compute, n_opt, confidence: float = 0.95) -> tuple[float, float, float]:
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


def extrapolation_error(fit_predict: Callable[..., np.ndarray], x_holdout, y_holdout) -> float:
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
        raise FitError(f"extrapolation_error: {predicted.size} predictions for {observed.size} observations")
    return float(np.max(np.abs(predicted - observed) / np.abs(observed)))
