"""The ensemble part of ``init_criticality``: exact single-input sampling of random MLPs and the
checks of the four depth laws (see the package docstring)."""

from __future__ import annotations

import math
from functools import partial

import jax
import jax.numpy as jnp
import numpy as np
import pandas as pd

from analysis.stats import spearman
from physai import Results, ShardResult, Verdict, all_of
from physai.evidence import bootstrap_verdict

ACTIVATIONS = {"relu": jax.nn.relu, "tanh": jnp.tanh}
METRICS = ("m2", "m4", "logq_var")


@partial(jax.jit, static_argnums=(3, 4, 5, 6))
def ensemble_moments(key, cw, cb, activation: str, width: int, depth: int, nets: int) -> dict:
    """Per-layer moments of ``nets`` random MLPs on one input with ``||x||^2/n_0 = 1``.

    Returns: ``{m2, m4, logq_var}``, each of shape ``(depth,)``: the ensemble means of
    ``mean_i z_i^2`` and ``mean_i z_i^4`` and the ensemble variance of ``ln(mean_i z_i^2)``.
    """
    sigma = ACTIVATIONS[activation]

    def layer(s, k):
        # exact for one input: z^(l+1) | layer l ~ N(0, C_b + C_W |sigma(z^(l))|^2 / n), see the notes
        z = jnp.sqrt(s)[:, None] * jax.random.normal(k, (nets, width))
        q = jnp.mean(z * z, axis=1)
        out = {"m2": jnp.mean(q), "m4": jnp.mean(z**4), "logq_var": jnp.var(jnp.log(q), ddof=1)}
        return cb + cw * jnp.mean(sigma(z) ** 2, axis=1), out

    s1 = jnp.full((nets,), cb + cw)  # K^(1) = C_b + C_W ||x||^2/n_0 with ||x||^2/n_0 = 1
    _, out = jax.lax.scan(layer, s1, jax.random.split(key, depth))
    return out


def run(shard) -> ShardResult:
    """One ensemble per trial; the per-layer moments go to the curves table (step = layer)."""
    st = shard.static
    nets = max(2, st.neurons // st.width)
    rows, frames = [], []
    for trial in shard.trials:
        p = trial.params
        key = jax.random.fold_in(jax.random.key(int(p["seed"])), st.width)
        moments = ensemble_moments(key, p["cw"], p["cb"], st.activation, st.width, st.depth, nets)
        out = {k: np.asarray(v, float) for k, v in moments.items()}
        layers = np.arange(1, st.depth + 1)
        for metric in METRICS:
            frames.append(
                pd.DataFrame(
                    {
                        "trial_id": trial.trial_id,
                        "step": layers,
                        "split": "init",
                        "metric": metric,
                        "value": out[metric],
                    }
                )
            )
        finite = bool(np.all(np.isfinite(out["m2"])) and np.all(out["m2"] > 0))  # no float32 under/overflow
        last = {"k_last": out["m2"][-1], "kurtosis_last": out["m4"][-1] / out["m2"][-1] ** 2 - 3}
        rows.append({"status": "ok" if finite else "diverged", "nets": nets, **last})
    return ShardResult(rows, pd.concat(frames, ignore_index=True))


# ----------------------------------------------------------------------------- tables


def layer_table(results: Results) -> pd.DataFrame:
    """One row per (trial, layer): the trial's parameters and its per-layer moments."""
    ok = results.ok
    if "part" in ok:  # the training trials have no per-layer moments
        ok = ok[ok["part"].fillna("ensemble") == "ensemble"]
    cols = ["trial_id", "seed", "activation", "cw", "cb", "width"]
    if ok.empty or results.curves is None or results.curves.empty:
        return pd.DataFrame(columns=[*cols, "layer", *METRICS])
    curves = results.curves[results.curves["metric"].isin(METRICS)]
    wide = curves.pivot_table(index=["trial_id", "step"], columns="metric", values="value").reset_index()
    wide = wide.rename(columns={"step": "layer"})
    return ok[cols].merge(wide, on="trial_id")


def critical(table: pd.DataFrame, activation: str) -> pd.DataFrame:
    """The trials at the activation's criticality with C_b = 0 (ReLU: C_W = 2, tanh: C_W = 1)."""
    cw = CRITICAL_CW[activation]
    return table[(table["activation"] == activation) & np.isclose(table["cw"], cw) & (table["cb"] == 0)]


CRITICAL_CW = {"relu": 2.0, "tanh": 1.0}


def layer_means(table: pd.DataFrame, value: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Means over seeds of one per-layer moment (each is an ensemble mean, so seeds pool by averaging).

    In numpy, as a (seed, width, layer) cube: a seed bootstrap recomputes it a thousand times.

    Returns: ``(widths, layers, means)`` with ``means`` of shape ``(widths, layers)``.
    """
    index = [np.unique(table[c].to_numpy(), return_inverse=True) for c in ("seed", "width", "layer")]
    cube = np.full(tuple(len(u) for u, _ in index), np.nan)
    cube[tuple(i for _, i in index)] = table[value].to_numpy(float)
    with np.errstate(all="ignore"):
        return index[1][0].astype(float), index[2][0].astype(float), np.nanmean(cube, axis=0)


# ----------------------------------------------------------------------------- checks

SLOPE_TOLERANCE = 0.01


def log_slope(table: pd.DataFrame) -> float:
    """Slope of ln(mean over seeds of m2) against layer, averaged over the widths present."""
    _, layers, m2 = layer_means(table, "m2")
    if layers.size < 2:
        return math.nan
    return float(np.mean(np.polyfit(layers, np.log(m2).T, 1)[0]))


def check_relu_slope(results: Results) -> Verdict:
    """One part per C_W of the ReLU trials with C_b = 0: the slope of ln E[z^2] per layer."""
    table = layer_table(results)
    relu = table[(table["activation"] == "relu") & (table["cb"] == 0)]
    if relu.empty:
        return Verdict("inconclusive", math.nan, "slope ln(C_W/2) +- 0.01", "no ReLU trials with C_b = 0")
    parts = []
    for cw, rows in relu.groupby("cw"):
        theory = math.log(cw / 2)
        parts.append(
            bootstrap_verdict(
                rows[["seed", "width", "layer", "m2"]],
                log_slope,
                theory - SLOPE_TOLERANCE,
                theory + SLOPE_TOLERANCE,
                "slope of ln E(z^2) per layer",
                hypothesis=f"C_W = {cw:g} (ln(C_W/2) = {theory:.3f})",
            )
        )
    return all_of(parts, "ln E(z^2) grows by ln(C_W/2) per layer for ReLU with C_b = 0, at every width")


def tanh_extrapolation(table: pd.DataFrame) -> float:
    """``L K^(L)`` at the deepest layer, extrapolated to infinite width by a least-squares
    line in ``1/n`` through the widths with ``L/n <= 1/4`` (NaN with fewer than two)."""
    widths, layers, m2 = layer_means(table, "m2")
    depth = layers[-1]
    keep = depth / widths <= MAX_DEPTH_OVER_WIDTH
    if keep.sum() < 2:
        return math.nan
    return float(np.polyfit(1.0 / widths[keep], depth * m2[keep, -1], 1)[1])


MAX_DEPTH_OVER_WIDTH = 0.25


def tanh_kernel(depth: int, k1: float = 1.0) -> np.ndarray:
    """The infinite-width tanh kernel at C_W = 1, C_b = 0: ``K^(l+1) = <tanh(z)^2>_{K^(l)}``
    by Gauss-Hermite quadrature, from ``K^(1) = k1``; returns ``K^(1..depth)``."""
    x, w = np.polynomial.hermite_e.hermegauss(101)
    w = w / w.sum()
    ks = [k1]
    for _ in range(depth - 1):
        ks.append(float(np.sum(w * np.tanh(np.sqrt(ks[-1]) * x) ** 2)))
    return np.array(ks)


def tanh_band(depth: int) -> tuple[float, float]:
    """``[1/2, 1/2 + (5/24) ln L/L + 1/(2L)]``: from ``1/K = 2l - (5/6) ln l + c``, |c| <= 2."""
    return 0.5, 0.5 + 5 / 24 * math.log(depth) / depth + 1 / (2 * depth)


def check_tanh_decay(results: Results) -> Verdict:
    """Infinite-width ``L K^(L)`` for tanh at criticality, with a seed-bootstrap interval."""
    table = critical(layer_table(results), "tanh")
    if table.empty:
        return Verdict("inconclusive", math.nan, "L K(L) near 1/2", "no tanh trials at C_W = 1, C_b = 0")
    depth = int(table["layer"].max())
    low, high = tanh_band(depth)
    used = ", ".join(str(int(w)) for w in sorted(table["width"].unique()) if depth / w <= MAX_DEPTH_OVER_WIDTH)
    return bootstrap_verdict(
        table[["seed", "width", "layer", "m2"]],
        tanh_extrapolation,
        low,
        high,
        f"L K(L) at L = {depth}, extrapolated in 1/n",
        explanation=f"tanh at C_W = 1: L K^(L) at the deepest layer L = {depth}, extrapolated linearly in 1/n "
        f"from widths {used or 'none'} (L/n <= {MAX_DEPTH_OVER_WIDTH:g}); PDLT: K ~ 1/(2l)",
    )


VARIANCE_SLOPE = 5.0
VARIANCE_BAND = (4.5, 5.5)


def variance_slope(table: pd.DataFrame) -> float:
    """Slope of ``n Var ln(||z||^2/n)`` (mean over seeds) against ``l - 1`` (one width)."""
    widths, layers, var = layer_means(table, "logq_var")
    if layers.size < 2:
        return math.nan
    return float(np.mean(np.polyfit(layers - 1, (widths[:, None] * var).T, 1)[0]))


def check_relu_variance(results: Results) -> Verdict:
    """One part per width of the critical ReLU trials: slope of n Var[ln(|z|^2/n)] in l - 1."""
    table = critical(layer_table(results), "relu")
    if table.empty:
        return Verdict("inconclusive", math.nan, str(VARIANCE_BAND), "no ReLU trials at C_W = 2, C_b = 0")
    parts = [
        bootstrap_verdict(
            rows[["seed", "width", "layer", "logq_var"]],
            variance_slope,
            *VARIANCE_BAND,
            "slope of n Var ln(|z|^2/n) per layer",
            hypothesis=f"width {int(width)}",
        )
        for width, rows in table.groupby("width")
    ]
    return all_of(parts, "Var ln(||z^(l)||^2/n) ~ (5 (l-1) + 2)/n for ReLU at criticality (PDLT: V/K^2 = 5(l-1))")


RANK_BAND = 0.8


def kurtosis(table: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Excess kurtosis ``E z^4 / (E z^2)^2 - 3`` per (width, layer), moments pooled over seeds.

    Returns: ``(widths, layers, kurtosis)`` with ``kurtosis`` of shape ``(widths, layers)``."""
    widths, layers, m2 = layer_means(table, "m2")
    m4 = layer_means(table, "m4")[2]
    return widths, layers, m4 / m2**2 - 3


def depth_rank(table: pd.DataFrame) -> float:
    """Spearman rho of the kurtosis with depth within each width, averaged over widths."""
    _, layers, kurt = kurtosis(table)
    rhos = np.array([spearman(layers, k) for k in kurt])
    return float(np.nanmean(rhos)) if np.isfinite(rhos).any() else math.nan


def width_rank(table: pd.DataFrame) -> float:
    """Spearman rho of the kurtosis at the deepest layer with width (NaN below three widths)."""
    widths, _, kurt = kurtosis(table)
    return spearman(widths, kurt[:, -1])


def check_kurtosis(results: Results) -> Verdict:
    """Per activation at criticality: the kurtosis rises with depth and falls with width."""
    table = layer_table(results)
    parts = []
    for activation in sorted(table["activation"].unique()):
        rows = critical(table, activation)[["seed", "width", "layer", "m2", "m4"]]
        if rows.empty:
            continue
        parts.append(
            bootstrap_verdict(rows, depth_rank, RANK_BAND, 1.0, "Spearman rho", hypothesis=f"{activation}: depth")
        )
        parts.append(
            bootstrap_verdict(rows, width_rank, -1.0, -RANK_BAND, "Spearman rho", hypothesis=f"{activation}: width")
        )
    if not parts:
        return Verdict("inconclusive", math.nan, "rho >= 0.8 (depth), <= -0.8 (width)", "no trials at criticality")
    return all_of(parts, "excess kurtosis of one preactivation grows with depth and falls with width")
