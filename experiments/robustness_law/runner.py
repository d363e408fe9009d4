"""Training and measuring one shard: 2-layer ReLU nets on random labels, with a lower and
an upper bound on their Lipschitz constants and the data's floor measured on the final parameters."""

from __future__ import annotations

import math
from dataclasses import dataclass

import jax
import jax.numpy as jnp
import optax

import physai
from physai import ShardResult, models
from physai import train as trainer
from physai.curricula.sphere import sphere_random_labels
from physai.probes import lipschitz as probes

FIT_TOL = 0.3  # interpolates: max_i |f(x_i) - y_i| <= FIT_TOL
SEARCH_STARTS = 128  # Lip_search: ascent starts (the points with the largest sampled gradients)
SEARCH_RADIUS = 1.0  # Lip_search: L2 ball around each start (inputs have norm ~1)
SEARCH_STEPS = 100  # Lip_search: ascent steps on the softplus surrogate


def n_params(d: int, width: int) -> int:
    """Args: d: input dimension; width: hidden units. Returns: parameters of the 2-layer net."""
    return models.count_mlp_params(d, width)


def width_for(r: float, n: int, d: int) -> int:
    """Args: r: target p/(nd); n; d. Returns: the width whose p is closest to r n d (>= 1)."""
    return max(1, int(round((r * n * d - 1) / (d + 2))))


@dataclass(frozen=True)
class Static(physai.Static):
    """Everything that fixes array shapes: one compiled program per width and d. The grid
    sweeps ``ratio`` (the target p/(nd)); the width is derived from it, so that every d is
    trained at the same p/(nd) values."""

    n: int
    n_test: int
    d: int
    width: int
    steps: int
    distribution: str

    @classmethod
    def derived(cls, params):
        return {"width": width_for(float(params["ratio"]), int(params["n"]), int(params["d"]))}


def cost(st: Static, n_trials: int) -> float:
    """Relative cost of a shard: trials x parameters x steps x points the loss and the
    penalty see (n training + n fresh), the probes being a fixed share of it."""
    return float(n_trials * n_params(st.d, st.width) * st.steps * 2 * st.n)


def data_floor(x: jax.Array, y: jax.Array) -> jax.Array:
    """The smallest Lipschitz constant any interpolator of (x, y) can have: f must change by
    at least 2 - 2 FIT_TOL between the closest pair of opposite-label points.

    Args: x: inputs (n, d); y: +-1 labels (n,). Returns: (2 - 2 FIT_TOL) / that distance.
    """
    sq = jnp.sum(x**2, axis=1)
    dist2 = sq[:, None] + sq[None, :] - 2 * x @ x.T
    dist2 = jnp.where(y[:, None] != y[None, :], dist2, jnp.inf)
    return (2 - 2 * FIT_TOL) / jnp.sqrt(jnp.maximum(jnp.min(dist2), 1e-12))


def make_task(st: Static) -> trainer.Task:
    """The task of one shard: MSE plus the input-gradient penalty, cosine-decayed Adam, and a
    probe measuring the Lipschitz bounds and the data floor on the final parameters."""
    model = models.MLP(width=st.width)

    def data(key, hp):
        return sphere_random_labels(key, st.n, st.n_test, st.d, st.distribution, n_extra=st.n)

    def init(key, hp):
        return models.init_mlp(model, key, st.d)

    def f(params, x):
        return model.apply({"params": params}, x)[:, 0]

    def mean_sq_grad(params, x):
        # Outputs are independent per point, so the gradient of their sum w.r.t. the
        # batch holds every per-point input gradient: one backward pass, not n.
        g = jax.grad(lambda z: f(params, z).sum())(x)
        return jnp.mean(jnp.sum(g**2, axis=1))

    def loss(params, batch, hp):
        mse = jnp.mean((f(params, batch["x_train"]) - batch["y_train"]) ** 2)
        x_pen = jnp.concatenate([batch["x_train"], batch["x_extra"]])
        # cond skips the double backward pass of plain (penalty 0) runs.
        pen = jax.lax.cond(
            hp["penalty"] > 0, lambda: hp["penalty"] * mean_sq_grad(params, x_pen), lambda: jnp.zeros(())
        )
        return mse + pen

    def metrics(params, dat, hp):
        res = f(params, dat["x_train"]) - dat["y_train"]
        return {
            "train_mse": jnp.mean(res**2),
            "max_residual": jnp.max(jnp.abs(res)),
            "mean_sq_grad": mean_sq_grad(params, dat["x_train"]),
        }

    def optimizer(hp):
        return optax.adam(optax.cosine_decay_schedule(hp["lr"], st.steps, alpha=1e-2))

    apply_fn = lambda p, x: model.apply({"params": p}, x)

    def probe(key, params, dat, hp):
        g_train = probes.input_gradient_norms(apply_fn, params, dat["x_train"])
        g_test = probes.input_gradient_norms(apply_fn, params, dat["x_test"])
        # Search: ascend the gradient norm of the softplus surrogate from the points with
        # the largest sampled gradients, scoring the true ReLU gradient norm (a lower bound).
        xs = jnp.concatenate([dat["x_train"], dat["x_test"]])
        _, top = jax.lax.top_k(jnp.concatenate([g_train, g_test]), min(SEARCH_STARTS, xs.shape[0]))
        found = probes.smoothed_gradient_search(
            apply_fn, probes.softplus_mlp_apply, params, xs[top], SEARCH_RADIUS, SEARCH_STEPS, SEARCH_RADIUS / 5
        )
        upper, _ = probes.spectral_norm_upper_bound(models.mlp_weight_matrices(params))
        return {
            "lip_train": g_train.max(),
            "lip_test": g_test.max(),
            "lip_est": jnp.maximum(g_train.max(), g_test.max()),
            "lip_search": found.max(),
            "grad_norm_median": jnp.median(g_train),
            "lip_upper": upper,
            "lip_floor": data_floor(dat["x_train"], dat["y_train"]),
        }

    return trainer.Task(data, init, loss, metrics, optimizer, probe=probe)


def run(shard) -> ShardResult:
    """Trains every (penalty, seed) of one width and measures each model's Lipschitz bounds."""
    st = shard.static
    p = n_params(st.d, st.width)

    def extra(i, trial, result):
        max_res = float(result.final["max_residual"][i])
        return {
            "p": p,
            "width": st.width,
            "p_over_n": p / st.n,
            "p_over_nd": p / (st.n * st.d),
            "bound": math.sqrt(st.n * st.d / p),
            "interpolates": bool(max_res <= FIT_TOL),
        }

    return trainer.run_shard(
        make_task(st),
        shard,
        hparams=("seed", "penalty", "lr"),
        steps=st.steps,
        log_every=max(1, st.steps // 4),
        extra=extra,
    )
