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
  layer ReLU MLPs of widths 10 .. ~500, Adam lr 1e-3, batch 20000,
  trained to convergence (2e5 steps); they find L ∝ N^-0.4 in parameters.

Setup (scaled to 2 CPU cores, as close to the anchor as the budget allows)
  64 tasks (the anchor's), n = 24 bits, k = 3, alpha = 0.5; one-hidden-layer ReLU MLPs
  of widths 8 .. 256 (730 .. 23298 parameters); Adam lr 3e-3, batch 1024 from a pool of
  2^20 samples (stored as int8: 92 MB), 12000 steps (12M samples, 12 passes over the
  pool), 256 test samples per task, logs every 200 steps.
  * Independent quanta: the tasks' 3-bit subsets are a random *packing*
    (``physai.curricula.parity.packed_subsets``): no two tasks share more than one bit.
    With subsets drawn independently, two tasks sharing two of their three bits are
    common at small n (7% of pairs at n = 16; 0.2% at Michaud's n = 100), and the
    rarer one of such a pair rides on the features of the frequent one: it is learned
    early, out of frequency order. Those pairs, not minibatch noise, caused most
    order swaps of the earlier design: e.g. seed 2's task 10, sharing two bits with
    tasks 2 and 6, was learned before task 9 at every width; among the first 11 tasks
    of the width 128-512 runs, every swap but one (seed 4: task 6 before 5) involves
    such a task.
  * 64 tasks: the loss left after learning n quanta is the Zipf tail sum_{t > n} p_t;
    with 16 tasks this tail is truncated (its log-log slope over n = 1..8 is 0.85
    instead of 0.44 for an infinite Zipf), with 64 it is 0.55, close to the law.
  * A pool of 2^20 samples, close to online training: with 2^18 (47 passes) the
    widest nets memorised the pool's few samples of the rare, unlearned tasks, their test
    cross-entropy on them rose above ln 2, and the width-512 loss ended *above* the
    width-256 loss (0.171 vs 0.149, 2 seeds) although it had learned more tasks (12 vs 10).
  * Batch 1024 (Michaud: 20000): a rare task's gradient per step is ∝ batch * p_t; at
    batch 256 the rarest learned tasks had ~2 samples per batch. At batch 1024 each
    quantum is reached ~2.5x sooner in steps (width 256: task 8 at step ~2500 instead
    of ~7000) and its rise is cleaner.
  The budget, not capacity, still bounds the widest nets (width 512 learned 22-24
  tasks in 2 exploratory seeds, loss slope 0.462 [0.44, 0.49] over widths 8..512);
  width 512 is left out of the paper preset because it doubles the cost.

Run
  physai demo scaling_quanta                      # 6 widths, 1 seed
  physai verify scaling_quanta --preset paper     # 6 widths, 5 seeds
  physai verify scaling_quanta --preset tiny      # seconds; tests only

Results (2 cores shared with other jobs; CPU = user + sys of the command)
  demo (1 seed): 56 s wall / 60 s CPU (load ~4; ~35 s on idle cores). learning order
    supported (median tau 0.935 over 3 runs learning 8-18 tasks), exponent supported
    (0.468, 95% CI [0.40, 0.54]), emerge_abruptly supported (ratio 0.151, tau 0.935).
  paper (5 seeds, 30 runs, ``--backend processes --workers 2``): 185 s wall / 246 s CPU
    (another engineer's jobs on the same cores, load 1-4; 424 s wall at load ~10).
  * quanta_learning_order: SUPPORTED, median per-run Kendall tau 0.950 over 17 runs
    learning 4-18 tasks (12% in exact order: with up to 18 tasks one swap of two
    neighbours already breaks it). By width: 128 and 256 (11 and 16-18 tasks) 0.93-1.00;
    64 (6-8 tasks) 0.73-0.86: at its capacity limit a net of 64 units (~8 per task)
    learns some rare quanta before frequent ones it has no room for yet.
  * quanta_loss_exponent: SUPPORTED, L ∝ N^-0.459 (95% CI [0.398, 0.519]) vs the
    predicted N^-0.5, N = 730..23298. Median learned quanta per width 8..256: 1, 2, 3,
    8, 11, 18. The slope is the same without the smallest widths (0.47-0.51) and with
    width 512 added (2 seeds: 0.462 [0.44, 0.49]).
  * quanta_emerge_abruptly: SUPPORTED, median rise (10% -> 90% from chance to 1) 1009
    steps vs an onset spread of 7225 steps: ratio 0.169 (<= 0.25); onset order tau
    0.950. The rise still lengthens for rarer tasks (gradient ∝ p_t), but the onsets
    now spread over most of the budget. The mean loss's largest drop between two logs
    is 33% of its total drop: the first quantum holds 42% of the probability mass.

History (the design before this one; 2 cores)
  16 tasks, n = 16, independently drawn subsets, batch 256 from a pool of 2^15, 6000
  steps, widths 8..512, 5 seeds (90 s wall): learning order REFUTED (median per-run tau
  0.867; seed-2 runs at 0.47-0.61 at every width >= 32, see "Independent quanta"),
  exponent 0.370 [0.265, 0.474] supported, emerge_abruptly REFUTED (ratio 0.275).
  The same design with packed subsets: tau 1.000 (96% of runs in exact order), ratio
  0.217, but exponent 0.294 [0.204, 0.384] (refuted): the 6000-step budget capped the
  widest nets at 7 learned tasks, and the truncated 16-task tail bent the curve. The
  old design's 0.37 came from two compensating distortions (budget-limited widths,
  truncated tail); a 4x bigger pool then gave 0.685.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pandas as pd
from scipy import stats as sps

import physai
from analysis.stats import loglog_slope
from analysis.transitions import transition_step
from physai import (
    Experiment,
    Hypothesis,
    Preset,
    Results,
    ShardResult,
    Verdict,
    all_of,
    models,
    product,
    verdict_in_range,
)
from physai import train as trainer
from physai.curricula.parity import multitask_sparse_parity, multitask_sparse_parity_with_subsets, packed_subsets
from physai.domains import NON_NEGATIVE, POSITIVE_INT, Domain

# ----------------------------------------------------------------------------- constants

LEARNED_ACC = 0.9  # a task counts as learned if its final test accuracy is >= this
ONSET_ACC = 0.75  # onset: half-way from chance (0.5) to 1
RISE_LOW, RISE_HIGH = 0.1, 0.9  # rise window, as fractions of the way from 0.5 to 1
MIN_LEARNED = 4  # runs with fewer learned tasks say nothing about order
MIN_TAU = 0.9
EXPONENT_TOL = 0.15
MAX_WIDTH_RATIO = 0.25  # median rise width / onset spread


def acc_metric(task: int) -> str:
    """Name of task ``task``'s test-accuracy curve (split ``test``)."""
    return f"acc_task_{task:02d}"


# ----------------------------------------------------------------------------- run


@dataclass(frozen=True)
class Static(physai.Static):
    """One shard per width and task set-up (every setting changes shapes or the data)."""

    n_tasks: int
    n_bits: int
    k: int
    alpha: float
    width: int
    steps: int
    log_every: int
    batch_size: int
    n_train: int
    n_test_per_task: int
    max_overlap: int


def make_task(st: Static) -> trainer.Task:
    """The training task; ``max_overlap >= 0`` draws the tasks' subsets as a random packing
    (no two sharing more than ``max_overlap`` bits, ``packed_subsets``), ``-1`` independently."""
    n_tasks, n_bits, max_overlap = st.n_tasks, st.n_bits, st.max_overlap
    model = models.MLP(width=st.width, out=2)

    def data(key, hp):
        if max_overlap < 0:
            out = multitask_sparse_parity(key, n_tasks, n_bits, st.k, st.alpha, st.n_train, st.n_test_per_task)
            return {**out, "subsets_found": jnp.int32(n_tasks)}
        k_sub, k_rest = jax.random.split(key)
        subsets, found = packed_subsets(k_sub, n_bits, st.k, n_tasks, max_overlap)
        out = multitask_sparse_parity_with_subsets(
            k_rest, subsets, n_bits, st.alpha, st.n_train, st.n_test_per_task, dtype=jnp.int8
        )
        return {**out, "subsets_found": found}

    def init(key, hp):
        return models.init_mlp(model, key, n_tasks + n_bits)

    def per_sample(params, x, y):
        # The trainer's minibatches carry x_train / y_train only, so the 0/1 label
        # is rebuilt from the +-1 target (label = (1 - y) / 2, as in the curriculum).
        logits = model.apply({"params": params}, x.astype(jnp.float32))
        label = ((1 - y.astype(jnp.float32)) / 2).astype(jnp.int32)
        return (optax.softmax_cross_entropy_with_integer_labels(logits, label), jnp.argmax(logits, -1) == label)

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

    def probe(key, params, d, hp):  # how many subsets the packing found (a check, not a curve)
        return {"subsets_found": d["subsets_found"]}

    return trainer.Task(data, init, loss, metrics, lambda hp: optax.adam(hp["lr"]), probe=probe)


def rise_window(steps: np.ndarray, acc: np.ndarray) -> tuple[float, float, float]:
    """Onset and 10% -> 90% rise width of one task's accuracy curve.

    The levels are fixed fractions of the way from chance (0.5) to 1, not of the
    curve's observed range (``analysis.transitions.transition_width``): the noisy plateau
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
    if a1 <= a0:
        return onset, float(steps[i]), end
    start = float(steps[i] + (low - a0) / (a1 - a0) * (steps[i + 1] - steps[i]))
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
    tau = float(sps.kendalltau(learned[ok], onset[ok]).statistic) if ok.sum() >= 2 else float("nan")
    spread = float(np.nanmax(onset) - np.nanmin(onset)) if ok.sum() >= 2 else float("nan")
    median_rise = float(np.nanmedian(rise)) if np.isfinite(rise).any() else float("nan")
    drops = -np.diff(mean_loss)
    total = float(mean_loss[0] - mean_loss.min())
    return {
        "n_learned": int(learned.size),
        "order_tau": tau,
        "median_rise": median_rise,
        "onset_spread": spread,
        "width_ratio": median_rise / spread if spread and spread > 0 else float("nan"),
        "loss_max_drop_share": float(drops.max() / total) if total > 0 else float("nan"),
    }


def run(shard) -> ShardResult:
    """Trains the shard's seeds at one width and summarises each run."""
    st = shard.static
    n_params = models.count_mlp_params(st.n_tasks + st.n_bits, st.width, 1, 2)

    def summary(i, trial, result):
        found = int(result.final["subsets_found"][i])
        if found < st.n_tasks:
            raise RuntimeError(
                f"the subset packing found only {found} of {st.n_tasks} subsets "
                f"with <= {st.max_overlap} shared bits; lower n_tasks or raise n_bits"
            )
        acc = np.stack([result.curves["test_" + acc_metric(t)][i] for t in range(st.n_tasks)])
        return {
            "n_params": n_params,
            "mean_acc": float(acc[:, -1].mean()),
            **run_summary(result.steps, acc, np.asarray(result.curves["test_loss"][i])),
        }

    return trainer.run_shard(
        make_task(st),
        shard,
        hparams=("seed", "lr"),
        steps=st.steps,
        log_every=st.log_every,
        batch_size=st.batch_size,
        columns=("test_loss",),
        extra=summary,
    )


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
        return Verdict("inconclusive", float("nan"), f">= {MIN_TAU:g}", f"no run learned >= {MIN_LEARNED} tasks")
    tau = float(runs["order_tau"].median())
    exact = float((runs["order_tau"] >= 1 - 1e-9).mean())
    return verdict_in_range(
        tau,
        MIN_TAU,
        1.0,
        f"over {len(runs)} runs learning {int(runs['n_learned'].min())}-"
        f"{int(runs['n_learned'].max())} tasks, onsets follow frequency rank "
        f"(median Kendall tau {tau:.3f}; {exact:.0%} in exact order)",
    )


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
    return verdict_in_range(
        -slope,
        alpha - EXPONENT_TOL,
        alpha + EXPONENT_TOL,
        f"mean loss ∝ N^-{-slope:.3f} (95% CI [{-hi:.3f}, {-lo:.3f}]) over "
        f"N = {int(med['n_params'].min())}..{int(med['n_params'].max())}, "
        f"predicted L ∝ N^-alpha with alpha = {alpha:g}",
    )


def check_emerge_abruptly(results: Results) -> Verdict:
    """Median rise width / onset spread <= 0.25 and median order tau >= 0.9."""
    runs = _ordered_runs(results)
    runs = runs[np.isfinite(runs["width_ratio"])] if len(runs) else runs
    if runs.empty:
        return Verdict("inconclusive", float("nan"), "", f"no run learned >= {MIN_LEARNED} tasks")
    ratio = float(runs["width_ratio"].median())
    tau = float(runs["order_tau"].median())
    drop = float(runs["loss_max_drop_share"].median())
    parts = [
        verdict_in_range(ratio, 0.0, MAX_WIDTH_RATIO, hypothesis="width_over_spread"),
        verdict_in_range(tau, MIN_TAU, 1.0, hypothesis="onset_order_tau"),
    ]
    return all_of(
        parts,
        f"each task rises over a median {runs['median_rise'].median():.0f} steps "
        f"while onsets spread over {runs['onset_spread'].median():.0f} steps "
        f"(ratio {ratio:.3f}); the mean loss's largest single-log drop is "
        f"{drop:.0%} of its total drop",
    )


HYPOTHESES = (
    Hypothesis(
        "quanta_learning_order",
        "Tasks (quanta) are learned in order of their frequency",
        "Michaud et al. 2023 Sec. 3 / Fig. 3; ANCHORS.md Quantization model: Kendall tau >= 0.9",
        check_learning_order,
    ),
    Hypothesis(
        "quanta_loss_exponent",
        "The frequency-weighted mean loss falls as N^-alpha in the parameter count",
        "Michaud et al. 2023 Eq. 3 / Fig. 2 (L ∝ N^-alpha); ANCHORS.md Quantization "
        "model: within +-0.15 (seen -0.39 vs -0.5)",
        check_loss_exponent,
    ),
    Hypothesis(
        "quanta_emerge_abruptly",
        "Each quantum's accuracy rises over a window short relative to the spread of "
        "onsets, in frequency order, while the mean loss falls gradually",
        "Michaud et al. 2023 Fig. 3; ANCHORS.md Emergence c",
        check_emerge_abruptly,
    ),
)

# ----------------------------------------------------------------------------- presets

SETTINGS = {
    "n_tasks": 64,
    "n_bits": 24,
    "k": 3,
    "alpha": 0.5,
    "lr": 3e-3,
    "batch_size": 1024,
    "steps": 12000,
    "log_every": 200,
    "n_train": 2**20,
    "n_test_per_task": 256,
    "max_overlap": 1,
}
WIDTHS = [8, 16, 32, 64, 128, 256]

PRESETS = {
    "tiny": Preset(
        product(width=[8, 32, 128], seed=[0]),
        {
            **SETTINGS,
            "n_tasks": 8,
            "n_bits": 10,
            "batch_size": 256,
            "steps": 1000,
            "log_every": 50,
            "n_train": 4096,
            "n_test_per_task": 256,
        },
        "seconds-long smoke test (no verdict expected)",
    ),
    "demo": Preset(
        product(width=WIDTHS, seed=[0]), SETTINGS, "64 tasks, n = 24, k = 3, alpha = 0.5, widths 8..256, one seed"
    ),
    "paper": Preset(
        product(width=WIDTHS, seed=range(5)), SETTINGS, "64 tasks, n = 24, k = 3, alpha = 0.5, widths 8..256, 5 seeds"
    ),
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
    sns.scatterplot(df, x="n_params", y="test_loss", ax=ax, color="grey", alpha=0.5, label="runs")
    ax.plot(med["n_params"], med["test_loss"], "o", color="C0", label="median over seeds")
    if len(med) >= 3:
        slope, lo, hi = loglog_slope(med["n_params"], med["test_loss"])
        n = np.geomspace(med["n_params"].min(), med["n_params"].max(), 50)
        c = np.exp(np.mean(np.log(med["test_loss"]) - slope * np.log(med["n_params"])))
        ax.plot(n, c * n**slope, color="C0", label=f"fit: N^-{-slope:.2f} [{-hi:.2f}, {-lo:.2f}]")
        # The prediction's prefactor is free: anchor it at the data's log-mean.
        c_pred = np.exp(np.mean(np.log(med["test_loss"]) + alpha * np.log(med["n_params"])))
        ax.plot(n, c_pred * n**-alpha, color="C3", ls="--", label=f"prediction N^-{alpha:g}")
    ax.set(
        xscale="log",
        yscale="log",
        xlabel="parameters N",
        ylabel="frequency-weighted test loss",
        title="Multitask sparse parity",
    )
    ax.legend(fontsize=8)
    fig.tight_layout()
    figures["loss_vs_params"] = fig

    curves = results.curves
    if not curves.empty:
        acc = curves[(curves["split"] == "test") & curves["metric"].str.startswith("acc_task_")]
        acc = acc.assign(task=acc["metric"].str[len("acc_task_") :].astype(int))
        acc = acc.merge(df[["trial_id", "width", "seed"]], on="trial_id")
        acc = acc[acc["seed"] == acc["seed"].min()]
        widths = sorted(acc["width"].unique())
        shown = widths[-3:]
        fig, axes = plots.figure(ncols=len(shown), width=4.2, height=3.4, squeeze=False)
        for ax, w in zip(axes[0], shown):
            sns.lineplot(
                acc[acc["width"] == w], x="step", y="value", hue="task", palette="viridis", ax=ax, lw=1, legend=False
            )
            ax.set(ylabel="test accuracy" if ax is axes[0][0] else "", title=f"width {w}", ylim=(0.4, 1.02))
        n_tasks = int(acc["task"].max()) + 1
        sm = mpl.cm.ScalarMappable(cmap="viridis", norm=mpl.colors.Normalize(1, n_tasks))
        fig.colorbar(sm, ax=axes[0].tolist(), label="frequency rank")
        fig.suptitle("Per-task accuracy, coloured by frequency rank (1 = most frequent)", y=1.04)
        figures["task_curves"] = fig
        loss = curves[(curves["split"] == "test") & (curves["metric"] == "loss")]
        loss = loss.merge(df[["trial_id", "width", "seed"]], on="trial_id")
        fig, ax = plots.figure(width=5, height=3.6)
        sns.lineplot(loss, x="step", y="value", hue="width", units="seed", estimator=None, palette="magma", ax=ax, lw=1)
        ax.set(yscale="log", ylabel="frequency-weighted test loss", title="Mean loss vs step")
        fig.tight_layout()
        figures["mean_loss_curves"] = fig
    return figures


# Allowed values of this experiment's own parameters (physai.domains.COMMON has the shared ones).
DOMAINS = {
    "n_tasks": POSITIVE_INT,
    "n_bits": POSITIVE_INT,
    "k": Domain(low=1, integer=True, at_most="n_bits"),
    "alpha": NON_NEGATIVE,
    "n_test_per_task": POSITIVE_INT,
    "max_overlap": Domain(low=0, integer=True),
}

EXPERIMENT = Experiment(
    name="scaling_quanta",
    question="On multitask sparse parity with Zipf task frequencies, are tasks learned one by "
    "one in frequency order, and does the mean loss fall as N^-alpha?",
    hypotheses=HYPOTHESES,
    presets=PRESETS,
    run=run,
    plot=plot,
    static=Static,
    max_shard_size=5,
    domains=DOMAINS,
    doc=__doc__,
)
