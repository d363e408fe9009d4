"""Multi-token answers from a random teacher: an L-token task with smooth per-token difficulty.

Used to study how the choice of metric shapes apparent emergence (Schaeffer,
Miranda & Koyejo 2023): every answer has ``n_tokens`` tokens, each a class out
of ``vocab``, all read off one shared random teacher representation of the input.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp


def multitoken_teacher(
    key: jax.Array, d: int, n_tokens: int, vocab: int, teacher_width: int, n_train: int, n_test: int, scale: float = 2.0
) -> dict:
    """Gaussian inputs labelled by a random two-layer tanh teacher with one read-out per token.

    ``h = tanh(scale * A x / sqrt(d))``, ``A`` standard normal ``(teacher_width, d)``;
    token ``j`` is ``argmax_v (B_j h)_v`` with ``B_j`` standard normal ``(vocab,
    teacher_width)``. Token labels are deterministic functions of ``x``; how many a
    student gets right grows smoothly with its capacity.

    Args:
      key: PRNG key (fixes the teacher and the samples).
      d: input dimension (static).
      n_tokens: answer length L (static).
      vocab: classes per token (static).
      teacher_width: hidden units of the teacher (static).
      n_train, n_test: sample counts (static).
      scale: pre-activation scale of the teacher (larger = more non-linear).

    Returns:
      ``x_train (n_train, d)`` float, ``y_train (n_train, L)`` int32, the same for ``test``.
    """
    k_a, k_b, k_train, k_test = jax.random.split(key, 4)
    a = jax.random.normal(k_a, (teacher_width, d))
    b = jax.random.normal(k_b, (n_tokens, vocab, teacher_width))

    def label(x):
        h = jnp.tanh(scale * x @ a.T / jnp.sqrt(d))
        return jnp.argmax(jnp.einsum("nh,lvh->nlv", h, b), axis=-1).astype(jnp.int32)

    x_train = jax.random.normal(k_train, (n_train, d))
    x_test = jax.random.normal(k_test, (n_test, d))
    return {"x_train": x_train, "y_train": label(x_train), "x_test": x_test, "y_test": label(x_test)}
