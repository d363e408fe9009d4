"""data_quality, the trained part: a two-layer ReLU MLP learning a perceptron teacher from labels
flipped at rate q, trained through the canonical trainer (every q, n and seed in one compiled
program: the training set size is a mask over a fixed pool, the flip rate a traced value)."""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pandas as pd

from analysis.stats import spearman
from experiments.data_quality import perceptron
from physai import Results, Verdict, all_of
from physai import train as trainer
from physai.evidence import bootstrap_verdict, slim, unless_converged
from physai.tasks.regression import masked_mlp

HPARAMS = ("seed", "q", "n", "width", "lr")
VAL_FRACTION = 4  # the noisy validation set holds n / 4 examples
LOGS = 20  # logged points per run: the early-stopping candidates


def make_task(st) -> trainer.Task:
    """Logistic-loss MLP on the first ``n`` examples of a seed's pool of ``n_pool``.

    The data depend on the seed only (teacher, inputs, flip draws), so the runs of one seed at
    every ``q`` and ``n`` see nested data sets with the same inputs, as in the perceptron part;
    an example's label is flipped when its uniform draw is below ``q``. Test error is the
    fraction of sign disagreements with the clean teacher on ``n_test`` fresh inputs.
    """
    init, predict = masked_mlp(st.d, st.width, depth=1, activation="relu")

    def data(key, hp):
        k_teacher, k_x, k_flip, k_test, k_val, k_val_flip = jax.random.split(key, 6)
        teacher = jax.random.normal(k_teacher, (st.d,))
        x = jax.random.normal(k_x, (st.n_pool, st.d))
        clean = jnp.where(x @ teacher >= 0, 1.0, -1.0)
        y = jnp.where(jax.random.uniform(k_flip, (st.n_pool,)) < hp["q"], -clean, clean)
        x_test = jax.random.normal(k_test, (st.n_test, st.d))
        # a held-out set with noisy labels, a quarter the size of the training set: what a
        # practitioner early-stops on (the clean test set is never used to choose)
        x_val = jax.random.normal(k_val, (st.n_pool // VAL_FRACTION, st.d))
        clean_val = jnp.where(x_val @ teacher >= 0, 1.0, -1.0)
        y_val = jnp.where(jax.random.uniform(k_val_flip, (x_val.shape[0],)) < hp["q"], -clean_val, clean_val)
        n_val = jnp.maximum(hp["n"] // VAL_FRACTION, 1)
        return {
            "x_val": x_val,
            "y_val": y_val,
            "val_mask": (jnp.arange(x_val.shape[0]) < n_val).astype(jnp.float32),
            "x_train": x,
            "y_train": y,
            "mask": (jnp.arange(st.n_pool) < hp["n"]).astype(jnp.float32),
            "x_test": x_test,
            "y_test": jnp.where(x_test @ teacher >= 0, 1.0, -1.0),
        }

    def loss(params, batch, hp):
        margins = batch["y_train"] * predict(params, batch["x_train"], hp)
        return jnp.sum(batch["mask"] * jax.nn.softplus(-margins)) / jnp.sum(batch["mask"])

    def metrics(params, dat, hp):
        wrong = (dat["y_train"] * predict(params, dat["x_train"], hp) <= 0).astype(jnp.float32)
        return {
            "train_loss": loss(params, dat, hp),
            "train_error": jnp.sum(dat["mask"] * wrong) / jnp.sum(dat["mask"]),  # against the noisy labels
            "val_error": jnp.sum(dat["val_mask"] * (dat["y_val"] * predict(params, dat["x_val"], hp) <= 0))
            / jnp.sum(dat["val_mask"]),
            "test_error": jnp.mean((dat["y_test"] * predict(params, dat["x_test"], hp) <= 0).astype(jnp.float32)),
        }

    return trainer.Task(data, init, loss, metrics, lambda hp: optax.adam(hp["lr"]))


def early_stopped(steps: np.ndarray, val: np.ndarray, test: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Early stopping on the noisy validation error.

    Args:
      steps: ``(L,)`` logged steps; val, test: ``(T, L)`` validation and test errors there.

    Returns:
      ``(test error, step)`` at each run's first logged point of least validation error.
    """
    best = np.argmin(np.asarray(val, float), axis=1)
    return np.asarray(test, float)[np.arange(len(best)), best], np.asarray(steps)[best]


def run(shard):
    """Every trial of the shard, full-batch Adam for ``steps`` steps; the test error is read at
    the logged step of least noisy validation error (and at the end)."""
    st = shard.static
    stopped = {}

    def extra(i, trial, result):
        if not stopped:
            c = result.curves
            stopped["test"], stopped["step"] = early_stopped(result.steps, c["val_error"], c["test_error"])
        return {"stopped_test_error": float(stopped["test"][i]), "stopped_step": int(stopped["step"][i])}

    return trainer.run_shard(
        make_task(st), shard, HPARAMS, steps=st.steps, log_every=max(1, st.steps // LOGS), extra=extra
    )


# ----------------------------------------------------------------------------- check


def growth(table: pd.DataFrame, qs, multiplier) -> float:
    """How a multiplier grows with q: Spearman rho over the noisy q (three or more), or the log
    ratio of the largest q's multiplier to the smallest's (two)."""
    m = np.array([multiplier(table, q) for q in qs])
    if len(qs) >= 3:
        return spearman(np.asarray(qs, float), m)
    return float(np.log(m[-1] / m[0]))


def multiplier_parts(table: pd.DataFrame, qs, multiplier, what: str, beside: str) -> list[Verdict]:
    """The verdicts of a noisy/clean multiplier (data or parameters): per q > 0 its 95%
    seed-bootstrap interval above 1, and, with two or more q, its growth with q above 0.

    Args:
      table: the runs at q = 0 and at every q of ``qs``.
      qs: the noisy flip rates.
      multiplier: ``(table, q) -> float``.
      what: what the multiplier is, for the verdict text.
      beside: the name of the perceptron's law reported beside each q (not required).
    """
    parts = [
        bootstrap_verdict(
            table[table["q"].isin([0.0, q])],
            lambda t, q=q: multiplier(t, q),
            1.0,
            math.inf,
            what,
            hypothesis=f"q = {q:g} ({beside} = {float(perceptron.multiplier_theory(q)):.3g})",
            strict=True,
        )
        for q in qs
    ]
    if len(qs) >= 2:
        name = "Spearman rho(q, multiplier)" if len(qs) >= 3 else "log(multiplier ratio, largest/smallest q)"
        parts.append(
            bootstrap_verdict(
                table,
                lambda t: growth(t, qs, multiplier),
                0.0,
                math.inf,
                name,
                hypothesis="grows with q",
                strict=True,
            )
        )
    return parts


def check_mlp_multiplier(results: Results) -> Verdict:
    """Per q > 0: the MLP's noisy/clean data multiplier (seed-mean early-stopped test-error curves
    over n, interpolated as in the perceptron part) with a 95% seed-bootstrap interval above 1;
    and its growth with q (Spearman rho over the noisy q, or the log ratio of the extremes for
    two) above 0. The perceptron's 1/(1-2q)^2 is reported beside each, not required. Runs whose
    validation minimum is their last logged step were still improving: the verdict is then
    inconclusive unless the other runs alone give the same."""
    df = perceptron.part_rows(results.ok, "mlp")
    # examples per input dimension, as in the perceptron part; the early-stopped test error; a run
    # whose validation minimum is its last logged point was still improving (not known to be done)
    df = df.assign(
        alpha=df["n"] / df["d"],
        test_error=df["stopped_test_error"],
        converged=df["stopped_step"] < df["steps"],
    )
    qs = sorted(q for q in df["q"].unique() if q > 0) if not df.empty else []
    if not qs or not (df["q"] == 0).any():
        return Verdict("inconclusive", math.nan, "> 1", "needs MLP runs at q = 0 and at some q > 0")

    def verdict(rows: pd.DataFrame) -> Verdict:
        table = slim(rows, "q", "alpha", "test_error")
        parts = multiplier_parts(table, qs, perceptron.multiplier, "noisy n / clean n", "perceptron 1/(1-2q)^2")
        return all_of(
            parts,
            f"Trained MLP, early-stopped on noisy validation labels: training examples with labels flipped at "
            f"rate q needed / clean examples needed for the same test error, from seed-mean test-error curves "
            f"over {rows['n'].nunique()} training set sizes; "
            "95% seed-bootstrap intervals.",
        )

    return unless_converged(verdict(df), df, recheck=verdict)
