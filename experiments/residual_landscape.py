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
    verdict_in_range,
)
from physai import train as trainer
from physai.domains import POSITIVE, Domain
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


def depth_table(results: Results, value: str) -> pd.DataFrame:
    """Median of ``value`` over seeds per (residual, depth); a diverged run counts as +inf.

    Args:
      results: stored tables.
      value: a trial metric (``test_rel_mse``, ``roughness``, ...).

    Returns:
      DataFrame ``residual, depth, median`` sorted by residual then depth.
    """
    t = results.trials
    if t.empty or value not in t.columns:
        return pd.DataFrame(columns=["residual", "depth", "median"])
    vals = t[value].where(t["status"] == "ok", math.inf)
    out = t.assign(v=vals).groupby(["residual", "depth"])["v"].median().rename("median").reset_index()
    return out.sort_values(["residual", "depth"]).reset_index(drop=True)


def _degradation(results: Results, value: str, what: str) -> Verdict:
    table = depth_table(results, value)
    parts = []
    for residual, expected in ((False, (DEGRADE, math.inf)), (True, (0.0, STABLE))):
        rows = table[table["residual"] == residual]
        name = "residual" if residual else "plain"
        if len(rows) < 2:
            parts.append(Verdict("inconclusive", math.nan, "", "", name))
            continue
        ratio = float(rows["median"].iloc[-1] / rows["median"].iloc[0])
        v = verdict_in_range(ratio, *expected)
        parts.append(
            Verdict(
                v.status,
                v.measured,
                v.expected,
                "",
                f"{name} depth {int(rows['depth'].iloc[-1])}/{int(rows['depth'].iloc[0])}",
            )
        )
    return all_of(parts, f"Median {what} over seeds at the deepest depth / at the shallowest.")


def check_plain_test_loss_degrades(results: Results) -> Verdict:
    """Plain: deepest / shallowest median test loss >= 3; residual: <= 1.5."""
    return _degradation(results, "test_rel_mse", "test MSE / var(y)")


def check_plain_trainability_degrades(results: Results) -> Verdict:
    """Plain: deepest / shallowest median final train loss >= 3; residual: <= 1.5."""
    return _degradation(results, "train_rel_mse", "final train MSE / var(y)")


def check_plain_rougher(results: Results) -> Verdict:
    """At the deepest depth: plain roughness >= 0.05 and >= 3x residual roughness."""
    table = depth_table(results, "roughness")
    if table.empty:
        return Verdict("inconclusive", math.nan, "", "no slices")
    deepest = int(table["depth"].max())
    at = table[table["depth"] == deepest].set_index("residual")["median"]
    if False not in at.index or True not in at.index:
        return Verdict("inconclusive", math.nan, "", "needs plain and residual at the deepest depth")
    plain, res = float(at.loc[False]), float(at.loc[True])
    absolute = verdict_in_range(plain, MIN_ROUGHNESS, math.inf)
    ratio = verdict_in_range(plain / max(res, ROUGHNESS_FLOOR), ROUGHNESS_RATIO, math.inf)
    return all_of(
        [
            Verdict(absolute.status, absolute.measured, absolute.expected, "", f"plain roughness (depth {deepest})"),
            Verdict(ratio.status, ratio.measured, ratio.expected, "", "plain/residual"),
        ],
        f"Excess variation of the 2D log-loss slice, median over seeds; residual "
        f"roughness {res:.3g} (floored at {ROUGHNESS_FLOOR:g} in the ratio).",
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
    """Contours of the 2D slices side by side (plain | residual, shallowest / deepest);
    test and train loss and roughness against depth."""
    from analysis import plots

    ok = results.ok
    if ok.empty:
        return {}
    figures = {}
    slices = results.curves[results.curves["metric"] == "slice_loss"]
    depths = sorted(ok["depth"].unique())
    shown = [depths[0], depths[-1]] if len(depths) > 1 else depths
    if not slices.empty:
        fig, axes = plots.figure(ncols=2, nrows=len(shown), width=4.2, height=3.8, squeeze=False)
        grid = np.linspace(-SLICE_RADIUS, SLICE_RADIUS, SLICE_POINTS)
        for r, depth in enumerate(shown):
            for c, residual in enumerate((False, True)):
                ax = axes[r][c]
                pick = ok[(ok["depth"] == depth) & (ok["residual"] == residual)]
                if pick.empty:
                    ax.set_axis_off()
                    continue
                first = pick.sort_values("seed").iloc[0]
                s = slices[slices["trial_id"] == first["trial_id"]].sort_values("step")
                if len(s) != SLICE_POINTS**2:
                    ax.set_axis_off()
                    continue
                z = np.log10(s["value"].to_numpy().reshape(SLICE_POINTS, SLICE_POINTS))
                cs = ax.contourf(grid, grid, z.T, levels=25, cmap="viridis")
                fig.colorbar(cs, ax=ax, label="log10 train MSE")
                ax.set_title(
                    f"{'residual' if residual else 'plain'}, depth {depth}\nroughness {first['roughness']:.3f}",
                    fontsize=10,
                )
                ax.set(xlabel="alpha (direction 1)", ylabel="beta (direction 2)")
                ax.set_aspect("equal")
        fig.tight_layout()
        figures["slices"] = fig

    fig, axes = plots.figure(ncols=3, width=4.2, height=3.6)
    for k, (value, label) in enumerate(
        (
            ("test_rel_mse", "test MSE / var(y)"),
            ("train_rel_mse", "train MSE / var(y)"),
            ("roughness", "slice roughness (excess variation)"),
        )
    ):
        table = depth_table(results, value)
        for residual, g in table.groupby("residual"):
            axes[k].plot(g["depth"], g["median"], marker="o", label="residual" if residual else "plain")
        if value != "roughness":
            axes[k].set_yscale("log")
        axes[k].set(xlabel="depth (hidden layers)", ylabel=f"{label}, median over seeds")
        axes[k].legend(fontsize=8)
    fig.tight_layout()
    figures["depth"] = fig
    return figures


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
