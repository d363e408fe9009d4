"""The runs: online students of a manifold teacher, one run per (model size, budget).

Two schedules, one compiled program per width: every run of a width takes the steps
of that width's largest budget ``max_compute``. ``cosine`` runs (one per (N, C)):
Adam whose learning rate follows a cosine to 10% of its peak over exactly the run's
own D = C / 6N examples (Hoffmann et al. 2022: one cosine cycle matched to the number
of training tokens), then 0, so the parameters are frozen and the final test loss is
the loss at budget C (the steps after D are spent for nothing: the price of sharing
one program). ``constant`` runs (one per width): constant learning rate to
``max_compute``, logged often; their checkpoints are read at the smaller budgets (the
method Hoffmann et al. name as the bias of Kaplan et al. 2020).
"""

from __future__ import annotations

from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpy as np
import optax

import physai
from physai import ShardResult, models
from physai import train as trainer
from physai.curricula import manifold
from physai.tasks import masked_mlp_regression

FLOPS_PER_PARAM_EXAMPLE = 6  # forward + backward (Kaplan et al. 2020)
N_LOGS = 128  # logged points per run (a constant-lr run is read at every smaller budget)
POOL_MAX = 2**20  # examples held in memory per run (64 MB at D = 16)
TEACHER_SEED = 1234  # one teacher for every run (seeds redraw samples and inits)
AMBIENT = 16
FINAL_LR_FRACTION = 0.1  # Hoffmann et al.: the cosine decays the learning rate 10x


def steps_for(width: int, max_compute: float, batch: int) -> int:
    """Steps of every run of ``width`` (those of its largest budget), a multiple of N_LOGS.

    Args:
      width: hidden units.
      max_compute: the largest budget in FLOPs (C = 6 N D, D = steps x batch).
      batch: examples per step.

    Returns:
      The number of steps (>= N_LOGS).
    """
    steps = max_compute / (FLOPS_PER_PARAM_EXAMPLE * models.count_mlp_params(AMBIENT, width) * batch)
    return int(max(1, round(steps / N_LOGS)) * N_LOGS)


def decay_steps(width, budget, batch: int):
    """The steps of a cosine run's own D = C / 6N (float32, the same in and out of the program).

    Args:
      width: hidden units (int, or a traced array).
      budget: the run's compute C (float, or a traced array).
      batch: examples per step.

    Returns:
      max(1, round(C / (6 N batch))) with N = (AMBIENT + 2) width + 1 (``models.count_mlp_params``).
    """
    xp = jnp if isinstance(budget, jax.Array) else np
    n_params = xp.float32(AMBIENT + 2) * xp.asarray(width, xp.float32) + xp.float32(1)
    steps = xp.asarray(budget, xp.float32) / (xp.float32(FLOPS_PER_PARAM_EXAMPLE * batch) * n_params)
    return xp.maximum(xp.round(steps), xp.float32(1))


@dataclass(frozen=True)
class Static(physai.Static):
    """Shard per width: its steps (those of ``max_compute``) and compiled width fix the program."""

    d: int
    batch: int
    n_test: int
    bucket: int
    steps: int

    @classmethod
    def derived(cls, params):
        # Widths within a factor 4 share a compiled width (16, 64, 256, ...) and pay <= 4x its cost.
        return {
            "bucket": models.width_bucket(int(params["width"])),
            "steps": steps_for(int(params["width"]), float(params["max_compute"]), int(params["batch"])),
        }


def _optimizer(st: Static):
    """Adam at hp["lr"]; a cosine run's: cosine from 1 to FINAL_LR_FRACTION over its own D, then 0."""

    def optimizer(hp):
        own = decay_steps(hp["width"], hp["budget"], st.batch)

        def rate(count):
            t = jnp.asarray(count, jnp.float32)
            cosine = FINAL_LR_FRACTION + (1 - FINAL_LR_FRACTION) * 0.5 * (1 + jnp.cos(jnp.pi * jnp.minimum(t / own, 1)))
            return hp["lr"] * jnp.where(hp["cosine"], jnp.where(t < own, cosine, 0.0), 1.0)

        return optax.adam(rate)

    return optimizer


def make_task(st: Static) -> trainer.Task:
    """Masked students of width <= ``bucket`` trained online on a manifold teacher."""
    teacher_key = jax.random.key(TEACHER_SEED)

    def data(key, hp):
        # The pool holds every example the run can see: online training, no epochs.
        # Up to POOL_MAX examples: the largest models see each once, the smallest (which
        # train longest and cannot memorise 10^6 points with < 300 parameters) a few times.
        return manifold.manifold_teacher_student(
            key, min(st.steps * st.batch, POOL_MAX), st.n_test, st.d, AMBIENT, teacher_key=teacher_key
        )

    return masked_mlp_regression(data, AMBIENT, st.bucket, metrics=("test_mse",), optimizer=_optimizer(st))


def run(shard) -> ShardResult:
    """Trains the shard's runs (masked to one compiled width) online; logs test MSE."""
    st = shard.static

    def counts(i, trial, result):
        n_params = models.count_mlp_params(AMBIENT, int(trial.params["width"]))
        # a cosine run stops at its own D; a constant-lr run trains every step
        own = int(decay_steps(int(trial.params["width"]), float(trial.params["budget"]), st.batch))
        steps = min(own, st.steps) if trial.params["cosine"] else st.steps
        return {
            "n_params": n_params,
            "steps": steps,
            "examples": steps * st.batch,
            "compute": FLOPS_PER_PARAM_EXAMPLE * n_params * steps * st.batch,
        }

    res = trainer.run_shard(
        make_task(st),
        shard,
        ("seed", "width", "lr", "budget", "cosine"),
        steps=st.steps,
        log_every=st.steps // N_LOGS,
        batch_size=st.batch,
        extra=counts,
    )
    # A cosine run's measurement is its final test loss (the trials table), and it is frozen
    # after its own D: only the constant-lr runs, read at every budget, keep their curves
    # (every run's would make the stored results several times larger).
    constant = {t.trial_id for t in shard.trials if not t.params["cosine"]}
    res.curves = res.curves[res.curves["trial_id"].isin(constant)].reset_index(drop=True)
    return res


def cost(st: Static, n_trials: int) -> float:
    """Args: st: a shard's statics; n_trials: its trials. Returns: its relative cost
    (steps x batch x compiled width per trial)."""
    return float(n_trials * st.steps * st.batch * st.bucket)
