"""Law of robustness: must a network that fits noise smoothly have ~nd parameters?

Question
  Bubeck & Sellke (2021, "A universal law of robustness via isoperimetry",
  NeurIPS; Thm. 1, formal Thm. 3) prove that any p-parameter model (polynomially
  bounded weights) that fits n noisy points in d dimensions below the noise level,
  on isoperimetric inputs, has Lipschitz constant >~ sqrt(n d / p). Mere
  interpolation needs p ~ n parameters; *smooth* (O(1)-Lipschitz) interpolation
  needs p ~ n d, d times more. Constants are unspecified, so we test the scaling.

Setting (all parts)
  Inputs x ~ N(0, I/d) (``distribution=sphere``: uniform on the unit sphere),
  labels independent fair +-1 coins (pure noise, variance 1), 2-layer ReLU
  networks of width w (p = w (d + 2) + 1 parameters), full-batch Adam (lr 1e-2,
  cosine decay to 1e-4), MSE plus a penalty ``penalty * mean ||grad_x f||^2``
  evaluated on the n training inputs and n further unlabelled fresh inputs.
  A model *interpolates* when max_i |f(x_i) - y_i| <= FIT_TOL = 0.3 (every point
  fitted with margin >= 0.7, far below the noise level).
  Two lower bounds on the Lipschitz constant (the theorem's quantity), both stored:
  - ``lip_est``: the largest input-gradient norm over the training points and
    n_test fresh points (the sampled max);
  - ``lip_search`` (used by every check, see "Estimator" below): from the
    SEARCH_STARTS = 128 points with the largest sampled gradients, SEARCH_STEPS =
    100 normalised ascent steps on the gradient norm of the softplus surrogate
    (ReLU' replaced by sigmoid(beta z), beta annealed 2 -> 200) inside the L2 ball
    of radius SEARCH_RADIUS = 1 around each start (inputs have norm ~1), scoring
    the TRUE ReLU gradient norm at every visited point
    (``probes.smoothed_gradient_search``): every value is an exact gradient norm
    of the model at a real input, so it is still a lower bound, >= lip_est.
  Beside them the product of layer spectral norms (an upper bound) and the median
  L2 PGD radius that flips the sign of f on the first FLIP_POINTS training points.
  "Lip_est" below means lip_search.

Hypotheses, in words
  Every check recomputes its statistic on resamples of whole seeds and is decided by
  the 95% seed-bootstrap interval (``physai.evidence``): supported when the interval
  lies inside the range, refuted when wholly outside it, inconclusive when it
  straddles a bound. Parts a, c and d, and L*, are checked at the anchor d: the
  middle of the d values swept with penalties (``summaries.anchor_d``; 20 in the
  demo and paper presets), whatever d the results hold.
  Caveats (``unless_converged``, ``unless_interior``): the parts resting on the
  smoothest interpolators (b, c) are inconclusive while the chosen runs had not met
  the trainer's convergence criterion, or when the chosen penalty is the largest
  swept at its size (a stronger one might still interpolate, more smoothly). Plain
  interpolators whose training MSE sits at float precision count as settled (their
  relative objective change is rounding noise); the bound in a holds for every
  fitted model however it was trained, so a carries no convergence caveat.
  a. Plain training (penalty 0), anchor d: no interpolating model has
     Lip_est < sqrt(nd/p); the median Lip_est does not increase with p past the
     interpolation threshold (largest step-to-step rise of the median <= 5%,
     seed noise); its log-log slope in p lies in [-0.5, 0].
  b. Smoothest interpolators (penalty swept; per p and seed keep the smallest
     Lip_est among the interpolating models; median over seeds = Lip_min(p)):
     - the log-log slope of Lip_min vs p between p ~ n (from the interpolation
       threshold on) and p ~ nd is in [-0.7, -0.3] (theory: -1/2);
     - every swept d (paper: 10, 20, 40) collapses against p/(nd): on the common range of
       p/(nd), the spread max_d Lip_min / min_d Lip_min (log-log interpolated)
       is <= COLLAPSE_MAX = 1.5 at every point and smaller than the same spread
       against p/n (the alternative the law rules out);
     - p_smooth / p_interp grows with d roughly proportionally: log-log slope in
       [0.5, 1.5], where p_smooth is where Lip_min first falls to L* and p_interp
       the smallest p from which plain training interpolates in at least half the
       seeds. L* (``l_star``) is fixed by a rule, not a number: the law calls an
       interpolator smooth when Lip = O(1), reached at p ~ nd, with an unspecified
       constant, so L* = Lip_min of the anchor d at p = nd (log-log
       interpolated); each d is asked for that same smoothness. A d that never
       reaches L* gives a lower bound on its ratio; the slope at those bounds is
       then a one-sided bound, and the check refutes only when that bound's
       interval lies outside the range on its side, else it is inconclusive.
  c. Regularisation is not size: for every p in [p_interp, nd/2] (anchor d) no
     penalty makes an interpolating model as smooth as the largest p does:
     min_p Lip_min(p) / Lip_min(p_max) >= 1.2.
  d. Adversarial view: the median PGD flip radius of plain interpolators
     (anchor d) grows with p: Spearman rank correlation of p with the median
     (over seeds) flip radius >= 0.8.

Sources
  Bubeck & Sellke 2021 (NeurIPS), abstract ("smooth interpolation requires d
  times more parameters than mere interpolation") and Thm. 1 / Thm. 3 (Lip >~
  sqrt(nd/p) for every model of the class that fits below the noise level);
  Bubeck, Li & Nagaraj 2021 (COLT) conjectured the law for two-layer networks.
  Each hypothesis's ``Source`` gives the statement it tests and why its range is
  what it is. The paper has no experiments; this is a CPU-scale test of the
  scaling it proves.

Run
  physai demo robustness_law                    # every part, coarsely (< 1 min on 2 CPU cores)
  physai verify robustness_law --preset paper --backend processes   # every check (~6 min on 2 CPU cores)
  physai verify robustness_law --preset tiny    # seconds; for tests only
  --set distribution=sphere                     # uniform on the unit sphere instead of N(0, I/d)

Presets
  demo: n = 500, 1500 steps, 1 seed, penalties {0, 2e-3, 8e-3, 3.2e-2} (every other paper
    penalty) at p/(nd) in {0.1, 0.4, 0.8, 1.6} (d = 20), {0.2, 0.8, 1.6} (d = 10),
    {0.05, 0.2, 0.8} (d = 40): 40 trials in 10 shards, so every part gets a verdict.
    Each width costs a compile, so the demo keeps 10 widths: three sizes in [n, nd] at
    d = 20 for the slopes, and at d = 10 and 40 sizes from p ~ n on that overlap in p/(nd).
  paper: d in {10, 20, 40}, n = 500, p/(nd) in {0.1, ..., 1.6} x 8 penalties
    (0, 5e-4 .. 3.2e-2, factors of 2) x 2 seeds, plus plain runs at p/(nd) = 0.025,
    0.05 (the interpolation threshold), plus BIG_SIZES towards ~10 nd:
    d = 10 at 3.2 nd (penalties 0, 4e-3 .. 1.6e-2), d = 20 at 3.2 nd (0, 3.2e-2, 6.4e-2)
    and 10 nd (p = 99991; 0, 6.4e-2); 2000 steps; 270 trials in 24 shards, the costliest
    (``runner.cost``) started first; ~12 CPU-min in all. d = 40 stops at 1.6 nd (p = 32005):
    3.2 nd there (width 2909) would add ~10 CPU-min. A penalised trial at 10 nd costs
    about half a CPU-minute, so 10 nd gets plain training and the one penalty at the
    interpolation edge.

Estimator (probe "local Lipschitz by gradient ascent"; ``probes.smoothed_gradient_search``)
  Why: a 2-layer ReLU net's gradient is sum_j a_j w_j over the ACTIVE units; sampled
  points see typical activation patterns only, so the sampled max can miss the largest
  gradients (``local_lipschitz_pgd`` cannot fix this for ReLU: the gradient norm is
  piecewise constant and its ascent is a random walk). Tests with known answers: a net
  whose largest gradient needs all 24 units on (probability 2^-24 per sample): the sampled
  max and the random walk stop short of it, the search finds it; a random 2-d net: the
  search matches the brute-force max over a dense grid and never exceeds the max over all
  gate subsets; a linear model: ||w|| exactly. The number of starts, of steps and the beta
  schedule were chosen where more starts or steps change the estimate little on trained
  models; a smaller radius finds less, an unconstrained search more (outside the data's
  scale). Why the checks use lip_search: it is the tighter lower bound on the quantity
  the theorem is about (the Lipschitz constant), the choice was made before seeing its
  verdicts, and the sampled max is reported beside every verdict.

Known limitations
  The penalty acts on the n training + n fresh points only: the trainer's loss sees no
  per-step key, so fresh points per step would need an engine change.
  Bubeck & Sellke prove a lower bound with unspecified constants; nothing in it says
  that the smoothest interpolator *reachable by training* (penalised Adam here) attains
  it with a d-independent constant, so parts b-c test more than the theorem proves.
  An interpolator must change by 2 - 2 FIT_TOL = 1.4 between the nearest opposite-label
  pair of training points: a data floor on Lip that no size removes, highest at small d
  (where the nearest opposite-label points are closer).
"""

from __future__ import annotations

from physai import Experiment, Hypothesis, Preset, Source, chain, product
from physai.domains import Domain

from .checks import (
    COLLAPSE_MAX,
    FLIP_RHO_MIN,
    MONOTONE_SLACK,
    REG_RATIO_MIN,
    check_collapse,
    check_flip_radius_grows,
    check_plain_above_bound,
    check_plain_nonincreasing,
    check_plain_slope,
    check_regularisation_not_size,
    check_smooth_params_grow_with_d,
    check_smooth_slope,
)
from .plots import plot
from .runner import Static, cost, run, width_for
from .summaries import ANCHOR_D

BUBECK_SELLKE = "Bubeck, Sellke 2021, NeurIPS (arXiv 2105.12806)"
_NO_CONSTANT = "the theorem's constant is unspecified"

HYPOTHESES = (
    Hypothesis(
        "plain_above_bound",
        "no interpolating plain-trained model has Lip_est < sqrt(nd/p)",
        "Bubeck & Sellke 2021 (NeurIPS), Thm. 1",
        check_plain_above_bound,
        source=Source(
            BUBECK_SELLKE,
            "Thm. 1 (informal), Thm. 3 (formal)",
            "every f of a class of p parameters (poly-size weights) with training MSE <= sigma^2 - eps "
            "on isoperimetric inputs has Lip(f) >= Omega~(eps/sigma sqrt(nd/p)); Thm. 3 states the "
            "constant eps / (2^9 sqrt(c)) and a log factor under the root",
            "a convention of this project, not from the paper: the check asks Lip_est / sqrt(nd/p) "
            ">= 1, the bound with constant 1, which the theorem does not guarantee (its constant is "
            "far below 1), so a ratio below 1 refutes this stronger reading, not the theorem; "
            "Lip_est is itself a lower bound on Lip, so a ratio >= 1 also holds for Lip",
        ),
    ),
    Hypothesis(
        "plain_nonincreasing",
        f"past the interpolation threshold the median Lip_est does not rise with p "
        f"(successive ratio <= {MONOTONE_SLACK:g})",
        "Bubeck & Sellke 2021 (NeurIPS), Thm. 1 (the bound falls with p)",
        check_plain_nonincreasing,
        source=Source(
            BUBECK_SELLKE,
            "Thm. 1",
            "qualitative: the lower bound sqrt(nd/p) falls with p; the paper says nothing about "
            "plain (unregularised) training, so a Lip that does not rise with p is this project's "
            "reading of the law, not the paper's claim",
            f"a convention of this project, not from the paper: a rise of the median (over seeds) "
            f"by up to {MONOTONE_SLACK - 1:.0%} between successive sizes counts as seed noise",
        ),
    ),
    Hypothesis(
        "plain_slope",
        "log-log slope of plain interpolators' Lip_est vs p in [-0.5, 0]",
        "Bubeck & Sellke 2021 (NeurIPS), Thm. 1 (bound slope -1/2)",
        check_plain_slope,
        source=Source(
            BUBECK_SELLKE,
            "Thm. 1",
            "the bound scales as p^(-1/2); qualitative for plain training, about which the paper states nothing",
            "the ends come from theory, their use is a convention of this project: 0 is 'does not "
            "rise with p', -0.5 the exponent of the bound; that plain training falls no faster "
            "than the bound is this project's expectation, not the paper's",
        ),
    ),
    Hypothesis(
        "smooth_slope",
        "the smoothest interpolator over a gradient-penalty sweep has Lip ~ p^s with s in "
        "[-0.7, -0.3] between p ~ n and p ~ nd",
        "Bubeck & Sellke 2021 (NeurIPS), Thm. 1 (Lip >~ sqrt(nd/p))",
        check_smooth_slope,
        source=Source(
            BUBECK_SELLKE,
            "Thm. 1; Sec. 1",
            "Lip(f) >~ sqrt(nd/p) for every interpolator below the noise level: smooth (O(1)-Lipschitz) "
            "interpolation needs p ~ nd, mere interpolation p ~ n; the paper proves the lower bound "
            "only, not that training attains it",
            "the centre -1/2 is derived from the bound's exponent, assuming the smoothest trained "
            "interpolator follows the bound up to a constant; the half-width 0.2 is a convention "
            "of this project, not from the paper",
        ),
    ),
    Hypothesis(
        "collapse_p_over_nd",
        f"Lip_min for every swept d (paper: 10, 20, 40) collapses against p/(nd): max_d/min_d <= "
        f"{COLLAPSE_MAX:g} and smaller than against p/n",
        "Bubeck & Sellke 2021 (NeurIPS), Thm. 1 (the bound depends on p only through p/(nd))",
        check_collapse,
        source=Source(
            BUBECK_SELLKE,
            "Thm. 1",
            "the bound sqrt(nd/p) depends on n, d and p only through p/(nd)",
            f"a convention of this project, not from the paper: curves within a factor "
            f"{COLLAPSE_MAX:g} of each other count as collapsed ({_NO_CONSTANT}); 'smaller than "
            f"against p/n' is derived from theory: p/n is the alternative (interpolation alone "
            f"sets the size) the law rules out",
        ),
    ),
    Hypothesis(
        "smooth_params_grow_with_d",
        "p_smooth (Lip_min <= L*, the anchor d's Lip_min at p = nd) / p_interp grows ~ d: log-log slope in [0.5, 1.5]",
        "Bubeck & Sellke 2021 (NeurIPS), abstract: smooth interpolation requires d times more parameters",
        check_smooth_params_grow_with_d,
        source=Source(
            BUBECK_SELLKE,
            "abstract; Sec. 1",
            "'smooth interpolation requires d times more parameters than mere interpolation' "
            "(smooth = O(1)-Lipschitz, no constant given)",
            "the centre 1 is derived from the statement (the ratio proportional to d); the "
            "half-width 0.5 is a convention of this project, not from the paper; L* is set by a "
            "rule (Lip_min at the anchor d, 20 in the paper preset, at p = nd) because the paper's O(1) "
            "has no constant",
        ),
    ),
    Hypothesis(
        "regularisation_not_size",
        f"at p <= nd/2 no penalty gives an interpolator as smooth as the largest p (ratio >= {REG_RATIO_MIN:g})",
        "Bubeck & Sellke 2021 (NeurIPS), Thm. 1 (holds for every model of the class)",
        check_regularisation_not_size,
        source=Source(
            BUBECK_SELLKE,
            "Thm. 1",
            "the bound holds simultaneously for every p-parameter function that fits below the "
            "noise level, however it was trained: no regulariser takes a small model below "
            "~sqrt(nd/p)",
            f"a convention of this project, not from the paper: the bound itself differs by "
            f"sqrt(p_max/p) between p and the largest size p_max, but {_NO_CONSTANT}; "
            f"{REG_RATIO_MIN:g} asks only for a {REG_RATIO_MIN - 1:.0%} margin",
        ),
    ),
    Hypothesis(
        "flip_radius_grows",
        f"the median L2 PGD flip radius of interpolators grows with p (Spearman >= {FLIP_RHO_MIN:g})",
        "Bubeck & Sellke 2021 (NeurIPS), Sec. 1 (robustness = small Lipschitz constant)",
        check_flip_radius_grows,
        source=Source(
            BUBECK_SELLKE,
            "Sec. 1",
            "qualitative: the paper measures robustness by the Lipschitz constant (f cannot change "
            "sign within |f(x)| / Lip(f) of x) and reports no adversarial radii",
            f"a convention of this project, not from the paper: Spearman >= {FLIP_RHO_MIN:g} asks "
            f"for a nearly monotone rise of the median flip radius over the sizes",
        ),
    ),
)

# ----------------------------------------------------------------------------- grids & presets


def _grid(*, n, ds, ratios, penalties, seeds, plain_only_ratios=(), big=()):
    """Per d: widths at target p/(nd) ratios x penalties x seeds; extra plain-only ratios.

    Args:
      n: training points.
      ds: dimensions.
      ratios: target p/(nd) values swept with every penalty.
      penalties: gradient-penalty strengths (0 = plain training).
      seeds: seeds.
      plain_only_ratios: further p/(nd) values trained only without penalty
        (the interpolation threshold).
      big: ``(d, ratios, penalties)`` triples: the largest sizes, swept with their own
        (fewer, stronger) penalties: there the weak penalties of ``penalties`` fit
        easily and are never the smoothest interpolator.
    """
    parts = []
    for d in ds:
        swept = {width_for(r, n, d) for r in ratios}
        plain_only = {width_for(r, n, d) for r in plain_only_ratios} - swept
        for w in sorted(swept | plain_only):
            pens = list(penalties) if w in swept else [0.0]
            parts.append(product(d=[d], width=[w], penalty=pens, seed=list(seeds)))
    for d, big_ratios, big_penalties in big:
        parts += [
            product(d=[d], width=[width_for(r, n, d)], penalty=list(big_penalties), seed=list(seeds))
            for r in big_ratios
        ]
    return chain(*parts)


def _settings(n, steps, n_test=500):
    return {"n": n, "n_test": n_test, "steps": steps, "lr": 1e-2, "distribution": "gaussian"}


PENALTIES = [0.0, 5e-4, 1e-3, 2e-3, 4e-3, 8e-3, 1.6e-2, 3.2e-2]
DEMO_PENALTIES = [0.0, 2e-3, 8e-3, 3.2e-2]  # every other paper penalty
# Past p = 1.6 nd (towards the issue's ~10 nd): plain runs plus the penalties at the edge of
# interpolation only (the smoothest interpolator is the strongest penalty that still fits;
# weaker ones fit easily and are never selected; stronger ones no longer interpolate).
BIG_SIZES = (
    (10, [3.2], [0.0, 4e-3, 8e-3, 1.6e-2]),
    (ANCHOR_D, [3.2], [0.0, 3.2e-2, 6.4e-2]),
    (ANCHOR_D, [10.0], [0.0, 6.4e-2]),
)

PRESETS = {
    "tiny": Preset(
        _grid(n=60, ds=[5, 10], ratios=[0.6], penalties=[0.0, 1e-2, 3e-2], seeds=[0]),
        _settings(60, 200, n_test=60),
        "seconds-long smoke test (no verdict expected)",
    ),
    "demo": Preset(
        # 10 widths (each costs a compile): at d = 20 three sizes in [n, nd] for the slopes and
        # one past nd; at d = 10 and 40 sizes from p ~ n on, overlapping in p/(nd).
        chain(
            _grid(n=500, ds=[ANCHOR_D], ratios=[0.1, 0.4, 0.8, 1.6], penalties=DEMO_PENALTIES, seeds=[0]),
            _grid(n=500, ds=[10], ratios=[0.2, 0.8, 1.6], penalties=DEMO_PENALTIES, seeds=[0]),
            _grid(n=500, ds=[40], ratios=[0.05, 0.2, 0.8], penalties=DEMO_PENALTIES, seeds=[0]),
        ),
        _settings(500, 1500),
        "every part, coarsely: d in {10, 20, 40}, 4 penalties, 1 seed (< 1 min)",
    ),
    "paper": Preset(
        _grid(
            n=500,
            ds=[10, ANCHOR_D, 40],
            ratios=[0.1, 0.2, 0.4, 0.8, 1.6],
            penalties=PENALTIES,
            seeds=[0, 1],
            plain_only_ratios=[0.025, 0.05],
            big=BIG_SIZES,
        ),
        _settings(500, 2000),
        "every check: d in {10, 20, 40}, n = 500, penalty sweep, 2 seeds",
    ),
}


# Allowed values of this experiment's own parameters (physai.domains.COMMON has the shared ones).
DOMAINS = {"distribution": Domain(choices=("gaussian", "sphere"))}

EXPERIMENT = Experiment(
    name="robustness_law",
    question="Does fitting random labels smoothly (Lipschitz O(1)) need ~nd parameters, while mere "
    "interpolation needs ~n, as Bubeck & Sellke's bound Lip >~ sqrt(nd/p) implies?",
    hypotheses=HYPOTHESES,
    presets=PRESETS,
    run=run,
    plot=plot,
    static=Static,
    cost=cost,
    max_shard_size=64,
    domains=DOMAINS,
    doc=__doc__,
)
