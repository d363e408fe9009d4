"""Law of robustness: must a network that fits noise smoothly have ~nd parameters?

Question
  Bubeck & Sellke (2021, "A universal law of robustness via isoperimetry",
  NeurIPS; Thm. 1, formal Thm. 3) prove that any p-parameter model (polynomially
  bounded weights) that fits n noisy points in d dimensions below the noise level,
  on isoperimetric inputs, has Lipschitz constant >~ sqrt(n d / p). Mere
  interpolation needs p ~ n parameters; *smooth* (O(1)-Lipschitz) interpolation
  needs p ~ n d, d times more. Bubeck, Li & Nagaraj (2021, COLT) conjectured the
  same for two-layer networks of k neurons: Lip >~ sqrt(n/k) (here p ~ k d).

Setting
  n = 100 inputs x ~ N(0, I/d) (``distribution=sphere``: uniform on the unit sphere),
  d in {32, 64, 128} (all above 2 ln n, so the inputs are spread out and the data floor
  below is small), labels independent fair +-1 coins (pure noise). Two-layer ReLU
  networks of width w (p = w (d + 2) + 1), the width set per d from the grid's
  ``ratio`` = target p/(nd) so that every d is trained at the same p/(nd)
  (1/64 .. 2, factors of 2: from below the interpolation threshold p ~ n to past nd).
  Full-batch Adam (lr 1e-2, cosine decay to 1e-4), MSE plus a penalty
  ``penalty * mean ||grad_x f||^2`` on the n training and n fresh unlabelled inputs,
  penalties 0 and 1e-3 .. 0.256 (factors of 2), a grid wide enough that the strongest
  penalty no longer interpolates at any (d, p) (else the caveat below fires).
  A model *interpolates* when max_i |f(x_i) - y_i| <= FIT_TOL = 0.3.
  Per model, two estimates of the Lipschitz constant, stored side by side:
  - lower: ``lip_search``, the largest TRUE input-gradient norm found by a search
    (from the 128 points of largest sampled gradient, 100 ascent steps on a softplus
    surrogate inside the unit ball around each; ``probes.smoothed_gradient_search``),
    >= ``lip_est``, the sampled max over the training and n fresh points;
  - upper: ``lip_upper``, the product of the layers' spectral norms.
  The data floor ``lip_floor`` = (2 - 2 FIT_TOL) / (distance of the closest pair of
  opposite-label training points): no interpolator of those points can be smoother.
  Lip_min(d, p) = per seed the smallest lower estimate over the interpolating models
  of the penalty sweep (the smoothest interpolator found), median over seeds;
  R = Lip_min / sqrt(nd/p).

Hypotheses, in words
  Each is decided by the 95% seed-bootstrap interval of its statistic (``physai.evidence``).
  Verdicts resting on the smoothest interpolators are inconclusive when one of them used
  the largest penalty swept at its (d, p) (a stronger one might interpolate more smoothly),
  and (2, 3) when they rest on runs that had not converged.
  1. no_interpolator_below_bound: every interpolating model has Lip / sqrt(nd/p) >= 1.
     Supported when the smallest ratio of the LOWER estimate is above 1; refuted only when
     the smallest ratio of the UPPER estimate is below 1 (a model provably smoother than
     the bound); else inconclusive. The penalty sweep puts models as close to the bound as
     training can, so this can fail where plain training (far above it) cannot.
  2. constant_settles: R at matched p/(nd) depends on d less and less as d grows: the
     per-doubling |log change| of R between the two largest d is at most that between the
     two smallest, on the p/(nd) values every d interpolates at and where the bound exceeds
     every d's data floor (where the floor dominates, R measures the data, not the law).
  3. smooth_needs_more_params: at every d, p_smooth / p_interp >= 4, where p_interp is the
     smallest p from which plain training interpolates in at least half the seeds and
     p_smooth the p at which Lip_min first falls to 2 x that d's data floor ("O(1)-Lipschitz":
     within a factor 2 of the smoothest any interpolator of those points can be). A ratio
     censored at either end is a lower bound: it can support, not refute.

Sources
  Bubeck & Sellke 2021 (NeurIPS), abstract and Thm. 1 / Thm. 3; Bubeck, Li & Nagaraj 2021
  (COLT), abstract (the two-layer conjecture). Neither gives a constant usable at this
  scale: Thm. 3's is eps / (2^9 sqrt(c)) with a log factor under the root, orders of
  magnitude below any measurable ratio, so a check against it could not fail. Each
  hypothesis's ``Source`` says which number it uses instead and why. The papers have no
  experiments on this set-up; this is a CPU-scale test of the scaling they prove.

Run
  physai demo robustness_law                    # every part, coarsely (~1 min on 2 CPU cores)
  physai verify robustness_law --preset paper --backend processes   # every check (~4 min on 2 CPU cores)
  physai verify robustness_law --preset tiny    # seconds; for tests only
  --set distribution=sphere                     # uniform on the unit sphere instead of N(0, I/d)

Presets
  tiny: n = 30, 300 steps, d in {32, 64, 128} at one ratio, penalties {0, 1e-2}: 6 trials,
    3 compiles (three d are the fewest part 2 can use).
  demo: ratios {1/16, 1} (the interpolation threshold and nd), every other penalty
    (0, 2e-3 .. 0.128), 1 seed, 1500 steps: 30 trials in 6 shards (< 1.5 min).
  paper: 3 d x 8 ratios x 10 penalties x 3 seeds = 720 trials in 24 shards (one compile
    per (d, width), most of the cost), 2000 steps.

Estimator
  Why a search: a 2-layer ReLU net's gradient is sum_j a_j w_j over the ACTIVE units;
  sampled points see typical activation patterns only, so the sampled max can miss the
  largest gradients. The search scores the exact ReLU gradient norm at real inputs, so it
  stays a lower bound; ``tests/test_probes.py`` checks it against brute force and known answers.

Known limitations
  The penalty acts on the n training + n fresh points only. Lip_min is the smoothest
  interpolator penalised Adam finds, not the smoothest that exists: a ratio R above 1 says
  training did not get closer, not that nothing can. The spectral-norm product is a loose
  upper bound, so hypothesis 1 is far easier to support than to refute.
"""

from __future__ import annotations

from physai import Experiment, Hypothesis, Preset, Source, product
from physai.domains import Domain

from .checks import (
    C_BOUND,
    SHRINK_MAX,
    SMOOTH_RATIO_MIN,
    check_constant_settles,
    check_no_interpolator_below_bound,
    check_smooth_needs_more_params,
)
from .plots import plot
from .runner import Static, cost, run
from .summaries import K_SMOOTH

BUBECK_SELLKE = "Bubeck, Sellke 2021, NeurIPS (arXiv 2105.12806)"

HYPOTHESES = (
    Hypothesis(
        "no_interpolator_below_bound",
        f"no interpolating model (plain or penalised) has Lip / sqrt(nd/p) < {C_BOUND:g}: the lower "
        f"estimate supports it, only the upper estimate can refute it",
        "Bubeck & Sellke 2021 (NeurIPS), Thm. 1; Bubeck, Li & Nagaraj 2021 (COLT), conjecture",
        check_no_interpolator_below_bound,
        source=Source(
            BUBECK_SELLKE,
            "Thm. 1 (informal), Thm. 3 (formal); Bubeck, Li & Nagaraj 2021, abstract",
            "every f of a class of p parameters with training error below the noise level has "
            "Lip(f) >= Omega~(sqrt(nd/p)); for two-layer nets with k neurons, Lip >= sqrt(n/k) "
            "up to a constant (conjecture)",
            f"the constant {C_BOUND:g} is not from the papers (Thm. 3's, eps / (2^9 sqrt(c)) with a "
            "log factor, is too small for any measurement to go below): it is the constant of the "
            "one case with a closed form, a linear interpolator (p = d > n) of n points x ~ N(0, I/d), "
            "whose smallest norm has E ||w||^2 = n d / (d - n - 1) > n = nd/p (inverse-Wishart mean); "
            "it is tested on the smoothest models the penalty sweep finds, which can go below it",
        ),
    ),
    Hypothesis(
        "constant_settles",
        f"Lip_min / sqrt(nd/p) at matched p/(nd) depends less on d as d grows (per-doubling change "
        f"between the two largest d minus that between the two smallest <= {SHRINK_MAX:g})",
        "Bubeck & Sellke 2021 (NeurIPS), Thm. 1 (the bound depends on n, d, p only through p/(nd))",
        check_constant_settles,
        source=Source(
            BUBECK_SELLKE,
            "Thm. 1; Bubeck, Li & Nagaraj 2021, abstract (the conjectured tightness)",
            "qualitative: Lip >~ sqrt(nd/p) with a d-independent constant, conjectured tight up to "
            "constants; finite-d corrections (the data floor, the isoperimetry of N(0, I/d) at "
            "small d) should fade as d grows",
            "derived from the statement: a constant approached as d grows means a d-dependence "
            "that does not grow; 0 is the boundary of that, not a tuned number",
        ),
    ),
    Hypothesis(
        "smooth_needs_more_params",
        f"at every d, p_smooth (Lip_min <= {K_SMOOTH:g} x the data floor) / p_interp >= {SMOOTH_RATIO_MIN:g}",
        "Bubeck & Sellke 2021 (NeurIPS), abstract: smooth interpolation requires d times more parameters",
        check_smooth_needs_more_params,
        source=Source(
            BUBECK_SELLKE,
            "abstract; Sec. 1",
            "'overparametrization by a factor of d is necessary for smooth interpolation' "
            "(smooth = O(1)-Lipschitz, no constant given)",
            f"a convention of this project, not from the paper: 'smooth' is within a factor "
            f"{K_SMOOTH:g} of the data floor (the smallest Lipschitz constant any interpolator of the "
            f"points can have, an O(1) number); the paper's factor d (32-128 here) is divided by an "
            f"unknown constant squared, so we ask only for a clear gap, {SMOOTH_RATIO_MIN:g} = two "
            f"doublings of p on the grid",
        ),
    ),
)

# ----------------------------------------------------------------------------- grids & presets


def _settings(n, steps, n_test=None):
    return {"n": n, "n_test": n_test or n, "steps": steps, "lr": 1e-2, "distribution": "gaussian"}


PENALTIES = [0.0] + [1e-3 * 2**k for k in range(9)]
RATIOS = [1 / 64, 1 / 32, 1 / 16, 1 / 8, 1 / 4, 1 / 2, 1.0, 2.0]

PRESETS = {
    "tiny": Preset(
        # one width per d: every shard is a compile, and three d are the fewest part 2 can use
        product(d=[32, 64, 128], ratio=[0.5], penalty=[0.0, 1e-2], seed=[0]),
        _settings(30, 300),
        "seconds-long smoke test (no verdict expected)",
    ),
    "demo": Preset(
        product(d=[32, 64, 128], ratio=[1 / 16, 1.0], penalty=PENALTIES[::2], seed=[0]),
        _settings(100, 1500),
        "every part, coarsely: the threshold and nd at three d, 1 seed",
    ),
    "paper": Preset(
        product(d=[32, 64, 128], ratio=RATIOS, penalty=PENALTIES, seed=[0, 1, 2]),
        _settings(100, 2000),
        "every check: d in {32, 64, 128}, 8 sizes from below the threshold to 2 nd, 10 penalties, 3 seeds",
    ),
}


# Allowed values of this experiment's own parameters (physai.domains.COMMON has the shared ones).
DOMAINS = {"distribution": Domain(choices=("gaussian", "sphere")), "ratio": Domain(low=0, low_open=True)}

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
