"""Teacher-student data on a low-dimensional manifold (Sharma & Kaplan 2022).

Latent points ``z ~ N(0, I_d)`` (intrinsic dimension d) are embedded in ``R^D`` by a
random orthonormal map (``x = z E^T``), and labelled by a random smooth teacher
``f(z) = a . tanh(W z + b) / sqrt(width)`` with ``W ~ N(0, scale^2 / d)``. The
student sees only ``x``; the intrinsic dimension, not ``D``, sets how fast its error
can fall with its size (``L ∝ N^-4/d`` for piecewise-linear ReLU students, the
Sharma & Kaplan argument: ``N`` pieces of side ``N^-1/d``, squared error ``∝ side^4``).

Pure, jit-able functions of a PRNG key; sizes are static ints.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp


def manifold_teacher_params(
    key: jax.Array, d: int, ambient: int, width: int, scale: float = 2.0
) -> dict[str, jax.Array]:
    """Draws the embedding and the teacher network.

    Args:
      key: PRNG key.
      d: intrinsic dimension (static).
      ambient: input dimension D >= d seen by the student (static).
      width: teacher hidden units (static); large so that no student matches it exactly.
      scale: input-weight scale; larger makes the teacher vary faster (more structure
        at small scales, a longer power law).

    Returns:
      ``embed (ambient, d)`` orthonormal columns, ``w (d, width)``, ``b (width,)``, ``a (width,)``.
    """
    ke, kw, kb, ka = jax.random.split(key, 4)
    embed, _ = jnp.linalg.qr(jax.random.normal(ke, (ambient, d)))
    return {
        "embed": embed,
        "w": scale * jax.random.normal(kw, (d, width)) / jnp.sqrt(d),
        "b": jax.random.normal(kb, (width,)),
        "a": jax.random.normal(ka, (width,)),
    }


def manifold_teacher_apply(teacher: dict[str, jax.Array], z: jax.Array) -> jax.Array:
    """Args: teacher: from ``manifold_teacher_params``; z: ``(n, d)`` latent points.
    Returns: ``(n,)`` teacher outputs (variance ~0.4 for scale 2)."""
    width = teacher["a"].shape[0]
    return jnp.tanh(z @ teacher["w"] + teacher["b"]) @ teacher["a"] / jnp.sqrt(width)


def manifold_samples(key: jax.Array, teacher: dict[str, jax.Array], n: int) -> tuple[jax.Array, jax.Array]:
    """Args: key: PRNG key; teacher: the embedding and teacher; n: samples (static).
    Returns: ``(x (n, ambient), y (n,))`` noiseless samples."""
    d = teacher["w"].shape[0]
    z = jax.random.normal(key, (n, d))
    return z @ teacher["embed"].T, manifold_teacher_apply(teacher, z)


def manifold_teacher_student(
    key: jax.Array,
    n_train: int,
    n_test: int,
    d: int,
    ambient: int,
    teacher_width: int = 512,
    scale: float = 2.0,
    teacher_key: jax.Array | None = None,
) -> dict[str, jax.Array]:
    """Train and test samples of a manifold teacher (noiseless labels).

    Args:
      key: PRNG key of the samples (and of the teacher unless ``teacher_key`` is given).
      n_train, n_test: sample counts (static).
      d: intrinsic dimension (static).
      ambient: input dimension (static).
      teacher_width: teacher hidden units (static).
      scale: teacher input-weight scale.
      teacher_key: fixes the teacher separately from the samples (e.g. one teacher for
        every seed of a sweep).

    Returns:
      ``x_train (n_train, ambient)``, ``y_train``, ``x_test``, ``y_test``.
    """
    k_teacher, k_train, k_test = jax.random.split(key, 3)
    teacher = manifold_teacher_params(
        k_teacher if teacher_key is None else teacher_key, d, ambient, teacher_width, scale
    )
    x_train, y_train = manifold_samples(k_train, teacher, n_train)
    x_test, y_test = manifold_samples(k_test, teacher, n_test)
    return {"x_train": x_train, "y_train": y_train, "x_test": x_test, "y_test": y_test}
