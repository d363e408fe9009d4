"""Mode connectivity: are independently trained solutions joined by a low-loss curve?

Question
  Two networks trained from different random initialisations on the same data
  reach different minima. The straight line between them crosses a high-loss
  ridge. Garipov, Izmailov, Podoprikhin, Vetrov & Wilson (2018, NeurIPS, "Loss
  surfaces, mode connectivity, and fast ensembling of DNNs", Fig. 1) and
  Draxler, Veschgini, Salmhofer & Hamprecht (2018, ICML) found that a simple
  curve, a quadratic Bezier curve with one trained control point, joins them at
  (almost) the endpoints' loss: the minima are one connected valley.

Hypotheses, in words
  bezier_removes_barrier: for independently trained pairs of MLPs, the train-loss
  barrier of the trained Bezier curve is <= 10% of the straight line's (median over
  pairs of the per-pair ratio), while the straight line's barrier is high on the one
  scale a cross-entropy has: >= 1/4 of ln(classes), the loss of a uniform guess (of
  an untrained network). The endpoints' own loss is no scale: trained to ~1e-3
  nats, any barrier is many times it.
  curve_keeps_accuracy: as in Garipov et al.'s Fig. 2, along the trained curve the
  test error stays near the endpoints' (a rise of <= 2 binomial standard errors of
  the worse endpoint's test error, i.e. within what resampling the test set could
  produce) and the train error within 1 point in 100, while along the straight line
  the test error climbs >= 1/4 of the way from the worse endpoint's to chance
  (1 - 1/classes).
  Loss barrier = max of the loss along the path minus the mean of the two endpoint
  losses (``physai.probes.landscape.path_barrier``); error barrier = max of the 0-1
  error along the path minus the worse endpoint's (two endpoints of unequal error do
  not make a barrier). Both are evaluated on 41 evenly spaced points of ``t`` in
  [0, 1]. Each median is decided by its 95% seed-bootstrap interval (a pair is one
  seed): supported only when the interval lies inside the range. The claims are
  about minima, so a verdict is inconclusive while it rests on endpoints that had
  not met the trainer's convergence criterion (``physai.evidence.unless_converged``).

Setup (CPU scale)
  Classification of Gaussian inputs (d = 10) labelled by the argmax of a random
  tanh teacher (16 hidden units, 5 classes), n = 1000 training points. Each pair
  shares one data set (drawn from the pair's seed) and trains two ReLU MLPs (2
  hidden layers of width 32, 1,573 parameters) from different initialisations
  with full-batch Adam (lr 3e-3, 1000 steps) to near-zero training cross-entropy.
  The Bezier control point starts at the midpoint (the straight line) and is
  trained with Adam (lr 1e-2, 500 steps, 8 samples of t per step) to minimise the
  expected loss along the curve (``train_bezier_bend``), as in Garipov et al. The
  curve is trained on the training loss only; its test error is measured, never fit.

Sources
  Garipov et al. 2018 (NeurIPS), abstract and Fig. 1 (ResNet-164 on CIFAR-100: a
  trained quadratic Bezier curve and a one-bend polygonal chain join two independently
  trained optima at nearly constant train loss), Fig. 2 (train loss and test error
  along the curves and the segment), Sec. 1 (the loss is high along the straight
  segment between optima); Draxler et al. 2018 (ICML). The hypothesis's
  ``Source`` gives the statement it tests and why its range is what it is.

Run
  physai demo mode_connectivity                     # 4 pairs (~15 s on 2 CPU cores)
  physai verify mode_connectivity --preset paper    # 12 pairs (~1 min on 2 CPU cores)
  physai verify mode_connectivity --preset tiny     # seconds; for tests only

Full-scale values of the paper: CIFAR-10/100 ResNets, VGGs and Wide ResNets (10^6-10^7
parameters), curves trained for hundreds of epochs.
"""

from __future__ import annotations

import functools
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
MIN_BARRIER_OVER_CHANCE = 0.25  # linear barrier >= this x ln(classes), the loss of a uniform guess
MIN_ERROR_RISE = 0.25  # linear test-error barrier >= this x (chance error - worse endpoint's)
MAX_CURVE_TEST_SE = 2.0  # Bezier test-error barrier <= this many binomial s.e. of the endpoint's
MAX_CURVE_TRAIN_ERROR = 0.01  # Bezier train-error barrier: <= 1 training point in 100
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
    bend between them and measures the loss and the 0-1 error, on the training and the
    test set, along both paths.

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

    def error(params, x, y):  # 0-1 error: what Garipov et al. plot along the paths beside the loss
        return jnp.mean(jnp.argmax(model.apply({"params": params}, x), axis=-1) != y)

    def probe(key, params, dat, hp):  # the bend's t-samples keep their own stream, fold_in(key(seed), 1)
        a, b = params["a"], params["b"]
        on = {
            (measure, split): functools.partial(fn, x=dat[f"x_{split}"], y=dat[f"y_{split}"])
            for measure, fn in (("loss", cross_entropy), ("error", error))
            for split in ("train", "test")
        }
        theta, _ = train_bezier_bend(
            on["loss", "train"], a, b, st.bezier_steps, st.bezier_lr, jax.random.fold_in(jax.random.key(hp["seed"]), 1)
        )
        out = {}
        for (measure, split), fn in on.items():
            out[f"linear_{split}_{measure}"] = linear_path_losses(fn, a, b, ts)
            out[f"bezier_{split}_{measure}"] = bezier_path_losses(fn, a, theta, b, ts)
        return out

    return trainer.Task(data, init, loss, metrics, lambda hp: optax.adam(hp["lr"]), probe=probe)


PATHS = tuple(
    f"{path}_{split}_{measure}"
    for path in ("linear", "bezier")
    for split in ("train", "test")
    for measure in ("loss", "error")
)


def error_barrier(errors: np.ndarray) -> float:
    """Max error along a path minus the worse endpoint's: >= 0, and 0 unless some point of
    the path is worse than both ends (unequal endpoints do not count as a barrier)."""
    errors = np.asarray(errors, float)
    return float(errors.max() - max(errors[0], errors[-1]))


def barriers(out: dict) -> dict:
    """Args: out: ``{path: (PATH_POINTS,) values}`` of one pair (``PATHS``). Returns: its barrier columns."""
    lin, bez = path_barrier(out["linear_train_loss"]), path_barrier(out["bezier_train_loss"])
    ends = lambda key: (float(out[key][0]), float(out[key][-1]))  # noqa: E731
    return {
        "endpoint_loss": float(np.mean(ends("linear_train_loss"))),
        "endpoint_test_loss": float(np.mean(ends("linear_test_loss"))),
        "endpoint_train_error": max(ends("linear_train_error")),
        "endpoint_test_error": max(ends("linear_test_error")),
        "linear_barrier": float(lin),
        "bezier_barrier": float(bez),
        "barrier_ratio": float(bez / lin) if lin > 0 else math.nan,
        "linear_test_barrier": float(path_barrier(out["linear_test_loss"])),
        "bezier_test_barrier": float(path_barrier(out["bezier_test_loss"])),
        **{
            f"{p}_{split}_error_barrier": error_barrier(out[f"{p}_{split}_error"])
            for p in ("linear", "bezier")
            for split in ("train", "test")
        },
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
            path, split, measure = name.split("_")
            frames.append(
                pd.DataFrame(
                    {
                        "trial_id": trial.trial_id,
                        "step": np.arange(PATH_POINTS),
                        "split": split,
                        "metric": f"{path}_path_{measure}",
                        "value": values,
                    }
                )
            )
        return barriers(out)

    res = trainer.run_shard(
        make_task(st), shard, ("seed", "lr"), steps=st.steps, log_every=max(1, st.steps // 10), columns=(), extra=pair
    )
    # Curves: the training curves of the endpoints are summarised in the rows; the stored
    # curves are the loss and error profiles along the paths ("step" = index of t on the grid;
    # metric ``<path>_path_<loss|error>``, split train/test).
    res.curves = pd.concat(frames, ignore_index=True) if frames else None
    return res


# ----------------------------------------------------------------------------- checks


def _median(column: str):
    def statistic(table: pd.DataFrame) -> float:
        return float(np.median(table[column].to_numpy(float)))

    return statistic


def _no_pairs(results: Results, *columns: str) -> Verdict | None:
    ok = results.ok
    missing = [c for c in columns if c not in ok.columns]
    if ok.empty or missing:
        return Verdict("inconclusive", math.nan, "", f"no stored pairs with {', '.join(missing) or 'results'}")
    return None


def check_bezier_removes_barrier(results: Results) -> Verdict:
    """Median over pairs of the linear train-loss barrier >= 0.25 ln(classes), and of the
    Bezier/linear barrier ratio <= 0.1; each by the 95% seed-bootstrap interval of its
    median (a pair is one seed)."""
    if (none := _no_pairs(results, "linear_barrier", "barrier_ratio", "classes")) is not None:
        return none

    def decide(ok: pd.DataFrame) -> Verdict:
        table = pd.DataFrame(
            {
                "seed": ok["seed"].to_numpy(),
                "ratio": ok["barrier_ratio"].to_numpy(float),
                "of_chance": (ok["linear_barrier"] / np.log(ok["classes"].astype(float))).to_numpy(float),
            }
        )
        return all_of(
            [
                bootstrap_verdict(
                    table,
                    _median("of_chance"),
                    MIN_BARRIER_OVER_CHANCE,
                    math.inf,
                    "median barrier / ln(classes)",
                    hypothesis="linear barrier",
                ),
                bootstrap_verdict(table, _median("ratio"), 0.0, MAX_RATIO, "median ratio", hypothesis="bezier/linear"),
            ],
            f"Medians over {len(ok)} pairs of train cross-entropy barriers (max along the path minus the mean "
            "endpoint loss); ln(classes) is the loss of a uniform guess; 95% seed-bootstrap intervals",
        )

    # The claim is about minima joined by a curve: it rests on the endpoints having reached
    # the end of their training, or on the verdict being the same without those that had not.
    ok = results.ok
    return unless_converged(decide(ok), ok, recheck=decide)


def check_curve_keeps_accuracy(results: Results) -> Verdict:
    """Medians over pairs, each by its 95% seed-bootstrap interval: the straight line's
    test-error barrier >= 0.25 of the way from the worse endpoint's test error to chance;
    the Bezier curve's test-error barrier <= 2 binomial standard errors of the worse
    endpoint's test error; its train-error barrier <= 0.01."""
    columns = ("linear_test_error_barrier", "bezier_test_error_barrier", "bezier_train_error_barrier")
    if (none := _no_pairs(results, *columns, "endpoint_test_error", "classes", "n_test")) is not None:
        return none

    def decide(ok: pd.DataFrame) -> Verdict:
        p = ok["endpoint_test_error"].to_numpy(float)
        chance = 1.0 - 1.0 / ok["classes"].to_numpy(float)
        se = np.sqrt(np.maximum(p * (1.0 - p), 1e-12) / ok["n_test"].to_numpy(float))
        table = pd.DataFrame(
            {
                "seed": ok["seed"].to_numpy(),
                "rise": ok["linear_test_error_barrier"].to_numpy(float) / np.maximum(chance - p, 1e-12),
                "curve_test": ok["bezier_test_error_barrier"].to_numpy(float) / se,
                "curve_train": ok["bezier_train_error_barrier"].to_numpy(float),
            }
        )
        return all_of(
            [
                bootstrap_verdict(
                    table,
                    _median("rise"),
                    MIN_ERROR_RISE,
                    math.inf,
                    "median share of the way to chance",
                    hypothesis="linear test error",
                ),
                bootstrap_verdict(
                    table,
                    _median("curve_test"),
                    0.0,
                    MAX_CURVE_TEST_SE,
                    "median barrier / s.e.",
                    hypothesis="bezier test error",
                ),
                bootstrap_verdict(
                    table,
                    _median("curve_train"),
                    0.0,
                    MAX_CURVE_TRAIN_ERROR,
                    "median barrier",
                    hypothesis="bezier train error",
                ),
            ],
            f"Medians over {len(ok)} pairs of 0-1 error barriers (max along the path minus the worse endpoint's "
            "error); chance = 1 - 1/classes; s.e. = binomial standard error of the worse endpoint's test error "
            "on the test set; 95% seed-bootstrap intervals",
        )

    ok = results.ok
    return unless_converged(decide(ok), ok, recheck=decide)


HYPOTHESES = (
    Hypothesis(
        "bezier_removes_barrier",
        "The trained quadratic Bezier path between two independently trained MLPs has a train-loss "
        "barrier <= 10% of the straight line's (median over pairs), while the straight line's barrier "
        "is >= 1/4 of the loss of a uniform guess (ln of the number of classes).",
        "Garipov et al. 2018 (NeurIPS), Fig. 1-2; Draxler et al. 2018 (ICML)",
        check_bezier_removes_barrier,
        source=Source(
            "Garipov, Izmailov, Podoprikhin, Vetrov, Wilson 2018, NeurIPS",
            "abstract; Sec. 1; Fig. 1 and Fig. 2 (left: train loss along the curves)",
            "qualitative: optima of independently trained networks are joined by simple curves "
            "(a trained quadratic Bezier curve, a one-bend polygonal chain) over which train loss "
            "is nearly constant, while the loss is high along the straight segment between them; "
            "the paper gives no ratio of barriers",
            f"a convention of this project, not from the paper: a Bezier barrier <= {MAX_RATIO:.0%} "
            "of the straight line's stands for 'nearly constant'; 'high along the segment' is measured "
            "against the one scale a cross-entropy has, the loss ln(classes) of a uniform guess (an "
            f"untrained network's): the line must climb >= {MIN_BARRIER_OVER_CHANCE:g} of it, so that "
            "the ratio of two small barriers cannot pass (the endpoints' own loss, ~0 after training, "
            "is no scale: any barrier is many times it)",
        ),
    ),
    Hypothesis(
        "curve_keeps_accuracy",
        "Along the trained Bezier curve the test error stays within 2 standard errors (of a test set "
        "of this size) of the worse endpoint's and the train error within 1 point in 100, while along "
        "the straight line the test error climbs >= 1/4 of the way from the endpoints' to chance "
        "(medians over pairs).",
        "Garipov et al. 2018 (NeurIPS), Fig. 2 (train loss and test error along the curves)",
        check_curve_keeps_accuracy,
        source=Source(
            "Garipov, Izmailov, Podoprikhin, Vetrov, Wilson 2018, NeurIPS",
            "abstract (simple curves 'over which training and test accuracy are nearly constant'); Sec. 1; "
            "Fig. 2 (right: test error along the Bezier curve, the polygonal chain and the segment)",
            "qualitative: the test error along the found curves stays close to the endpoints' while "
            "along the straight segment it rises towards chance; no number is given for this set-up",
            "a convention of this project, not from the paper: 'near the endpoints' test error' is a "
            f"rise of <= {MAX_CURVE_TEST_SE:g} binomial standard errors (sqrt(p (1 - p) / n_test)), "
            "i.e. no larger than resampling the test set could produce; train accuracy 'nearly "
            f"constant' is a rise of <= {MAX_CURVE_TRAIN_ERROR:g} in train error; 'rises towards "
            f"chance' is >= {MIN_ERROR_RISE:g} of the distance from the worse endpoint's test error to "
            "a uniform guess's (1 - 1/classes). Error barriers are measured from the worse endpoint, so "
            "two endpoints of unequal error do not make a barrier",
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


def plot(results: Results) -> dict:
    """Loss and error along both paths per pair, and the barriers (``experiments._mode_connectivity_plots``)."""
    from experiments._mode_connectivity_plots import plot as draw

    return draw(results, PATH_POINTS, MAX_RATIO)


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
