"""Scaling_solvable: the model and its exact solves (closed-form expected losses in float64)."""

from __future__ import annotations

import functools
from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpy as np
import scipy.linalg

import physai
from physai import ShardResult
from physai.curricula import spectra
from physai.runtime import single_threaded_blas


@functools.cache
def _spectrum(M: int, alpha: float) -> np.ndarray:
    with jax.enable_x64():
        return np.asarray(spectra.power_law_spectrum(int(M), float(alpha), jnp.float64))


def _whitened_samples(seed: int, stream: int, rows: int, M: int, alpha: float) -> np.ndarray:
    """``rows`` samples of N(0, Lambda) in float64 (rows of W Lambda^1/2 or of X)."""
    key = jax.random.fold_in(jax.random.key(int(seed)), stream)
    with jax.enable_x64():
        x = spectra.power_law_gaussian(key, int(rows), int(M), float(alpha), jnp.float64)
        return np.asarray(x)


def features_loss(a: np.ndarray, lam: np.ndarray, noise_var: float) -> float:
    """Test loss of the population (P -> infinity) read-out on features with rows ``a``.

    Args:
      a: ``(N, M)`` the feature map in latent coordinates times ``Lambda^1/2``
        (``W Lambda^1/2``).
      lam: ``(M,)`` the spectrum.
      noise_var: label-noise variance sigma^2 (the loss floor).

    Returns:
      ``sigma^2 + E_beta ||(I - Pi) Lambda^1/2 beta||^2 = sigma^2 + tr Lambda - tr(Q^T Lambda Q)``.
    """
    q, r = scipy.linalg.qr(a.T, mode="economic", check_finite=False)
    diag = np.abs(np.diag(r))
    keep = diag > diag.max() * np.finfo(float).eps * max(a.shape)  # drop dependent columns
    q = q[:, keep]
    return float(noise_var + lam.sum() - np.einsum("ij,i,ij->", q, lam, q))


def data_loss(x: np.ndarray, lam: np.ndarray, noise_var: float, ridge: float) -> float:
    """Test loss of ridge regression on ``x`` (the N -> infinity random-feature limit).

    Args:
      x: ``(P, M)`` training inputs with covariance ``diag(lam)``.
      lam: ``(M,)`` the spectrum.
      noise_var: label-noise variance sigma^2 (train and test labels).
      ridge: the penalty lambda in ``||X b - y||^2 + lambda ||b||^2``.

    Returns:
      ``sigma^2 + bias + variance``, averaged over ``beta ~ N(0, I)`` and the noise.
    """
    P, M = x.shape
    if P <= M:  # eigen-decompose the smaller Gram matrix; V spans the row space of X
        s2, u = scipy.linalg.eigh(x @ x.T, check_finite=False)
        keep = s2 > s2.max() * np.finfo(float).eps * max(P, M)
        s2, u = s2[keep], u[:, keep]
        v = (x.T @ u) / np.sqrt(s2)
    else:
        s2, v = scipy.linalg.eigh(x.T @ x, check_finite=False)
        keep = s2 > s2.max() * np.finfo(float).eps * max(P, M)
        s2, v = s2[keep], v[:, keep]
    c_diag = np.einsum("ij,i,ij->j", v, lam, v)  # diag(V^T Lambda V)
    h = s2 / (s2 + ridge)
    # tr((I - V H V^T) Lambda (I - V H V^T)) with V^T V = I.
    bias = lam.sum() - np.sum((2 * h - h**2) * c_diag)
    variance = noise_var * np.sum(s2 / (s2 + ridge) ** 2 * c_diag)
    return float(noise_var + bias + variance)


@dataclass(frozen=True)
class Static(physai.Static):
    """One shard per part and latent dimension (numpy solves; no compiled shapes)."""

    part: str
    M: int


def run(shard) -> ShardResult:
    """Solves every trial of a shard (one part, one M) exactly in float64."""
    st = shard.static
    M = st.M
    rows = []
    with single_threaded_blas():
        for trial in shard.trials:
            prm = trial.params
            alpha, size = float(prm["alpha"]), int(prm["size"])
            lam = _spectrum(M, alpha)
            if st.part == "features":
                a = _whitened_samples(prm["seed"], 0, size, M, alpha)
                loss = features_loss(a, lam, prm["noise_var"])
            else:
                x = _whitened_samples(prm["seed"], 1, size, M, alpha)
                loss = data_loss(x, lam, prm["noise_var"], prm["ridge"] * size)
            rows.append({"loss": loss, "excess_loss": loss - prm["noise_var"], "size_over_M": size / M})
    return ShardResult(rows)
