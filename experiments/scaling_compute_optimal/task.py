"""The runs: online students of a manifold teacher, every width trained to the same compute."""

from __future__ import annotations

from dataclasses import dataclass

import jax

import physai
from physai import ShardResult, models
from physai import train as trainer
from physai.curricula import manifold
from physai.tasks import masked_mlp_regression

FLOPS_PER_PARAM_EXAMPLE = 6  # forward + backward (Kaplan et al. 2020)
N_LOGS = 150  # logged points per run (linearly spaced)
POOL_MAX = 2**20  # examples held in memory per run (64 MB at D = 16)
TEACHER_SEED = 1234  # one teacher for every run (seeds redraw samples and inits)
AMBIENT = 16


def steps_for(width: int, max_compute: float, batch: int) -> int:
    """Steps that bring a width to the compute ``max_compute`` (a multiple of N_LOGS).

    Args:
      width: hidden units.
      max_compute: the FLOPs every width is trained to (C = 6 N D).
      batch: examples per step.

    Returns:
      The number of steps (>= N_LOGS): small models train longer, as IsoFLOPs need.
    """
    n_params = models.count_mlp_params(AMBIENT, width)
    steps = max_compute / (FLOPS_PER_PARAM_EXAMPLE * n_params * batch)
    return int(max(1, round(steps / N_LOGS)) * N_LOGS)


@dataclass(frozen=True)
class Static(physai.Static):
    """Shard per width: its steps (scan length) and compiled width bucket fix the program."""

    d: int
    batch: int
    n_test: int
    bucket: int
    steps: int

    @classmethod
    def derived(cls, params):
        # Widths within a factor 4 share a program (16, 64, 256, ...) and pay <= 4x its cost.
        return {
            "bucket": models.width_bucket(int(params["width"])),
            "steps": steps_for(int(params["width"]), float(params["max_compute"]), int(params["batch"])),
        }


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

    return masked_mlp_regression(data, AMBIENT, st.bucket, metrics=("test_mse",))


def run(shard) -> ShardResult:
    """Trains the shard's widths (masked to one compiled width) online; logs test MSE."""
    st = shard.static

    def counts(i, trial, result):
        n_params = models.count_mlp_params(AMBIENT, int(trial.params["width"]))
        return {"n_params": n_params, "compute": FLOPS_PER_PARAM_EXAMPLE * n_params * st.steps * st.batch}

    return trainer.run_shard(
        make_task(st),
        shard,
        ("seed", "width", "lr"),
        steps=st.steps,
        log_every=st.steps // N_LOGS,
        batch_size=st.batch,
        extra=counts,
    )


def cost(st: Static, n_trials: int) -> float:
    """Args: st: a shard's statics; n_trials: its trials. Returns: its relative cost
    (steps x batch x compiled width per trial)."""
    return float(n_trials * st.steps * st.batch * st.bucket)
