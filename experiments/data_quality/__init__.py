"""Data quality as a data and a parameter multiplier: how many clean examples is one noisy
example worth, and how many parameters does clean data save?

Question
  Curated, "textbook-quality" data can stand in for much more raw data (Gunasekar
  et al. 2023, "Textbooks Are All You Need", the motivation). The teacher-student
  perceptron makes the trade exact: with labels flipped at random with probability
  ``q``, how many noisy examples does a learner need to match a clean data set, and
  when does *choosing* examples (pruning a pool by difficulty) beat having more? And,
  for trained networks at a fixed data set, how many more parameters do noisy labels
  cost ("a smaller model on better data", the paper's headline)?

Hypotheses, in words
  a. hebbian_error_matches_theory: the Hebbian student ``w = sum_i y_i x_i`` of a
     teacher perceptron in ``N`` dimensions, trained on ``n = alpha N`` Gaussian
     examples whose labels are flipped with probability ``q``, has overlap
     ``R = sqrt(2 alpha / pi) (1 - 2q) / sqrt(1 + 2 alpha (1 - 2q)^2 / pi)`` with the
     teacher and test error ``arccos(R) / pi`` (Engel & Van den Broeck 2001, ch. 2
     and 5; derivation in ``hebbian_overlap``). Check, for each ``q``: the mean over
     the swept ``alpha`` of (mean error over seeds / closed form) has a 95%
     seed-bootstrap interval inside [0.95, 1.05].
  b. noise_multiplier_matches_theory: ``R`` depends on ``n`` and ``q`` only through
     ``n (1 - 2q)^2``, so one noisy example is worth ``(1 - 2q)^2`` clean ones: the
     noisy data needed to reach a test error, divided by the clean data needed for
     the same error (read off the measured error curves by interpolation), is
     ``1 / (1 - 2q)^2``. Check, for each ``q > 0``: measured multiplier /
     ``1 / (1 - 2q)^2`` has a 95% seed-bootstrap interval inside [0.9, 1.1].
  c. pruning_crossover: prune a pool of ``P = alpha_total N`` clean examples to a
     fraction ``f`` by the size of their margin ``|probe . x|`` and train the
     max-margin student on what is left (Sorscher et al. 2022, Fig. 1). Keeping the
     easy (large-margin) examples gives the lower test error when the pool is small
     and keeping the hard (small-margin) ones when it is large. Check: the
     seed-paired difference error(keep hard) - error(keep easy) has a 95%
     seed-bootstrap interval above 0 at the smallest swept ``alpha_total`` and below
     0 at the largest.
  d. mlp_noise_costs_data: a trained two-layer ReLU MLP on the same kind of teacher,
     early-stopped on noisy validation labels, needs more noisy examples than
     clean ones for equal test error (multiplier above 1 at every ``q > 0``) and
     more the larger ``q`` (Spearman rho of the multiplier and ``q`` above 0),
     each by its 95% seed-bootstrap interval (Rolnick et al. 2017). Its
     multiplier is shown beside the perceptron's ``1 / (1 - 2q)^2`` but is not
     required to equal it: the network memorises part of the flipped labels
     before it is stopped, which the Hebbian average cannot.
  e. mlp_noise_costs_parameters: cleaner data lets a smaller model do the same
     job (Gunasekar et al. 2023, phi-1). At a fixed training set, the parameters
     an MLP trained on labels flipped at rate ``q`` needs to reach the test error
     that a network trained on the clean labels reaches, divided by the clean
     network's parameters (read off the seed-mean early-stopped error curves over
     log parameters, as the data multiplier is read over log n), exceeds 1 at every
     ``q > 0`` and grows with ``q``, each by its 95% seed-bootstrap interval. When
     even the widest noisy network stays above the error of the narrowest clean one,
     the multiplier lies beyond the sweep and counts as its lower bound, the ratio
     of the largest to the smallest parameter count.

Sources
  Engel & Van den Broeck 2001 (Hebbian learning, output noise); Sorscher, Geirhos,
  Shekhar, Ganguli & Morcos 2022, NeurIPS (data pruning); Rolnick, Veit, Belongie &
  Shavit 2017 (label noise in deep networks); Gunasekar et al. 2023 (data quality
  against model size); each hypothesis's ``source`` gives the statement and the
  reason for its range.

Setup
  Teacher ``B`` uniform on the sphere, inputs ``x ~ N(0, I_N)``, ``N = 200``. One
  seed fixes the teacher, an input stream and a stream of flip draws: the first
  ``n`` examples of the stream are the data at every ``alpha`` and every ``q`` (an
  example is flipped when its uniform draw is below ``q``), so the curves of one
  seed are nested like a growing data set and the multiplier compares curves on
  the same inputs. The test error of a student ``w`` is exact, ``arccos(R) / pi``
  with ``R = w . B / |w|``: no test set is drawn. Pruning part: the pool's
  examples are ranked by ``|probe . x|``, with the probe at angle ``probe_angle``
  (degrees) to the teacher (0: the teacher itself, Fig. 1's perfect metric); the
  student is the max-margin perceptron through the origin (hard-margin SVM, solved
  exactly as a least-distance program with non-negative least squares, Lawson &
  Hanson 1974, ch. 23). MLP part: ``d = 20`` inputs, a Gaussian perceptron teacher,
  a pool of ``n_pool`` inputs per seed of which the first ``n`` are the training set
  (a mask, so every ``q``, ``n`` and seed shares one compiled program), labels
  flipped as above; 64 ReLU units, logistic loss, full-batch Adam (lr 1e-3, 1000
  steps, no weight decay). Trained to the end, such a network can fit every flipped
  label, and its test error at ``q > 0`` then need not fall with ``n`` at all (no
  multiplier could be read off); so, as in practice, each run is early-stopped:
  its test error (4000 clean test inputs) is read at the logged step (every 1/20 of
  training) of least error on a held-out set of ``n / 4`` examples whose labels are
  flipped like the training labels. The multiplier is read off the seed-mean
  early-stopped curves over ``n`` exactly as for the perceptron (``alpha = n / d``).
  Capacity part (``experiments/data_quality/capacity.py``): two ReLU units represent
  a perceptron teacher exactly (``relu(v . x) - relu(-v . x) = v . x``), so width
  beyond two adds nothing such a teacher needs; the teacher is instead a random
  two-layer ReLU network,
  ``sign(sum_j a_j relu(w_j . x))`` with ``teacher_units = 32`` units ``w_j ~ N(0,
  I / d)`` in ``capacity_d = 10`` dimensions, half with ``a_j = +1`` and half with
  ``-1``. Students of width 2 to 128 are trained on the whole pool of ``n_pool``
  examples (labels flipped as above, the same inputs and flip draws at every width
  and ``q`` of a seed) for ``capacity_steps`` Adam steps and early-stopped in the
  same way; one shard per width (its compiled width is the trial's). The parameter
  multiplier compares the seed-mean curves of error against parameter count
  (``(d + 2) width + 1``) at error levels inside the range both curves reach.

Run
  physai demo data_quality
  physai verify data_quality --preset paper
  physai verify data_quality --preset tiny     # seconds; smoke test only
  Expected runtime on 2 CPU cores: demo ~1-2 min, paper ~3-5 min (the two MLP parts
  most of it, the capacity part's seven compilations about half a minute; more with an
  empty JAX compilation cache or busy cores).

Known limitations
  The closed form is the ``N -> infinity`` limit at fixed ``alpha``; at ``N = 200``
  its corrections are of relative order ``1/N``. The MLP's multiplier depends on
  how far it memorises the flipped labels before it is stopped (on the validation
  set's size, the logging grid, the optimiser), so the check claims signs only; a
  run whose validation minimum is its last logged step was still improving and is
  treated as unconverged. The pruning probe is the teacher itself by default
  (``probe_angle = 0``, Fig. 1's perfect metric); Sorscher et al. treat imperfect
  probes separately. The parameter multiplier depends on the error level at which
  it is read: it is defined only over the errors both curves reach, i.e. the high-
  error end of the clean curve. Below the noisy curve's floor (set by the fixed
  ``n`` and by early stopping on noisy validation labels) no swept width buys the
  noise back, so at the clean curve's low errors the multiplier is unbounded within
  the sweep; the check claims signs and the growth with ``q`` only, and the value it
  reports is the geometric mean over the shared error range. Phi-1's setting (code,
  billions of parameters, curated against web data) is far from flipped labels on a
  two-layer teacher; it motivates the direction of the effect, not its size.
"""

from __future__ import annotations

from dataclasses import dataclass

import physai
from experiments.data_quality import capacity, mlp
from experiments.data_quality.perceptron import (
    check_error_theory,
    check_multiplier,
    check_pruning_crossover,
    hebbian_error,
    hebbian_overlap,
    max_margin,
    multiplier,
    multiplier_theory,
    run_noise,
    run_prune,
)
from physai import Experiment, Hypothesis, Preset, Results, ShardResult, Source, chain, logspace, product
from physai.domains import Domain
from physai.runtime import single_threaded_blas

__all__ = [
    "EXPERIMENT",
    "check_error_theory",
    "check_multiplier",
    "check_pruning_crossover",
    "hebbian_error",
    "hebbian_overlap",
    "max_margin",
    "multiplier",
    "multiplier_theory",
    "run_noise",
    "run_prune",
]

# ----------------------------------------------------------------------------- run


@dataclass(frozen=True)
class Static(physai.Static):
    part: str
    N: int
    d: int
    n_pool: int
    n_test: int
    width: int
    steps: int
    capacity_d: int
    teacher_units: int
    capacity_steps: int


def run(shard) -> ShardResult:
    """The perceptron parts in numpy (float64, BLAS on one thread: 2 shared cores); the MLP parts
    through the trainer."""
    if shard.static.part == "mlp":
        return mlp.run(shard)
    if shard.static.part == "capacity":
        return capacity.run(shard)
    step = run_noise if shard.static.part == "noise" else run_prune
    with single_threaded_blas():
        return ShardResult([step(t, shard.static.N) for t in shard.trials])


# ----------------------------------------------------------------------------- hypotheses

HYPOTHESES = (
    Hypothesis(
        "hebbian_error_matches_theory",
        "The Hebbian student's test error follows arccos(R)/pi with R = sqrt(2a/pi)(1-2q) / "
        "sqrt(1 + 2a(1-2q)^2/pi): for each q, mean error / closed form (averaged over alpha) has a 95% "
        "interval inside [0.95, 1.05]",
        "Engel & Van den Broeck 2001, Statistical Mechanics of Learning, ch. 2 (Hebb rule) and ch. 5 (output noise)",
        check_error_theory,
        source=Source(
            paper="Engel, Van den Broeck 2001, Statistical Mechanics of Learning (Cambridge University Press)",
            where="ch. 2 (Hebbian learning of a teacher perceptron, R = sqrt(2 alpha/pi) / sqrt(1 + 2 alpha/pi)) "
            "and ch. 5 (output noise: flipped labels scale the Hebbian signal by 1 - 2q); rederived in "
            "hebbian_overlap",
            statement="eps = arccos(R)/pi with R = sqrt(2 alpha/pi)(1 - 2q) / sqrt(1 + 2 alpha (1 - 2q)^2/pi), "
            "exact as N -> infinity at fixed alpha = n/N",
            tolerance="the closed form is the N -> infinity limit; at N = 200 the neglected terms (the "
            "variance of the teacher-direction component, n(1 - c^2) against n N, and the curvature of "
            "arccos times the O(1/N) variance of R) are relative corrections of order 1/N = 0.5% with "
            "coefficients of order one; [0.95, 1.05] allows ten times that and still excludes a wrong "
            "constant (2/pi in place of sqrt(2/pi) moves the error by far more), a missing (1 - 2q) factor "
            "(the error at q = 0.3 would be a fraction of the measured one) or a (1 - 2q) in place of its square.",
        ),
    ),
    Hypothesis(
        "noise_multiplier_matches_theory",
        "A data set with labels flipped at rate q needs 1/(1-2q)^2 times the examples of a clean one for the "
        "same Hebbian test error: for each q > 0, measured multiplier / (1/(1-2q)^2) has a 95% interval "
        "inside [0.9, 1.1]",
        "Engel & Van den Broeck 2001, ch. 5: R depends on alpha and q only through alpha (1-2q)^2; "
        "motivation: Gunasekar et al. 2023 (data quality as a data multiplier)",
        check_multiplier,
        source=Source(
            paper="Engel, Van den Broeck 2001, Statistical Mechanics of Learning; motivation: Gunasekar et al. "
            "2023, 'Textbooks Are All You Need', arXiv:2306.11644; Rolnick et al. 2017, 'Deep learning is "
            "robust to massive label noise', arXiv:1705.10694 (more noisy data compensates for noise)",
            where="ch. 5 (output noise in Hebbian learning); the same closed form as hebbian_error_matches_theory",
            statement="R(alpha, q) = R(alpha (1 - 2q)^2, 0): equal error needs alpha_noisy = alpha_clean / (1 - 2q)^2",
            tolerance="an exact identity of the N -> infinity limit; at N = 200 q enters beyond alpha (1 - 2q)^2 "
            "only through the O(1/N) variance term, and reading the needed alpha off curves sampled at a "
            "spacing of about 2^(1/2) by linear interpolation in log alpha errs by far less than 10% on these "
            "smooth curves; [0.9, 1.1] still excludes the multiplier 1/(1 - 2q) (20% off at q = 0.1, 2.5x off "
            "at q = 0.3) and the no-cost answer 1.",
        ),
    ),
    Hypothesis(
        "pruning_crossover",
        "Pruning a pool by probe margin: keeping the easy (large-margin) examples gives lower test error "
        "than keeping the hard ones at the smallest pool, and keeping the hard ones wins at the largest: "
        "error(hard) - error(easy) has a 95% interval above 0 at the smallest alpha_total and below 0 at the largest",
        "Sorscher et al. 2022 (NeurIPS), Fig. 1: keep easy examples when data is scarce, hard ones when abundant",
        check_pruning_crossover,
        source=Source(
            paper="Sorscher, Geirhos, Shekhar, Ganguli, Morcos 2022, 'Beyond neural scaling laws: beating power "
            "law scaling via data pruning', NeurIPS",
            where="Sec. 2 and Fig. 1 (teacher-student perceptron, pruning by the margin with respect to a "
            "probe, replica theory and simulations)",
            statement="qualitative: the best pruning strategy depends on the amount of initial data; with "
            "abundant (scarce) initial data, one should retain only hard (easy) examples",
            tolerance="a sign: the claim holds when the seed-paired difference's 95% interval excludes 0 on "
            "the predicted side at each end of the swept pool sizes. Where the crossover lies depends on f and "
            "on the probe (the paper gives it as a curve, not a number), so the check asks only that the two "
            "ends of the sweep fall on opposite sides; the presets span alpha_total over a factor of 16 (f = "
            "0.25: alpha_prune from 0.25, fewer kept examples than dimensions, to 4).",
        ),
    ),
    Hypothesis(
        "mlp_noise_costs_data",
        "A trained two-layer ReLU MLP learning a perceptron teacher (early-stopped on noisy validation labels) "
        "needs more examples with labels flipped at "
        "rate q than clean ones for the same test error (multiplier > 1 for every q > 0), and more the larger q "
        "(Spearman rho of multiplier and q > 0); the perceptron's 1/(1-2q)^2 is reported, not required",
        "Rolnick et al. 2017: noisy labels are compensated by more data; Engel & Van den Broeck 2001 ch. 5 for "
        "the perceptron's 1/(1-2q)^2",
        mlp.check_mlp_multiplier,
        source=Source(
            paper="Rolnick, Veit, Belongie, Shavit 2017, 'Deep learning is robust to massive label noise', "
            "arXiv:1705.10694; Engel, Van den Broeck 2001, Statistical Mechanics of Learning",
            where="Rolnick et al., Sec. 4-5 and Figs. 1-3 (uniform label noise: test accuracy falls with the "
            "noise level, and the loss is recovered by a larger data set); Engel & Van den Broeck ch. 5",
            statement="qualitative: noisy labels cost data, more so the noisier they are. The perceptron's "
            "exact multiplier 1/(1-2q)^2 is for the Hebbian rule; an MLP fits (memorises) part of the flipped "
            "labels before it is stopped, which the Hebbian average cannot, so its multiplier need not equal "
            "it and is shown beside it only",
            tolerance="signs only: the multiplier's 95% seed-bootstrap interval lies above 1 at every q > 0, "
            "and the interval of the rank correlation between q and the multiplier lies above 0 (with two "
            "noisy q, the log ratio of their multipliers). No magnitude is claimed, so no band is needed.",
        ),
    ),
    Hypothesis(
        "mlp_noise_costs_parameters",
        "At a fixed training set, a two-layer ReLU MLP learning a two-layer teacher from labels flipped at rate q "
        "needs more parameters than one trained on clean labels for the same (early-stopped) test error "
        "(parameter multiplier > 1 for every q > 0, a multiplier beyond the swept widths counting as its lower "
        "bound), and more the larger q (Spearman rho of multiplier and q > 0)",
        "Gunasekar et al. 2023 (phi-1): on cleaner data a smaller model does the job of much larger ones",
        capacity.check_parameter_multiplier,
        source=Source(
            paper="Gunasekar, Zhang, Aneja, Mendes, Del Giorno, Gopi, Javaheripi, Kauffmann, de Rosa, Saarikivi, "
            "Salim, Shah, Behl, Wang, Bubeck, Eldan, Kalai, Lee, Li 2023, 'Textbooks Are All You Need', "
            "arXiv:2306.11644",
            where="Abstract, Sec. 1 and Table 1 (phi-1: 1.3B parameters trained on about 7B tokens of "
            "'textbook quality' data reaches 50.6% pass@1 on HumanEval, beside code models with many times its "
            "parameters trained on far more tokens of unfiltered code), Sec. 2 (filtering the data)",
            statement="qualitative: with higher-quality data a model with far fewer parameters (and less data) "
            "matches or beats much larger models trained on lower-quality data; the paper gives no "
            "multiplier as a function of label noise",
            tolerance="signs only: per q > 0 the multiplier's 95% seed-bootstrap interval lies above 1, and the "
            "interval of the rank correlation between q and the multiplier lies above 0 (with two noisy q, "
            "the log ratio of their multipliers). The paper's setting (code, LLM scale, curated versus web "
            "data) fixes no number for flipped labels, so no magnitude is claimed and no band is needed; the "
            "perceptron's data law 1/(1-2q)^2 is shown beside it, not required.",
        ),
    ),
)

# ----------------------------------------------------------------------------- presets

SETTINGS = {
    "N": 200,
    "f": 0.25,
    "probe_angle": 0.0,
    # the MLP part: input dimension, pool of training inputs, clean test set, hidden units, Adam
    "d": 20,
    "n_pool": 1280,
    "n_test": 4000,
    "width": 64,
    "steps": 1000,
    "lr": 1e-3,
    # the capacity part: input dimension and hidden units of its two-layer teacher, and Adam steps
    # (twice the MLP part's: the narrowest students learn slowest); its students are trained on the
    # whole pool, with the MLP part's n_test and lr
    "capacity_d": 10,
    "teacher_units": 32,
    "capacity_steps": 2000,
}

WIDTHS = [2, 4, 8, 16, 32, 64, 128]  # the capacity part's student widths


def _grid(qs, alphas, totals, ns, seeds, mlp_seeds, widths=WIDTHS):
    seeds, mlp_seeds = list(seeds), list(mlp_seeds)
    return chain(
        product(part=["noise"], q=qs, alpha=alphas, seed=seeds),
        product(part=["prune"], alpha_total=totals, keep=["easy", "hard"], seed=seeds),
        product(part=["mlp"], q=qs, n=ns, seed=mlp_seeds),
        product(part=["capacity"], q=qs, width=widths, seed=mlp_seeds),
    )


PRESETS = {
    "tiny": Preset(
        _grid([0.0, 0.2], [0.5, 2.0, 8.0], [1.0, 16.0], [20, 80, 200], range(3), range(2), [2, 8, 32]),
        {
            **SETTINGS,
            **{"N": 50, "d": 10, "n_pool": 200, "n_test": 500, "width": 16, "steps": 200},
            **{"capacity_d": 5, "teacher_units": 8, "capacity_steps": 200},
        },
        "seconds; smoke test (no verdict expected)",
    ),
    "demo": Preset(
        _grid(
            [0.0, 0.1, 0.2, 0.3],
            logspace(0.25, 64, 9),
            [1.0, 4.0, 16.0],
            [10, 20, 40, 80, 160, 320, 640, 1280],
            range(12),
            range(4),
        ),
        SETTINGS,
        "perceptron: 4 flip rates x 9 alphas, 3 pool sizes, 12 seeds; MLP: 4 flip rates x (8 n, 7 widths) x 4 seeds",
    ),
    "paper": Preset(
        _grid(
            [0.0, 0.1, 0.2, 0.3],
            logspace(0.25, 64, 17),
            [1.0, 2.0, 4.0, 8.0, 16.0],
            [10, 20, 40, 80, 160, 320, 640, 1280],
            range(30),
            range(8),
        ),
        SETTINGS,
        "perceptron: 4 flip rates x 17 alphas, 5 pool sizes, 30 seeds; MLP: 4 flip rates x (8 n, 7 widths) x 8 seeds",
    ),
}

DOMAINS = {
    "q": Domain(low=0.0, high=0.49),
    "alpha": Domain(low=0.0, low_open=True),
    "alpha_total": Domain(low=0.0, low_open=True),
    "f": Domain(low=0.0, high=1.0, low_open=True),
    "probe_angle": Domain(low=0.0, high=90.0),
    "N": Domain(low=2, integer=True),
    "part": Domain(choices=("noise", "prune", "mlp", "capacity")),
    "n": Domain(low=1, integer=True, at_most="n_pool"),
    "n_pool": Domain(low=1, integer=True),
    "width": Domain(low=1, integer=True),
    "capacity_d": Domain(low=1, integer=True),
    "teacher_units": Domain(low=2, integer=True),
    "capacity_steps": Domain(low=1, integer=True),
    "keep": Domain(choices=("easy", "hard")),
}

# ----------------------------------------------------------------------------- plots


def plot(results: Results) -> dict:
    """Error curves against the closed form, multipliers against 1/(1-2q)^2, pruning and MLP curves."""
    from experiments.data_quality.plots import figures

    return figures(results)


EXPERIMENT = Experiment(
    name="data_quality",
    question="How many clean examples (or parameters) is one noisy example worth, and when does keeping "
    "the hard examples of a pool beat keeping the easy ones?",
    hypotheses=HYPOTHESES,
    presets=PRESETS,
    run=run,
    plot=plot,
    static=Static,
    max_shard_size=256,
    domains=DOMAINS,
    doc=__doc__,
)
