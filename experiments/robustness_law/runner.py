"""Training and measuring one shard: 2-layer ReLU nets on random labels, with their
Lipschitz bounds and PGD flip radii measured on the final parameters."""

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
FLIP_POINTS = 100  # training points attacked per model
FLIP_MAX_RADIUS = 1.0  # inputs have norm ~1: a flip needs at most a radius ~ 1
SEARCH_STARTS = 128  # Lip_search: ascent starts (the points with the largest sampled gradients)
SEARCH_RADIUS = 1.0  # Lip_search: L2 ball around each start (inputs have norm ~1)
SEARCH_STEPS = 100  # Lip_search: ascent steps on the softplus surrogate


def n_params(d: int, width: int) -> int:
    """Args: d: input dimension; width: hidden units. Returns: parameters of the 2-layer net."""
    return models.count_mlp_params(d, width)


def width_for(r: float, n: int, d: int) -> int:
    """Args: r: target p/(nd); n; d. Returns: the width whose p is closest to r n d (>= 2)."""
    return max(2, int(round((r * n * d - 1) / (d + 2))))


@dataclass(frozen=True)
class Static(physai.Static):
    """Everything that fixes array shapes: one compiled program per width and d."""

    n: int
    n_test: int
    d: int
    width: int
    steps: int
    distribution: str


def cost(st: Static, n_trials: int) -> float:
    """Relative cost of a shard: trials x parameters x steps x points the loss and the
    penalty see (n training + n fresh), the probes being a fixed share of it."""
    return float(n_trials * n_params(st.d, st.width) * st.steps * 2 * st.n)


def make_task(st: Static) -> trainer.Task:
    """The task of one shard: MSE plus the input-gradient penalty, cosine-decayed Adam, and a
    probe measuring the Lipschitz bounds and flip radii on the final parameters."""
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
        flips = probes.pgd_flip_radius(
            apply_fn, params, dat["x_train"][:FLIP_POINTS], FLIP_MAX_RADIUS, steps=20, num_bisections=12
        )
        correct = jnp.sign(f(params, dat["x_train"][:FLIP_POINTS])) == dat["y_train"][:FLIP_POINTS]
        return {
            "lip_train": g_train.max(),
            "lip_test": g_test.max(),
            "lip_est": jnp.maximum(g_train.max(), g_test.max()),
            "lip_search": found.max(),
            "grad_norm_median": jnp.median(g_train),
            "lip_upper": upper,
            # a wrongly signed point needs no attack: radius 0
            "flip_radius": jnp.median(jnp.where(correct, flips, 0.0)),
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
