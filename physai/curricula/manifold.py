"""Teacher-student data on a low-dimensional manifold (Sharma & Kaplan 2022).

Latent points ``z ~ N(0, I_d)`` (intrinsic dimension d) are embedded in ``R^D`` by a
random orthonormal map (``x = z E^T``), and labelled by a random smooth teacher
``f(z) = a . tanh(W z + b) / sqrt(width)`` with ``W ~ N(0, scale^2 / d)``. The
student sees only ``x``; the intrinsic dimension, not ``D``, sets how fast its error
can fall with its size (``L ∝ N^-4/d`` for piecewise-linear ReLU students, the
Sharma & Kaplan argument: ``N`` pieces of side ``N^-1/d``, squared error ``∝ side^4``).

Two teachers:
  * ``kind="tanh"``: the sum of ``width`` tanh ridge functions above. Each ridge varies along
    one direction only, so a ReLU student can fit it at rates that need not depend on d.
  * ``kind="fourier"``: a random Fourier series ``f(z) = sqrt(2/M) sum_m a_m cos(omega_m . z +
    phi_m)`` with ``omega_m ~ N(0, I_d / length^2)``, a draw (as M grows) of the Gaussian process
    with the squared-exponential kernel ``exp(-|z - z'|^2 / (2 length^2))``. Its spectrum is
    isotropic, so it has detail of size ``length`` in every one of the d directions: the number of
    cells of that size over the data grows like ``(extent / length)^d``, the complexity that the
    piecewise-linear argument counts. Smooth (Gaussian spectrum); each draw is rescaled to variance 1
    on the data, whatever d.

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


def fourier_teacher_params(
    key: jax.Array, d: int, ambient: int, features: int = 1024, length: float = 1.0
) -> dict[str, jax.Array]:
    """Draws the embedding and a random Fourier-series teacher (see the module docstring).

    The embedding is drawn as in ``manifold_teacher_params`` (same key -> same inputs).

    Args:
      key: PRNG key.
      d: intrinsic dimension (static).
      ambient: input dimension D >= d (static).
      features: Fourier terms M (static); many more than any student's hidden units.
      length: correlation length in z; smaller -> more detail per direction.

    Returns:
      ``embed (ambient, d)``, ``omega (d, features)``, ``phase (features,)``, ``a (features,)``.
    """
    ke, kw, kb, ka = jax.random.split(key, 4)
    embed, _ = jnp.linalg.qr(jax.random.normal(ke, (ambient, d)))
    teacher = {
        "embed": embed,
        "omega": jax.random.normal(kw, (d, features)) / length,
        "phase": jax.random.uniform(kb, (features,), maxval=2 * jnp.pi),
        "a": jax.random.normal(ka, (features,)),
    }
    # One draw's variance over the data fluctuates (at small d the data span few correlation
    # lengths); rescale so that every teacher has variance 1 on the data, whatever d.
    y = fourier_teacher_apply(teacher, jax.random.normal(jax.random.fold_in(key, 1), (_BLOCK, d)))
    return {**teacher, "a": teacher["a"] / jnp.std(y)}


_BLOCK = 4096  # rows per block of the Fourier teacher: bounds the (rows, features) intermediate


def fourier_teacher_apply(teacher: dict[str, jax.Array], z: jax.Array) -> jax.Array:
    """Args: teacher: from ``fourier_teacher_params``; z: ``(n, d)`` latent points.
    Returns: ``(n,)`` teacher outputs (variance 1 on the data)."""
    features = teacher["a"].shape[0]

    def block(zb):
        return jnp.cos(zb @ teacher["omega"] + teacher["phase"]) @ teacher["a"] * jnp.sqrt(2.0 / features)

    n = z.shape[0]
    if n <= _BLOCK:
        return block(z)
    pad = -n % _BLOCK  # evaluated block by block: n x features at once would not fit in memory
    zp = jnp.pad(z, ((0, pad), (0, 0))).reshape(-1, _BLOCK, z.shape[1])
    return jax.lax.map(block, zp).reshape(-1)[:n]


def manifold_teacher_apply(teacher: dict[str, jax.Array], z: jax.Array) -> jax.Array:
    """Args: teacher: from ``manifold_teacher_params``; z: ``(n, d)`` latent points.
    Returns: ``(n,)`` teacher outputs (variance ~0.4 for scale 2)."""
    width = teacher["a"].shape[0]
    return jnp.tanh(z @ teacher["w"] + teacher["b"]) @ teacher["a"] / jnp.sqrt(width)


def manifold_samples(key: jax.Array, teacher: dict[str, jax.Array], n: int) -> tuple[jax.Array, jax.Array]:
    """Args: key: PRNG key; teacher: the embedding and teacher; n: samples (static).
    Returns: ``(x (n, ambient), y (n,))`` noiseless samples."""
    d = teacher["embed"].shape[1]
    z = jax.random.normal(key, (n, d))
    apply = fourier_teacher_apply if "omega" in teacher else manifold_teacher_apply
    return z @ teacher["embed"].T, apply(teacher, z)


def manifold_teacher_student(
    key: jax.Array,
    n_train: int,
    n_test: int,
    d: int,
    ambient: int,
    teacher_width: int = 512,
    scale: float = 2.0,
    teacher_key: jax.Array | None = None,
    kind: str = "tanh",
    length: float = 1.0,
) -> dict[str, jax.Array]:
    """Train and test samples of a manifold teacher (noiseless labels).

    Args:
      key: PRNG key of the samples (and of the teacher unless ``teacher_key`` is given).
      n_train, n_test: sample counts (static).
      d: intrinsic dimension (static).
      ambient: input dimension (static).
      teacher_width: teacher hidden units, or Fourier terms for ``kind="fourier"`` (static).
      scale: tanh teacher input-weight scale.
      teacher_key: fixes the teacher separately from the samples (e.g. one teacher for
        every seed of a sweep).
      kind: ``"tanh"`` (ridge teacher) or ``"fourier"`` (random Fourier series), static.
      length: correlation length of the Fourier teacher.

    Returns:
      ``x_train (n_train, ambient)``, ``y_train``, ``x_test``, ``y_test``.
    """
    k_teacher, k_train, k_test = jax.random.split(key, 3)
    k_teacher = k_teacher if teacher_key is None else teacher_key
    if kind == "fourier":
        teacher = fourier_teacher_params(k_teacher, d, ambient, teacher_width, length)
    else:
        teacher = manifold_teacher_params(k_teacher, d, ambient, teacher_width, scale)
    x_train, y_train = manifold_samples(k_train, teacher, n_train)
    x_test, y_test = manifold_samples(k_test, teacher, n_test)
    return {"x_train": x_train, "y_train": y_train, "x_test": x_test, "y_test": y_test}
