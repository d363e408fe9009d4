"""Gaussian data with a power-law covariance spectrum (Maloney, Roberts & Sully 2022; Bahri et al. 2021).

Latent features ``x`` in ``R^M`` are Gaussian with diagonal covariance
``Lambda = diag(lambda_1..lambda_M)``, ``lambda_i ∝ i^-(1 + alpha)``, normalised to
trace 1; a linear teacher ``y = beta . x`` with ``beta ~ N(0, I_M)`` then has signal
variance ~1 and the part of it carried by the features beyond the i-th decays as
``i^-alpha``: the source of the ``N^-alpha`` / ``P^-alpha`` scaling laws of the solvable model.

Pure functions of ``(key, config)``; pass ``dtype=jnp.float64`` inside
``jax.enable_x64()`` for the float64 solvers.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp


def power_law_spectrum(M: int, alpha: float | jax.Array, dtype=jnp.float32) -> jax.Array:
    """The eigenvalues ``lambda_i ∝ i^-(1 + alpha)``, ``i = 1..M``, summing to 1.

    Args:
      M: latent dimension (static).
      alpha: spectral exponent of the loss (the eigenvalue exponent is ``1 + alpha``).
      dtype: floating dtype.

    Returns:
      ``(M,)`` decreasing eigenvalues with ``sum = 1``.
    """
    ranks = jnp.arange(1, M + 1, dtype=dtype)
    lam = ranks ** (-(1.0 + jnp.asarray(alpha, dtype)))
    return lam / lam.sum()


def power_law_gaussian(key: jax.Array, n: int, M: int, alpha: float | jax.Array, dtype=jnp.float32) -> jax.Array:
    """Samples ``x ~ N(0, diag(power_law_spectrum(M, alpha)))``.

    Args:
      key: PRNG key.
      n: number of samples (static).
      M: latent dimension (static).
      alpha: spectral exponent.
      dtype: floating dtype.

    Returns:
      ``(n, M)`` samples.
    """
    z = jax.random.normal(key, (n, M), dtype)
    return z * jnp.sqrt(power_law_spectrum(M, alpha, dtype))


def power_law_teacher(
    key: jax.Array,
    n_train: int,
    n_test: int,
    M: int,
    alpha: float | jax.Array,
    noise: float | jax.Array = 0.0,
    dtype=jnp.float32,
) -> dict[str, jax.Array]:
    """Power-law-spectrum Gaussian inputs labelled by a random linear teacher plus noise.

    Args:
      key: PRNG key.
      n_train, n_test: sample counts (static).
      M: latent dimension (static).
      alpha: spectral exponent.
      noise: label-noise standard deviation (train and test labels).
      dtype: floating dtype.

    Returns:
      ``x_train (n_train, M)``, ``y_train``, ``x_test``, ``y_test``, ``f_test``
      (noiseless test targets), ``beta (M,)`` and ``spectrum (M,)``.
    """
    kb, kx, kt, ke, ket = jax.random.split(key, 5)
    beta = jax.random.normal(kb, (M,), dtype)
    x_train = power_law_gaussian(kx, n_train, M, alpha, dtype)
    x_test = power_law_gaussian(kt, n_test, M, alpha, dtype)
    f_train, f_test = x_train @ beta, x_test @ beta
    return {
        "x_train": x_train,
        "y_train": f_train + noise * jax.random.normal(ke, (n_train,), dtype),
        "x_test": x_test,
        "y_test": f_test + noise * jax.random.normal(ket, (n_test,), dtype),
        "f_test": f_test,
        "beta": beta,
        "spectrum": power_law_spectrum(M, alpha, dtype),
    }
