"""Quanta: are skills learned one by one in order of frequency, giving a power-law mean loss?

Question
  Michaud, Liu, Girit & Tegmark (2023, "The quantization model of neural scaling",
  Sec. 3, Fig. 2-4): on multitask sparse parity, each task ("quantum") is a sparse
  parity of its own k bits selected by a one-hot task code, and tasks are drawn with
  Zipf frequencies ``p_t ∝ t^-(alpha + 1)`` (``physai.curricula.parity``; task 0 is
  the most frequent). A network of a given size learns the most frequent quanta
  first; each quantum's accuracy jumps from chance to 1 abruptly, while the
  frequency-weighted mean loss, a sum of many such jumps, falls smoothly as a power
  law: if a net with N parameters learns n(N) ∝ N quanta, the loss left on the
  unlearned tail is ``sum_{t > n} p_t ∝ n^-alpha``, so ``L ∝ N^-alpha``.

Hypotheses, in words
  a. ``quanta_learning_order``: per run, the order in which the learned tasks reach
     75% test accuracy (half-way from chance to 1) follows their frequency rank:
     median over runs (with >= MIN_LEARNED learned tasks) of Kendall's tau(onset
     step, frequency rank) >= 0.9.
  b. ``quanta_loss_exponent``: the final frequency-weighted test cross-entropy,
     median over seeds per width, is a power law in the parameter count N with
     exponent (minus the log-log slope) within +-0.15 of the predicted alpha
     (prediction used: ``L ∝ N^-alpha``, alpha the Zipf exponent of the preset).
  c. ``quanta_emerge_abruptly`` (emergence issue, part c): each learned task rises
     over a short window while the mean loss is a sum of such rises: the median over
     runs of [median per-task rise width (10% -> 90% of the way from chance 0.5 to 1)
     / spread of onsets (last minus first onset of the learned tasks)] <= 0.25, and
     onsets are ordered by frequency (the same Kendall tau >= 0.9). The loss's
     largest drop between two logs, as a share of its total drop, is reported.

Anchors
  ANCHORS.md "Scaling laws / Quantization model": p_k ∝ k^-(alpha+1), quanta learned in
  frequency order, L ∝ N^-alpha; seen on CPU: 64 tasks, n = 30, k = 3, Zipf exponent
  1.5 (alpha = 0.5): exact frequency order, slope -0.39 vs -0.5, ~100 s per width.
  Checks: Kendall tau >= 0.9; exponent within +-0.15. ANCHORS.md "Emergence", c.
  Full scale (Michaud et al.): 500 tasks, n = 100, k = 3, alpha = 0.4, one-hidden-
  layer ReLU MLPs of widths 10 .. ~500, Adam lr 1e-3, batch 20000, trained to
  convergence (2e5 steps); they find L ∝ N^-0.4 in parameters.
  Scaled here to fit 2 CPU cores: 16 tasks, n = 16 bits, k = 3, alpha = 0.5, widths
  8 .. 256 (282 .. 8962 parameters), Adam lr 3e-3, batch 256 from a pool of 2^15
  samples, 6000 steps (the budget, not capacity, limits how many quanta small nets
  learn, as in Michaud's time scaling), 1024 test samples per task.

Run
  physai demo scaling_quanta                      # 6 widths, 1 seed
  physai verify scaling_quanta --preset paper     # 7 widths, 5 seeds
  physai verify scaling_quanta --preset tiny      # seconds; tests only

Results (2 cores shared with other jobs, load ~5; CPU = user + sys of the command)
  demo: 6 runs, 42 s wall / 30 s CPU. paper: 35 runs, 90 s wall / 54 s CPU
  (``--backend processes --workers 2``).
  demo (1 seed): learning order supported (median tau 1.000, 3 runs with >= 4 learned
    tasks, all in exact order); exponent supported (0.420, 95% CI [0.31, 0.54] vs
    0.5); emerge_abruptly REFUTED on the width ratio (0.295 > 0.25; tau 1.000).
  paper (5 seeds):
  * quanta_learning_order: REFUTED, median per-run tau 0.867 (< 0.9) over 23 runs
    learning 4-10 tasks; 39% of runs are in exact order, the rest swap neighbouring
    rare tasks whose frequencies differ by only 1.17-1.31x. Ordering the tasks by
    their onset *median over the 5 seeds* gives tau = 1.000 at every width 32..512
    (diagnostic, not the check): the order is the frequency order, per-run onset
    noise breaks single pairs. (A 3-seed run of the same preset passed, 0.929: the
    per-run check is marginal at this scale.)
  * quanta_loss_exponent: supported, L ∝ N^-0.370 (95% CI [0.265, 0.474]) vs the
    predicted N^-0.5, N = 282..17922 (anchor seen: -0.39). The curve flattens at the
    largest widths (8 tasks learned at both 256 and 512): the 6000-step budget, not
    capacity, sets how many quanta the big nets learn.
  * quanta_emerge_abruptly: REFUTED on the ratio: median per-task rise (10% -> 90%
    from chance to 1) 714 steps vs an onset spread of 2739 steps, ratio 0.275
    (threshold 0.25, fixed before the runs); onset order tau 0.867. The rise is
    short for frequent tasks and lengthens for rare ones (their gradient signal
    is proportional to their frequency, so the whole curve stretches ~1/p_t), which
    bounds the ratio from below whatever the spread; the mean loss's largest drop
    between two logs is 21% of its total drop (the first quantum holds 47% of the
    probability mass with 16 tasks, so the mean loss is only as smooth as 16 quanta
    allow).
  Sensitivity (demo grid, 1 seed): a 4x larger sample pool (2^17) lets every width
  learn more tasks (up to 11) and steepens the loss curve to N^-0.685 (refuted), width
  ratio 0.363; n = 24 bits with 8000 steps gives N^-0.21, tau 0.83, ratio 0.32.
"""
from __future__ import annotations

import math

import jax.numpy as jnp
import numpy as np
import optax
import pandas as pd
from scipy import stats as sps

from analysis.fits import transition_step
from analysis.stats import loglog_slope
from physai import (Experiment, Hypothesis, Preset, Results, ShardResult, Verdict, all_of, product,
                    verdict_in_range)
from physai import models
from physai import train as trainer
from physai.curricula.parity import multitask_sparse_parity

# ----------------------------------------------------------------------------- constants

LEARNED_ACC = 0.9      # a task counts as learned if its final test accuracy is >= this
ONSET_ACC = 0.75       # onset: half-way from chance (0.5) to 1
RISE_LOW, RISE_HIGH = 0.1, 0.9   # rise window, as fractions of the way from 0.5 to 1
MIN_LEARNED = 4        # runs with fewer learned tasks say nothing about order
MIN_TAU = 0.9
EXPONENT_TOL = 0.15
MAX_WIDTH_RATIO = 0.25  # median rise width / onset spread


def acc_metric(task: int) -> str:
    """Name of task ``task``'s test-accuracy curve (split ``test``)."""
    return f"acc_task_{task:02d}"


# ----------------------------------------------------------------------------- run


def _task(n_tasks: int, n_bits: int, k: int, alpha: float, width: int, n_train: int,
          n_test_per_task: int) -> trainer.Task:
    model = models.MLP(width=width, out=2)

    def data(key, hp):
        return multitask_sparse_parity(key, n_tasks, n_bits, k, alpha, n_train, n_test_per_task)

    def init(key, hp):
        return models.init_mlp(model, key, n_tasks + n_bits)

    def per_sample(params, x, y):
        # The trainer's minibatches carry x_train / y_train only, so the 0/1 label
        # is rebuilt from the +-1 target (label = (1 - y) / 2, as in the curriculum).
        logits = model.apply({"params": params}, x)
        label = ((1 - y) / 2).astype(jnp.int32)
        return (optax.softmax_cross_entropy_with_integer_labels(logits, label),
                jnp.argmax(logits, -1) == label)

    def loss(params, batch, hp):
        return per_sample(params, batch["x_train"], batch["y_train"])[0].mean()

    def metrics(params, d, hp):
        ce, correct = per_sample(params, d["x_test"], d["y_test"])
        # The test set is task-major with n_test_per_task samples of each task.
        task_loss = ce.reshape(n_tasks, -1).mean(axis=1)
        task_acc = correct.reshape(n_tasks, -1).mean(axis=1)
        out = {"test_loss": jnp.sum(d["task_probs"] * task_loss)}
        out.update({"test_" + acc_metric(t): task_acc[t] for t in range(n_tasks)})
        return out

    return trainer.Task(data, init, loss, metrics, lambda hp: optax.adam(hp["lr"]))


def rise_window(steps: np.ndarray, acc: np.ndarray) -> tuple[float, float, float]:
    """Onset and 10% -> 90% rise width of one task's accuracy curve.

    The levels are fixed fractions of the way from chance (0.5) to 1, not of the
    curve's observed range (``analysis.fits.transition_width``): the noisy plateau
    at chance dips below 0.5, which would put the 10% level inside the noise and
    start the window at step 0. The start is the *last* log below the low level
    before the high level is reached, so noise excursions above it during the
    plateau do not widen the window.

    Args:
      steps: ``(L,)`` logged steps; acc: ``(L,)`` test accuracy of the task.

    Returns:
      ``(onset, start, end)``: interpolated first crossing of ONSET_ACC, start and
      end of the rise; NaN where the curve never reaches the level.
    """
    low = 0.5 + RISE_LOW * 0.5
    high = 0.5 + RISE_HIGH * 0.5
    onset = transition_step(steps, acc, ONSET_ACC)
    end = transition_step(steps, acc, high)
    if math.isnan(end):
        return onset, float("nan"), float("nan")
    below = np.flatnonzero((acc < low) & (steps < end))
    if below.size == 0:
        return onset, float(steps[0]), end
    i = below[-1]
    # Interpolate the crossing of the low level between log i and the next one.
    a0, a1 = float(acc[i]), float(acc[i + 1])
    start = float(steps[i] + (low - a0) / (a1 - a0) * (steps[i + 1] - steps[i])) if a1 > a0 else float(steps[i])
    return onset, start, end


def run_summary(steps: np.ndarray, task_acc: np.ndarray, mean_loss: np.ndarray) -> dict:
    """Learning order and abruptness of one run.

    Args:
      steps: ``(L,)`` logged steps; task_acc: ``(n_tasks, L)`` per-task test
        accuracy, task 0 the most frequent; mean_loss: ``(L,)`` frequency-weighted
        test loss.

    Returns:
      ``n_learned`` (final accuracy >= LEARNED_ACC), ``order_tau`` (Kendall tau of
      onset vs frequency rank over learned tasks; NaN with < 2), ``median_rise``,
      ``onset_spread`` (last - first onset), ``width_ratio`` (their ratio), and
      ``loss_max_drop_share`` (largest drop of the mean loss between two logs over
      its total drop).
    """
    learned = np.flatnonzero(task_acc[:, -1] >= LEARNED_ACC)
    windows = np.array([rise_window(steps, task_acc[t]) for t in learned]).reshape(-1, 3)
    onset, rise = windows[:, 0], windows[:, 2] - windows[:, 1]
    ok = np.isfinite(onset)
    tau = (float(sps.kendalltau(learned[ok], onset[ok]).statistic) if ok.sum() >= 2
           else float("nan"))
    spread = float(np.nanmax(onset) - np.nanmin(onset)) if ok.sum() >= 2 else float("nan")
    median_rise = float(np.nanmedian(rise)) if np.isfinite(rise).any() else float("nan")
    drops = -np.diff(mean_loss)
    total = float(mean_loss[0] - mean_loss.min())
    return {"n_learned": int(learned.size), "order_tau": tau, "median_rise": median_rise,
            "onset_spread": spread,
            "width_ratio": median_rise / spread if spread and spread > 0 else float("nan"),
            "loss_max_drop_share": float(drops.max() / total) if total > 0 else float("nan")}


def run(shard) -> ShardResult:
    """Trains the shard's seeds at one width and summarises each run."""
    st = shard.static
    n_tasks, n_bits = int(st["n_tasks"]), int(st["n_bits"])
    width = int(st["width"])
    task = _task(n_tasks, n_bits, int(st["k"]), float(st["alpha"]), width, int(st["n_train"]),
                 int(st["n_test_per_task"]))
    result = trainer.train(task, {k: shard.column(k) for k in ("seed", "lr")},
                           steps=int(st["steps"]), log_every=int(st["log_every"]),
                           batch_size=int(st["batch_size"]), strategy=shard.strategy)
    n_params = models.count_mlp_params(n_tasks + n_bits, width, 1, 2)
    rows = []
    for i in range(len(shard.trials)):
        acc = np.stack([result.curves["test_" + acc_metric(t)][i] for t in range(n_tasks)])
        row = {"n_params": n_params, "test_loss": float(result.final["test_loss"][i]),
               "mean_acc": float(acc[:, -1].mean())}
        row.update(run_summary(result.steps, acc, np.asarray(result.curves["test_loss"][i])))
        row["status"] = "diverged" if result.diverged[i] else "ok"
        rows.append(row)
    return ShardResult(rows, trainer.curves_table([t.trial_id for t in shard.trials], result))


STATIC = ("n_tasks", "n_bits", "k", "alpha", "width", "steps", "log_every", "batch_size",
          "n_train", "n_test_per_task")

# ----------------------------------------------------------------------------- checks


def _ordered_runs(results: Results) -> pd.DataFrame:
    df = results.ok
    if df.empty or "n_learned" not in df.columns:
        return df.iloc[0:0]
    return df[(df["n_learned"] >= MIN_LEARNED) & np.isfinite(df["order_tau"])]


def check_learning_order(results: Results) -> Verdict:
    """Median over runs (>= MIN_LEARNED learned tasks) of Kendall tau(onset, rank) >= 0.9."""
    runs = _ordered_runs(results)
    if runs.empty:
        return Verdict("inconclusive", float("nan"), f">= {MIN_TAU:g}",
                       f"no run learned >= {MIN_LEARNED} tasks")
    tau = float(runs["order_tau"].median())
    exact = float((runs["order_tau"] >= 1 - 1e-9).mean())
    return verdict_in_range(tau, MIN_TAU, 1.0,
                            f"over {len(runs)} runs learning {int(runs['n_learned'].min())}-"
                            f"{int(runs['n_learned'].max())} tasks, onsets follow frequency rank "
                            f"(median Kendall tau {tau:.3f}; {exact:.0%} in exact order)")


def loss_vs_params(df: pd.DataFrame) -> pd.DataFrame:
    """Median final mean loss over seeds per parameter count (sorted by n_params)."""
    return df.groupby("n_params", as_index=False)["test_loss"].median().sort_values("n_params")


def check_loss_exponent(results: Results) -> Verdict:
    """Minus the log-log slope of median loss vs parameters lies within alpha +- 0.15."""
    df = results.ok
    if df.empty or "test_loss" not in df.columns:
        return Verdict("inconclusive", float("nan"), "", "no runs")
    alpha = float(df["alpha"].iloc[0])
    med = loss_vs_params(df)
    if len(med) < 3:
        return Verdict("inconclusive", float("nan"), "", "need >= 3 widths")
    slope, lo, hi = loglog_slope(med["n_params"], med["test_loss"])
    return verdict_in_range(-slope, alpha - EXPONENT_TOL, alpha + EXPONENT_TOL,
                            f"mean loss ∝ N^-{-slope:.3f} (95% CI [{-hi:.3f}, {-lo:.3f}]) over "
                            f"N = {int(med['n_params'].min())}..{int(med['n_params'].max())}, "
                            f"predicted L ∝ N^-alpha with alpha = {alpha:g}")


def check_emerge_abruptly(results: Results) -> Verdict:
    """Median rise width / onset spread <= 0.25 and median order tau >= 0.9."""
    runs = _ordered_runs(results)
    runs = runs[np.isfinite(runs["width_ratio"])] if len(runs) else runs
    if runs.empty:
        return Verdict("inconclusive", float("nan"), "", f"no run learned >= {MIN_LEARNED} tasks")
    ratio = float(runs["width_ratio"].median())
    tau = float(runs["order_tau"].median())
    drop = float(runs["loss_max_drop_share"].median())
    parts = [Verdict(*_status(ratio, 0.0, MAX_WIDTH_RATIO), hypothesis="width_over_spread"),
             Verdict(*_status(tau, MIN_TAU, 1.0), hypothesis="onset_order_tau")]
    return all_of(parts, f"each task rises over a median {runs['median_rise'].median():.0f} steps "
                         f"while onsets spread over {runs['onset_spread'].median():.0f} steps "
                         f"(ratio {ratio:.3f}); the mean loss's largest single-log drop is "
                         f"{drop:.0%} of its total drop")


def _status(value: float, low: float, high: float) -> tuple:
    v = verdict_in_range(value, low, high)
    return v.status, v.measured, v.expected


HYPOTHESES = (
    Hypothesis("quanta_learning_order",
               "Tasks (quanta) are learned in order of their frequency",
               "Michaud et al. 2023 Sec. 3 / Fig. 3; ANCHORS.md Quantization model: "
               "Kendall tau >= 0.9", check_learning_order),
    Hypothesis("quanta_loss_exponent",
               "The frequency-weighted mean loss falls as N^-alpha in the parameter count",
               "Michaud et al. 2023 Eq. 3 / Fig. 2 (L ∝ N^-alpha); ANCHORS.md Quantization "
               "model: within +-0.15 (seen -0.39 vs -0.5)", check_loss_exponent),
    Hypothesis("quanta_emerge_abruptly",
               "Each quantum's accuracy rises over a window short relative to the spread of "
               "onsets, in frequency order, while the mean loss falls gradually",
               "Michaud et al. 2023 Fig. 3; ANCHORS.md Emergence c", check_emerge_abruptly),
)

# ----------------------------------------------------------------------------- presets

SETTINGS = {"n_tasks": 16, "n_bits": 16, "k": 3, "alpha": 0.5, "lr": 3e-3, "batch_size": 256,
            "steps": 6000, "log_every": 100, "n_train": 2 ** 15, "n_test_per_task": 1024}

PRESETS = {
    "tiny": Preset(product(width=[8, 32, 128], seed=[0]),
                   {**SETTINGS, "n_tasks": 8, "n_bits": 10, "steps": 1000, "log_every": 50,
                    "n_train": 4096, "n_test_per_task": 256},
                   "seconds-long smoke test (no verdict expected)"),
    "demo": Preset(product(width=[8, 16, 32, 64, 128, 256], seed=[0]), SETTINGS,
                   "16 tasks, n = 16, k = 3, alpha = 0.5, widths 8..256, one seed"),
    "paper": Preset(product(width=[8, 16, 32, 64, 128, 256, 512], seed=range(5)), SETTINGS,
                    "16 tasks, n = 16, k = 3, alpha = 0.5, widths 8..512, 5 seeds"),
}

# ----------------------------------------------------------------------------- plots


def plot(results: Results) -> dict:
    """Figures: mean loss vs parameters (log-log, fit in legend); per-task accuracy curves."""
    import matplotlib as mpl
    import seaborn as sns

    from analysis import plots

    df = results.ok
    figures = {}
    if df.empty:
        return figures
    alpha = float(df["alpha"].iloc[0])
    med = loss_vs_params(df)
    fig, ax = plots.figure(width=5, height=3.8)
    sns.scatterplot(df, x="n_params", y="test_loss", ax=ax, color="grey", alpha=0.5,
                    label="runs")
    ax.plot(med["n_params"], med["test_loss"], "o", color="C0", label="median over seeds")
    if len(med) >= 3:
        slope, lo, hi = loglog_slope(med["n_params"], med["test_loss"])
        n = np.geomspace(med["n_params"].min(), med["n_params"].max(), 50)
        c = np.exp(np.mean(np.log(med["test_loss"]) - slope * np.log(med["n_params"])))
        ax.plot(n, c * n ** slope, color="C0",
                label=f"fit: N^-{-slope:.2f} [{-hi:.2f}, {-lo:.2f}]")
        # The prediction's prefactor is free: anchor it at the data's log-mean.
        c_pred = np.exp(np.mean(np.log(med["test_loss"]) + alpha * np.log(med["n_params"])))
        ax.plot(n, c_pred * n ** -alpha, color="C3", ls="--", label=f"prediction N^-{alpha:g}")
    ax.set(xscale="log", yscale="log", xlabel="parameters N",
           ylabel="frequency-weighted test loss", title="Multitask sparse parity")
    ax.legend(fontsize=8)
    fig.tight_layout()
    figures["loss_vs_params"] = fig

    curves = results.curves
    if not curves.empty:
        acc = curves[(curves["split"] == "test") & curves["metric"].str.startswith("acc_task_")]
        acc = acc.assign(task=acc["metric"].str[len("acc_task_"):].astype(int))
        acc = acc.merge(df[["trial_id", "width", "seed"]], on="trial_id")
        acc = acc[acc["seed"] == acc["seed"].min()]
        widths = sorted(acc["width"].unique())
        shown = widths[-3:]
        fig, axes = plots.figure(ncols=len(shown), width=4.2, height=3.4, squeeze=False)
        for ax, w in zip(axes[0], shown):
            sns.lineplot(acc[acc["width"] == w], x="step", y="value", hue="task",
                         palette="viridis", ax=ax, lw=1, legend=False)
            ax.set(ylabel="test accuracy", title=f"width {w}", ylim=(0.4, 1.02))
        n_tasks = int(acc["task"].max()) + 1
        sm = mpl.cm.ScalarMappable(cmap="viridis", norm=mpl.colors.Normalize(1, n_tasks))
        fig.colorbar(sm, ax=axes[0].tolist(), label="frequency rank")
        fig.suptitle("Per-task accuracy, coloured by frequency rank (1 = most frequent)")
        figures["task_curves"] = fig
        loss = curves[(curves["split"] == "test") & (curves["metric"] == "loss")]
        loss = loss.merge(df[["trial_id", "width", "seed"]], on="trial_id")
        fig, ax = plots.figure(width=5, height=3.6)
        sns.lineplot(loss, x="step", y="value", hue="width", units="seed", estimator=None,
                     palette="magma", ax=ax, lw=1)
        ax.set(yscale="log", ylabel="frequency-weighted test loss", title="Mean loss vs step")
        fig.tight_layout()
        figures["mean_loss_curves"] = fig
    return figures


EXPERIMENT = Experiment(
    name="scaling_quanta",
    question="On multitask sparse parity with Zipf task frequencies, are tasks learned one by "
             "one in frequency order, and does the mean loss fall as N^-alpha?",
    hypotheses=HYPOTHESES,
    presets=PRESETS,
    run=run,
    plot=plot,
    static=STATIC,
    max_shard_size=5,
    doc=__doc__,
)
