"""Residual vs plain deep MLPs: do skip connections keep the loss landscape smooth with depth?

Question
  Li, Xu, Taylor, Studer & Goldstein (2018, NeurIPS, "Visualizing the loss
  landscape of neural nets", Fig. 5) showed filter-normalised 2D slices of the
  loss around trained networks: without skip connections the surface turns
  chaotic and highly non-convex as depth grows, and the nets train poorly; with
  them it stays smooth to much greater depths. Balduzzi et al. (2017, ICML, "The
  shattered gradients problem") traced this to plain deep nets' gradients
  decorrelating with depth, which residual branches prevent.

Hypotheses, in words
  a. plain_test_loss_degrades: the median test loss (relative to the target
     variance) of plain nets at the deepest depth is >= 3x that of the shallowest
     plain net, while residual nets at the deepest depth stay <= 1.5x their
     shallowest.
  b. plain_trainability_degrades: the same for the final *training* loss
     ("trainability"): plain deepest >= 3x plain shallowest, residual deepest
     <= 1.5x residual shallowest.
  c. plain_rougher_at_depth: at the deepest depth the roughness of the 2D slice
     (median over seeds) of plain nets is >= 0.05 and >= 3x that of residual nets.
  The shallowest and deepest depths are those of the results. Each number is
  decided by its 95% seed-bootstrap interval (``physai.evidence``: whole seeds
  resampled, the medians and their ratio recomputed): supported only when the
  interval lies inside the range, refuted only when wholly outside. a and b compare
  end-state losses, so they are inconclusive unless every run they use met the
  trainer's convergence criterion; c is not (the excess variation does not count a
  slope or a single valley as roughness, so a centre still descending does not
  read as rough).

Sources
  Li et al. 2018, Fig. 5 (ResNet-20/56/110 with and without skip connections on
  CIFAR-10: the no-shortcut landscapes turn chaotic with depth); He, Zhang, Ren &
  Sun 2016 (CVPR), Fig. 1 (the 56-layer plain net has higher training and test
  error than the 20-layer one: the degradation problem). Both are qualitative for
  what is tested here; the factors of the checks are conventions of this project,
  stated in each hypothesis's source.

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
  ``h <- h + tanh(W h + b) / sqrt(depth)`` after the first layer). Hidden kernels
  are initialised LeCun-normal times a gain of 2 (sigma_w = 2), the chaotic phase
  of deep tanh networks (Poole et al. 2016; Schoenholz et al. 2017), identical for
  plain and residual nets; SGD with momentum 0.9, lr 1e-2, full batch, 1000 steps,
  MSE. After training: the 2D slice above and the top Hessian eigenvalue (Lanczos).
  Why this regime (not in the checks): with ReLU the library's residual MLP
  diverges at depths of 16 and more (the non-negative branch outputs make the
  residual stream drift), and with sigma_w = 1 plain tanh / ReLU nets of depth
  16-32 train as well as shallow ones; so the degradation shown here belongs to the
  chaotic-initialisation regime, which is stated, not hidden.

Known limitation
  Trainability is not monotone in depth here: chaotic plain nets of intermediate
  depth fit the training set *better* than shallow ones (they memorise), and their
  training loss rises only at the deepest depth of the grid. The trainability
  check compares the deepest with the shallowest depth, so its verdict depends on
  the deepest depth of the preset (48); with a deepest depth of 16 or 32 it is
  refuted.

Run
  physai demo residual_landscape                    # depth 2 and 48, ~30 s on 2 CPU cores
  physai verify residual_landscape --preset paper   # depths 2-48, 3 seeds, ~3 min
  physai verify residual_landscape --preset tiny    # seconds; for tests only

Full-scale values of the paper: CIFAR-10 ResNets of 20-110 layers, 51 x 51 slices
on the full training set.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pandas as pd

import physai
from physai import (
    Experiment,
    Hypothesis,
    Preset,
    Results,
    ShardResult,
    Source,
    Verdict,
    all_of,
    curricula,
    models,
    product,
)
from physai import train as trainer
from physai.domains import POSITIVE, Domain
from physai.evidence import bootstrap_verdict, unless_converged
from physai.probes.hessian import top_eigenvalue_lanczos
from physai.probes.landscape import filter_normalized_direction, loss_slice_2d

SLICE_POINTS = 31
SLICE_RADIUS = 1.0
DEGRADE = 3.0  # plain: deepest / shallowest >= 3
STABLE = 1.5  # residual: deepest / shallowest <= 1.5
MIN_ROUGHNESS = 0.05
ROUGHNESS_RATIO = 3.0
# Smooth slices give roughness ~1e-17 (rounding); the ratio's denominator is floored here so
# the ratio stays a readable number. Below this a slice is smooth for every purpose here.
ROUGHNESS_FLOOR = 1e-3
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


# ----------------------------------------------------------------------------- checks


def _values(results: Results, value: str) -> pd.DataFrame:
    """The columns a check resamples: ``seed, residual, depth, status, v`` (``v`` is
    ``value``, +inf for a run that did not finish ok)."""
    t = results.trials
    if t.empty or value not in t.columns:
        return pd.DataFrame(columns=["seed", "residual", "depth", "status", "v"])
    out = t[["seed", "residual", "depth", "status"]].copy()
    out["v"] = t[value].where(t["status"] == "ok", math.inf).to_numpy(float)
    return out


def _median_at(table: pd.DataFrame, depth: int) -> float:
    v = table["v"].to_numpy(float)[table["depth"].to_numpy() == depth]
    return float(np.median(v)) if v.size else math.nan


def depth_ratio(deep: int, shallow: int):
    """Returns: table -> median ``v`` over seeds at ``deep`` / at ``shallow``. A diverged run
    is an infinite loss; an infinite ratio is written as the largest float so it stays a number."""

    def statistic(table: pd.DataFrame) -> float:
        with np.errstate(all="ignore"):
            ratio = np.float64(_median_at(table, deep)) / np.float64(_median_at(table, shallow))
        return float(np.nan_to_num(ratio, nan=math.nan, posinf=np.finfo(float).max))

    return statistic


def _degradation(results: Results, value: str, what: str) -> Verdict:
    # Wrapped with unless_converged: the hypothesis compares end-state losses across depths.
    table = _values(results, value)
    parts = []
    for residual, expected in ((False, (DEGRADE, math.inf)), (True, (0.0, STABLE))):
        rows = table[table["residual"] == residual]
        name = "residual" if residual else "plain"
        depths = sorted(rows["depth"].unique())
        if len(depths) < 2:
            parts.append(Verdict("inconclusive", math.nan, "", "needs two depths", name))
            continue
        shallow, deep = int(depths[0]), int(depths[-1])
        used = rows[rows["depth"].isin([shallow, deep])]

        def decide(kept: pd.DataFrame, expected=expected, name=name, deep=deep, shallow=shallow) -> Verdict:
            return bootstrap_verdict(
                kept[["seed", "depth", "v"]],
                depth_ratio(deep, shallow),
                *expected,
                "median ratio",
                hypothesis=f"{name} depth {deep}/{shallow}",
            )

        trials = results.trials.loc[used.index]
        ok = trials[trials["status"] == "ok"]

        def recheck(converged: pd.DataFrame, used=used, ok=ok, decide=decide) -> Verdict:
            # the same ratio without the ok runs that had not converged (diverged runs stay: inf)
            return decide(used.drop(index=ok.index.difference(converged.index)))

        parts.append(unless_converged(decide(used), ok, recheck=recheck))
    caveats = "".join(f"; {v.hypothesis}: {v.explanation}" for v in parts if v.explanation)
    return all_of(
        parts,
        f"Median {what} over seeds at the deepest depth / at the shallowest; 95% seed-bootstrap "
        f"interval; needs every run it uses to have converged{caveats}.",
    )


def check_plain_test_loss_degrades(results: Results) -> Verdict:
    """Plain: deepest / shallowest median test loss >= 3; residual: <= 1.5."""
    return _degradation(results, "test_rel_mse", "test MSE / var(y)")


def check_plain_trainability_degrades(results: Results) -> Verdict:
    """Plain: deepest / shallowest median final train loss >= 3; residual: <= 1.5."""
    return _degradation(results, "train_rel_mse", "final train MSE / var(y)")


def _plain_roughness(table: pd.DataFrame) -> float:
    v = table["v"].to_numpy(float)[~table["residual"].to_numpy(bool)]
    return float(np.median(v)) if v.size else math.nan


def _roughness_ratio(table: pd.DataFrame) -> float:
    res = table["v"].to_numpy(float)[table["residual"].to_numpy(bool)]
    return _plain_roughness(table) / max(float(np.median(res)), ROUGHNESS_FLOOR) if res.size else math.nan


def check_plain_rougher(results: Results) -> Verdict:
    """At the deepest depth: plain roughness >= 0.05 and >= 3x residual roughness."""
    # Not wrapped with unless_converged: the claim is about the shape of the landscape, not an
    # end-state loss, and the excess variation is 0 for a line that only falls or forms one
    # valley, so a slice around a point still descending does not read as rough.
    table = _values(results, "roughness")
    if table.empty:
        return Verdict("inconclusive", math.nan, "", "no slices")
    deepest = int(table["depth"].max())
    at = table.loc[table["depth"] == deepest, ["seed", "residual", "v"]]
    if at["residual"].nunique() < 2:
        return Verdict("inconclusive", math.nan, "", "needs plain and residual at the deepest depth")
    res = float(np.median(at.loc[at["residual"].astype(bool), "v"]))
    return all_of(
        [
            bootstrap_verdict(
                at,
                _plain_roughness,
                MIN_ROUGHNESS,
                math.inf,
                "median",
                hypothesis=f"plain roughness (depth {deepest})",
            ),
            bootstrap_verdict(
                at, _roughness_ratio, ROUGHNESS_RATIO, math.inf, "ratio of medians", hypothesis="plain/residual"
            ),
        ],
        f"Excess variation of the 2D log-loss slice, median over seeds, 95% seed-bootstrap "
        f"intervals; residual roughness {res:.3g} (floored at {ROUGHNESS_FLOOR:g} in the ratio).",
    )


LI = "Li, Xu, Taylor, Studer, Goldstein 2018, NeurIPS"
HE = "He, Zhang, Ren, Sun 2016, CVPR"
FACTORS = (
    "A convention of this project, not from the papers: they give no ratio for a depth range of an "
    "MLP, so 'degrades' is made a test by a factor of >= 3 (DEGRADE) for plain nets, and 'does not "
    "degrade' by <= 1.5 (STABLE) for residual nets, leaving a wide gap between the two; the median "
    "over seeds at each depth keeps one bad seed from deciding it, and a diverged run counts as an "
    "infinite loss."
)

HYPOTHESES = (
    Hypothesis(
        "plain_test_loss_degrades",
        "Plain MLPs' test loss grows >= 3x from the shallowest to the deepest net, residual MLPs' stays within 1.5x.",
        "Li et al. 2018 (NeurIPS), Fig. 5; He et al. 2016 (CVPR), Fig. 1 (degradation of deep plain nets)",
        check_plain_test_loss_degrades,
        source=Source(
            paper=f"{HE}; {LI}",
            where="He et al. Fig. 1 (CIFAR-10, 20- vs 56-layer plain nets); Li et al. Fig. 5 (ResNet-20/56/110 "
            "with and without skip connections)",
            statement="Qualitative for the ratio tested here: He et al. Fig. 1, 'the deeper network has higher "
            "training error, and thus test error'; Li et al.: as depth grows, landscapes without skip "
            "connections turn chaotic and highly non-convex, leading to poor training, while skip "
            "connections postpone this transition to much greater depths.",
            tolerance=FACTORS,
        ),
    ),
    Hypothesis(
        "plain_trainability_degrades",
        "Plain MLPs' final training loss grows >= 3x from the shallowest to the deepest "
        "net, residual MLPs' stays within 1.5x.",
        "He et al. 2016 (CVPR), Fig. 1 (deeper plain nets have higher training error)",
        check_plain_trainability_degrades,
        source=Source(
            paper=HE,
            where="Fig. 1 (training error of 20- and 56-layer plain nets on CIFAR-10) and abstract",
            statement="Qualitative for the ratio tested here: 'the deeper network has higher training error' "
            "(the degradation problem); abstract: residual networks 'are easier to optimize, and can gain "
            "accuracy from considerably increased depth'.",
            tolerance=FACTORS,
        ),
    ),
    Hypothesis(
        "plain_rougher_at_depth",
        "At the deepest depth the filter-normalised 2D slice of plain nets is rough "
        "(excess variation >= 0.05) and >= 3x rougher than residual nets'.",
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
            "excess_variation) and means that on average 5% of a grid line's variation is oscillation; the "
            "factor 3 (ROUGHNESS_RATIO) asks that plain slices be clearly rougher than residual ones, with "
            "the residual roughness floored at 1e-3 (ROUGHNESS_FLOOR) so that a smooth residual slice does "
            "not make the ratio infinite.",
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
    "init_gain": 2.0,
    "steps": 1000,
}

PRESETS = {
    "tiny": Preset(
        product(depth=[3], residual=[False, True], lr=[1e-2], seed=[0]),
        {**SETTINGS, "n": 100, "n_test": 100, "width": 8, "steps": 100},
        "seconds; for tests",
    ),
    "demo": Preset(
        product(depth=[2, 48], residual=[False, True], lr=[1e-2], seed=[0, 1]),
        SETTINGS,
        "depth 2 vs 48, plain vs residual, 2 seeds",
    ),
    "paper": Preset(
        product(depth=[2, 4, 8, 16, 32, 48], residual=[False, True], lr=[1e-2], seed=[0, 1, 2]),
        SETTINGS,
        "depths 2-48, plain vs residual, 3 seeds",
    ),
}

# ----------------------------------------------------------------------------- plots


def plot(results: Results) -> dict:
    """The figures (in ``experiments/_residual_landscape_plots.py``, to keep this file short)."""
    from experiments._residual_landscape_plots import plot as draw

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
