"""Edge of stability: the training runs. Full-batch GD on a noisy teacher, the sharpness
measured by power iteration inside the training scan, a Lanczos estimate on the final
parameters as a cross-check, and each run's edge-window summary (``.window``)."""

from __future__ import annotations

from dataclasses import dataclass

import jax
import jax.numpy as jnp
import optax

import physai
from physai import ShardResult, curricula, models
from physai import train as trainer
from physai.probes.hessian import top_eigenvalue_lanczos, top_eigenvalue_power

from .window import sharpness_summary

LANCZOS_ITERS = 40  # final cross-check of the in-scan power estimate


@dataclass(frozen=True)
class Static(physai.Static):
    """One architecture and data size per shard: one compiled program."""

    d: int
    n: int
    n_test: int
    teacher_width: int
    label_noise: float
    width: int
    depth: int
    out_scale: float
    steps: int
    log_every: int
    power_iters: int


def make_task(st: Static) -> trainer.Task:
    """Full-batch GD on the noisy teacher; sharpness by power iteration at every log point,
    a Lanczos estimate on the final parameters as the probe."""
    model = models.MLP(width=st.width, depth=st.depth, activation="tanh")

    def data(key, hp):
        return curricula.teacher_student(key, st.n, st.n_test, st.d, st.teacher_width, st.label_noise)

    def init(key, hp):
        return models.init_mlp(model, key, st.d)

    def predict(params, x):
        return st.out_scale * model.apply({"params": params}, x)[:, 0]

    def loss(params, batch, hp):
        return 0.5 * jnp.mean((predict(params, batch["x_train"]) - batch["y_train"]) ** 2)

    def metrics(params, dat, hp):
        train_loss = lambda p: loss(p, dat, hp)
        # A fixed key: the random start vector is the same at every log point, so the
        # estimate's fluctuations come from the landscape, not from the start.
        lam, _ = top_eigenvalue_power(train_loss, params, st.power_iters, jax.random.key(0))
        test = 0.5 * jnp.mean((predict(params, dat["x_test"]) - dat["y_test"]) ** 2)
        return {"train_loss": train_loss(params), "test_loss": test, "sharpness": lam}

    def probe(key, params, dat, hp):
        # A fixed start vector (not the trial's probe key), like the in-scan estimate.
        train_loss = lambda p: loss(p, dat, hp)
        lam = top_eigenvalue_lanczos(train_loss, params, LANCZOS_ITERS, jax.random.key(1))[0]
        return {"final_lanczos": lam}

    return trainer.Task(data, init, loss, metrics, lambda hp: optax.sgd(hp["lr"]), probe=probe)


def run(shard) -> ShardResult:
    """Full-batch GD runs of one architecture; sharpness logged inside the scan."""
    st = shard.static

    def extra(i, trial, result):
        lr = float(trial.params["lr"])
        row = {
            "two_over_eta": 2.0 / lr,
            "final_train_loss": float(result.final["train_loss"][i]),
            "final_test_loss": float(result.final["test_loss"][i]),
            "final_sharpness": float(result.final["sharpness"][i]),
            **sharpness_summary(result.steps, result.curves["sharpness"][i], lr, result.curves["train_loss"][i]),
        }
        if not result.diverged[i]:  # a diverged run has no final Lanczos estimate
            row["final_lanczos"] = float(result.final["final_lanczos"][i])
        return row

    return trainer.run_shard(
        make_task(st), shard, ("seed", "lr"), steps=st.steps, log_every=st.log_every, columns=(), extra=extra
    )
