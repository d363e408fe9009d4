"""Mode connectivity: are independently trained solutions joined by a low-loss curve?

Question
  Two networks trained from different random initialisations on the same data
  reach different minima. The straight line between them crosses a high-loss
  ridge. Garipov, Izmailov, Podoprikhin, Vetrov & Wilson (2018, NeurIPS, "Loss
  surfaces, mode connectivity, and fast ensembling of DNNs", Fig. 1) and
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
  Each of the three medians is decided by its 95% seed-bootstrap interval (a pair
  is one seed): supported only when the interval lies inside the range. The claim
  is about minima, so the verdict is inconclusive while any endpoint had not met
  the trainer's convergence criterion (``physai.evidence.unless_converged``).

Setup (CPU scale)
  Classification of Gaussian inputs (d = 10) labelled by the argmax of a random
  tanh teacher (16 hidden units, 5 classes), n = 1000 training points. Each pair
  shares one data set (drawn from the pair's seed) and trains two ReLU MLPs (2
  hidden layers of width 32, 1,573 parameters) from different initialisations
  with full-batch Adam (lr 3e-3, 1000 steps) to near-zero training cross-entropy.
  The Bezier control point starts at the midpoint (the straight line) and is
  trained with Adam (lr 1e-2, 500 steps, 8 samples of t per step) to minimise the
  expected loss along the curve (``train_bezier_bend``), as in Garipov et al.

Sources
  Garipov et al. 2018 (NeurIPS), abstract and Fig. 1 (ResNet-164 on CIFAR-100: a
  trained quadratic Bezier curve and a one-bend polygonal chain join two independently
  trained optima at nearly constant train loss), Sec. 1 (the loss is high along the
  straight segment between optima); Draxler et al. 2018 (ICML). The hypothesis's
  ``Source`` gives the statement it tests and why its range is what it is.

Run
  physai demo mode_connectivity                     # 4 pairs (~15 s on 2 CPU cores)
  physai verify mode_connectivity --preset paper    # 12 pairs (~1 min on 2 CPU cores)
  physai verify mode_connectivity --preset tiny     # seconds; for tests only

Full-scale values of the paper: CIFAR-10/100 ResNets, VGGs and Wide ResNets (10^6-10^7
parameters), curves trained for hundreds of epochs.
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
from physai.domains import POSITIVE, POSITIVE_INT
from physai.evidence import bootstrap_verdict, unless_converged
from physai.probes.landscape import bezier_path_losses, linear_path_losses, path_barrier, train_bezier_bend

MAX_RATIO = 0.10  # Bezier barrier / linear barrier, median over pairs
MIN_LINEAR_BARRIER = 0.1  # nats: "clearly above zero"
MIN_BARRIER_OVER_ENDPOINT = 10.0  # and >= 10x the mean endpoint loss
PATH_POINTS = 41

# ----------------------------------------------------------------------------- run


@dataclass(frozen=True)
class Static(physai.Static):
    d: int
    n: int
    n_test: int
    classes: int
    teacher_width: int
    width: int
    depth: int
    steps: int
    bezier_steps: int
    bezier_lr: float


ENDPOINTS = ("a", "b")


def make_task(st: Static) -> trainer.Task:
    """One trial trains one pair: both endpoints side by side (``params = {"a": ..., "b": ...}``,
    each with its own Adam state and its own loss term), then its probe trains the Bezier
    bend between them and measures the loss along both paths.

    The pair's ``seed`` draws the data set (``key(seed)``); the endpoints are initialised
    as the trials of seeds ``2 * seed`` and ``2 * seed + 1`` would be.
    """
    model = models.MLP(width=st.width, depth=st.depth, out=st.classes, activation="relu")
    ts = jnp.linspace(0.0, 1.0, PATH_POINTS)

    def cross_entropy(params, x, y):
        logits = model.apply({"params": params}, x)
        return optax.softmax_cross_entropy_with_integer_labels(logits, y).mean()

    def data(key, hp):  # both endpoints of a pair see the same data, keyed by the pair's seed
        return curricula.teacher_student_classification(
            jax.random.key(hp["seed"]), st.n, st.n_test, st.d, st.teacher_width, st.classes
        )

    def init(key, hp):
        return {
            e: models.init_mlp(model, trainer.trial_keys(2 * hp["seed"] + j)["init"], st.d)
            for j, e in enumerate(ENDPOINTS)
        }

    def loss(params, batch, hp):
        return sum(cross_entropy(params[e], batch["x_train"], batch["y_train"]) for e in ENDPOINTS)

    def metrics(params, dat, hp):
        out = {}
        for e in ENDPOINTS:
            out[f"train_loss_{e}"] = cross_entropy(params[e], dat["x_train"], dat["y_train"])
            out[f"test_loss_{e}"] = cross_entropy(params[e], dat["x_test"], dat["y_test"])
        return out

    def probe(key, params, dat, hp):  # the bend's t-samples keep their own stream, fold_in(key(seed), 1)
        train_loss = lambda p: cross_entropy(p, dat["x_train"], dat["y_train"])
        test_loss = lambda p: cross_entropy(p, dat["x_test"], dat["y_test"])
        a, b = params["a"], params["b"]
        theta, _ = train_bezier_bend(
            train_loss, a, b, st.bezier_steps, st.bezier_lr, jax.random.fold_in(jax.random.key(hp["seed"]), 1)
        )
        return {
            "linear_train": linear_path_losses(train_loss, a, b, ts),
            "bezier_train": bezier_path_losses(train_loss, a, theta, b, ts),
            "linear_test": linear_path_losses(test_loss, a, b, ts),
            "bezier_test": bezier_path_losses(test_loss, a, theta, b, ts),
        }

    return trainer.Task(data, init, loss, metrics, lambda hp: optax.adam(hp["lr"]), probe=probe)


PATHS = ("linear_train", "bezier_train", "linear_test", "bezier_test")


def barriers(out: dict) -> dict:
    """Args: out: ``{path: (PATH_POINTS,) losses}`` of one pair. Returns: its barrier columns."""
    lin, bez = path_barrier(out["linear_train"]), path_barrier(out["bezier_train"])
    return {
        "endpoint_loss": float(0.5 * (out["linear_train"][0] + out["linear_train"][-1])),
        "endpoint_test_loss": float(0.5 * (out["linear_test"][0] + out["linear_test"][-1])),
        "linear_barrier": float(lin),
        "bezier_barrier": float(bez),
        "barrier_ratio": float(bez / lin) if lin > 0 else math.nan,
        "linear_test_barrier": float(path_barrier(out["linear_test"])),
        "bezier_test_barrier": float(path_barrier(out["bezier_test"])),
    }


def run(shard) -> ShardResult:
    """Trains both endpoints of every pair, then the paths of each pair (one compiled program).

    A trial is one pair: its ``seed`` draws the data set; the endpoints are
    initialised from seeds ``2 * seed`` and ``2 * seed + 1``.
    """
    st = shard.static
    frames = []

    def pair(i, trial, result):
        if result.diverged[i]:
            return {}
        out = {k: np.asarray(result.final[k][i], float) for k in PATHS}
        for name, values in out.items():
            path, split = name.split("_")
            frames.append(
                pd.DataFrame(
                    {
                        "trial_id": trial.trial_id,
                        "step": np.arange(PATH_POINTS),
                        "split": split,
                        "metric": f"{path}_path_loss",
                        "value": values,
                    }
                )
            )
        return barriers(out)

    res = trainer.run_shard(
        make_task(st), shard, ("seed", "lr"), steps=st.steps, log_every=max(1, st.steps // 10), columns=(), extra=pair
    )
    # Curves: the training curves of the endpoints are summarised in the rows; the stored
    # curves are the loss profiles along the paths ("step" = index of t on the grid).
    res.curves = pd.concat(frames, ignore_index=True) if frames else None
    return res


# ----------------------------------------------------------------------------- checks


def _median(column: str):
    def statistic(table: pd.DataFrame) -> float:
        return float(np.median(table[column].to_numpy(float)))

    return statistic


def check_bezier_removes_barrier(results: Results) -> Verdict:
    """Median over pairs of the Bezier/linear barrier ratio <= 0.1, median linear barrier
    >= 0.1 nats and median linear barrier / endpoint loss >= 10; each part decided by the
    95% seed-bootstrap interval of its median (a pair is one seed)."""
    ok = results.ok
    if ok.empty or "linear_barrier" not in ok.columns:
        return Verdict("inconclusive", math.nan, f"<= {MAX_RATIO:g}", "no stored pairs")

    def decide(ok: pd.DataFrame) -> Verdict:
        table = pd.DataFrame(
            {
                "seed": ok["seed"].to_numpy(),
                "ratio": ok["barrier_ratio"].to_numpy(float),
                "linear": ok["linear_barrier"].to_numpy(float),
                "relative": (ok["linear_barrier"] / ok["endpoint_loss"].clip(lower=1e-12)).to_numpy(float),
            }
        )
        return all_of(
            [
                bootstrap_verdict(table, _median("ratio"), 0.0, MAX_RATIO, "median ratio", hypothesis="bezier/linear"),
                bootstrap_verdict(
                    table,
                    _median("linear"),
                    MIN_LINEAR_BARRIER,
                    math.inf,
                    "median barrier",
                    hypothesis="linear barrier",
                ),
                bootstrap_verdict(
                    table,
                    _median("relative"),
                    MIN_BARRIER_OVER_ENDPOINT,
                    math.inf,
                    "median ratio",
                    hypothesis="linear barrier/endpoint loss",
                ),
            ],
            f"Medians over {len(ok)} pairs of train-loss barriers (max along the path minus the mean endpoint "
            "loss); 95% seed-bootstrap intervals",
        )

    # The claim is about minima joined by a curve: it rests on the endpoints having reached
    # the end of their training, or on the verdict being the same without those that had not.
    return unless_converged(decide(ok), ok, recheck=decide)


HYPOTHESES = (
    Hypothesis(
        "bezier_removes_barrier",
        "The trained quadratic Bezier path between two independently trained MLPs has a "
        "barrier <= 10% of the straight line's (median over pairs), while the straight "
        "line's barrier is clearly above zero.",
        "Garipov et al. 2018 (NeurIPS), Fig. 1; Draxler et al. 2018 (ICML)",
        check_bezier_removes_barrier,
        source=Source(
            "Garipov, Izmailov, Podoprikhin, Vetrov, Wilson 2018, NeurIPS",
            "abstract; Sec. 1; Fig. 1",
            "qualitative: optima of independently trained networks are joined by simple curves "
            "(a trained quadratic Bezier curve, a one-bend polygonal chain) over which train loss "
            "and accuracy are nearly constant, while the loss is high along the straight segment "
            "between them; the paper gives no ratio of barriers",
            f"a convention of this project, not from the paper: a Bezier barrier <= {MAX_RATIO:.0%} "
            f"of the straight line's stands for 'nearly constant'; a linear barrier >= "
            f"{MIN_LINEAR_BARRIER:g} nats and >= {MIN_BARRIER_OVER_ENDPOINT:g}x the mean endpoint "
            "loss stands for 'high along the segment', so that a ratio of two negligible barriers "
            "cannot pass",
        ),
    ),
)

# ----------------------------------------------------------------------------- presets

SETTINGS = {
    "d": 10,
    "n": 1000,
    "n_test": 1000,
    "classes": 5,
    "teacher_width": 16,
    "width": 32,
    "depth": 2,
    "steps": 1000,
    "bezier_steps": 500,
    "bezier_lr": 1e-2,
}

PRESETS = {
    "tiny": Preset(
        product(lr=[3e-3], seed=[0, 1]),
        {**SETTINGS, "n": 200, "n_test": 200, "width": 16, "steps": 200, "bezier_steps": 50},
        "seconds; for tests",
    ),
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
    for metric, label, color in (
        ("linear_path_loss", "straight line", "C3"),
        ("bezier_path_loss", "trained Bezier curve", "C0"),
    ):
        part = c[(c["metric"] == metric) & (c["split"] == "train")]
        for k, (_, g) in enumerate(part.groupby("trial_id")):
            g = g.sort_values("step")
            axes[0].plot(
                t_grid[g["step"].to_numpy()], g["value"], color=color, lw=1, alpha=0.6, label=label if k == 0 else None
            )
    axes[0].set_yscale("log")
    axes[0].set(
        xlabel="t (position along the path)",
        ylabel="train cross-entropy",
        title=f"Paths between {len(ok)} pairs of independent solutions",
    )
    axes[0].legend(fontsize=8)
    axes[1].scatter(ok["linear_barrier"], ok["bezier_barrier"], color="C0")
    lim = np.array([0.0, float(ok["linear_barrier"].max()) * 1.1])
    axes[1].plot(lim, MAX_RATIO * lim, color="black", ls="--", lw=1, label=f"Bezier = {MAX_RATIO:g} x linear")
    axes[1].set(xlabel="linear barrier (train loss)", ylabel="Bezier barrier (train loss)", title="Barriers per pair")
    axes[1].legend(fontsize=8)
    fig.tight_layout()
    return {"paths": fig}


# Allowed values of this experiment's own parameters (physai.domains.COMMON has the shared ones).
DOMAINS = {"bezier_steps": POSITIVE_INT, "bezier_lr": POSITIVE}

EXPERIMENT = Experiment(
    name="mode_connectivity",
    question="Are independently trained MLP solutions joined by a trained quadratic Bezier "
    "curve of (almost) no barrier, while the straight line between them has one?",
    hypotheses=HYPOTHESES,
    presets=PRESETS,
    run=run,
    plot=plot,
    static=Static,
    max_shard_size=16,
    domains=DOMAINS,
    doc=__doc__,
)
