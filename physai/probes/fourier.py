"""Fourier progress measures for modular arithmetic (Nanda et al. 2023) and weight norms.

A network that groks ``a + b mod p`` represents tokens by a few Fourier modes
``cos(2 pi f a / p)``, ``sin(2 pi f a / p)``: its embedding table, transformed
along the token axis, concentrates its energy on a handful of frequencies.
These functions measure that concentration; all are jit-able.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np


def fourier_basis(p: int) -> np.ndarray:
    """Args: p: the modulus (odd). Returns: ``(p, p)`` orthonormal real Fourier basis, rows
    ``[1, cos_1, sin_1, cos_2, sin_2, ...]`` evaluated at tokens ``0..p-1``."""
    t = np.arange(p)
    rows = [np.ones(p) / np.sqrt(p)]
    for f in range(1, (p - 1) // 2 + 1):
        rows.append(np.cos(2 * np.pi * f * t / p))
        rows.append(np.sin(2 * np.pi * f * t / p))
    basis = np.stack(rows[:p])
    return (basis / np.linalg.norm(basis, axis=1, keepdims=True)).astype(np.float32)


def frequency_power(table: jax.Array, p: int) -> jax.Array:
    """Energy of a token table in each non-constant frequency.

    Args:
      table: ``(p, d)`` embedding (rows = tokens); extra rows beyond ``p`` are ignored.
      p: the modulus (odd, static).

    Returns:
      ``((p - 1) / 2,)`` energies: ``||cos_f^T E||^2 + ||sin_f^T E||^2`` for f = 1..(p-1)/2.
    """
    coeffs = jnp.asarray(fourier_basis(p)) @ table[:p]  # (p, d)
    energy = jnp.sum(coeffs[1:] ** 2, axis=1)  # drop the constant mode
    return energy.reshape(-1, 2).sum(axis=1)


def gini(values: jax.Array) -> jax.Array:
    """Gini coefficient of non-negative values: 0 when all equal, -> 1 when one dominates.

    Args: values: ``(n,)`` non-negative. Returns: scalar in ``[0, 1 - 1/n]``.
    """
    v = jnp.sort(values)
    n = v.shape[0]
    i = jnp.arange(1, n + 1)
    return jnp.sum((2 * i - n - 1) * v) / (n * jnp.sum(v) + 1e-30)


def fourier_sparsity(table: jax.Array, p: int) -> dict[str, jax.Array]:
    """Sparsity of a token table's frequency spectrum.

    Args:
      table: ``(p, d)`` embedding.
      p: the modulus.

    Returns:
      ``gini``: Gini coefficient of the per-frequency norms (``sqrt`` of energies, as
      Nanda et al. plot norms); ``effective_frequencies``: participation ratio
      ``(sum E)^2 / sum E^2`` of the energies (number of frequencies in use);
      ``top5_fraction``: share of energy in the 5 strongest frequencies.
    """
    energy = frequency_power(table, p)
    total = jnp.sum(energy) + 1e-30
    top = jnp.sum(jax.lax.top_k(energy, min(5, energy.shape[0]))[0])
    return {
        "gini": gini(jnp.sqrt(energy)),
        "effective_frequencies": total**2 / (jnp.sum(energy**2) + 1e-30),
        "top5_fraction": top / total,
    }


def global_norm(params) -> jax.Array:
    """Args: params: a pytree. Returns: the L2 norm of all its leaves together."""
    return jnp.sqrt(sum(jnp.sum(jnp.square(x)) for x in jax.tree.leaves(params)))
