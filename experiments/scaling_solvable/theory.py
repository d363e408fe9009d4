"""Scaling_solvable: the finite-size theory (deterministic equivalent) and the fit window it gives."""

from __future__ import annotations

import functools
import math

import numpy as np
import scipy.optimize

from .task import _spectrum

WINDOW_TOL = 0.05  # fit where the theory's own local exponent is within this of alpha


def theory_excess(size: int, lam: np.ndarray, noise_var: float = 0.0, penalty: float = 0.0) -> float:
    """Expected excess loss of the solved model at finite M (deterministic equivalent).

    The random-matrix solution of Maloney et al. written in the standard self-consistent form:
    ``kappa`` solves ``sum_i lambda_i / (lambda_i + kappa) + penalty / kappa = size``; with
    ``L_i = lambda_i / (lambda_i + kappa)`` and ``E_0 = size / (size - sum_i L_i^2)`` the excess
    loss is ``E_0 sum_i (1 - L_i)^2 lambda_i + noise_var (E_0 - 1)`` (beta ~ N(0, I)). The
    features curve is this with ``noise_var = penalty = 0`` (it reduces to ``kappa N``: the duality);
    the data curve adds the label-noise variance ``noise_var (E_0 - 1)``.

    Args:
      size: N (features) or P (data).
      lam: ``(M,)`` the spectrum.
      noise_var: label-noise variance (0 for the features curve).
      penalty: the ridge penalty lambda of ``||X b - y||^2 + lambda ||b||^2`` (data: ``ridge * P``).

    Returns:
      The excess loss (0 for ``size >= M`` without noise or penalty; inf at ``size == M`` with noise).
    """
    M = lam.size
    if penalty <= 0 and size >= M:
        if noise_var == 0:
            return 0.0
        return math.inf if size == M else noise_var * M / (size - M)

    def gap(log_kappa):
        kappa = math.exp(log_kappa)
        return float(np.sum(lam / (lam + kappa))) + penalty / kappa - size

    kappa = math.exp(scipy.optimize.brentq(gap, -200.0, 50.0, xtol=1e-12))
    learned = lam / (lam + kappa)
    e0 = size / (size - float(np.sum(learned**2)))
    return float(e0 * np.sum((1 - learned) ** 2 * lam) + noise_var * (e0 - 1))


def theory_curve(part: str, size: np.ndarray, M: int, alpha: float, noise_var: float, ridge: float) -> np.ndarray:
    """The theory's excess loss at each size (features: no noise, no ridge; data: penalty ridge * P)."""
    lam = _spectrum(M, alpha)
    if part == "features":
        return np.array([theory_excess(int(s), lam) for s in size])
    return np.array([theory_excess(int(s), lam, noise_var, ridge * s) for s in size])


def local_exponent(size: float, M: int, alpha: float) -> float:
    """``-d log L_excess / d log N`` of the features theory at ``size`` (central difference, 1%)."""
    lam = _spectrum(M, alpha)
    up, down = theory_excess(size * 1.01, lam), theory_excess(size / 1.01, lam)
    return -math.log(up / down) / math.log(1.01**2)


@functools.cache
def fit_window(M: int, alpha: float) -> tuple[float, float]:
    """The sizes where the theory itself follows N^-alpha: local exponent within WINDOW_TOL of alpha.

    The theory's local exponent rises monotonically from below alpha (small N) to above it (the
    finite-M cut-off steepens the curve); the window lies between the two crossings.
    """
    grid = np.geomspace(1.0, M * 0.9, 400)
    slopes = np.array([local_exponent(n, M, alpha) for n in grid])
    inside = grid[np.abs(slopes - alpha) <= WINDOW_TOL]
    return (float(inside.min()), float(inside.max())) if inside.size else (math.nan, math.nan)
