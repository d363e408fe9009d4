"""Criticality at initialisation: how do signals and their fluctuations propagate through random deep MLPs?

Question
  A deep MLP at initialisation maps an input to preactivations ``z^(l)`` layer by
  layer. The effective theory of Roberts, Yaida & Hanin (2022, *The Principles of
  Deep Learning Theory*, PDLT, ch. 3-5) describes their distribution: at infinite
  width a Gaussian with kernel ``K^(l)``, at width ``n`` corrected by a four-point
  vertex ``V^(l)/n``. Do ensembles of random MLPs follow its depth laws?

Hypotheses, in words (sources and tolerances in each hypothesis's ``source``)
  1. ``relu_depth_slope``: for ReLU with bias variance ``C_b = 0``, ``E[z^2]`` is
     multiplied by ``C_W/2`` per layer at any width, so ``ln E[z^2]`` is linear in
     depth with slope ``ln(C_W/2)``; ``C_W = 2`` is critical (PDLT §5.2;
     He et al. 2015). One part per ``C_W``: the fitted slope within 0.01 of it.
  2. ``tanh_kernel_decay``: tanh at criticality (``C_W = 1``, ``C_b = 0``) has
     ``K^(l) ~ 1/(2 l)`` at large depth (PDLT §5.3, the ``K* = 0`` class with
     ``a_1 = -2``). The infinite-width ``l K^(l)`` at the deepest layer ``L``,
     extrapolated linearly in ``1/n`` from the widths with ``L/n <= 1/4``, lies in
     ``[1/2, 1/2 + (5/24) ln L / L + 1/(2L)]`` (the finite-depth corrections).
  3. ``relu_variance_slope``: for ReLU at criticality the four-point vertex
     obeys ``V^(l+1) = V^(l) + 5 K^2`` (PDLT §5.4, with ``chi = 1``), so the
     variance of ``ln(||z^(l)||^2/n)`` over the ensemble grows as ``(5 (l-1) + 2)/n``:
     one part per width, the slope of ``n Var`` against ``l - 1`` in ``[4.5, 5.5]``.
  4. ``kurtosis_depth_width``: the excess kurtosis ``3 V/(n K^2)`` of a single
     preactivation grows with depth and falls with width at fixed depth (PDLT §5.4:
     ``V/K^2 = 5(l-1)`` for ReLU and ``(2/3) l`` for tanh, so the kurtosis is
     ``15(l-1)/n`` and ``2l/n`` to leading order; the figure draws both), for ReLU
     and tanh at criticality: Spearman
     rank correlations with depth (within each width, averaged) in ``[0.8, 1]`` and
     with width at the deepest layer in ``[-1, -0.8]``.

Set-up
  Each trial is an ensemble of ``neurons // width`` independent random MLPs of
  width ``n`` and depth ``depth`` (weights ``N(0, C_W/n)``, biases ``N(0, C_b)``),
  all fed one input with ``||x||^2/n_0 = 1``, so ``K^(1) = C_b + C_W``. Seeds are
  the independent units of every interval (each seed is a fresh ensemble).
  Per layer the trial stores, averaged over its nets, ``m2 = mean_i z_i^2``,
  ``m4 = mean_i z_i^4`` and the variance over nets of ``ln(||z||^2/n)``.

Presets
  tiny:  depth 8, widths 32-128, 2 seeds (smoke test, no verdict expected).
  demo:  depth 32, three widths per activation at criticality, 4 seeds.
  paper: depth 64; ReLU at C_W = 2 on widths 64-512, at C_W = 1.5 and 2.5 on 64 and
         256; tanh at C_W = 1 on widths 256-2048 (all with L/n <= 1/4); 8 seeds of
         2^19 neurons per layer.

Run
  physai verify init_criticality --preset tiny     # seconds; smoke test only
  physai demo init_criticality                     # ~1 min
  physai verify init_criticality --preset paper    # the verdicts
  Expected runtime on 2 idle CPU cores: tiny seconds, demo ~1 min, paper ~3 min (about
  2 min of sampling, the rest the checks' bootstrap).

Implementation notes
  * For one input the layers are sampled exactly without weight matrices: given
    layer ``l``, each ``z^(l+1)_i = b_i + sum_j W_ij sigma(z^(l)_j)`` is a sum of
    Gaussians independent of the past, so ``z^(l+1) ~ N(0, (C_b + C_W ||sigma(z^(l))||^2/n) I_n)``
    exactly (rotation invariance of a Gaussian row). A layer costs ``n`` normals
    per net instead of ``n^2``, which is what makes ensembles of thousands of nets
    cheap. It holds for a single input only: two-input quantities (correlations,
    the correlation length) would need the weights.
  * Trials hold ``neurons = nets x width`` fixed, so every width costs the same;
    the relative error of ``m2`` scales like ``1/sqrt(neurons)`` at any width.

Known limitations
  * The off-criticality trainability test of Schoenholz et al. (2017, depth up to
    ~6 correlation lengths) is not part of this experiment: it needs two-input
    propagation and training.
  * Check 2 rests on the ``1/n`` expansion: a width grid whose ``L/n`` is large
    everywhere leaves fewer than two widths to extrapolate from (inconclusive).
  * The kurtosis is tested by rank, not against ``15(l-1)/n``: where ``l/n`` nears 1
    the ensemble of ``|z|^2`` is so heavy-tailed that finite ensembles underestimate
    its fourth moment (the narrowest ReLU width in the figure falls below the exact
    law at depth), and the leading-order law itself is off by its ``(l/n)^2`` terms.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import partial

import jax
import jax.numpy as jnp
import numpy as np
import pandas as pd

import physai
from analysis.stats import spearman
from physai import Experiment, Hypothesis, Preset, Results, ShardResult, Source, Verdict, all_of, chain, product
from physai.domains import NON_NEGATIVE, POSITIVE, POSITIVE_INT, Domain
from physai.evidence import bootstrap_verdict

ACTIVATIONS = {"relu": jax.nn.relu, "tanh": jnp.tanh}
METRICS = ("m2", "m4", "logq_var")

# ----------------------------------------------------------------------------- run


@dataclass(frozen=True)
class Static(physai.Static):
    activation: str
    width: int
    depth: int
    neurons: int


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


# ----------------------------------------------------------------------------- hypotheses

PDLT = "Roberts, Yaida & Hanin 2022, The Principles of Deep Learning Theory (Cambridge Univ. Press)"

HYPOTHESES = (
    Hypothesis(
        "relu_depth_slope",
        "ReLU with C_b = 0: ln E[z^(l)2] is linear in l with slope ln(C_W/2) at any width; the fitted slope's "
        "95% seed-bootstrap interval lies within 0.01 of ln(C_W/2) for every C_W swept",
        "PDLT §5.2 (ReLU kernel recursion K' = C_b + C_W K/2; criticality C_W = 2, He et al. 2015)",
        check_relu_slope,
        source=Source(
            paper=f"{PDLT}; He, Zhang, Ren & Sun 2015, ICCV ('Delving deep into rectifiers')",
            where="PDLT §5.2 (kernel recursion for scale-invariant activations, ReLU: K^(l+1) = C_b + (C_W/2) K^(l)); "
            "He et al. 2015 §2.2: Var[y_L] = Var[y_1] prod_l (n_l Var[w_l]/2)",
            statement="E[z^(l+1)2] = C_b + C_W E[relu(z^(l))^2] = C_b + (C_W/2) E[z^(l)2], exact at any width "
            "(z is symmetric), so with C_b = 0 ln E[z^2] has slope ln(C_W/2) per layer",
            tolerance="the law is exact at every width, so only Monte-Carlo error separates the fit from it; "
            "0.01 per layer (a 1% error in the growth factor per layer, 30% over 30 layers) is this project's "
            "convention for 'the same slope', far below the gaps between the C_W swept (ln(1.5/2) = -0.29, "
            "ln(2.5/2) = 0.22)",
        ),
    ),
    Hypothesis(
        "tanh_kernel_decay",
        "tanh at criticality (C_W = 1, C_b = 0): K^(l) ~ 1/(2l); the infinite-width l K^(l) at the deepest layer "
        "L, extrapolated linearly in 1/n, has a 95% interval inside [1/2, 1/2 + (5/24) ln L/L + 1/(2L)]",
        "PDLT §5.3 (K* = 0 universality class, a_1 = -2: K^(l) = 1/(-a_1 l) + ...)",
        check_tanh_decay,
        source=Source(
            paper=PDLT,
            where="§5.3: for the K* = 0 class, K^(l) = [1/(-a_1)] (1/l) + O(log l / l^2); tanh has a_1 = -2",
            statement="l K^(l) -> 1/2 for tanh at C_W = 1, C_b = 0",
            tolerance="expanding tanh^2 to third order, K' = K - 2K^2 + (17/3) K^3 gives 1/K = 2l - (5/6) ln l + c, "
            "so l K = 1/2 + (5/24) ln l / l - c/(4l) + O(ln^2 l / l^2), approached from above; the constant c is set "
            "by K^(1) (the infinite-width recursion from K^(1) = 1 gives c near -0.9) and |c| <= 2 is allowed, "
            "whence the upper bound. The claim is about infinite width; at width n PDLT's corrections are O(L/n), "
            "so the value is extrapolated linearly in 1/n from widths with L/n <= 1/4",
        ),
    ),
    Hypothesis(
        "relu_variance_slope",
        "ReLU at criticality: Var ln(||z^(l)||^2/n) grows like (5(l-1) + 2)/n; per width, the slope of "
        "n Var against l - 1 has a 95% interval inside [4.5, 5.5]",
        "PDLT §5.4 (four-point vertex of scale-invariant activations at criticality: V^(l)/K^2 = 5(l-1)); "
        "Hanin & Nica 2019 (products of random matrices, ReLU: Var ln ||z||^2 ~ 5 L/n)",
        check_relu_variance,
        source=Source(
            paper=f"{PDLT}; Hanin & Nica 2019, Commun. Math. Phys. ('Products of many large random matrices and "
            "gradients in deep neural networks'); Hanin & Rolnick 2018, NeurIPS",
            where="PDLT §4.3 and §5.4: V^(l+1) = chi^2 V^(l) + C_W^2 (<sigma^4> - <sigma^2>^2); for ReLU at chi = 1, "
            "C_W^2 (3K^2/2 - K^2/4) = 5 K^2",
            statement="V^(l)/K^2 = 5(l-1) (the first layer is exactly Gaussian), so Var(||z||^2/n)/K^2 = "
            "(2 + V/K^2)/n = (5(l-1) + 2)/n to leading order in 1/n; the same holds for Var ln(||z||^2/n)",
            tolerance="10%: the next order in 1/n. Per layer ln(|z|^2/n) gains ln X with X = (2/n) chi^2_B, "
            "B ~ Binomial(n, 1/2) (exact for one input), whose variance is exactly linear in l with slope "
            "n Var ln X = 5.31 at n = 64, 5.15 at n = 128, 5.07 at n = 256 (digamma/trigamma sums over B); "
            "widths below ~48 leave the band. Monte-Carlo error of the variance is ~1% per seed",
        ),
    ),
    Hypothesis(
        "kurtosis_depth_width",
        "ReLU and tanh at criticality: the excess kurtosis of one preactivation grows with depth (Spearman rho with "
        "l, within each width, averaged: interval in [0.8, 1]) and falls with width at the deepest layer "
        "(Spearman rho with n: interval in [-1, -0.8])",
        "PDLT §5.4 (the excess kurtosis 3 V/(n K^2) with V/K^2 linear in depth: 5(l-1) for ReLU, "
        "(2/3) l for the K* = 0 class)",
        check_kurtosis,
        source=Source(
            paper=PDLT,
            where="§4.1-4.3 (connected four-point function E[z^4] - 3K^2 = 3V/n), §5.4 (V/K^2 grows linearly "
            "in l at criticality)",
            statement="the single-neuron excess kurtosis is 3 V^(l)/(n K^2) ~ l/n: it grows with depth and vanishes "
            "as the width grows at fixed depth; to leading order 15(l-1)/n for ReLU and 2l/n for tanh (with "
            "K' = K - 2K^2, chi = 1 - 4K and the source 2K^2, r = V/K^2 obeys r' = r (1 - 2/l) + 2, so r = (2/3) l)",
            tolerance="a qualitative trend tested by rank: rho >= 0.8 (depth) and <= -0.8 (width) is this project's "
            "convention for a monotone trend measured with noise; with three widths -0.8 asks for the exact "
            "decreasing order, with four it allows one adjacent swap",
        ),
    ),
)

# ----------------------------------------------------------------------------- presets


def _grid(critical_widths, other_widths, tanh_widths, seeds):
    """ReLU off criticality (C_W = 1.5, 2.5) needs only the slope check's widths; ReLU at C_W = 2
    and tanh at C_W = 1 carry the width-dependent checks."""
    return chain(
        product(activation="relu", cw=[1.5, 2.5], width=other_widths, seed=list(seeds)),
        product(activation="relu", cw=[2.0], width=critical_widths, seed=list(seeds)),
        product(activation="tanh", cw=[1.0], width=tanh_widths, seed=list(seeds)),
    )


PRESETS = {
    "tiny": Preset(
        _grid([32, 64, 128], [32, 128], [32, 64, 128], range(2)),
        {"depth": 8, "neurons": 2**13, "cb": 0.0},
        "seconds-long smoke test (no verdict expected)",
    ),
    "demo": Preset(
        _grid([64, 128, 256], [64, 256], [128, 256, 512], range(4)),
        {"depth": 32, "neurons": 2**17, "cb": 0.0},
        "depth 32, three widths per activation at criticality, 4 seeds of 2^17 neurons per layer",
    ),
    "paper": Preset(
        _grid([64, 128, 256, 512], [64, 256], [256, 512, 1024, 2048], range(8)),
        {"depth": 64, "neurons": 2**19, "cb": 0.0},
        "depth 64, four widths per activation at criticality, 8 seeds of 2^19 neurons per layer",
    ),
}


def plot(results: Results) -> dict:
    """The four figures (``experiments._init_criticality_plots``)."""
    from experiments import _init_criticality_plots

    return _init_criticality_plots.plot(results)


DOMAINS = {
    "activation": Domain(choices=tuple(ACTIVATIONS)),
    "cw": POSITIVE,
    "cb": NON_NEGATIVE,
    "neurons": Domain(low=2, integer=True),
    "depth": POSITIVE_INT,
}

EXPERIMENT = Experiment(
    name="init_criticality",
    question="Do ensembles of random MLPs at initialisation follow the effective theory's depth laws: ReLU's "
    "ln(C_W/2) growth, tanh's 1/(2l) kernel at criticality, and finite-width fluctuations that grow like depth/width?",
    hypotheses=HYPOTHESES,
    presets=PRESETS,
    run=run,
    plot=plot,
    static=Static,
    max_shard_size=64,
    cost=lambda static, n: float(n * static.depth * static.neurons),
    domains=DOMAINS,
    doc=__doc__,
)
