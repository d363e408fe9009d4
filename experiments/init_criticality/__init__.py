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
  5. ``trainable_depth``: off criticality, tanh networks train only to a depth of a few
     mean-field correlation lengths ``xi_c`` (Schoenholz, Gilmer, Ganguli &
     Sohl-Dickstein 2017, ICLR, "Deep information propagation", Fig. 5: trainable for
     ``L < 6 xi_c``). On a grid of depth ``L`` and ``sigma_w^2`` at ``sigma_b^2 = 0.05``, a
     run is trainable when its train accuracy after a fixed SGD budget is >= 0.7. Away
     from the boundary (``L/(6 xi_c)`` below 1/2 or at least 2) the balanced agreement
     of trainability with ``L < 6 xi_c`` (the mean of the fractions trainable inside and
     untrainable beyond) has a 95% seed-bootstrap interval in ``[0.8, 1]``, over all
     scored points and within each depth that has scored points on both sides (there only
     ``sigma_w^2`` differs, so a rule in depth alone scores 1/2).

Set-up
  Each trial is an ensemble of ``neurons // width`` independent random MLPs of
  width ``n`` and depth ``depth`` (weights ``N(0, C_W/n)``, biases ``N(0, C_b)``),
  all fed one input with ``||x||^2/n_0 = 1``, so ``K^(1) = C_b + C_W``. Seeds are
  the independent units of every interval (each seed is a fresh ensemble).
  Per layer the trial stores, averaged over its nets, ``m2 = mean_i z_i^2``,
  ``m4 = mean_i z_i^4`` and the variance over nets of ``ln(||z||^2/n)``.

  Trainability (hypothesis 5): ``xi_c = -1/ln chi_c`` from the mean-field length
  and correlation maps by Gauss-Hermite quadrature (``trainability.correlation_depth``;
  ``chi_c = chi_1`` in the ordered phase, the slope of the correlation map at its
  fixed point ``c* < 1`` in the chaotic one). The networks: tanh MLPs of width 64 and
  ``L`` hidden layers, weights ``N(0, sigma_w^2/fan_in)``, biases ``N(0, 0.05)``, a
  ``N(0, 1/n)`` linear readout to two logits; plain SGD (lr 0.003, batch 64, 600
  steps) on cross-entropy. The task (MNIST, the paper's, is not available offline): 1024
  Gaussian inputs in 16 dimensions labelled by the sign of a random linear teacher,
  the same data for every trial; seeds vary the initialisation and the minibatches.
  A diverged run counts as untrainable. Chance accuracy is 1/2.

Presets
  tiny:  depth 8, widths 32-128, 2 seeds (smoke test, no verdict expected).
  demo:  depth 32, three widths per activation at criticality, 4 seeds.
  paper: depth 64; ReLU at C_W = 2 on widths 64-512, at C_W = 1.5 and 2.5 on 64 and
         256; tanh at C_W = 1 on widths 256-2048 (all with L/n <= 1/4); 8 seeds of
         2^19 neurons per layer.
  Trainability (width 64): tiny sigma_w^2 in {1, 1.75} x depths {4, 48} x 2 seeds, 50
  steps; demo {1, 1.75, 4} x {8, 64} x 2 seeds; paper {1, 1.25, 1.75, 3, 4} x
  {8, 16, 32, 64, 128} x 4 seeds, 600 steps each.

Run
  physai verify init_criticality --preset tiny     # seconds; smoke test only
  physai demo init_criticality                     # ~1 min
  physai verify init_criticality --preset paper    # the verdicts
  Expected runtime on 2 idle CPU cores: tiny seconds, demo ~1 min, paper ~3-5 min (about
  2 min of sampling, 1-2 min of training, the rest the checks' bootstrap).

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
  * Trainability depends on the training budget as well as on ``xi_c`` (Schoenholz et
    al. 2017 show the trainable region growing with the number of steps), and on the
    learning rate: one fixed SGD budget is used for every depth, which is why the
    points within a factor 2 of ``6 xi_c`` are not scored. The deepest near-critical
    nets (``L = 128``) are the slowest to train: with half the budget most of them stay
    below the accuracy line and the equal-depth part is no longer supported. Within the
    margin, the chaotic side stops training somewhat before ``6 xi_c``. The task is
    synthetic, not MNIST, and the width (64) far below the paper's.
  * Check 2 rests on the ``1/n`` expansion: a width grid whose ``L/n`` is large
    everywhere leaves fewer than two widths to extrapolate from (inconclusive).
  * The kurtosis is tested by rank, not against ``15(l-1)/n``: where ``l/n`` nears 1
    the ensemble of ``|z|^2`` is so heavy-tailed that finite ensembles underestimate
    its fourth moment (the narrowest ReLU width in the figure falls below the exact
    law at depth), and the leading-order law itself is off by its ``(l/n)^2`` terms.
"""

from __future__ import annotations

from dataclasses import dataclass

import physai
from experiments.init_criticality import ensemble, trainability
from experiments.init_criticality.ensemble import (
    ACTIVATIONS,
    CRITICAL_CW,
    METRICS,
    check_kurtosis,
    check_relu_slope,
    check_relu_variance,
    check_tanh_decay,
    critical,
    ensemble_moments,
    kurtosis,
    layer_means,
    layer_table,
    log_slope,
    tanh_band,
    tanh_extrapolation,
    tanh_kernel,
    variance_slope,
)
from experiments.init_criticality.trainability import check_trainability, correlation_depth, score_table
from physai import Experiment, Hypothesis, Preset, Results, Source, chain, product
from physai.domains import NON_NEGATIVE, POSITIVE, POSITIVE_INT, Domain

__all__ = [
    "ACTIVATIONS",
    "CRITICAL_CW",
    "EXPERIMENT",
    "METRICS",
    "check_kurtosis",
    "check_relu_slope",
    "check_relu_variance",
    "check_tanh_decay",
    "check_trainability",
    "correlation_depth",
    "critical",
    "ensemble_moments",
    "kurtosis",
    "layer_means",
    "layer_table",
    "log_slope",
    "score_table",
    "tanh_band",
    "tanh_extrapolation",
    "tanh_kernel",
    "variance_slope",
]


@dataclass(frozen=True)
class Static(physai.Static):
    """The ensemble trials carry no ``part`` (their ids predate the training part), the
    training trials no ``steps``/``batch`` outside their grid: defaults fill them in."""

    part: str
    activation: str
    width: int
    depth: int
    neurons: int
    steps: int
    batch: int

    @classmethod
    def derived(cls, params):
        defaults = {"part": "ensemble", "steps": 0, "batch": 0, "neurons": 0}
        return {k: v for k, v in defaults.items() if k not in params}


def run(shard):
    """Sampled ensembles (``ensemble.run``) or trained networks (``trainability.run_train``)."""
    return trainability.run_train(shard) if shard.static.part == "train" else ensemble.run(shard)


def cost(static, n: int) -> float:
    """Rough FLOPs: ~50 per sampled neuron and layer; 6 per weight, example and step in training."""
    if static.part == "train":
        return float(n * 6 * static.depth * static.width**2 * static.batch * static.steps)
    return float(n * 50 * static.depth * static.neurons)


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
    Hypothesis(
        "trainable_depth",
        "tanh at sigma_b^2 = 0.05 off criticality: a network of depth L trains (train accuracy >= 0.7 after a "
        "fixed SGD budget) when L < 6 xi_c and not beyond; away from the boundary (L/(6 xi_c) < 1/2 or >= 2) the "
        "balanced agreement of trainability with L < 6 xi_c has a 95% seed-bootstrap interval in [0.8, 1], over "
        "all scored points and within each depth with scored points on both sides",
        "Schoenholz et al. 2017 §5 and Fig. 5 (mean-field correlation depth xi_c = -1/ln chi_c; networks are "
        "trainable when L < 6 xi_c)",
        check_trainability,
        source=Source(
            paper="Schoenholz, Gilmer, Ganguli & Sohl-Dickstein 2017, ICLR ('Deep information propagation'); "
            "Poole, Lahiri, Raghu, Sohl-Dickstein & Ganguli 2016, NeurIPS ('Exponential expressivity in deep "
            "neural networks through transient chaos')",
            where="Schoenholz et al. eqs. 3-9 (q*, c*, chi_c, xi_c = -1/ln chi_c) and Fig. 5 (accuracy of tanh "
            "networks over depth and sigma_w^2 at sigma_b^2 = 0.05 on MNIST, the white line 6 xi_c)",
            statement="'networks are trainable when L < 6 xi_c' (an empirical constant 6 on the boundary of the "
            "trained region; the region grows with training time, their Fig. 6)",
            tolerance="the 6 is empirical and the boundary moves with the training budget, so points within a "
            "factor 2 of 6 xi_c are not scored; 0.7 train accuracy is 40% of the way from chance (1/2) to "
            "perfect, below what the shallowest nets reach and far above what a net whose signal has "
            "collapsed can fit (1024 points, a width-64 readout); a balanced agreement >= 0.8 is this project's "
            "convention for 'the boundary predicts trainability' (chance agreement is 1/2)",
        ),
    ),
)

# ----------------------------------------------------------------------------- presets


def _train(cws, depths, seeds, steps=600):
    """The trainability grid (its own depth, bias variance and width override the settings)."""
    return product(
        part="train",
        activation="tanh",
        cb=[0.05],
        cw=cws,
        depth=depths,
        width=[64],
        lr=[0.003],
        batch=[64],
        steps=[steps],
        seed=list(seeds),
    )


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
        chain(_grid([32, 64, 128], [32, 128], [32, 64, 128], range(2)), _train([1.0, 1.75], [4, 48], range(2), 50)),
        {"depth": 8, "neurons": 2**13, "cb": 0.0},
        "seconds-long smoke test (no verdict expected)",
    ),
    "demo": Preset(
        chain(_grid([64, 128, 256], [64, 256], [128, 256, 512], range(4)), _train([1.0, 1.75, 4.0], [8, 64], range(2))),
        {"depth": 32, "neurons": 2**17, "cb": 0.0},
        "depth 32, three widths per activation at criticality, 4 seeds of 2^17 neurons per layer",
    ),
    "paper": Preset(
        chain(
            _grid([64, 128, 256, 512], [64, 256], [256, 512, 1024, 2048], range(8)),
            _train([1.0, 1.25, 1.75, 3.0, 4.0], [8, 16, 32, 64, 128], range(4)),
        ),
        {"depth": 64, "neurons": 2**19, "cb": 0.0},
        "depth 64, four widths per activation at criticality, 8 seeds of 2^19 neurons per layer",
    ),
}


def plot(results: Results) -> dict:
    """The figures (``experiments.init_criticality.plots``)."""
    from experiments.init_criticality import plots

    return plots.plot(results)


DOMAINS = {
    "activation": Domain(choices=tuple(ACTIVATIONS)),
    "cw": POSITIVE,
    "cb": NON_NEGATIVE,
    "neurons": Domain(low=2, integer=True),
    "depth": POSITIVE_INT,
    "part": Domain(choices=("ensemble", "train")),
    "lr": POSITIVE,
    "steps": POSITIVE_INT,
    "batch": POSITIVE_INT,
}

EXPERIMENT = Experiment(
    name="init_criticality",
    question="Do ensembles of random MLPs at initialisation follow the effective theory's depth laws: ReLU's "
    "ln(C_W/2) growth, tanh's 1/(2l) kernel at criticality, and finite-width fluctuations that grow like "
    "depth/width? And off criticality, does the mean-field correlation depth bound the depth that trains?",
    hypotheses=HYPOTHESES,
    presets=PRESETS,
    run=run,
    plot=plot,
    static=Static,
    max_shard_size=64,
    cost=cost,
    domains=DOMAINS,
    doc=__doc__,
)
