"""Gaussian inputs: linear and MLP teachers, random features, label noise.

Each function is deterministic given its key, jit-able where its shapes are
static, and returns a dict with ``x_train``, ``y_train``, ``x_test``,
``y_test`` (and ``f_test``, the noiseless target, where noise is added), so
the trainer and the closed-form solvers read the same data.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp


def gaussian_linear_teacher(
    key: jax.Array, n_train: int, n_test: int, d: int, signal: float = 1.0, noise: float = 0.0
) -> dict[str, jax.Array]:
    """Isotropic Gaussian inputs and a linear teacher (Hastie et al. 2022).

    ``x ~ N(0, I_d)``, ``beta`` uniform on the sphere of radius ``signal`` (so
    r^2 = signal^2 exactly), ``y = x . beta + noise * eps``.

    Args:
      key: PRNG key.
      n_train, n_test: sample sizes.
      d: input dimension.
      signal: ``||beta||``.
      noise: standard deviation of the label noise (train and test labels).

    Returns:
      Arrays ``x_train (n,d)``, ``y_train (n,)``, ``x_test``, ``y_test``, ``f_test``
      (noiseless test targets) and ``beta``.
    """
    kb, kx, kt, ke, ket = jax.random.split(key, 5)
    beta = jax.random.normal(kb, (d,))
    beta = signal * beta / jnp.linalg.norm(beta)
    x_train = jax.random.normal(kx, (n_train, d))
    x_test = jax.random.normal(kt, (n_test, d))
    f_train, f_test = x_train @ beta, x_test @ beta
    return {
        "x_train": x_train,
        "y_train": f_train + noise * jax.random.normal(ke, (n_train,)),
        "x_test": x_test,
        "y_test": f_test + noise * jax.random.normal(ket, (n_test,)),
        "f_test": f_test,
        "beta": beta,
    }


def relu_random_features(key: jax.Array, x: jax.Array, num_features: int) -> jax.Array:
    """ReLU random features ``relu(x W) / sqrt(p)`` with ``W ~ N(0, 1/d)`` (Belkin et al. 2019).

    Args:
      key: PRNG key of the feature weights (use the same key for train and test).
      x: ``(n, d)`` inputs.
      num_features: p.

    Returns:
      ``(n, p)`` features.
    """
    w = jax.random.normal(key, (x.shape[-1], num_features), x.dtype) / jnp.sqrt(x.shape[-1])
    return jax.nn.relu(x @ w) / jnp.sqrt(num_features)


def mlp_teacher(key: jax.Array, d: int, width: int, activation=jnp.tanh):
    """A random 2-layer teacher network ``f(x) = a . act(W x) / sqrt(width)``.

    Args:
      key: PRNG key.
      d: input dimension.
      width: teacher hidden units.
      activation: nonlinearity.

    Returns:
      The function ``x (n,d) -> (n,)``.
    """
    kw, ka = jax.random.split(key)
    w = jax.random.normal(kw, (d, width)) / jnp.sqrt(d)
    a = jax.random.normal(ka, (width,))
    return lambda x: activation(x @ w) @ a / jnp.sqrt(width)


def teacher_student(
    key: jax.Array,
    n_train: int,
    n_test: int,
    d: int,
    teacher_width: int,
    noise: float | jax.Array = 0.0,
    activation=jnp.tanh,
) -> dict[str, jax.Array]:
    """Gaussian inputs labelled by a random MLP teacher plus Gaussian label noise.

    Args:
      key: PRNG key.
      n_train, n_test: sample sizes.
      d: input dimension.
      teacher_width: hidden units of the teacher.
      noise: label-noise standard deviation (may be traced).
      activation: teacher nonlinearity.

    Returns:
      ``x_train, y_train, x_test, y_test, f_test`` (noiseless test targets).
    """
    kt, kx, kxt, kn = jax.random.split(key, 4)
    teacher = mlp_teacher(kt, d, teacher_width, activation)
    x_train = jax.random.normal(kx, (n_train, d))
    x_test = jax.random.normal(kxt, (n_test, d))
    y_train = add_label_noise(kn, teacher(x_train), noise)
    f_test = teacher(x_test)
    return {"x_train": x_train, "y_train": y_train, "x_test": x_test, "y_test": f_test, "f_test": f_test}


def teacher_student_classification(
    key: jax.Array,
    n_train: int,
    n_test: int,
    d: int,
    teacher_width: int,
    num_classes: int,
    flip_rate: float | jax.Array = 0.0,
) -> dict[str, jax.Array]:
    """Gaussian inputs, labels = argmax of a random MLP teacher; a fraction of
    training labels flipped to a uniformly random *other* class (test labels clean).

    Args:
      key: PRNG key.
      n_train, n_test: sample sizes.
      d: input dimension.
      teacher_width: hidden units of the teacher.
      num_classes: classes.
      flip_rate: fraction of training labels flipped (may be traced).

    Returns:
      ``x_train, y_train (int), x_test, y_test (int), flipped (bool, n_train)``.
    """
    kw, ka, kx, kxt, kf = jax.random.split(key, 5)
    w = jax.random.normal(kw, (d, teacher_width)) / jnp.sqrt(d)
    a = jax.random.normal(ka, (teacher_width, num_classes))
    label = lambda x: jnp.argmax(jnp.tanh(x @ w) @ a, axis=-1)
    x_train = jax.random.normal(kx, (n_train, d))
    x_test = jax.random.normal(kxt, (n_test, d))
    y_train, flipped = flip_labels(kf, label(x_train), flip_rate, num_classes)
    return {"x_train": x_train, "y_train": y_train, "x_test": x_test, "y_test": label(x_test), "flipped": flipped}


def add_label_noise(key: jax.Array, y: jax.Array, sigma: float | jax.Array) -> jax.Array:
    """Args: key; y: targets; sigma: noise standard deviation. Returns: ``y + sigma * N(0, 1)``."""
    return y + sigma * jax.random.normal(key, y.shape, y.dtype)


def flip_labels(
    key: jax.Array, labels: jax.Array, rate: float | jax.Array, num_classes: int
) -> tuple[jax.Array, jax.Array]:
    """Replaces a random fraction of labels by a different class, uniformly.

    Args:
      key: PRNG key.
      labels: integer labels.
      rate: probability that a label is flipped.
      num_classes: number of classes.

    Returns:
      ``(noisy_labels, flipped_mask)``.
    """
    kf, kc = jax.random.split(key)
    flipped = jax.random.uniform(kf, labels.shape) < rate
    shift = jax.random.randint(kc, labels.shape, 1, num_classes)  # never 0: always another class
    return jnp.where(flipped, (labels + shift) % num_classes, labels), flipped
