"""Residual vs plain deep MLPs: do skip connections keep the loss landscape smooth with depth?

Question
  Li, Xu, Taylor, Studer & Goldstein (2018, NeurIPS, "Visualizing the loss
  landscape of neural nets", Fig. 5) showed filter-normalised 2D slices of the
  loss around trained networks: without skip connections the surface turns
  chaotic ("very spiky") as depth grows and the nets degrade; with them it stays
  a smooth bowl (seed 003: residual connections turn a "very spiky" surface into
  "a very smooth loss curve"). Balduzzi et al. (2017, ICML, "The shattered
  gradients problem") traced this to plain deep nets' gradients decorrelating
  with depth, which residual branches prevent.

Hypotheses, in words
  a. plain_test_loss_degrades: the median test loss (relative to the target
     variance) of plain nets at the deepest depth is >= 3x that of the shallowest
     plain net, while residual nets at the deepest depth stay <= 1.5x their
     shallowest.
  b. plain_trainability_degrades: the same for the final *training* loss (the
     issue's "trainability"): plain deepest >= 3x plain shallowest, residual
     deepest <= 1.5x residual shallowest.
  c. plain_rougher_at_depth: at the deepest depth the roughness of the 2D slice
     (median over seeds) of plain nets is >= 0.05 and >= 3x that of residual nets.

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
  Measured while choosing the setup (not in the checks): with ReLU the library's
  residual MLP diverged at depth >= 16 (the non-negative branch outputs make the
  residual stream drift), and with sigma_w = 1 plain tanh / ReLU nets of depth 16-32
  trained as well as shallow ones; so the degradation shown here belongs to the
  chaotic-initialisation regime, which is stated, not hidden.

Anchor
  Li et al. 2018, Fig. 5 (ResNet-20/56/110 with and without shortcuts on
  CIFAR-10: the no-shortcut landscapes become chaotic from depth 56; test error
  grows from 8.2% (ResNet-56) to 13.3% (ResNet-56-noshort)); seed 003.

Run
  physai demo residual_landscape                    # depth 2 and 48
  physai verify residual_landscape --preset paper   # depths 2-48, 3 seeds
  physai verify residual_landscape --preset tiny    # seconds; for tests only

Full-scale values of the paper: CIFAR-10 ResNets of 20-110 layers, 51 x 51 slices
on the full training set.

Results (2026-11-22, 2 CPU cores shared with other jobs; CPU = user + sys)
  demo (depth 2 vs 48, 2 seeds): all 3 supported; plain test loss 48/2 = 11.6x,
    residual 1.36x; plain train loss 48/2 = 8.6x, residual 0.81x; roughness at
    depth 48: plain 0.54, residual ~3e-17. 31 s wall, 31 s CPU (load 3).
  paper (depths 2, 4, 8, 16, 32, 48; 3 seeds): all 3 supported; plain test loss 48/2
    = 9.7x (it already rises from depth 4: 0.11, 0.22, 0.63, 1.6, 1.7, 1.0), residual
    1.43x (0.086 -> 0.121); roughness of plain slices grows steadily with depth
    (0, 0.002, 0.08, 0.23, 0.36, 0.52), residual stays <= 0.014; top Hessian
    eigenvalue of plain nets 8 -> 150-380, residual 12 -> 15-21.
    Trainability is NOT monotone: plain nets fit the training set *better* than
    shallow ones at depths 8-32 (median 3e-3, 1e-5, 4e-4 vs 0.059 at depth 2: chaotic
    deep nets memorise), and only at depth 48 does their training loss collapse
    (0.12-0.86, 9.8x depth 2). The trainability check (deepest vs shallowest) holds
    because the deepest depth is 48; at a deepest depth of 16 or 32 it is refuted
    (measured in the demo with depths 2 and 16: plain 16/2 = 3.5e-4). 452 s wall
    (load 10-15), 176 s CPU.
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


HYPOTHESES = (
    Hypothesis(
        "plain_test_loss_degrades",
        "Plain MLPs' test loss grows >= 3x from the shallowest to the deepest net, residual MLPs' stays within 1.5x.",
        "Li et al. 2018 (NeurIPS), Fig. 5 and Table 1 (ResNet-56 vs -noshort: 8.2% vs "
        "13.3% test error); He et al. 2016 (degradation)",
        check_plain_test_loss_degrades,
    ),
    Hypothesis(
        "plain_trainability_degrades",
        "Plain MLPs' final training loss grows >= 3x from the shallowest to the deepest "
        "net, residual MLPs' stays within 1.5x.",
        "He et al. 2016 (CVPR), Fig. 1 (deeper plain nets have higher training error)",
        check_plain_trainability_degrades,
    ),
    Hypothesis(
        "plain_rougher_at_depth",
        "At the deepest depth the filter-normalised 2D slice of plain nets is rough "
        "(excess variation >= 0.05) and >= 3x rougher than residual nets'.",
        "Li et al. 2018, Fig. 5; seed 003 ('very spiky' vs 'very smooth')",
        check_plain_rougher,
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
