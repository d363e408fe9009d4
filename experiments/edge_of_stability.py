"""Edge of stability: under full-batch GD, does sharpness rise to 2/eta and hover there?

Question
  Classical optimisation theory says gradient descent with step size ``eta`` is
  stable on a quadratic only while the sharpness (top Hessian eigenvalue) stays
  below ``2 / eta``. Cohen, Kaur, Li, Kolter & Talwalkar (2021, ICLR, "Gradient
  descent on neural networks typically occurs at the edge of stability", Fig. 1)
  found that full-batch GD on neural networks first *raises* the sharpness
  (progressive sharpening) until it reaches ``2 / eta`` and then keeps it there
  (the edge of stability), while the loss keeps falling, non-monotonically.

Hypotheses, in words (checked for every eta of the grid, at least {0.1, 0.3})
  a. progressive_sharpening: before the sharpness first reaches 2/eta (0.9 * 2/eta
     counts as reached) it has risen >= 1.5x over its value at initialisation, and it
     reaches 2/eta in the first half of training (least ratio over seeds).
  b. edge_of_stability: over the second half of training the median of
     ``lambda_max * eta / 2`` lies in [0.9, 1.1] (median over seeds of the per-run
     medians), and its maximum over every run and log point is <= 1.3.
  c. small_eta_control: with a small step (eta = 0.02, 2/eta = 100) the sharpness
     stays below 2/eta for the whole run (max of ``lambda_max * eta / 2`` < 1).
  Each number is decided by its 95% seed-bootstrap interval (``physai.evidence``:
  whole seeds resampled, the statistic recomputed): supported only when the interval
  lies inside the range, refuted only when wholly outside. The runs are not required
  to have converged: the hypotheses are about the trajectory at a fixed budget, and
  at the edge of stability the loss keeps falling non-monotonically.

Sources
  Cohen et al. 2021, Fig. 1 (three architectures trained by full-batch GD at a
  range of step sizes: "the sharpness rises to 2/eta ... and then hovers right at,
  or just above, this value") and the introduction
  (progressive sharpening; GD on a quadratic is unstable once the sharpness exceeds
  2/eta). The paper gives no numerical tolerance; the ranges of the checks are
  conventions of this project, stated in each hypothesis's source.

Setup (CPU scale)
  Gaussian inputs (d = 20), targets from a random tanh teacher of width 32 plus
  Gaussian label noise of standard deviation 1 (n = 1000): noise the network has
  to memorise keeps the loss from converging before the sharpness has risen (with a
  noiseless teacher the loss converged while the sharpness was still far below
  2/eta). Student: tanh MLP, 2 hidden layers of width 128 (19,329 parameters),
  output multiplied by 0.7 so the initial sharpness is below 2/eta / 1.5 for
  eta = 0.3. Loss ``0.5 * mean (f(x) - y)^2``, full-batch GD (``optax.sgd``), 4000
  steps. The sharpness is measured *inside* the training scan every 40 steps by 20
  iterations of Hessian-vector-product power iteration on the full training loss
  (``physai.probes.hessian.top_eigenvalue_power``); at the end a 40-step Lanczos
  estimate on the final parameters is stored as a cross-check (``final_lanczos``).
  Before it settles at the edge, the largest step size can overshoot 2/eta for a
  few hundred steps (a catapult); the hover checks therefore look at the second
  half of training only.

Run
  physai demo edge_of_stability                     # 3 runs, ~40 s on 2 CPU cores
  physai verify edge_of_stability --preset paper    # 3 seeds x eta {0.1, 0.2, 0.3} + control, ~2-3 min
  physai verify edge_of_stability --preset tiny     # seconds; for tests only

Full-scale values of the paper: CIFAR-10 5k subset, networks of 10^5-10^6
parameters, up to 10^4-10^5 GD steps; sharpness every 50-100 steps by Lanczos.
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
    chain,
    curricula,
    models,
    product,
)
from physai import train as trainer
from physai.domains import POSITIVE, POSITIVE_INT, Domain
from physai.evidence import bootstrap_verdict
from physai.probes.hessian import top_eigenvalue_lanczos, top_eigenvalue_power

# ----------------------------------------------------------------------------- constants

REACHED = 0.9  # sharpness counts as having reached 2/eta at 0.9 * 2/eta
MIN_SHARPENING = 1.5  # progressive sharpening: rise >= 1.5x before reaching 2/eta
HOVER_RANGE = (0.9, 1.1)  # median lambda*eta/2 over the second half
HOVER_MAX = 1.3  # max lambda*eta/2 over the second half
BELOW_ONE = float(np.nextafter(1.0, 0.0))  # control: max lambda*eta/2 < 1 (strict)
LANCZOS_ITERS = 40  # final cross-check of the in-scan power estimate

# ----------------------------------------------------------------------------- measurement


def sharpness_summary(steps, sharpness, lr: float) -> dict:
    """Summarises one sharpness trajectory against the stability threshold 2/lr.

    Args:
      steps: ``(L,)`` optimisation steps of the log points (0 = initialisation).
      sharpness: ``(L,)`` top Hessian eigenvalue at those steps.
      lr: the GD step size eta.

    Returns:
      ``initial_sharpness``; ``reach_step`` (first step with ``lambda >= 0.9 * 2/eta``,
      NaN if never); ``sharpening`` (``lambda`` at that step / initial ``lambda``, NaN
      if never reached); ``hover_median`` and ``hover_max`` (median and max of
      ``lambda * eta / 2`` over the log points after the midpoint of training);
      ``max_ratio`` (max of ``lambda * eta / 2`` over the whole run).
    """
    steps = np.asarray(steps, float)
    ratio = np.asarray(sharpness, float) * lr / 2.0
    reached = np.flatnonzero(ratio >= REACHED)
    first = int(reached[0]) if reached.size else None
    second_half = ratio[steps > steps[-1] / 2]
    return {
        "initial_sharpness": float(sharpness[0]),
        "reach_step": float(steps[first]) if first is not None else math.nan,
        "sharpening": float(ratio[first] / ratio[0]) if first is not None else math.nan,
        "hover_median": float(np.median(second_half)),
        "hover_max": float(np.max(second_half)),
        "max_ratio": float(np.max(ratio)),
    }


@dataclass(frozen=True)
class Static(physai.Static):
    """One architecture and data size per shard: one compiled program."""

    d: int
    n: int
    n_test: int
    teacher_width: int
    label_noise: float
    width: int
    depth: int
    out_scale: float
    steps: int
    log_every: int
    power_iters: int


def make_task(st: Static) -> trainer.Task:
    """Full-batch GD on the noisy teacher; sharpness by power iteration at every log point,
    a Lanczos estimate on the final parameters as the probe."""
    model = models.MLP(width=st.width, depth=st.depth, activation="tanh")

    def data(key, hp):
        return curricula.teacher_student(key, st.n, st.n_test, st.d, st.teacher_width, st.label_noise)

    def init(key, hp):
        return models.init_mlp(model, key, st.d)

    def predict(params, x):
        return st.out_scale * model.apply({"params": params}, x)[:, 0]

    def loss(params, batch, hp):
        return 0.5 * jnp.mean((predict(params, batch["x_train"]) - batch["y_train"]) ** 2)

    def metrics(params, dat, hp):
        train_loss = lambda p: loss(p, dat, hp)
        # A fixed key: the random start vector is the same at every log point, so the
        # estimate's fluctuations come from the landscape, not from the start.
        lam, _ = top_eigenvalue_power(train_loss, params, st.power_iters, jax.random.key(0))
        test = 0.5 * jnp.mean((predict(params, dat["x_test"]) - dat["y_test"]) ** 2)
        return {"train_loss": train_loss(params), "test_loss": test, "sharpness": lam}

    def probe(key, params, dat, hp):
        # A fixed start vector (not the trial's probe key), like the in-scan estimate.
        train_loss = lambda p: loss(p, dat, hp)
        lam = top_eigenvalue_lanczos(train_loss, params, LANCZOS_ITERS, jax.random.key(1))[0]
        return {"final_lanczos": lam}

    return trainer.Task(data, init, loss, metrics, lambda hp: optax.sgd(hp["lr"]), probe=probe)


def run(shard) -> ShardResult:
    """Full-batch GD runs of one architecture; sharpness logged inside the scan."""
    st = shard.static

    def extra(i, trial, result):
        lr = float(trial.params["lr"])
        row = {
            "two_over_eta": 2.0 / lr,
            "final_train_loss": float(result.final["train_loss"][i]),
            "final_test_loss": float(result.final["test_loss"][i]),
            "final_sharpness": float(result.final["sharpness"][i]),
            **sharpness_summary(result.steps, result.curves["sharpness"][i], lr),
        }
        if not result.diverged[i]:  # a diverged run has no final Lanczos estimate
            row["final_lanczos"] = float(result.final["final_lanczos"][i])
        return row

    return trainer.run_shard(
        make_task(st), shard, ("seed", "lr"), steps=st.steps, log_every=st.log_every, columns=(), extra=extra
    )


# ----------------------------------------------------------------------------- checks


def _role(results: Results, role: str) -> pd.DataFrame:
    ok = results.ok
    return ok[ok["role"] == role] if "role" in ok.columns else ok.iloc[0:0]


def _expected_eos_lrs(results: Results) -> list[float]:
    """Every eta planned for the edge-of-stability role (a diverged run still counts)."""
    t = results.trials
    return sorted(t.loc[t["role"] == "eos", "lr"].unique()) if "role" in t.columns else []


def least_sharpening(runs: pd.DataFrame) -> float:
    """Least (over runs) sharpening ratio; a run that does not reach 0.9 * 2/eta in the
    first half of training counts as no sharpening (0)."""
    late = runs["reach_step"].isna().to_numpy() | (runs["reach_step"].to_numpy() > runs["steps"].to_numpy() / 2)
    sharpening = np.where(late, 0.0, runs["sharpening"].to_numpy(float))
    return float(np.nanmin(np.nan_to_num(sharpening, nan=0.0))) if len(runs) else math.nan


def median_hover(runs: pd.DataFrame) -> float:
    """Median over runs of each run's second-half median of lambda_max * eta / 2."""
    return float(np.median(runs["hover_median"].to_numpy(float))) if len(runs) else math.nan


def largest(column: str):
    """Returns: table -> the largest value of ``column`` over its rows."""
    return lambda runs: float(np.max(runs[column].to_numpy(float))) if len(runs) else math.nan


def _diverged(lr: float, expected: str, part: str) -> Verdict:
    return Verdict("inconclusive", math.nan, expected, f"eta={lr:g}: every run diverged", part)


# Not wrapped with physai.evidence.unless_converged: these hypotheses are about the GD
# trajectory at a fixed budget; at the edge of stability the loss keeps falling
# non-monotonically, so "not converged" is part of the phenomenon, not a defect.


def check_progressive_sharpening(results: Results) -> Verdict:
    """Per eta present: the least sharpening over seeds, with its seed-bootstrap interval."""
    eos = _role(results, "eos")
    lrs = _expected_eos_lrs(results)
    expected = f">= {MIN_SHARPENING:g}"
    if eos.empty or not lrs:
        return Verdict("inconclusive", math.nan, expected, "no edge-of-stability runs")
    parts = []
    for lr in lrs:
        runs = eos.loc[np.isclose(eos["lr"], lr), ["seed", "reach_step", "steps", "sharpening"]]
        if runs.empty:
            parts.append(_diverged(lr, expected, f"eta={lr:g}"))
            continue
        parts.append(
            bootstrap_verdict(runs, least_sharpening, MIN_SHARPENING, math.inf, "least ratio", hypothesis=f"eta={lr:g}")
        )
    return all_of(
        parts,
        "Least (over seeds) ratio of the sharpness on first reaching 0.9 * 2/eta to its initial "
        "value, 0 if 2/eta is not reached in the first half; 95% seed-bootstrap interval.",
    )


def check_edge_of_stability(results: Results) -> Verdict:
    """Per eta present: median over seeds of the second-half median ratio, and the largest
    second-half ratio of any run, each with its seed-bootstrap interval."""
    eos = _role(results, "eos")
    lrs = _expected_eos_lrs(results)
    if eos.empty or not lrs:
        return Verdict("inconclusive", math.nan, str(HOVER_RANGE), "no edge-of-stability runs")
    parts = []
    for lr in lrs:
        runs = eos.loc[np.isclose(eos["lr"], lr), ["seed", "hover_median", "hover_max"]]
        if runs.empty:
            parts.append(_diverged(lr, str(HOVER_RANGE), f"eta={lr:g} median"))
            continue
        parts.append(bootstrap_verdict(runs, median_hover, *HOVER_RANGE, "median", hypothesis=f"eta={lr:g} median"))
        parts.append(
            bootstrap_verdict(runs, largest("hover_max"), -math.inf, HOVER_MAX, "max", hypothesis=f"eta={lr:g} max")
        )
    return all_of(
        parts,
        "lambda_max * eta / 2 over the second half of training: median over seeds of each run's "
        "median, and the largest value of any run; 95% seed-bootstrap intervals.",
    )


def check_small_eta_control(results: Results) -> Verdict:
    """The largest lambda_max * eta / 2 of any control run over the whole run is < 1."""
    control = _role(results, "control")
    if control.empty:
        return Verdict("inconclusive", math.nan, "< 1", "no control runs")
    etas = ", ".join(f"{lr:g}" for lr in sorted(control["lr"].unique()))
    return bootstrap_verdict(
        control[["seed", "max_ratio"]],
        largest("max_ratio"),
        -math.inf,
        BELOW_ONE,
        "max",
        f"With a small step (eta = {etas}) the sharpness never reaches 2/eta: largest "
        "lambda_max * eta / 2 over all control runs and log points, 95% seed-bootstrap interval.",
    )


COHEN = "Cohen, Kaur, Li, Kolter, Talwalkar 2021, ICLR"

HYPOTHESES = (
    Hypothesis(
        "progressive_sharpening",
        "Under full-batch GD the sharpness rises >= 1.5x from initialisation before it "
        "first reaches 2/eta, within the first half of training.",
        "Cohen et al. 2021 (ICLR), Fig. 1 and Introduction: progressive sharpening",
        check_progressive_sharpening,
        source=Source(
            paper=COHEN,
            where="Fig. 1 (sharpness vs iteration at a range of step sizes) and Sec. 1 (Introduction)",
            statement="Qualitative, no number: 'so long as the sharpness is less than the value 2/eta, "
            "it tends to continually rise' (progressive sharpening), and in Fig. 1 'the sharpness "
            "rises to 2/eta' for each step size.",
            tolerance="A convention of this project, not from the paper: the paper gives no factor of "
            "rise, so 'rise' is made a test by requiring >= 1.5x over the initial sharpness "
            "(MIN_SHARPENING; the output scale 0.7 keeps the initial sharpness below (2/eta)/1.5 at the "
            "largest eta so the test is possible); 2/eta counts as reached at 0.9 * 2/eta (REACHED) and "
            "must be reached in the first half of training so that the second half can test the hover.",
        ),
    ),
    Hypothesis(
        "edge_of_stability",
        "Over the second half of training the sharpness hovers at 2/eta: median of "
        "lambda_max * eta / 2 in [0.9, 1.1], max <= 1.3.",
        "Cohen et al. 2021 (ICLR), Fig. 1 and abstract: the sharpness hovers just above 2/eta",
        check_edge_of_stability,
        source=Source(
            paper=COHEN,
            where="Fig. 1 (caption) and abstract",
            statement="Fig. 1: for each step size 'the sharpness rises to 2/eta ... and then hovers right "
            "at, or just above, this value'; abstract: the maximum Hessian eigenvalue 'hovers just above "
            "the value 2/(step size)'. The paper gives the value 2/eta (lambda_max * eta / 2 = 1), no "
            "tolerance around it.",
            tolerance="The centre, lambda_max * eta / 2 = 1, is the paper's (and theory's: GD on a "
            "quadratic is stable iff lambda_max < 2/eta). The width is a convention of this project, not "
            "from the paper: +-10% on the median over the second half (HOVER_RANGE) and a largest value of "
            "1.3 (HOVER_MAX) to allow the paper's 'just above' and short spikes while excluding a "
            "sharpness that keeps rising past 2/eta.",
        ),
    ),
    Hypothesis(
        "small_eta_control",
        "With a small step (eta = 0.02) the sharpness stays below 2/eta throughout.",
        "Cohen et al. 2021 (ICLR), Introduction: 2/eta is the stability threshold of GD (negative control)",
        check_small_eta_control,
        source=Source(
            paper=COHEN,
            where="Sec. 1 (Introduction): the stability threshold 2/eta of GD on quadratics",
            statement="Qualitative, no number: the sharpness reaches 2/eta by progressive sharpening, and "
            "'gradient descent on quadratic objectives is unstable if the sharpness exceeds this "
            "threshold'. The paper reports no step size whose sharpness stays below 2/eta; this is a "
            "negative control of this project (2/eta = 100 for eta = 0.02) showing that the hover at 2/eta "
            "follows eta and is not an artefact of the measurement.",
            tolerance="Derived from the threshold itself: 'below 2/eta' means lambda_max * eta / 2 < 1, "
            "with no margin; that a run of this length stays below it at eta = 0.02 is the design of this "
            "project's control, not a number from the paper.",
        ),
    ),
)

# ----------------------------------------------------------------------------- presets

SETTINGS = {
    "d": 20,
    "n": 1000,
    "n_test": 500,
    "teacher_width": 32,
    "label_noise": 1.0,
    "width": 128,
    "depth": 2,
    "out_scale": 0.7,
    "steps": 4000,
    "log_every": 40,
    "power_iters": 20,
}
CONTROL_LR = 0.02


def _grid(lrs, seeds, control_seeds):
    return chain(
        product(role=["eos"], lr=list(lrs), seed=list(seeds)),
        product(role=["control"], lr=[CONTROL_LR], seed=list(control_seeds)),
    )


PRESETS = {
    "tiny": Preset(
        _grid([0.3], [0], [0]),
        {**SETTINGS, "n": 200, "width": 32, "steps": 200, "log_every": 20, "power_iters": 8},
        "seconds; for tests (no claim that the phenomenon shows)",
    ),
    "demo": Preset(_grid([0.1, 0.3], [0], [0]), SETTINGS, "eta 0.1 and 0.3 and the control, one seed each"),
    "paper": Preset(
        _grid([0.1, 0.2, 0.3], [0, 1, 2], [0, 1]), SETTINGS, "eta in {0.1, 0.2, 0.3} x 3 seeds, control x 2 seeds"
    ),
}

# ----------------------------------------------------------------------------- plots


def plot(results: Results) -> dict:
    """Sharpness vs step with the 2/eta lines, training loss below it."""
    import seaborn as sns

    from analysis import plots

    ok = results.ok
    if ok.empty or results.curves.empty:
        return {}
    curves = results.curves.merge(ok[["trial_id", "lr", "seed", "role"]], on="trial_id")
    fig, axes = plots.figure(nrows=2, width=7.0, height=3.4, sharex=True)
    lrs = sorted(ok["lr"].unique())
    palette = dict(zip(lrs, sns.color_palette(n_colors=len(lrs))))
    for lr in lrs:
        color = palette[lr]
        for k, (_, c) in enumerate(curves[np.isclose(curves["lr"], lr)].groupby("seed")):
            label = f"eta = {lr:g}" if k == 0 else None  # one legend entry per eta
            s = c[c["metric"] == "sharpness"].sort_values("step")
            axes[0].plot(s["step"], s["value"], color=color, lw=1, alpha=0.8, label=label)
            lo = c[(c["metric"] == "loss") & (c["split"] == "train")].sort_values("step")
            axes[1].plot(lo["step"], lo["value"], color=color, lw=1, alpha=0.8)
        axes[0].axhline(2 / lr, color=color, ls="--", lw=1)
    axes[0].set_yscale("log")
    axes[0].set(
        ylabel="sharpness (top Hessian eigenvalue)",
        title="Full-batch GD, tanh MLP: sharpness rises to 2/eta (dashed) and hovers",
    )
    axes[0].legend(fontsize=8)
    plots.loglog(axes[1], x=False)
    axes[1].set(xlabel="GD step", ylabel="train loss (0.5 MSE)")
    fig.tight_layout()
    return {"sharpness_vs_step": fig}


# Allowed values of this experiment's own parameters (physai.domains.COMMON has the shared ones).
DOMAINS = {"role": Domain(choices=("eos", "control")), "out_scale": POSITIVE, "power_iters": POSITIVE_INT}

EXPERIMENT = Experiment(
    name="edge_of_stability",
    question="Under full-batch gradient descent, does the sharpness rise to 2/eta and hover "
    "there (the edge of stability)?",
    hypotheses=HYPOTHESES,
    presets=PRESETS,
    run=run,
    plot=plot,
    static=Static,
    max_shard_size=16,
    domains=DOMAINS,
    doc=__doc__,
)
