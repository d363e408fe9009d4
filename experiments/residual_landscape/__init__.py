"""Residual vs plain deep MLPs: do skip connections keep the loss landscape smooth with depth?

Question
  Li, Xu, Taylor, Studer & Goldstein (2018, NeurIPS, "Visualizing the loss
  landscape of neural nets", Sec. 6, Fig. 5) showed filter-normalised 2D slices of
  the loss around trained networks: without skip connections the surface turns
  chaotic and highly non-convex as depth grows, and the nets become harder to train;
  with them it stays smooth, and the deeper residual nets do better, not worse.
  Balduzzi et al. (2017, ICML, "The shattered gradients problem") traced this to
  plain deep nets' gradients decorrelating with depth, which residual branches
  prevent. Does the same hold for MLPs under a standard initialisation?

Hypotheses, in words
  a. plain_test_loss_degrades: the test loss (relative to the target variance) of
     plain nets rises with depth, of residual nets it does not.
  b. plain_trainability_degrades: the same for the final *training* loss (the
     trainability the papers speak of).
  c. plain_rougher_at_depth: the roughness of the 2D slice of plain nets rises with
     depth, and at the deepest depth is >= 0.05 and >= 3x that of residual nets,
     whose slices stay below 0.05 at every depth.
  "Rises with depth" is a Spearman rho between depth and the median over seeds of at
  least 0.5 over *every* depth of the results (not the two ends); "does not rise" is
  rho <= 0.5. Each number is decided by its 95% seed-bootstrap interval
  (``physai.evidence``: whole seeds resampled, the per-depth medians and the statistic
  recomputed): supported only when the interval lies inside the range, refuted only
  when wholly outside. a and b compare end-state losses, so they are inconclusive
  when they rest on runs that did not meet the trainer's convergence criterion (the
  same check on the converged runs alone must agree); c is not (the excess variation
  does not count a slope or a single valley as roughness).

Sources
  Li et al. 2018, Sec. 6 and Fig. 5 (ResNet-20/56/110 with and without skip
  connections on CIFAR-10); He, Zhang, Ren & Sun 2016 (CVPR), Fig. 1 (the 56-layer
  plain net has higher training and test error than the 20-layer one: the
  degradation problem). Both are qualitative for what is tested here; the thresholds
  are conventions of this project, stated in each hypothesis's source.

Roughness measure (stated)
  The slice is ``log L`` on a 31 x 31 grid of ``theta + a d1 + b d2``, a, b in
  [-1, 1], with d1, d2 filter-normalised random directions (Li et al.; biases
  excluded). For each of the 62 grid lines (rows and columns), the *excess
  variation* is ``(TV - TV_valley) / TV``, where ``TV`` is the line's total
  variation and ``TV_valley = (L_first - L_min) + (L_last - L_min)`` the total
  variation of a single valley with the same ends and minimum. It is 0 for any
  line that only falls then rises (a bowl), and approaches 1 for a line that
  oscillates. Roughness = mean over the 62 lines; scale-free and parameter-free.

Setup (CPU scale)
  Gaussian inputs (d = 10), n = 500, targets from a random tanh teacher with 8
  hidden units (no label noise), 500 test points. Students: tanh MLPs of width
  32 and depth 2-48, plain or residual (``physai.models.MLP(residual=True)``:
  ``h <- h + tanh(W h + b) / sqrt(depth)`` after the first layer); SGD with momentum
  0.9, lr 3e-2, full batch, 3000 steps, MSE (lr 3e-2 rather than 1e-2 so that more
  runs meet the convergence criterion within the budget; the runs that do not are
  flagged, and the loss checks say so). After training: the 2D slice above and the
  top Hessian eigenvalue (Lanczos).
  Initialisation: the standard one for tanh, LeCun-normal (weight variance 1/fan-in,
  ``init_gain = 1``, zero biases), identical for plain and residual nets; it is the
  variance-preserving choice for tanh that He/Kaiming-normal is for ReLU. Li et al.'s
  code sets no initialisation of its own (PyTorch's default for convolutions) and
  puts batch normalisation after every convolution, which sets the scale of every
  layer's input whatever the initial weights; these MLPs have no normalisation, so
  the initial scale is a declared parameter. ``--set init_gain=2`` gives the chaotic
  phase of deep tanh nets (sigma_w = 2; Poole et al. 2016, Schoenholz et al. 2017) as
  a labelled contrast, in no preset: there deep plain nets memorise the training set
  and lose on test data, which is overfitting, not the trainability failure the
  papers describe. ReLU students are not used: the library's residual MLP adds
  non-negative ReLU branch outputs, and its residual stream drifts at depths of 16
  and more.

Run
  physai demo residual_landscape                    # depths 2, 8, 32, 2 seeds, ~1-2 min on 2 CPU cores
  physai verify residual_landscape --preset paper   # depths 2-48, 3 seeds, ~4 min
  physai verify residual_landscape --preset tiny    # seconds; for tests only

Full-scale values of the paper: CIFAR-10 ResNets of 20-110 layers with batch
normalisation, 51 x 51 slices on the full training set.
"""

from __future__ import annotations

from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pandas as pd

import physai
from experiments.residual_landscape.checks import (
    check_plain_rougher,
    check_plain_test_loss_degrades,
    check_plain_trainability_degrades,
)
from physai import Experiment, Hypothesis, Preset, Results, ShardResult, Source, curricula, models, product
from physai import train as trainer
from physai.domains import POSITIVE, Domain
from physai.probes.hessian import top_eigenvalue_lanczos
from physai.probes.landscape import filter_normalized_direction, loss_slice_2d

SLICE_POINTS = 31
SLICE_RADIUS = 1.0
LANCZOS_ITERS = 30

# ----------------------------------------------------------------------------- measurement


def excess_variation(surface) -> float:
    """Roughness of a 2D loss slice: mean excess total variation of its grid lines.

    Args:
      surface: ``(m, m)`` array (e.g. log-loss on a grid).

    Returns:
      Mean over rows and columns of ``(TV - TV_valley) / TV``; 0 when every line
      is a single valley (falls then rises), towards 1 for oscillating lines.
    """
    surface = np.asarray(surface, float)
    values = []
    for line in list(surface) + list(surface.T):
        tv = float(np.abs(np.diff(line)).sum())
        valley = float((line[0] - line.min()) + (line[-1] - line.min()))
        # max(0, .): rounding can make TV a hair below TV_valley on a perfect valley.
        values.append(max(0.0, (tv - valley) / tv) if tv > 0 else 0.0)
    return float(np.mean(values))


@dataclass(frozen=True)
class Static(physai.Static):
    """One (depth, residual) architecture per shard."""

    d: int
    n: int
    n_test: int
    teacher_width: int
    data_seed: int
    width: int
    depth: int
    residual: bool
    init_gain: float
    steps: int


def make_task(st: Static) -> trainer.Task:
    """SGD with momentum on the teacher's data; the 2D slice and the top Hessian eigenvalue
    on the final parameters as the probe."""
    model = models.MLP(width=st.width, depth=st.depth, activation="tanh", residual=st.residual)
    data_key = jax.random.key(st.data_seed)
    grid = jnp.linspace(-SLICE_RADIUS, SLICE_RADIUS, SLICE_POINTS)

    def data(key, hp):  # the same data for every seed and architecture
        return curricula.teacher_student(data_key, st.n, st.n_test, st.d, st.teacher_width, 0.0)

    def init(key, hp):
        params = models.init_mlp(model, key, st.d)
        return {
            k: ({**v, "kernel": v["kernel"] * st.init_gain} if k.startswith("hidden_") else v)
            for k, v in params.items()
        }

    def mse(params, x, y):
        return jnp.mean((model.apply({"params": params}, x)[:, 0] - y) ** 2)

    def loss(params, batch, hp):
        return mse(params, batch["x_train"], batch["y_train"])

    def metrics(params, dat, hp):
        return {
            "train_rel_mse": loss(params, dat, hp) / jnp.var(dat["y_train"]),
            "test_rel_mse": mse(params, dat["x_test"], dat["y_test"]) / jnp.var(dat["y_test"]),
        }

    def probe(key, params, dat, hp):
        train_loss = lambda p: loss(p, dat, hp)
        k1, k2 = jax.random.split(key)
        d1, d2 = filter_normalized_direction(params, k1), filter_normalized_direction(params, k2)
        surface = loss_slice_2d(train_loss, params, d1, d2, grid, grid)
        sharpness = top_eigenvalue_lanczos(train_loss, params, LANCZOS_ITERS, jax.random.key(1))[0]
        return {"slice_loss": surface, "sharpness": sharpness}

    return trainer.Task(data, init, loss, metrics, lambda hp: optax.sgd(hp["lr"], momentum=0.9), probe=probe)


def run(shard) -> ShardResult:
    """Trains the nets of one (depth, residual) pair, then slices and measures each."""
    st = shard.static
    frames = []

    def extra(i, trial, result):
        if result.diverged[i]:  # a diverged run has no slice
            return {}
        surface = np.asarray(result.final["slice_loss"][i], float)
        # The slice, stored in the curves table: "step" is the flat grid index (row-major,
        # alpha along rows, beta along columns).
        frames.append(
            pd.DataFrame(
                {
                    "trial_id": trial.trial_id,
                    "step": np.arange(surface.size),
                    "split": "train",
                    "metric": "slice_loss",
                    "value": surface.ravel(),
                }
            )
        )
        return {
            "sharpness": float(result.final["sharpness"][i]),
            "roughness": excess_variation(np.log(np.maximum(surface, 1e-30))),
            "slice_centre_loss": float(surface[SLICE_POINTS // 2, SLICE_POINTS // 2]),
        }

    res = trainer.run_shard(
        make_task(st),
        shard,
        ("seed", "lr"),
        steps=st.steps,
        log_every=max(1, st.steps // 10),
        columns=("train_rel_mse", "test_rel_mse"),
        extra=extra,
    )
    res.curves = pd.concat([res.curves, *frames], ignore_index=True)
    return res


LI = "Li, Xu, Taylor, Studer, Goldstein 2018, NeurIPS"
HE = "He, Zhang, Ren, Sun 2016, CVPR"
TREND = (
    "A convention of this project, not from the papers, which give no number for an MLP depth range: "
    "'rises with depth' is a Spearman rho between depth and the median over seeds of at least 0.5 "
    "(MIN_RHO) over every depth of the results, not a comparison of the two ends; 0 is no trend and 1 a "
    "rise at every depth step, and with six depths one reversed adjacent pair still gives 0.94, so 0.5 "
    "admits a few local reversals but not a flat or falling curve. 'Does not rise' for residual nets is "
    "rho <= 0.5, the complement; the claim fails if the interval lies wholly on the wrong side. Medians "
    "keep one bad seed from deciding; a diverged run counts as the largest loss."
)

HYPOTHESES = (
    Hypothesis(
        "plain_test_loss_degrades",
        "Plain MLPs' test loss rises with depth (Spearman rho >= 0.5 over all depths), residual MLPs' does not.",
        "Li et al. 2018 (NeurIPS), Sec. 6 / Fig. 5; He et al. 2016 (CVPR), Fig. 1 (degradation of deep plain nets)",
        check_plain_test_loss_degrades,
        source=Source(
            paper=f"{HE}; {LI}",
            where="He et al. Fig. 1 (CIFAR-10, 20- vs 56-layer plain nets); Li et al. Sec. 6 and Fig. 5 "
            "(ResNet-20/56/110 with and without skip connections)",
            statement="Qualitative: He et al., 'the deeper network has higher training error, and thus test "
            "error'; Li et al. (paraphrased): without skip connections the landscape turns chaotic as depth "
            "grows and the chaotic landscapes go with worse generalisation, while with skip connections the "
            "deeper ResNets generalise better, not worse.",
            tolerance=TREND,
        ),
    ),
    Hypothesis(
        "plain_trainability_degrades",
        "Plain MLPs' final training loss rises with depth (Spearman rho >= 0.5 over all depths), residual "
        "MLPs' does not.",
        "Li et al. 2018 (NeurIPS), Sec. 6; He et al. 2016 (CVPR), Fig. 1 (deeper plain nets have higher "
        "training error)",
        check_plain_trainability_degrades,
        source=Source(
            paper=f"{HE}; {LI}",
            where="He et al. Fig. 1 (training error of 20- and 56-layer plain nets on CIFAR-10) and abstract; Li et "
            "al. Sec. 6 (trainability of ResNets with and without skip connections)",
            statement="Qualitative: 'the deeper network has higher training error' (He et al., the degradation "
            "problem); residual networks 'are easier to optimize, and can gain accuracy from considerably "
            "increased depth' (He et al., abstract); Li et al. (paraphrased): as depth grows, nets without skip "
            "connections become harder to train, which they tie to the chaotic landscape.",
            tolerance=TREND,
        ),
    ),
    Hypothesis(
        "plain_rougher_at_depth",
        "The filter-normalised 2D slice of plain nets gets rougher with depth (Spearman rho >= 0.5) and at the "
        "deepest depth is rough (excess variation >= 0.05) and >= 3x rougher than residual nets'; residual "
        "slices stay smooth (<= 0.05) at every depth.",
        "Li et al. 2018 (NeurIPS), Fig. 5 (chaotic slices without skip connections, smooth with them)",
        check_plain_rougher,
        source=Source(
            paper=LI,
            where="Fig. 5 (2D filter-normalised slices of ResNet-20/56/110 with and without skip connections)",
            statement="Qualitative, no number: the paper judges the slices by eye; without skip connections "
            "the landscape turns from nearly convex to chaotic as depth grows, with skip connections it "
            "stays smooth to much greater depths. It defines no roughness measure; the excess variation "
            "used here is this project's.",
            tolerance="A convention of this project, not from the paper: a mean excess variation of 0.05 "
            "(MIN_ROUGHNESS) is far above the rounding-level value of a smooth bowl (0 up to rounding, see "
            "excess_variation) and means that on average 5% of a grid line's variation is oscillation, so it "
            "is the line between smooth (residual, at every depth) and rough (plain, at the deepest depth); "
            "the factor 3 (ROUGHNESS_RATIO) asks that plain slices be clearly rougher than residual ones, with "
            "the residual roughness floored at 1e-3 (ROUGHNESS_FLOOR) so that a smooth residual slice does "
            "not make the ratio infinite; 'gets rougher with depth' uses the trend convention of the other "
            "hypotheses (rho >= 0.5 over all depths).",
        ),
    ),
)

# ----------------------------------------------------------------------------- presets

SETTINGS = {
    "d": 10,
    "n": 500,
    "n_test": 500,
    "teacher_width": 8,
    "data_seed": 0,
    "width": 32,
    "init_gain": 1.0,
    "steps": 3000,
}

PRESETS = {
    "tiny": Preset(
        product(depth=[3], residual=[False, True], lr=[3e-2], seed=[0]),
        {**SETTINGS, "n": 100, "n_test": 100, "width": 8, "steps": 100},
        "seconds; for tests",
    ),
    "demo": Preset(
        product(depth=[2, 8, 32], residual=[False, True], lr=[3e-2], seed=[0, 1]),
        SETTINGS,
        "depths 2, 8, 32, plain vs residual, 2 seeds",
    ),
    "paper": Preset(
        product(depth=[2, 4, 8, 16, 32, 48], residual=[False, True], lr=[3e-2], seed=[0, 1, 2]),
        SETTINGS,
        "depths 2-48, plain vs residual, 3 seeds",
    ),
}

# ----------------------------------------------------------------------------- plots


def plot(results: Results) -> dict:
    """The figures (``experiments.residual_landscape.plots``)."""
    from experiments.residual_landscape.plots import plot as draw

    return draw(results)


# Allowed values of this experiment's own parameters (physai.domains.COMMON has the shared ones).
DOMAINS = {"residual": Domain(choices=(False, True)), "init_gain": POSITIVE}

EXPERIMENT = Experiment(
    name="residual_landscape",
    question="Do skip connections keep deep MLPs trainable and their loss landscape smooth "
    "where plain MLPs degrade and turn rough?",
    hypotheses=HYPOTHESES,
    presets=PRESETS,
    run=run,
    plot=plot,
    static=Static,
    cost=lambda st, n_trials: n_trials * st.depth,
    max_shard_size=16,
    domains=DOMAINS,
    doc=__doc__,
)
