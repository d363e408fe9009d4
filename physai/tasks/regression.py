"""Mean-squared-error regression tasks, above all the masked-width MLP student.

Several widths share one compiled program: the network is built at the
shard's compiled width and a hidden-unit mask (``models.width_mask``) switches
off the units above each trial's ``hp["width"]``. The trial's width is a traced
hyperparameter, so a width sweep costs one compilation per compiled width.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import jax
import jax.numpy as jnp
import optax

from physai import models
from physai.train import Data, HParams, Params, Task

Predict = Callable[[Params, jax.Array, HParams], jax.Array]

# What each metric name measures (``pred`` on x_train / x_test):
#   train_mse      mean (pred - y_train)^2
#   train_rel_mse  train_mse / var(y_train)
#   test_mse       mean (pred - target)^2 on the test set (target: ``test_target``);
#                  with ``validation=True`` on its second half only
#   test_rel_mse   test_mse / var(target)
#   val_mse        with ``validation=True``: mean (pred - target)^2 on the first half
#                  of the test set (for choosing hyperparameters; never reported as test)
REGRESSION_METRICS = ("train_mse", "train_rel_mse", "test_mse", "test_rel_mse", "val_mse")


def regression(
    data: Callable[[jax.Array, HParams], Data],
    init: Callable[[jax.Array, HParams], Params],
    predict: Predict,
    metrics: Sequence[str] = ("train_mse", "test_mse"),
    test_target: str = "y_test",
    validation: bool = False,
    optimizer: Callable[[HParams], optax.GradientTransformation] | None = None,
) -> Task:
    """A least-squares regression task from a data function and a model.

    Args:
      data: ``(key, hp) -> {x_train, y_train, x_test, <test_target>, ...}``.
      init: ``(key, hp) -> params``.
      predict: ``(params, x, hp) -> (batch,)`` predictions.
      metrics: names from ``REGRESSION_METRICS``, logged in this order.
      test_target: the data key the test predictions are scored against
        (``y_test``, or a noiseless ``f_test``).
      validation: split the test set in halves: ``val_mse`` on the first,
        ``test_mse`` on the second.
      optimizer: ``hp -> optax`` transformation (default: Adam at ``hp["lr"]``).

    Returns:
      The ``Task``; its objective is the training MSE.
    """
    unknown = [m for m in metrics if m not in REGRESSION_METRICS]
    if unknown or ("val_mse" in metrics and not validation):
        raise ValueError(
            f"unknown regression metric {(unknown or ['val_mse'])[0]!r} "
            f"(choose from {REGRESSION_METRICS}; val_mse needs validation=True)"
        )

    def loss(params, batch, hp):
        return jnp.mean((predict(params, batch["x_train"], hp) - batch["y_train"]) ** 2)

    def measure(params, dat, hp):
        train = loss(params, dat, hp)
        target = dat[test_target]
        sq = (predict(params, dat["x_test"], hp) - target) ** 2
        if validation:
            half = sq.shape[0] // 2
            val, test, test_var = jnp.mean(sq[:half]), jnp.mean(sq[half:]), jnp.var(target[half:])
        else:
            val, test, test_var = None, jnp.mean(sq), jnp.var(target)
        values = {
            "train_mse": lambda: train,
            "train_rel_mse": lambda: train / jnp.var(dat["y_train"]),
            "test_mse": lambda: test,
            "test_rel_mse": lambda: test / test_var,
            "val_mse": lambda: val,
        }
        return {m: values[m]() for m in metrics}

    return Task(data, init, loss, measure, optimizer or (lambda hp: optax.adam(hp["lr"])))


def masked_mlp(in_dim: int, max_width: int, depth: int = 1, activation: str = "relu") -> tuple[Callable, Predict]:
    """An MLP built at ``max_width`` whose units above ``hp["width"]`` are masked off.

    Args:
      in_dim: input dimension.
      max_width: the compiled width (every trial's ``hp["width"]`` <= it).
      depth: hidden layers.
      activation: hidden activation (``models.MLP``).

    Returns:
      ``(init, predict)``: ``(key, hp) -> params`` (masked units start at zero
      output weight, see ``models.init_mlp``) and ``(params, x, hp) -> (batch,)``.
    """
    model = models.MLP(width=max_width, depth=depth, activation=activation)

    def init(key, hp):
        return models.init_mlp(model, key, in_dim, hp["width"])

    def predict(params, x, hp):
        return model.apply({"params": params}, x, models.width_mask(hp["width"], max_width))[:, 0]

    return init, predict


def masked_mlp_regression(
    data: Callable[[jax.Array, HParams], Data],
    in_dim: int,
    max_width: int,
    depth: int = 1,
    activation: str = "relu",
    metrics: Sequence[str] = ("train_mse", "test_mse"),
    test_target: str = "y_test",
    optimizer: Callable[[HParams], optax.GradientTransformation] | None = None,
) -> Task:
    """A masked-width MLP student (hyperparameters ``width``, ``lr``, ``seed``) fit by MSE.

    Args:
      data, metrics, test_target, optimizer: as for :func:`regression`.
      in_dim, max_width, depth, activation: as for :func:`masked_mlp`.

    Returns:
      The ``Task``.
    """
    init, predict = masked_mlp(in_dim, max_width, depth, activation)
    return regression(data, init, predict, metrics, test_target, optimizer=optimizer)
