"""Solvable scaling laws: does a power-law data spectrum give L ∝ N^-alpha and L ∝ P^-alpha?

Question
  Maloney, Roberts & Sully (2022, "A solvable model of neural scaling laws") and
  Bahri, Dyer, Kaplan, Lee & Sharma (2021, "Explaining neural scaling laws") derive
  scaling laws from the data alone: if the latent features of the data have a
  power-law covariance spectrum ``lambda_i ∝ i^-(1 + alpha)`` (``i = 1..M``) and the
  target is a generic linear function of them, a linear random-feature model with a
  (near-)ridgeless read-out has test loss ``∝ N^-alpha`` in the number of features N
  when data are plentiful, ``∝ P^-alpha`` in the number of samples P when features
  are plentiful, and the power law ends (the loss sits on its floor, the label-noise
  variance) once N or P reaches the latent dimension M.

Hypotheses, in words
  Each verdict is decided by the 95% seed-bootstrap interval of its statistic (seeds
  redraw W or X; ``physai.evidence``), for every (M, alpha) curve in the results.
  * ``features_exponent``: at P -> infinity the excess loss falls as N^-alpha; fitted
    log-log slope within +-0.10 of -alpha over the sizes where the finite-M theory's own
    local exponent is within 0.05 of alpha (the window comes from the theory).
  * ``features_theory``: the features curve follows the finite-M solution (``theory_excess``)
    within 10% at every N in [16, M), including the bend that ends the power law before M.
  * ``data_theory``: the near-ridgeless data curve with label noise follows the same
    solution plus the noise variance, within 10% for P in [16, M/2] and P >= 2M. Without
    noise it would repeat the features curve (the duality); the variance term is new.

Sources
  Maloney, Roberts & Sully 2022 (arXiv:2210.16859): for a latent spectrum
  ``i^-(1 + alpha)`` the test loss of linear random features falls as ``N^-alpha``
  when data are the larger resource and as ``P^-alpha`` when features are (the
  N <-> P duality), until N or P reaches the latent dimension M; their abstract:
  performance "behaves predictably as a power law in either parameters or dataset
  size until bottlenecked by the other resource", and "the finite extent of the
  data's spectral power law causes the model's performance to plateau". Bahri et
  al. 2021 (arXiv:2102.06701, abstract): the resolution-limited model- and
  data-size exponents "are related by a duality". Neither gives a finite-size
  tolerance; the margins are stated in each hypothesis's source. The finite-size theory is
  the self-consistent (deterministic-equivalent) form of the paper's solution. Full scale
  of Maloney et al.: M up to ~10^5 latent features, N, P up to 10^4-10^5.

Model (exact, float64)
  x ~ N(0, Lambda) in R^M, Lambda = power_law_spectrum(M, alpha) (trace 1); y = beta.x +
  eps, beta ~ N(0, I_M), eps ~ N(0, sigma^2); random features phi = W x, W (N x M)
  Gaussian. Losses are closed-form expectations over beta and eps given W or X
  (``features_loss``, ``data_loss``), so seeds only redraw W or X:
  * features (P -> infinity): the population least-squares read-out, i.e. the projection
    of Lambda^1/2 beta onto the row space of W Lambda^1/2.
  * data (N -> infinity): with W^T W / N -> I the read-out becomes ridge regression on x,
    penalty ridge * P (ridge 1e-8 per sample: near-ridgeless; it tames the peak at P = M).
  Without noise the two reducible losses have the same distribution (the duality); the
  noise adds the variance term to the data curve only. The theory (``theory_excess``) is
  computed once per curve and size from the spectrum.

Run
  physai demo scaling_solvable                   # M = 1000, 2 seeds; ~20 s on 2 CPU cores
  physai verify scaling_solvable --preset paper  # M = 2000, 5-20 seeds; ~2 min on 2 idle CPU cores
  physai verify scaling_solvable --preset tiny   # seconds; smoke test only

Parts: ``task`` (the model and its exact solves), ``theory`` (the finite-size theory and the fit
window it gives), ``checks``, ``plots``.
"""

from __future__ import annotations

from physai import Experiment, Hypothesis, Preset, Source, chain, logspace, product
from physai.domains import NON_NEGATIVE, POSITIVE, POSITIVE_INT, Domain

from .checks import (
    CURVE_AXES,
    EXPONENT_TOL,
    THEORY_MIN,
    THEORY_TOL,
    check_data_theory,
    check_features_exponent,
    check_features_theory,
    curves,
    exponent,
    fitted_slope,
    theory_deviation,
    theory_sizes,
)
from .plots import plot
from .task import Static, _spectrum, _whitened_samples, data_loss, features_loss, run
from .theory import WINDOW_TOL, fit_window, local_exponent, theory_curve, theory_excess

__all__ = [
    "ALPHAS",
    "CURVE_AXES",
    "DATA_LAST_OVER_M",
    "EXPERIMENT",
    "EXPONENT_TOL",
    "HYPOTHESES",
    "PRESETS",
    "SIZE_MIN",
    "THEORY_MIN",
    "THEORY_TOL",
    "WINDOW_TOL",
    "Static",
    "_spectrum",
    "_whitened_samples",
    "check_data_theory",
    "check_features_exponent",
    "check_features_theory",
    "curves",
    "data_loss",
    "exponent",
    "features_loss",
    "fit_window",
    "fitted_slope",
    "local_exponent",
    "plot",
    "run",
    "theory_curve",
    "theory_deviation",
    "theory_excess",
    "theory_sizes",
]

ALPHAS = (0.5, 1.0)
SIZE_MIN = 4  # smallest N or P in the grids
DATA_LAST_OVER_M = 4.0  # the data grid ends at P = 4M (OLS variance sigma^2 M / (P - M) ~ sigma^2 / 3)

MALONEY = "Maloney, Roberts, Sully 2022, arXiv:2210.16859 ('A solvable model of neural scaling laws')"
BAHRI = "Bahri, Dyer, Kaplan, Lee, Sharma 2021, arXiv:2102.06701 ('Explaining neural scaling laws')"
THEORY_STATEMENT = (
    "The solved model: at finite N, P and M the expected test loss follows from a self-consistent "
    "random-matrix equation (here: kappa solves sum_i lambda_i / (lambda_i + kappa) + lambda / kappa = size, "
    "lambda the ridge penalty; "
    "excess loss E_0 sum_i (1 - L_i)^2 lambda_i + sigma^2 (E_0 - 1), L_i = lambda_i / (lambda_i + kappa), "
    "E_0 = size / (size - sum_i L_i^2)); it gives N^-alpha and P^-alpha for 1 << N, P << M (the duality), "
    "a bend before M ('the finite extent of the data's spectral power law causes the model's performance to "
    "plateau'), and, with label noise, the variance that dominates once P exceeds M."
)
THEORY_TOLERANCE = (
    "The equation is exact as the sizes grow at fixed ratios; at finite size its relative error is "
    f"O(1/size): sizes below THEORY_MIN = {THEORY_MIN} are not compared (1/16 ~ 6%), and the margin "
    f"THEORY_TOL = {THEORY_TOL:.0%} (a convention of this project, not from the paper) covers that "
    "error and the seed scatter of the mean. The largest deviation over all compared sizes is tested, "
    "so a curve that keeps the bare power law up to M, or a data curve without the noise variance, fails."
)

HYPOTHESES = (
    Hypothesis(
        "features_exponent",
        "with unlimited data the excess test loss of linear random features falls as N^-alpha: fitted "
        "exponent within +-0.10 of alpha over the sizes where the theory is in its power-law regime",
        "Maloney, Roberts, Sully 2022 (L ∝ N^-alpha for 1 << N << P, M); Bahri et al. 2021 (resolution-limited)",
        check_features_exponent,
        source=Source(
            paper=f"{MALONEY}; {BAHRI}",
            where="Maloney et al.: the solved linear random-feature model, test loss vs the number of features "
            "N at large P, and the abstract; Bahri et al.: the resolution-limited model-size regime (abstract)",
            statement="For latent features with covariance spectrum lambda_i ∝ i^-(1+alpha) and a generic linear "
            "target, the test loss of linear random features scales as N^-alpha when the number of samples is "
            "the larger resource, for 1 << N << M. Bahri et al., abstract: resolution-limited scaling. No "
            "finite-size tolerance is given.",
            tolerance="The law is asymptotic (1 << N << M). The fit window comes from the theory, not from the "
            f"measurement: the sizes where the finite-M solution's own local exponent is within {WINDOW_TOL:g} "
            "(WINDOW_TOL) of alpha (below it small N flattens the curve, above it the cut-off at M steepens it). "
            f"The margin +-{EXPONENT_TOL:g} (EXPONENT_TOL, a convention of this project) is twice that band. "
            "The losses are exact expectations over teacher and noise; seeds redraw W. Every alpha must pass.",
        ),
    ),
    Hypothesis(
        "features_theory",
        "the features curve follows the finite-M solution up to M, including the bend that ends the "
        "power law before M: every N in [16, M) within 10% of the theory",
        "Maloney, Roberts, Sully 2022 (the solved model; breakdown of the power law at the latent dimension)",
        check_features_theory,
        source=Source(
            paper=MALONEY,
            where="the solved model's test loss at finite N and M (large P), and abstract item (iv), the "
            "breakdown of scaling once N reaches the latent dimension M",
            statement=THEORY_STATEMENT,
            tolerance=THEORY_TOLERANCE + " For N >= M the loss equals the floor exactly (the features span the "
            "latent space): that is a property of the set-up, drawn in the figure, not tested.",
        ),
    ),
    Hypothesis(
        "data_theory",
        "the near-ridgeless data curve with label noise follows the same solution plus the noise "
        "variance: every P in [16, M/2] and >= 2M within 10% of the theory",
        "Maloney, Roberts, Sully 2022 (N <-> P duality; the data-limited loss with label noise)",
        check_data_theory,
        source=Source(
            paper=f"{MALONEY}; {BAHRI}",
            where="Maloney et al.: the solved model at large N, test loss vs P, the N <-> P duality; Bahri et al.: "
            "the resolution-limited data-size regime (abstract)",
            statement=THEORY_STATEMENT + " Without noise the data curve has exactly the features curve's "
            "distribution; the noise term sigma^2 (E_0 - 1) is what this part tests beyond the features part "
            "(it is the whole excess loss for P >= 2M, sigma^2 M / (P - M)).",
            tolerance=THEORY_TOLERANCE + " Sizes in (M/2, 2M) are skipped: there the ridgeless variance diverges "
            "at P = M and the finite-size corrections are large (the grid skips them too).",
        ),
    ),
)

# ----------------------------------------------------------------------------- presets


def _grid(M: int, n_sizes: int, seeds, alphas=ALPHAS, max_over_M: float = 4.0, small_seeds=()):
    sizes = logspace(SIZE_MIN, int(max_over_M * M), n_sizes, integer=True)
    # Near P = M ridgeless regression has its interpolation peak; it is not part of any
    # check, so the data curve skips M/2 < P < 2M to save the largest solves' time.
    data_sizes = sorted({s for s in sizes if not (M / 2 < s < 2 * M)} | {int(DATA_LAST_OVER_M * M)})
    feature_sizes = sorted({s for s in sizes if s <= 2 * M} | {M})
    # Seed-to-seed scatter is largest at small sizes, where solves cost nothing: ``small_seeds``
    # adds seeds there (sizes <= M/16) to narrow the intervals at no measurable cost.
    small = [s for s in sizes if s <= M / 16]
    grids = [
        product(part=[part], M=[M], alpha=list(alphas), seed=list(seeds), size=part_sizes)
        for part, part_sizes in (("features", feature_sizes), ("data", data_sizes))
    ]
    if small_seeds:
        grids += [
            product(part=[part], M=[M], alpha=list(alphas), seed=list(small_seeds), size=small)
            for part in ("features", "data")
        ]
    return chain(*grids)


SETTINGS = {"noise_var": 1e-4, "ridge": 1e-8}

PRESETS = {
    "tiny": Preset(
        _grid(M=128, n_sizes=8, seeds=range(1)),
        SETTINGS,
        "seconds: M = 128, one seed (smoke test; fit range too short for verdicts)",
    ),
    "demo": Preset(
        _grid(M=1000, n_sizes=20, seeds=range(2)),
        SETTINGS,
        "M = 1000, alpha in {0.5, 1}, 2 seeds: both curves and the finite-size theory",
    ),
    "paper": Preset(
        _grid(M=2000, n_sizes=20, seeds=range(5), small_seeds=range(5, 20)),
        SETTINGS,
        "M = 2000, 5 seeds (20 for sizes <= M/16), N and P from 4 to 4M (paper: M ~ 1e5)",
    ),
}


# Allowed values of this experiment's own parameters (physai.domains.COMMON has the shared ones).
DOMAINS = {
    "part": Domain(choices=("features", "data")),
    "M": POSITIVE_INT,
    "alpha": POSITIVE,
    "size": POSITIVE_INT,
    "noise_var": NON_NEGATIVE,
}

EXPERIMENT = Experiment(
    name="scaling_solvable",
    question="Does a power-law data spectrum i^-(1+alpha) make the loss of linear random "
    "features scale as N^-alpha and P^-alpha, and follow the finite-M solution up to the latent dimension M?",
    hypotheses=HYPOTHESES,
    presets=PRESETS,
    run=run,
    plot=plot,
    static=Static,
    max_shard_size=16,
    domains=DOMAINS,
    doc=__doc__,
)
