"""Mode connectivity: are independently trained solutions joined by a low-loss curve?

Question
  Two networks trained from different random initialisations on the same data
  reach different minima. The straight line between them crosses a high-loss
  ridge. Garipov, Izmailov, Podoprikhin, Vetrov & Wilson (2018, NeurIPS, "Loss
  surfaces, mode connectivity, and fast ensembling of DNNs", Fig. 1, Table 1) and
  Draxler, Veschgini, Salmhofer & Hamprecht (2018, ICML) found that a simple
  curve, a quadratic Bezier curve with one trained control point, joins them at
  (almost) the endpoints' loss: the minima are one connected valley.

Hypothesis, in words
  bezier_removes_barrier: for independently trained pairs of MLPs, the barrier of
  the trained Bezier curve is <= 10% of the barrier of the straight line (median
  over pairs of the per-pair ratio), while the straight line has a clear barrier
  (median linear barrier >= 0.1 nats of training cross-entropy, and >= 10x the
  mean endpoint loss).
  Barrier = max of the training loss along the path minus the mean of the two
  endpoint losses (``physai.probes.landscape.path_barrier``), evaluated on 41
  evenly spaced points of ``t`` in [0, 1].

Setup (CPU scale)
  Classification of Gaussian inputs (d = 10) labelled by the argmax of a random
  tanh teacher (16 hidden units, 5 classes), n = 1000 training points. Each pair
  shares one data set (drawn from the pair's seed) and trains two ReLU MLPs (2
  hidden layers of width 32, 1,573 parameters) from different initialisations
  with full-batch Adam (lr 3e-3, 1000 steps) to near-zero training cross-entropy.
  The Bezier control point starts at the midpoint (the straight line) and is
  trained with Adam (lr 1e-2, 500 steps, 8 samples of t per step) to minimise the
  expected loss along the curve (``train_bezier_bend``), as in Garipov et al.

Anchor
  Garipov et al. 2018, Fig. 1 and Table 1 (ResNet-164 / VGG-16 on CIFAR: the
  Bezier curve's train loss stays near the endpoints' while the segment's rises
  to chance); ANCHORS.md "Loss landscapes": Bezier barrier <= 10% of linear.

Run
  physai demo mode_connectivity                     # 4 pairs
  physai verify mode_connectivity --preset paper    # 12 pairs
  physai verify mode_connectivity --preset tiny     # seconds; for tests only

Full-scale values of the paper: CIFAR-10/100 ResNets and VGGs (10^6-10^7
parameters), 600 training epochs for the curve, 61 points of t.

Results (2026-11-22, 2 CPU cores shared with other jobs; CPU = user + sys)
  demo (4 pairs): supported; median Bezier/linear 0.014, linear barrier 1.22 nats
    (1270x the endpoint loss). 114 s wall at load 12 (18 s CPU); re-timed at
    load 3: 11 s wall, 11 s CPU.
  paper (12 pairs): supported; Bezier/linear median 0.0094 (range 0.006-0.016);
    linear barrier median 1.36 nats (1.03-1.80) against endpoint losses ~1e-3;
    on the test set the Bezier curve also removes most of the barrier (median 0.056
    vs 0.51 nats). 71 s wall, 20 s CPU.
"""
from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pandas as pd

from physai import (Experiment, Hypothesis, Preset, Results, ShardResult, Verdict, all_of, product,
                    verdict_in_range)
from physai import curricula, models
from physai import train as trainer
from physai.probes.landscape import (bezier_path_losses, linear_path_losses, path_barrier,
                                     train_bezier_bend)

MAX_RATIO = 0.10         # Bezier barrier / linear barrier, median over pairs
MIN_LINEAR_BARRIER = 0.1  # nats: "clearly above zero"
MIN_BARRIER_OVER_ENDPOINT = 10.0  # and >= 10x the mean endpoint loss
PATH_POINTS = 41

# ----------------------------------------------------------------------------- run


def _pieces(st):
    d, n, n_test = int(st["d"]), int(st["n"]), int(st["n_test"])
    classes, teacher_width = int(st["classes"]), int(st["teacher_width"])
    model = models.MLP(width=int(st["width"]), depth=int(st["depth"]), out=classes,
                       activation="relu")

    def dataset(data_seed):
        return curricula.teacher_student_classification(
            jax.random.key(data_seed), n, n_test, d, teacher_width, classes)

    def cross_entropy(params, x, y):
        logits = model.apply({"params": params}, x)
        return optax.softmax_cross_entropy_with_integer_labels(logits, y).mean()

    return model, dataset, cross_entropy


def run(shard) -> ShardResult:
    """Trains both endpoints of every pair (one trainer call), then the paths of each pair.

    A trial is one pair: its ``seed`` draws the data set; the endpoints are
    initialised from seeds ``2 * seed`` and ``2 * seed + 1``.
    """
    st = shard.static
    model, dataset, cross_entropy = _pieces(st)
    d = int(st["d"])

    def data(key, hp):  # both endpoints of a pair see the same data: keyed by the pair
        return dataset(hp["data_seed"])

    def init(key, hp):
        return models.init_mlp(model, key, d)

    def loss(params, batch, hp):
        return cross_entropy(params, batch["x_train"], batch["y_train"])

    def metrics(params, dat, hp):
        return {"train_loss": loss(params, dat, hp),
                "test_loss": cross_entropy(params, dat["x_test"], dat["y_test"])}

    task = trainer.Task(data, init, loss, metrics, lambda hp: optax.adam(hp["lr"]))
    pair_seeds = [int(s) for s in shard.column("seed")]
    hp = {"seed": [2 * s + e for s in pair_seeds for e in (0, 1)],
          "data_seed": [s for s in pair_seeds for _ in (0, 1)],
          "lr": [float(lr) for lr in shard.column("lr") for _ in (0, 1)]}
    steps = int(st["steps"])
    result = trainer.train(task, hp, steps=steps, log_every=max(1, steps // 10),
                           strategy=shard.strategy, return_params=True)
    ts = jnp.linspace(0.0, 1.0, PATH_POINTS)
    bezier_steps, bezier_lr = int(st["bezier_steps"]), float(st["bezier_lr"])

    @jax.jit
    def paths(params_a, params_b, data_seed):
        dat = dataset(data_seed)
        train_loss = lambda p: cross_entropy(p, dat["x_train"], dat["y_train"])
        test_loss = lambda p: cross_entropy(p, dat["x_test"], dat["y_test"])
        theta, _ = train_bezier_bend(train_loss, params_a, params_b, bezier_steps, bezier_lr,
                                     jax.random.fold_in(jax.random.key(data_seed), 1))
        return {"linear_train": linear_path_losses(train_loss, params_a, params_b, ts),
                "bezier_train": bezier_path_losses(train_loss, params_a, theta, params_b, ts),
                "linear_test": linear_path_losses(test_loss, params_a, params_b, ts),
                "bezier_test": bezier_path_losses(test_loss, params_a, theta, params_b, ts)}

    rows, frames = [], []
    for i, t in enumerate(shard.trials):
        a, b = 2 * i, 2 * i + 1
        if result.diverged[a] or result.diverged[b]:
            rows.append({"status": "diverged"})
            continue
        take = lambda k: jax.tree.map(lambda x: x[k], result.params)
        out = {k: np.asarray(v, float) for k, v in
               jax.device_get(paths(take(a), take(b), pair_seeds[i])).items()}
        lin, bez = path_barrier(out["linear_train"]), path_barrier(out["bezier_train"])
        rows.append({
            "endpoint_loss": float(0.5 * (out["linear_train"][0] + out["linear_train"][-1])),
            "endpoint_test_loss": float(0.5 * (out["linear_test"][0] + out["linear_test"][-1])),
            "linear_barrier": float(lin), "bezier_barrier": float(bez),
            "barrier_ratio": float(bez / lin) if lin > 0 else math.nan,
            "linear_test_barrier": float(path_barrier(out["linear_test"])),
            "bezier_test_barrier": float(path_barrier(out["bezier_test"]))})
        for name, values in out.items():
            path, split = name.split("_")
            frames.append(pd.DataFrame({"trial_id": t.trial_id, "step": np.arange(PATH_POINTS),
                                        "split": split, "metric": f"{path}_path_loss",
                                        "value": values}))
    # Curves: the training curves of the endpoints are summarised in the rows; the stored
    # curves are the loss profiles along the paths ("step" = index of t on the grid).
    curves = pd.concat(frames, ignore_index=True) if frames else None
    return ShardResult(rows, curves)


STATIC_KEYS = ("d", "n", "n_test", "classes", "teacher_width", "width", "depth", "steps",
               "bezier_steps", "bezier_lr")

# ----------------------------------------------------------------------------- checks


def check_bezier_removes_barrier(results: Results) -> Verdict:
    """Median Bezier/linear ratio <= 0.1 and a clear linear barrier (median over pairs)."""
    ok = results.ok
    if ok.empty or "linear_barrier" not in ok.columns:
        return Verdict("inconclusive", math.nan, f"<= {MAX_RATIO:g}", "no stored pairs")
    ratio = verdict_in_range(float(ok["barrier_ratio"].median()), 0.0, MAX_RATIO)
    linear = verdict_in_range(float(ok["linear_barrier"].median()), MIN_LINEAR_BARRIER, math.inf)
    rel = float((ok["linear_barrier"] / ok["endpoint_loss"].clip(lower=1e-12)).median())
    relative = verdict_in_range(rel, MIN_BARRIER_OVER_ENDPOINT, math.inf)
    name = lambda v, n: Verdict(v.status, v.measured, v.expected, "", n)
    return all_of([name(ratio, "bezier/linear"), name(linear, "linear barrier"),
                   name(relative, "linear barrier/endpoint loss")],
                  f"Medians over {len(ok)} pairs of train-loss barriers (max along the path "
                  "minus the mean endpoint loss).")


HYPOTHESES = (
    Hypothesis("bezier_removes_barrier",
               "The trained quadratic Bezier path between two independently trained MLPs has a "
               "barrier <= 10% of the straight line's (median over pairs), while the straight "
               "line's barrier is clearly above zero.",
               "Garipov et al. 2018 (NeurIPS), Fig. 1 / Table 1; Draxler et al. 2018 (ICML)",
               check_bezier_removes_barrier),
)

# ----------------------------------------------------------------------------- presets

SETTINGS = {"d": 10, "n": 1000, "n_test": 1000, "classes": 5, "teacher_width": 16, "width": 32,
            "depth": 2, "steps": 1000, "bezier_steps": 500, "bezier_lr": 1e-2}

PRESETS = {
    "tiny": Preset(product(lr=[3e-3], seed=[0, 1]),
                   {**SETTINGS, "n": 200, "n_test": 200, "width": 16, "steps": 200,
                    "bezier_steps": 50},
                   "seconds; for tests"),
    "demo": Preset(product(lr=[3e-3], seed=list(range(4))), SETTINGS, "4 pairs"),
    "paper": Preset(product(lr=[3e-3], seed=list(range(12))), SETTINGS, "12 pairs"),
}

# ----------------------------------------------------------------------------- plots


def plot(results: Results) -> dict:
    """Train loss along the straight line and the Bezier curve for every pair; barriers."""
    from analysis import plots

    ok = results.ok
    if ok.empty or results.curves.empty:
        return {}
    fig, axes = plots.figure(ncols=2, width=5.2, height=4.0)
    c = results.curves[results.curves["trial_id"].isin(ok["trial_id"])]
    t_grid = np.linspace(0, 1, PATH_POINTS)
    for metric, label, color in (("linear_path_loss", "straight line", "C3"),
                                 ("bezier_path_loss", "trained Bezier curve", "C0")):
        part = c[(c["metric"] == metric) & (c["split"] == "train")]
        for k, (_, g) in enumerate(part.groupby("trial_id")):
            g = g.sort_values("step")
            axes[0].plot(t_grid[g["step"].to_numpy()], g["value"], color=color, lw=1, alpha=0.6,
                         label=label if k == 0 else None)
    axes[0].set_yscale("log")
    axes[0].set(xlabel="t (position along the path)", ylabel="train cross-entropy",
                title=f"Paths between {len(ok)} pairs of independent solutions")
    axes[0].legend(fontsize=8)
    axes[1].scatter(ok["linear_barrier"], ok["bezier_barrier"], color="C0")
    lim = np.array([0.0, float(ok["linear_barrier"].max()) * 1.1])
    axes[1].plot(lim, MAX_RATIO * lim, color="black", ls="--", lw=1,
                 label=f"Bezier = {MAX_RATIO:g} x linear")
    axes[1].set(xlabel="linear barrier (train loss)", ylabel="Bezier barrier (train loss)",
                title="Barriers per pair")
    axes[1].legend(fontsize=8)
    fig.tight_layout()
    return {"paths": fig}


EXPERIMENT = Experiment(
    name="mode_connectivity",
    question="Are independently trained MLP solutions joined by a trained quadratic Bezier "
             "curve of (almost) no barrier, while the straight line between them has one?",
    hypotheses=HYPOTHESES,
    presets=PRESETS,
    run=run,
    plot=plot,
    static=STATIC_KEYS,
    max_shard_size=16,
    doc=__doc__,
)
