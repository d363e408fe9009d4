"""Modular arithmetic (Power et al. 2022) and multi-digit addition (an L-token answer task).

Pure, jit-able functions of a PRNG key; sizes are static Python ints, the train
fraction may be traced.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

OPERATIONS = {
    "add": lambda a, b, p: (a + b) % p,
    "sub": lambda a, b, p: (a - b) % p,
    "mul": lambda a, b, p: (a * b) % p,
}


def modular_arithmetic(key: jax.Array, p: int, train_fraction: jax.Array | float, op: str = "add") -> dict:
    """Every pair ``(a, b)`` in ``Z_p^2`` labelled ``a op b mod p``, split at random by a mask.

    Power, Burda, Edwards, Babuschkin & Misra (2022), "Grokking: generalization beyond
    overfitting on small algorithmic datasets"; Nanda et al. (2023) use ``p = 113``
    and a 30% train fraction. The split is a *mask* over one fixed-shape table of all
    ``p^2`` pairs (so trials with different train fractions share one compiled
    program): the first ``round(train_fraction * p^2)`` pairs of a random permutation
    are training pairs, the rest test pairs.

    Args:
      key: PRNG key (fixes the split).
      p: the modulus (static).
      train_fraction: fraction of all pairs used for training (may be traced).
      op: ``add``, ``sub`` or ``mul`` (static).

    Returns:
      ``x_train``/``x_test`` ``(p^2, 2)`` int32 (both the full, permuted table),
      ``y_train``/``y_test`` ``(p^2,)`` int32 labels, ``train_mask`` / ``test_mask``
      ``(p^2,)`` float 0/1 selecting the split (weight losses and accuracies with them).
    """
    a, b = jnp.meshgrid(jnp.arange(p), jnp.arange(p), indexing="ij")
    pairs = jnp.stack([a.ravel(), b.ravel()], axis=1).astype(jnp.int32)
    pairs = pairs[jax.random.permutation(key, p * p)]
    labels = OPERATIONS[op](pairs[:, 0], pairs[:, 1], p).astype(jnp.int32)
    n_train = jnp.round(jnp.asarray(train_fraction, jnp.float32) * p * p)
    train_mask = (jnp.arange(p * p) < n_train).astype(jnp.float32)
    return {
        "x_train": pairs,
        "y_train": labels,
        "x_test": pairs,
        "y_test": labels,
        "train_mask": train_mask,
        "test_mask": 1.0 - train_mask,
    }


def digits_of(values: jax.Array, n_digits: int, base: int = 10) -> jax.Array:
    """Args: values: non-negative ints; n_digits: digits kept (static); base: the base.
    Returns: ``values.shape + (n_digits,)`` digits, most significant first."""
    powers = base ** jnp.arange(n_digits - 1, -1, -1)
    return (values[..., None] // powers) % base


def multidigit_addition(key: jax.Array, n_digits: int, n_train: int, n_test: int, base: int = 10) -> dict:
    """``a + b`` for random ``n_digits``-digit numbers, answered with ``n_digits`` tokens.

    The answer is the last ``n_digits`` digits of the sum (i.e. ``(a + b) mod
    base^n_digits``), so every answer has exactly ``L = n_digits`` tokens and exact
    match requires all ``L`` to be right: the task of Schaeffer, Miranda & Koyejo
    (2023, "Are emergent abilities of large language models a mirage?", Sec. 3).

    Args:
      key: PRNG key.
      n_digits: L, digits per operand and per answer (static; base^L must fit in int32).
      n_train, n_test: sample counts (static).
      base: the number base (static).

    Returns:
      ``x_train (n_train, 2 L)`` int32 digit tokens of ``a`` then ``b``,
      ``y_train (n_train, L)`` int32 answer digits, and the same for ``test``.
    """
    top = base**n_digits

    def draw(k, n):
        ka, kb = jax.random.split(k)
        a = jax.random.randint(ka, (n,), 0, top)
        b = jax.random.randint(kb, (n,), 0, top)
        x = jnp.concatenate([digits_of(a, n_digits, base), digits_of(b, n_digits, base)], axis=1)
        return x.astype(jnp.int32), digits_of((a + b) % top, n_digits, base).astype(jnp.int32)

    k_train, k_test = jax.random.split(key)
    x_train, y_train = draw(k_train, n_train)
    x_test, y_test = draw(k_test, n_test)
    return {"x_train": x_train, "y_train": y_train, "x_test": x_test, "y_test": y_test}
