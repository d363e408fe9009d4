"""Isoperimetric inputs with pure-noise labels: the setting of the law of robustness.

Bubeck & Sellke (2021) prove their Lipschitz lower bound for input
distributions that satisfy isoperimetry (concentration of Lipschitz functions),
such as ``N(0, I/d)`` and the uniform distribution on the unit sphere. Labels
are independent fair coins ``+-1``, so the labels are pure noise (variance 1)
and any fit below that noise level memorises.

Both distributions put points at norm ~1 in every dimension, so Lipschitz
constants measured in different ``d`` share one scale.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

DISTRIBUTIONS = ("gaussian", "sphere")


def isoperimetric_inputs(key: jax.Array, n: int, d: int, distribution: str = "gaussian") -> jax.Array:
    """Draws ``n`` points from an isoperimetric distribution in ``d`` dimensions.

    Args:
      key: PRNG key.
      n: number of points.
      d: dimension.
      distribution: ``"gaussian"`` for ``N(0, I/d)`` (expected squared norm 1) or
        ``"sphere"`` for the uniform distribution on the unit sphere.

    Returns:
      ``(n, d)`` float32 array.
    """
    if distribution not in DISTRIBUTIONS:
        raise ValueError(f"distribution must be one of {DISTRIBUTIONS}, got {distribution!r}")
    z = jax.random.normal(key, (n, d))
    if distribution == "gaussian":
        return z / jnp.sqrt(d)
    # A normalised isotropic Gaussian is uniform on the sphere.
    return z / jnp.linalg.norm(z, axis=1, keepdims=True)


def random_sign_labels(key: jax.Array, n: int) -> jax.Array:
    """Args: key; n: number of labels. Returns: ``(n,)`` float32 independent fair ``+-1``."""
    return jnp.where(jax.random.bernoulli(key, 0.5, (n,)), 1.0, -1.0).astype(jnp.float32)


def sphere_random_labels(
    key: jax.Array, n_train: int, n_test: int, d: int, distribution: str = "gaussian", n_extra: int = 0
) -> dict[str, jax.Array]:
    """Isoperimetric inputs with random ``+-1`` labels (pure label noise).

    Args:
      key: PRNG key.
      n_train: labelled training points.
      n_test: fresh points from the same distribution (with their own random
        labels, which no model can predict: test accuracy is 1/2 by design).
      d: dimension.
      distribution: ``"gaussian"`` (``N(0, I/d)``) or ``"sphere"`` (uniform on the unit sphere).
      n_extra: further unlabelled fresh points (e.g. where a smoothness penalty
        is evaluated), independent of the training and test points.

    Returns:
      ``x_train (n_train, d)``, ``y_train (n_train,)``, ``x_test``, ``y_test`` and,
      if ``n_extra > 0``, ``x_extra (n_extra, d)``.
    """
    kx, ky, kt, kyt, ke = jax.random.split(key, 5)
    out = {
        "x_train": isoperimetric_inputs(kx, n_train, d, distribution),
        "y_train": random_sign_labels(ky, n_train),
        "x_test": isoperimetric_inputs(kt, n_test, d, distribution),
        "y_test": random_sign_labels(kyt, n_test),
    }
    if n_extra > 0:
        out["x_extra"] = isoperimetric_inputs(ke, n_extra, d, distribution)
    return out
