"""The toy model of superposition and the exact expected loss of its two-feature version.

``x' = ReLU(W^T W x + b)`` with ``W`` of shape ``(m, n)``; each feature is 0 with
probability ``S`` (sparsity) and uniform on [0, 1] otherwise; the loss is
``sum_i I_i (x_i - x'_i)^2`` averaged over samples (Elhage et al. 2022, section 2).
Trained through the canonical trainer (``physai.train``): online, a fresh batch per step.
"""

from __future__ import annotations

import functools
import math

import jax
import jax.numpy as jnp
import numpy as np
import optax
import scipy.optimize

from physai.train import Task

EVAL_SAMPLES = 8192
EVAL_KEY = 20221  # one fixed evaluation set per (n, density): seeds are compared on the same samples
REPRESENTED = 0.5  # ||W_i|| above this: feature i is represented (the paper's bars sit near 0 or 1)


def importance(n: int, decay, ratio):
    """``I_i = decay^i``, the features after the first scaled by ``ratio`` (the 2-in-1 toy's
    relative importance of the extra feature; 1 elsewhere)."""
    i = jnp.arange(n)
    return decay**i * jnp.where(i > 0, ratio, 1.0)


def draw(key, n: int, rows: int, density):
    """``rows`` samples: each feature is nonzero with probability ``density = 1 - S``, then U[0, 1]."""
    # one uniform per entry: u < density marks it nonzero, and given that, u / density is U[0, 1]
    u = jax.random.uniform(key, (rows, n))
    return jnp.where(u < density, u / density, 0.0)


def forward(params, x):
    w, b = params["W"], params["b"]
    return jax.nn.relu((x @ w.T) @ w + b)


def task(n: int, m: int, batch: int) -> Task:
    """The toy model as a ``physai.train.Task``; hparams: seed, density, decay, ratio, lr, wd."""

    def loss_of(params, x, hp):
        err = (x - forward(params, x)) ** 2
        return jnp.mean(jnp.sum(importance(n, hp["decay"], hp["ratio"]) * err, axis=1))

    def init(key, hp):
        # the authors' code: xavier-normal W, zero bias
        std = math.sqrt(2.0 / (n + m))
        return {"W": std * jax.random.normal(key, (m, n)), "b": jnp.zeros(n)}

    return Task(
        data=lambda key, hp: {"x_test": draw(jax.random.key(EVAL_KEY), n, EVAL_SAMPLES, hp["density"])},
        init=init,
        loss=lambda params, batch_, hp: loss_of(params, batch_["x_train"], hp),
        metrics=lambda params, data, hp: {"test_loss": loss_of(params, data["x_test"], hp)},
        optimizer=lambda hp: optax.adamw(hp["lr"], weight_decay=hp["wd"]),
        sample=lambda key, data, hp: {"x_train": draw(key, n, batch, hp["density"])},
    )


def feature_geometry(w: np.ndarray) -> dict[str, np.ndarray]:
    """Per feature: ``||W_i||`` and the feature dimensionality
    ``D_i = ||W_i||^2 / sum_j (W_i_hat . W_j)^2`` (the paper's section 6; 0 for a feature
    with ``W_i = 0``)."""
    w = np.asarray(w, np.float64)
    norms = np.linalg.norm(w, axis=0)
    unit = w / np.where(norms > 0, norms, 1.0)
    overlap = np.sum((unit.T @ w) ** 2, axis=1)  # sum_j (W_i_hat . W_j)^2, j = i included
    with np.errstate(invalid="ignore", divide="ignore"):
        dims = np.where(norms > 1e-9, norms**2 / overlap, 0.0)
    return {"norm": norms, "dim": dims}


# ----------------------------------------------------------------------------- the 2-in-1 toy, exactly

_NODES, _WEIGHTS = np.polynomial.legendre.leggauss(3)  # exact for the piecewise-quadratic integrands
_OUTER = (np.arange(200) + 0.5) / 200  # midpoints for the outer integral of the two-nonzero case


def _piece(lo, hi, f):
    """Gauss-Legendre on [lo, hi] (arrays broadcast; an empty piece gives 0)."""
    half = (hi - lo) / 2
    return sum(wt * f(lo + half * (1 + x)) for x, wt in zip(_NODES, _WEIGHTS)) * half


def _mean_sq(s, t, a, c):
    """``E_u (s u + t - ReLU(a u + c))^2`` for ``u ~ U[0, 1]``: split at the kink of the ReLU."""
    with np.errstate(divide="ignore", invalid="ignore"):
        kink = np.where(a != 0, -c / np.where(a != 0, a, 1.0), 0.0)
    kink = np.clip(kink, 0.0, 1.0)
    f = lambda u: (s * u + t - np.maximum(a * u + c, 0.0)) ** 2  # noqa: E731
    return _piece(0.0, kink, f) + _piece(kink, 1.0, f)


def exact_loss(w, b, ratio: float, density: float) -> float:
    """The exact expected loss of ``W`` (shape (1, 2) or (2,)) and ``b`` on the 2-in-1 toy
    (importances 1 and ``ratio``; each feature nonzero with probability ``density``)."""
    w = np.ravel(np.asarray(w, np.float64))
    b = np.ravel(np.asarray(b, np.float64))
    g = np.outer(w, w)
    imp = np.array([1.0, ratio])
    p = float(density)
    both_zero = sum(imp[i] * np.maximum(b[i], 0.0) ** 2 for i in range(2))
    one = []  # feature k nonzero alone
    for k in range(2):
        one.append(sum(imp[i] * _mean_sq(float(i == k), 0.0, g[i, k], b[i]) for i in range(2)))
    # both nonzero: integrate feature 1 exactly (inner), feature 0 on midpoints (outer)
    u = _OUTER
    inner0 = _mean_sq(0.0, u, g[0, 1], g[0, 0] * u + b[0])  # output 0, target u
    inner1 = _mean_sq(1.0, 0.0, g[1, 1], g[1, 0] * u + b[1])  # output 1, target the inner variable
    both = float(np.mean(imp[0] * inner0 + imp[1] * inner1))
    return float((1 - p) ** 2 * both_zero + p * (1 - p) * (one[0] + one[1]) + p**2 * both)


PHASES = ("not represented", "superposition", "dedicated")


def phase_of(norm_first, norm_extra) -> str:
    """The phase of the extra feature from the two column norms (threshold ``REPRESENTED``)."""
    extra, first = norm_extra > REPRESENTED, norm_first > REPRESENTED
    if extra and first:
        return "superposition"
    return "dedicated" if extra else "not represented"


@functools.lru_cache(maxsize=4096)
def analytic_phase(ratio: float, density: float) -> tuple[str, float]:
    """The phase of the exact expected loss's minimum on the 2-in-1 toy, and its margin.

    Each of the paper's three configurations at its best exact expected loss: the first feature
    alone (``W = (1, 0)``) and the extra feature alone (``W = (0, 1)``) in closed form, both
    (``W = (w1, w2)``, ``b``) by minimising ``exact_loss`` from antipodal starts.
    Returns the phase of the lowest and the relative loss gap to the best configuration of
    another phase (small: near the boundary).
    """
    # the single-feature configurations in closed form: the represented feature is reproduced
    # exactly (w = 1, b = 0), the other is read as the constant ReLU(b) = its mean p / 2,
    # leaving its importance times its variance p/3 - p^2/4
    variance = density / 3 - density**2 / 4
    best: dict[str, float] = {"not represented": ratio * variance, "dedicated": variance}

    def loss(z):
        return exact_loss((z[0], z[1]), (z[2], z[3]), ratio, density)

    for scale in (1.0, 0.7):  # both features: started antipodal, as the paper's solution
        res = scipy.optimize.minimize(
            loss,
            [scale, -scale, 0.0, 0.0],
            method="Nelder-Mead",
            options={"xatol": 1e-4, "fatol": 1e-8, "maxiter": 2000},
        )
        phase = phase_of(abs(res.x[0]), abs(res.x[1]))
        best[phase] = min(best.get(phase, math.inf), float(res.fun))
    order = sorted(best, key=best.get)
    low = best[order[0]]
    gap = (best[order[1]] - low) / max(low, 1e-12) if len(order) > 1 else math.inf
    return order[0], float(gap)
