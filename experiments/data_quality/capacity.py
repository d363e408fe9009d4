"""data_quality, the capacity part: the parameter multiplier of clean labels. At a fixed training
set, how many more parameters does a two-layer ReLU MLP trained on labels flipped at rate q need
to reach the test error a network trained on the clean labels reaches? The teacher is a random
two-layer network (``teacher_units`` hidden units), so that the student's error falls with its
width over the swept widths (two ReLU units represent a perceptron teacher exactly, so width
beyond two would add nothing such a teacher needs)."""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import optax
import pandas as pd

from experiments.data_quality import mlp, perceptron
from physai import Results, Verdict, all_of
from physai import train as trainer
from physai.evidence import slim, unless_converged
from physai.models.mlp import count_mlp_params
from physai.tasks.regression import masked_mlp

HPARAMS = ("seed", "q", "width", "lr")


def teacher_labels(weights: jax.Array, x: jax.Array) -> jax.Array:
    """Signs of a two-layer ReLU teacher ``sum_j a_j relu(w_j . x)``, the first half of its
    units entering with ``a_j = +1`` and the second half with ``-1`` (so the two labels are
    equally likely over teachers, and no constant predictor does well)."""
    k = weights.shape[0]
    a = jnp.where(jnp.arange(k) < k // 2, 1.0, -1.0)
    return jnp.where(jax.nn.relu(x @ weights.T) @ a >= 0, 1.0, -1.0)


def make_task(st) -> trainer.Task:
    """Logistic-loss MLP of width ``st.width`` on ``n_pool`` examples in ``capacity_d`` dimensions.

    The data depend on the seed only (teacher, inputs, flip draws), so a seed's runs at every
    width and ``q`` see the same inputs and the same flipped examples (the larger ``q`` flips a
    superset); test error is against the clean teacher on ``n_test`` fresh inputs; a held-out
    set of ``n_pool / 4`` examples with labels flipped like the training labels chooses the
    early-stopping step.
    """
    d = st.capacity_d
    init, predict = masked_mlp(d, st.width, depth=1, activation="relu")

    def data(key, hp):
        k_teacher, k_x, k_flip, k_test, k_val, k_val_flip = jax.random.split(key, 6)
        weights = jax.random.normal(k_teacher, (st.teacher_units, d)) / math.sqrt(d)
        x = jax.random.normal(k_x, (st.n_pool, d))
        clean = teacher_labels(weights, x)
        x_val = jax.random.normal(k_val, (st.n_pool // mlp.VAL_FRACTION, d))
        clean_val = teacher_labels(weights, x_val)
        x_test = jax.random.normal(k_test, (st.n_test, d))
        return {
            "x_train": x,
            "y_train": jnp.where(jax.random.uniform(k_flip, (st.n_pool,)) < hp["q"], -clean, clean),
            "x_val": x_val,
            "y_val": jnp.where(jax.random.uniform(k_val_flip, (x_val.shape[0],)) < hp["q"], -clean_val, clean_val),
            "x_test": x_test,
            "y_test": teacher_labels(weights, x_test),
        }

    def loss(params, batch, hp):
        return jnp.mean(jax.nn.softplus(-batch["y_train"] * predict(params, batch["x_train"], hp)))

    def error(params, x, y, hp):
        return jnp.mean((y * predict(params, x, hp) <= 0).astype(jnp.float32))

    def metrics(params, dat, hp):
        return {
            "train_loss": loss(params, dat, hp),
            "train_error": error(params, dat["x_train"], dat["y_train"], hp),  # against the noisy labels
            "val_error": error(params, dat["x_val"], dat["y_val"], hp),
            "test_error": error(params, dat["x_test"], dat["y_test"], hp),
        }

    return trainer.Task(data, init, loss, metrics, lambda hp: optax.adam(hp["lr"]))


def run(shard):
    """Every trial of the shard (one width: the compiled width is the trial's), full-batch Adam;
    the test error is read at the logged step of least noisy validation error."""
    st = shard.static
    stopped = {}

    def extra(i, trial, result):
        if not stopped:
            c = result.curves
            stopped["test"], stopped["step"] = mlp.early_stopped(result.steps, c["val_error"], c["test_error"])
        return {
            "stopped_test_error": float(stopped["test"][i]),
            "stopped_step": int(stopped["step"][i]),
            "n_params": count_mlp_params(st.capacity_d, st.width),
        }

    steps = st.capacity_steps
    return trainer.run_shard(
        make_task(st), shard, HPARAMS, steps=steps, log_every=max(1, steps // mlp.LOGS), extra=extra
    )


# ----------------------------------------------------------------------------- measure


def parameter_multiplier(table: pd.DataFrame, q: float) -> float:
    """Parameters needed with labels flipped at rate ``q`` / parameters needed with clean labels,
    for equal early-stopped test error: the seed-mean curves of error against ``n_params`` at
    ``q`` and at ``q = 0``, compared at error levels inside the range both reach, by linear
    interpolation in log parameters (as ``perceptron.multiplier`` does over alpha).

    When even the largest noisy model stays above the error of the smallest clean one, no swept
    width buys the noise back: the multiplier exceeds (largest / smallest parameter count), and
    that bound is returned (a censored value: a measured multiplier cannot exceed it either).

    Args:
      table: rows ``q, n_params, test_error`` (and ``seed``) of both curves.
      q: the noisy curve's flip rate.

    Returns:
      The multiplier, at most the sweep's bound; NaN without both curves.
    """
    qs = table["q"].to_numpy(float)
    if not ((qs == 0.0).any() and (qs == q).any()):
        return math.nan
    params, err = table["n_params"].to_numpy(float), table["test_error"].to_numpy(float)
    bound = params.max() / params.min()
    _, clean = perceptron._group_means(params[qs == 0.0], err[qs == 0.0])  # seed-mean curves
    _, noisy = perceptron._group_means(params[qs == q], err[qs == q])
    if noisy.min() >= clean.max():
        return float(bound)
    # the data multiplier's reading, with parameters in place of alpha
    ratio = perceptron.multiplier(pd.DataFrame({"q": qs, "alpha": params, "test_error": err}), q)
    return float(min(ratio, bound)) if math.isfinite(ratio) else math.nan


def check_parameter_multiplier(results: Results) -> Verdict:
    """Per q > 0: the parameter multiplier's 95% seed-bootstrap interval above 1; and its growth
    with q (Spearman rho over the noisy q, or the log ratio of the extremes for two) above 0. A
    multiplier at the sweep's bound is a lower bound (no swept noisy width matched the smallest
    clean model); the explanation names those q. Runs whose validation minimum is their last
    logged step were still improving: inconclusive unless the other runs alone give the same."""
    df = perceptron.part_rows(results.ok, "capacity")
    if not df.empty:
        df = df.assign(test_error=df["stopped_test_error"], converged=df["stopped_step"] < df["capacity_steps"])
    qs = sorted(q for q in df["q"].unique() if q > 0) if not df.empty else []
    if not qs or not (df["q"] == 0).any() or df["n_params"].nunique() < 2:
        return Verdict("inconclusive", math.nan, "> 1", "needs capacity runs at q = 0 and q > 0, at two widths")

    def verdict(rows: pd.DataFrame) -> Verdict:
        table = slim(rows, "q", "n_params", "test_error")
        bound = table["n_params"].max() / table["n_params"].min()
        parts = mlp.multiplier_parts(
            table, qs, parameter_multiplier, "noisy params / clean params", "perceptron data law 1/(1-2q)^2"
        )
        censored = [f"{q:g}" for q in qs if parameter_multiplier(table, q) >= bound]
        return all_of(
            parts,
            f"Trained MLP on a two-layer teacher, n = {int(rows['n_pool'].iloc[0])} examples, early-stopped on "
            f"noisy validation labels: parameters needed with labels flipped at rate q / parameters needed with "
            f"clean labels for the same test error, from seed-mean test-error curves over "
            f"{rows['width'].nunique()} widths; 95% seed-bootstrap intervals. "
            + (
                f"At q = {', '.join(censored)} no swept noisy width reached the smallest clean model's error: "
                f"the multiplier is only bounded below, by the sweep's {bound:.3g}x."
                if censored
                else "Every noisy curve reached the clean curve's range."
            ),
        )

    return unless_converged(verdict(df), df, recheck=verdict)
