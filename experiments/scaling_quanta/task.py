"""The quanta experiment's training task: multitask sparse parity with Zipf task
frequencies, one-hidden-layer ReLU MLPs, one shard per width."""

from __future__ import annotations

from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpy as np
import optax

import physai
from physai import ShardResult, models
from physai import train as trainer
from physai.curricula.parity import (
    multitask_sparse_parity,
    multitask_sparse_parity_with_subsets,
    packed_subsets,
    zipf_probabilities,
)

from .summaries import run_summary


def acc_metric(task: int) -> str:
    """Name of task ``task``'s test-accuracy curve (split ``test``)."""
    return f"acc_task_{task:02d}"


# ----------------------------------------------------------------------------- run


@dataclass(frozen=True)
class Static(physai.Static):
    """One shard per width and task set-up (every setting changes shapes or the data)."""

    n_tasks: int
    n_bits: int
    k: int
    alpha: float
    width: int
    steps: int
    log_every: int
    batch_size: int
    n_train: int
    n_test_per_task: int
    max_overlap: int


def make_task(st: Static) -> trainer.Task:
    """The training task; ``max_overlap >= 0`` draws the tasks' subsets as a random packing
    (no two sharing more than ``max_overlap`` bits, ``packed_subsets``), ``-1`` independently."""
    n_tasks, n_bits, max_overlap = st.n_tasks, st.n_bits, st.max_overlap
    model = models.MLP(width=st.width, out=2)

    def data(key, hp):
        if max_overlap < 0:
            out = multitask_sparse_parity(key, n_tasks, n_bits, st.k, st.alpha, st.n_train, st.n_test_per_task)
            return {**out, "subsets_found": jnp.int32(n_tasks)}
        k_sub, k_rest = jax.random.split(key)
        subsets, found = packed_subsets(k_sub, n_bits, st.k, n_tasks, max_overlap)
        out = multitask_sparse_parity_with_subsets(
            k_rest, subsets, n_bits, st.alpha, st.n_train, st.n_test_per_task, dtype=jnp.int8
        )
        return {**out, "subsets_found": found}

    def init(key, hp):
        return models.init_mlp(model, key, n_tasks + n_bits)

    def per_sample(params, x, y):
        # The trainer's minibatches carry x_train / y_train only, so the 0/1 label
        # is rebuilt from the +-1 target (label = (1 - y) / 2, as in the curriculum).
        logits = model.apply({"params": params}, x.astype(jnp.float32))
        label = ((1 - y.astype(jnp.float32)) / 2).astype(jnp.int32)
        return (optax.softmax_cross_entropy_with_integer_labels(logits, label), jnp.argmax(logits, -1) == label)

    def loss(params, batch, hp):
        return per_sample(params, batch["x_train"], batch["y_train"])[0].mean()

    def metrics(params, d, hp):
        ce, correct = per_sample(params, d["x_test"], d["y_test"])
        # The test set is task-major with n_test_per_task samples of each task.
        task_loss = ce.reshape(n_tasks, -1).mean(axis=1)
        task_acc = correct.reshape(n_tasks, -1).mean(axis=1)
        out = {"test_loss": jnp.sum(d["task_probs"] * task_loss)}
        out.update({"test_" + acc_metric(t): task_acc[t] for t in range(n_tasks)})
        return out

    def probe(key, params, d, hp):  # how many subsets the packing found (a check, not a curve)
        return {"subsets_found": d["subsets_found"]}

    return trainer.Task(data, init, loss, metrics, lambda hp: optax.adam(hp["lr"]), probe=probe)


def run(shard) -> ShardResult:
    """Trains the shard's seeds at one width and summarises each run."""
    st = shard.static
    n_params = models.count_mlp_params(st.n_tasks + st.n_bits, st.width, 1, 2)
    probs = np.asarray(zipf_probabilities(st.n_tasks, st.alpha), float)

    def summary(i, trial, result):
        found = int(result.final["subsets_found"][i])
        if found < st.n_tasks:
            raise RuntimeError(
                f"the subset packing found only {found} of {st.n_tasks} subsets "
                f"with <= {st.max_overlap} shared bits; lower n_tasks or raise n_bits"
            )
        acc = np.stack([result.curves["test_" + acc_metric(t)][i] for t in range(st.n_tasks)])
        return {
            "n_params": n_params,
            "mean_acc": float(acc[:, -1].mean()),
            **run_summary(result.steps, acc, np.asarray(result.curves["test_loss"][i]), probs),
        }

    return trainer.run_shard(
        make_task(st),
        shard,
        hparams=("seed", "lr"),
        steps=st.steps,
        log_every=st.log_every,
        batch_size=st.batch_size,
        columns=("test_loss",),
        extra=summary,
    )
