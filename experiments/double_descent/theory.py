"""The laws the double-descent parts test: exact finite-n expectations of min-norm least
squares on Gaussian features, their n -> infinity limit, and the random-features
approximation error they need."""

from __future__ import annotations

import math

import numpy as np
import scipy.linalg


def hastie_risk(gamma, signal2: float, noise2: float):
    """Asymptotic risk of min-norm least squares, isotropic features (Hastie et al. 2022, Thm 1).

    Args:
      gamma: ``p / n`` (scalar or array).
      signal2: ``r^2 = ||beta||^2``.
      noise2: ``sigma^2``, the label-noise variance.

    Returns:
      The excess risk ``E (x . (b - beta))^2``; ``inf`` at ``gamma = 1``.
    """
    g = np.asarray(gamma, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        under = noise2 * g / (1 - g)
        over = signal2 * (1 - 1 / g) + noise2 / (g - 1)
    return np.where(g < 1, under, np.where(g > 1, over, np.inf))


def finite_n_risk(p, n: int, signal2: float, noise2: float):
    """Exact expectation of the excess risk of min-norm least squares at finite ``n``, ``p``.

    For rows ``x ~ N(0, I_p)`` and ``||beta||^2 = r^2`` (the design of ``run``):
    below the threshold ``b - beta = (X'X)^-1 X' eps`` and ``E tr (X'X)^-1 = p / (n - p - 1)``
    (inverse-Wishart mean); above it ``b - beta = -(I - P) beta + X^+ eps`` with ``P`` a
    uniformly random rank-``n`` projection, so ``E ||(I - P) beta||^2 = r^2 (1 - n / p)`` and
    ``E tr (X X')^-1 = n / (p - n - 1)``. The expectation is infinite for ``n - 1 <= p <= n + 1``.

    Args:
      p: feature counts (scalar or array).
      n: samples.
      signal2: ``r^2 = ||beta||^2``.
      noise2: ``sigma^2``.

    Returns:
      ``E ||b - beta||^2`` (the excess risk: ``Sigma = I``, label noise of the test point excluded).
    """
    p = np.asarray(p, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        under = noise2 * p / (n - p - 1)
        over = signal2 * (1 - n / p) + noise2 * n / (p - n - 1)
    return np.where(p < n - 1, under, np.where(p > n + 1, over, np.inf))


def expected_coef_norm2(p, n: int, signal2: float, noise2: float):
    """Exact ``E ||b||^2`` of min-norm least squares (same design and derivation as
    ``finite_n_risk``): ``r^2 + sigma^2 p/(n-p-1)`` below, ``r^2 n/p + sigma^2 n/(p-n-1)`` above."""
    p = np.asarray(p, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        under = signal2 + noise2 * p / (n - p - 1)
        over = signal2 * n / p + noise2 * n / (p - n - 1)
    return np.where(p < n - 1, under, np.where(p > n + 1, over, np.inf))


def gaussian_equivalent_risk(p, n: int, approx2, noise2: float):
    """Expected test MSE (against the clean target) of least squares on p <= n - 2 features, were
    the features Gaussian: ``s^2 + (s^2 + sigma^2) p / (n - p - 1)``.

    Least squares below the threshold is invariant to any linear map of the features, so for
    Gaussian features only ``p``, ``n`` and the noise seen by the fit matter: the label noise
    ``sigma^2`` plus the part of the target no read-out of these features reaches, ``s^2``
    (``approx_mse``), which acts as noise independent of the features (Gaussian equivalence);
    ``E tr (F'F)^-1 Sigma = p / (n - p - 1)`` as in ``finite_n_risk``. NaN for p > n - 2.
    """
    p = np.asarray(p, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        risk = approx2 + (approx2 + noise2) * p / (n - p - 1)
    return np.where(p <= n - 2, risk, np.nan)


def approximation_error(f_test: np.ndarray, target: np.ndarray, n: int) -> float:
    """The population error of the best linear read-out of these p features, ``s^2``, estimated
    on the test set: residual sum of squares / (n_test - p), unbiased when the residual is
    independent noise. Computed only below the threshold (p <= n - 2), where the finite-n
    expectation uses it and the solve is cheap; NaN elsewhere."""
    m, p = f_test.shape
    if p > n - 2 or p >= m // 2:
        return math.nan
    a = scipy.linalg.lstsq(f_test, target, lapack_driver="gelsd", check_finite=False)[0]
    return float(np.sum((f_test @ a - target) ** 2) / (m - p))
