"""The runs: ReLU, deeper and bottleneck students of a manifold teacher (a random Fourier series in
the manifold coordinates), one teacher per d."""

from __future__ import annotations

import functools
from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpy as np
import optax
import scipy.spatial

import physai
from physai import ShardResult, models, tasks
from physai import train as trainer
from physai.curricula import manifold

AMBIENT = 16
POOL = 2**16
TEACHER_SEED = 100  # teacher key = TEACHER_SEED + d (one teacher per d)
TEACHER_FEATURES = 1024  # Fourier terms: four times the widest student's hidden units
TEACHER_LENGTH = 2.0  # correlation length in z, see the module docstring of the experiment
TWO_NN_POINTS = 4096  # inputs the intrinsic-dimension estimate uses (standard error ~ d / 64)

ARCHS = {  # name -> (depth, input bottleneck)
    "relu1": (1, False),
    "relu2": (2, False),
    "relu3": (3, False),
    "bottleneck": (1, True),
}


def n_params(arch: str, width: int) -> int:
    """Args: arch: key of ARCHS; width: hidden units. Returns: trainable parameters."""
    depth, bottleneck = ARCHS[arch]
    if bottleneck:  # D -> 1 projection, then a 1-input MLP
        return AMBIENT + models.count_mlp_params(1, width, depth)
    return models.count_mlp_params(AMBIENT, width, depth)


@dataclass(frozen=True)
class Static(physai.Static):
    """Shard per architecture, compiled width, d and steps."""

    arch: str
    bucket: int
    d: int
    steps: int
    batch: int
    n_test: int

    @classmethod
    def derived(cls, params):
        return {"bucket": models.width_bucket(int(params["width"]))}


def make_task(st: Static) -> trainer.Task:
    """The students of one architecture (widths masked to the compiled width) on one manifold."""
    depth, bottleneck = ARCHS[st.arch]
    model = models.MLP(width=st.bucket, depth=depth)
    in_dim = 1 if bottleneck else AMBIENT
    teacher_key = jax.random.key(TEACHER_SEED + st.d)

    def data(key, hp):
        # n_test fresh points: the first half validates (selects the learning rate),
        # the second half is the test set the exponents are measured on.
        return manifold.manifold_teacher_student(
            key,
            POOL,
            st.n_test,
            st.d,
            AMBIENT,
            teacher_width=TEACHER_FEATURES,
            teacher_key=teacher_key,
            kind="fourier",
            length=TEACHER_LENGTH,
        )

    def init(key, hp):
        k_mlp, k_proj = jax.random.split(key)
        params = {"mlp": models.init_mlp(model, k_mlp, in_dim, hp["width"])}
        if bottleneck:
            params["proj"] = jax.random.normal(k_proj, (AMBIENT, 1)) / jnp.sqrt(AMBIENT)
        return params

    def predict(params, x, hp):
        h = x @ params["proj"] if bottleneck else x
        return model.apply({"params": params["mlp"]}, h, models.width_mask(hp["width"], st.bucket))[:, 0]

    def optimizer(hp):
        # Cosine decay to lr/100: the end of training is free of minibatch noise.
        return optax.adam(optax.cosine_decay_schedule(hp["lr"], st.steps, alpha=0.01))

    return tasks.regression(data, init, predict, metrics=("val_mse", "test_mse"), validation=True, optimizer=optimizer)


def two_nn_dimension(x: np.ndarray) -> float:
    """Two-nearest-neighbour estimate of the intrinsic dimension (Facco et al. 2017, Sci. Rep. 7:12140).

    The ratio mu = r2 / r1 of each point's second to first neighbour distance is Pareto
    distributed with exponent d when the density is locally constant; the maximum-likelihood
    estimate is ``n / sum log mu``. It reads only the inputs, not the nominal d.
    """
    dist, _ = scipy.spatial.cKDTree(x).query(x, k=3)
    mu = dist[:, 2] / dist[:, 1]
    mu = mu[np.isfinite(mu) & (mu > 1)]
    return float(mu.size / np.sum(np.log(mu)))


@functools.cache
def input_dimension(d: int, seed: int) -> float:
    """Two-NN dimension of TWO_NN_POINTS inputs drawn as the training inputs are (the same embedding,
    a sample stream of its own per seed)."""
    teacher = manifold.fourier_teacher_params(
        jax.random.key(TEACHER_SEED + d), d, AMBIENT, TEACHER_FEATURES, TEACHER_LENGTH
    )
    # The inputs of manifold.manifold_samples (z @ embed^T), without the teacher's labels.
    z = jax.random.normal(jax.random.fold_in(jax.random.key(seed), 17), (TWO_NN_POINTS, d))
    return two_nn_dimension(np.asarray(z, dtype=np.float64) @ np.asarray(teacher["embed"], dtype=np.float64).T)


def run(shard) -> ShardResult:
    """Trains the shard's students and records each one's parameter count."""
    st = shard.static
    return trainer.run_shard(
        make_task(st),
        shard,
        hparams=("seed", "width", "lr"),
        steps=st.steps,
        log_every=st.steps // 10,
        batch_size=st.batch,
        columns=("test_mse", "val_mse"),
        extra=lambda i, t, res: {
            "n_params": n_params(st.arch, int(t.params["width"])),
            "two_nn_d": input_dimension(st.d, int(t.params["seed"])),
        },
    )
