"""Trainability off criticality: the mean-field correlation depth against trained deep tanh MLPs.

Mean field (Poole et al. 2016; Schoenholz et al. 2017): for tanh with weight variance
``sigma_w^2`` (``cw``) and bias variance ``sigma_b^2`` (``cb``) the length map
``q' = sigma_w^2 E[tanh(sqrt(q) z)^2] + sigma_b^2`` has a fixed point ``q*``, and the
correlation map of two inputs a fixed point ``c*`` (1 in the ordered phase, below 1 in the
chaotic one) whose slope ``chi_c = sigma_w^2 E[tanh'(u_1) tanh'(u_2)]`` sets the depth
``xi_c = -1/ln chi_c`` over which two inputs' correlation relaxes to ``c*``. All by
Gauss-Hermite quadrature, no fitted constants.
"""

from __future__ import annotations

import functools
import math

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pandas as pd

from physai import Results, Verdict, all_of
from physai import train as trainer
from physai.evidence import bootstrap_verdict, slim

BOUNDARY = 6.0  # Schoenholz et al. 2017, Fig. 5: trainable up to L ~ 6 xi_c (the white line)
MARGIN = 2.0  # grid points with 1/2 <= L/(6 xi_c) < 2 are too near the boundary to score
MIN_AGREEMENT = 0.8  # balanced agreement of trainability with the boundary (chance: 1/2)
TRAINABLE_ACCURACY = 0.7  # train accuracy (binary labels, chance 1/2) that counts as "trained"
INPUT_DIM = 16
N_TRAIN = 1024
TEACHER_SEED = 12345  # one fixed data set for every trial: only init and minibatches vary

_X, _W = np.polynomial.hermite_e.hermegauss(81)
_W = _W / _W.sum()
_Z1, _Z2 = np.meshgrid(_X, _X, indexing="ij")
_W2 = np.outer(_W, _W)


FIXED_POINT_TOL = 1e-13  # relative change at which a fixed-point iteration has converged


def _converged(new: float, old: float) -> bool:
    return abs(new - old) <= FIXED_POINT_TOL * max(abs(old), 1e-300)


def q_star(cw: float, cb: float, iterations: int = 2000) -> float:
    """Fixed point of the length map ``q' = cw E[tanh(sqrt(q) z)^2] + cb`` (iterated from q = 1
    until it stops moving, at most ``iterations`` times: slow only next to criticality)."""
    q = 1.0
    for _ in range(iterations):
        q, old = cw * float(np.sum(_W * np.tanh(math.sqrt(q) * _X) ** 2)) + cb, q
        if _converged(q, old):
            break
    return q


def _pair(c: float, q: float) -> tuple[np.ndarray, np.ndarray]:
    """Two preactivations of variance ``q`` and correlation ``c`` on the quadrature grid."""
    s = math.sqrt(q)
    return s * _Z1, s * (c * _Z1 + math.sqrt(max(1.0 - c * c, 0.0)) * _Z2)


@functools.lru_cache(maxsize=256)  # pure in (cw, cb); tables ask for the same few values repeatedly
def correlation_depth(cw: float, cb: float) -> float:
    """``xi_c = -1/ln chi_c`` for tanh (Schoenholz et al. 2017, eqs. 3-9); inf at criticality.

    In the ordered phase (``chi_1 <= 1``) ``c* = 1`` and ``chi_c = chi_1``; in the chaotic phase
    the stable fixed point ``c* < 1`` of the correlation map is found by iterating it from 0.
    """
    q = q_star(cw, cb)
    slope = lambda c: cw * float(np.sum(_W2 * np.prod([1 / np.cosh(u) ** 2 for u in _pair(c, q)], axis=0)))
    c = 1.0
    if slope(1.0) > 1:  # chaotic: c = 1 is unstable
        c = 0.0
        for _ in range(5000):
            u1, u2 = _pair(c, q)
            c, old = (cw * float(np.sum(_W2 * np.tanh(u1) * np.tanh(u2))) + cb) / q, c
            if _converged(c, old):
                break
    chi = slope(c)
    return math.inf if chi >= 1 else -1.0 / math.log(chi)


# ----------------------------------------------------------------------------- training


def make_task(width: int, depth: int) -> trainer.Task:
    """A tanh MLP of ``depth`` hidden layers of ``width`` (weights ``N(0, cw/fan_in)``, biases
    ``N(0, cb)``, the mean-field initialisation) trained by SGD on a fixed binary task: Gaussian
    inputs labelled by the sign of a random linear teacher."""

    def data(key, hp):
        kx, kt, kw = jax.random.split(jax.random.key(TEACHER_SEED), 3)
        x = jax.random.normal(kx, (2 * N_TRAIN, INPUT_DIM))
        y = (x @ jax.random.normal(kw, (INPUT_DIM,)) > 0).astype(jnp.int32)
        return {"x_train": x[:N_TRAIN], "y_train": y[:N_TRAIN], "x_test": x[N_TRAIN:], "y_test": y[N_TRAIN:]}

    def init(key, hp):
        k = jax.random.split(key, 6)
        sw, sb = jnp.sqrt(hp["cw"]), jnp.sqrt(hp["cb"])
        return {
            "w_in": sw / math.sqrt(INPUT_DIM) * jax.random.normal(k[0], (INPUT_DIM, width)),
            "b_in": sb * jax.random.normal(k[1], (width,)),
            "w": sw / math.sqrt(width) * jax.random.normal(k[2], (depth - 1, width, width)),
            "b": sb * jax.random.normal(k[3], (depth - 1, width)),
            "w_out": 1 / math.sqrt(width) * jax.random.normal(k[4], (width, 2)),
            "b_out": jnp.zeros(2),
        }

    def logits(params, x):
        h = jnp.tanh(x @ params["w_in"] + params["b_in"])
        h, _ = jax.lax.scan(lambda h, wb: (jnp.tanh(h @ wb[0] + wb[1]), None), h, (params["w"], params["b"]))
        return h @ params["w_out"] + params["b_out"]

    def loss(params, batch, hp):
        return optax.softmax_cross_entropy_with_integer_labels(
            logits(params, batch["x_train"]), batch["y_train"]
        ).mean()

    def metrics(params, dat, hp):
        acc = lambda x, y: jnp.mean(jnp.argmax(logits(params, x), axis=1) == y)
        return {
            "train_loss": loss(params, dat, hp),
            "train_acc": acc(dat["x_train"], dat["y_train"]),
            "test_acc": acc(dat["x_test"], dat["y_test"]),
        }

    return trainer.Task(data, init, loss, metrics, lambda hp: optax.sgd(hp["lr"]))


def run_train(shard):
    """Every (cw, cb, lr, seed) of a shard of one width and depth in one compiled program."""
    st = shard.static
    task = make_task(st.width, st.depth)
    return trainer.run_shard(task, shard, ("seed", "cw", "cb", "lr"), st.steps, max(1, st.steps // 10), st.batch)


# ----------------------------------------------------------------------------- check


def score_table(trials: pd.DataFrame) -> pd.DataFrame:
    """One row per training trial: ``seed, cw, cb, depth, ratio, trainable, predicted, scored``.

    ``ratio = L/(6 xi_c)``; ``trainable``: the run did not diverge and its final train accuracy
    is at least ``TRAINABLE_ACCURACY``; ``predicted``: ``ratio < 1``; ``scored``: the point lies
    outside the margin ``1/MARGIN <= ratio < MARGIN`` around the boundary.
    """
    columns = ["seed", "cw", "cb", "depth", "ratio", "trainable", "predicted", "scored"]
    if trials.empty or "part" not in trials or "train_acc" not in trials:
        return pd.DataFrame(columns=columns)
    t = trials[trials["part"] == "train"]
    xi = {(cw, cb): correlation_depth(cw, cb) for cw, cb in set(zip(t["cw"], t["cb"]))}
    ratio = np.array([d / (BOUNDARY * xi[(cw, cb)]) for d, cw, cb in zip(t["depth"], t["cw"], t["cb"])])
    acc = t["train_acc"].to_numpy(float)
    trainable = (t["status"] == "ok").to_numpy() & (np.nan_to_num(acc, nan=0.0) >= TRAINABLE_ACCURACY)
    return pd.DataFrame(
        {
            "seed": t["seed"].to_numpy(),
            "cw": t["cw"].to_numpy(float),
            "cb": t["cb"].to_numpy(float),
            "depth": t["depth"].to_numpy(int),
            "ratio": ratio,
            "trainable": trainable,
            "predicted": ratio < 1,
            "scored": (ratio < 1 / MARGIN) | (ratio >= MARGIN),
        }
    )


def agreement(table: pd.DataFrame) -> float:
    """Balanced agreement of the scored rows with the 6 xi_c boundary: the mean over its two sides
    of the fraction trainable inside (``L < 6 xi_c``) and untrainable beyond. Balanced, so a grid
    mostly on one side cannot score high by calling everything (un)trainable; NaN unless both
    sides are scored."""
    s = table[table["scored"].to_numpy(bool)]
    trainable, predicted = s["trainable"].to_numpy(bool), s["predicted"].to_numpy(bool)
    if predicted.all() or not predicted.any():
        return math.nan
    return float((trainable[predicted].mean() + (~trainable[~predicted]).mean()) / 2)


def agreement_at_equal_depth(table: pd.DataFrame) -> float:
    """:func:`agreement` within each depth that has scored points on both sides, averaged over
    those depths: at equal depth only sigma_w^2 (through xi_c) can decide, so a rule in depth
    alone ("shallow nets train") scores 1/2 here. NaN without such a depth."""
    values = [agreement(rows) for _, rows in table.groupby("depth")]
    values = [v for v in values if not math.isnan(v)]
    return float(np.mean(values)) if values else math.nan


def check_trainability(results: Results) -> Verdict:
    """Balanced agreement of trainability with ``L < 6 xi_c`` away from the boundary, over all
    scored points and within each depth, each by seed bootstrap."""
    table = score_table(results.trials)
    scored = table[table["scored"].to_numpy(bool)]
    expected = f"agreement >= {MIN_AGREEMENT:g}"
    if scored.empty:
        return Verdict("inconclusive", math.nan, expected, "no training trials outside the boundary's margin")
    sides = ", ".join(f"{int(n)} {'inside' if p else 'beyond'}" for p, n in scored.groupby("predicted").size().items())
    rows = slim(table, "depth", "trainable", "predicted", "scored")
    name = "balanced agreement of trainability with L < 6 xi_c"
    return all_of(
        [
            bootstrap_verdict(rows, agreement, MIN_AGREEMENT, 1.0, name, hypothesis="all scored points"),
            bootstrap_verdict(rows, agreement_at_equal_depth, MIN_AGREEMENT, 1.0, name, hypothesis="at equal depth"),
        ],
        f"tanh MLPs after a fixed SGD budget: trainable (train accuracy >= {TRAINABLE_ACCURACY:g}) against the "
        f"mean-field prediction L < 6 xi_c; points with {1 / MARGIN:g} <= L/(6 xi_c) < {MARGIN:g} are not scored "
        f"({sides} the boundary among the scored (point, seed) pairs)",
    )
