"""Sparse parity: does SGD learn abruptly after a long plateau, while hidden progress grows steadily?

Question
  Barak, Edelman, Goel, Kakade, Malach & Zhang (2022, "Hidden progress in deep
  learning: SGD learns parities near the computational limit", Fig. 1 / 2): a
  one-hidden-layer ReLU network (width 1000) trained by online SGD (lr 0.1, batch
  32, hinge loss) on the (n, k)-sparse parity (label = product of k hidden
  coordinates of x in {-1, +1}^n) sits at chance accuracy for a long time, then
  jumps to 100%; the time to learn grows like n^{O(k)}. The loss curve hides
  progress that a measure on the weights reveals: the first layer's weights on the
  k relevant coordinates grow steadily during the plateau.

Hypotheses, in words (each median, rate and correlation below is recomputed on
seed-bootstrap resamples, whole seeds drawn with every run they hold, and the verdict
is decided by its 95% interval: supported only if the interval lies inside the range,
refuted only if wholly outside)
  a. ``abrupt_learning``: most runs (>= 90%) solve the task (test accuracy >= 0.99)
     within the budget, and for each k the 10-90% rise of test accuracy (0.55 -> 0.95)
     is short against the plateau before it: the rise share (steps from 0.55 to 0.95)
     / (steps to 0.55) has a median over runs <= 0.5, and it shrinks with n (Spearman
     rho of the runs' rise shares against n below 0, for each k with >= 3 values of n).
  b. ``time_grows_with_n_and_k``: for each k swept (with >= 3 values of n) the median
     time to solve rises strictly with n (Spearman rho = 1 over n), and for each pair
     of adjacent k swept over >= 3 common n, the growth exponent e of t ~ n^e (slope of
     log median steps on log n) is larger for the larger k (difference > 0).
  c. ``hidden_progress`` (for each k): during the plateau (test accuracy within 0.5 +-
     0.03) the first-layer weights on the k relevant coordinates grow along their
     initial signs beyond the others, steadily: ``A(t) = [mean_{j in S} - mean_{j not
     in S}] mean_units (W_ju(t) - W_ju(0)) sign(W_ju(0)) / mean |W(0)|`` has a median
     Spearman rho with the step >= 0.8 over the plateau, and at its end >= 1.5x its
     value at the midpoint (median; growth from A <= 0 is infinite, capped for the
     bootstrap). The signed movement is linear in the drift; the squared one is
     dominated by minibatch noise.

Sources
  Each hypothesis names its paper, figure, statement and the reason for its tolerance
  (``HYPOTHESES`` below). Barak et al. train online; here minibatches are drawn from a
  stream of 2^16 fresh samples per run (<= ~15 passes); test accuracy is measured on
  8192 held-out samples every 50 steps (s.d. at chance 0.5 / sqrt(8192) = 0.0055).

Initialisation
  Hidden biases are drawn U(-s, s) / sqrt(n) with s = ``bias_scale`` = 1, the default of
  PyTorch's nn.Linear in which Barak et al. work; Flax's default, zero biases, is a
  contrast (``--set bias_scale=0``): a bias-free ReLU unit's derivative has no
  even-degree Fourier coefficients, so for odd k the signal on the relevant bits
  vanishes until the biases drift, and k = 3 waits longer than it should.

Known limitations
  No check applies the convergence caveat: the hypotheses are about fixed-budget SGD
  dynamics, and the minibatch hinge loss keeps fluctuating after the task is solved.
  n^O(k) is an order: at one small n the constants can put k = 4 ahead of k = 3.

Run
  physai demo sparse_parity                     # k = 3, n in {20, 30, 40, 50}, 1 seed; ~0.5 min CPU
  physai verify sparse_parity --preset paper    # k in {3, 4}, n 20..70, 3 seeds; ~2 min, 2 CPU cores
  physai verify sparse_parity --preset tiny     # seconds; tests only
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pandas as pd
from scipy.stats import rankdata

import physai
from analysis.stats import spearman
from analysis.transitions import transition_step
from physai import Experiment, Hypothesis, Preset, Results, ShardResult, Source, Verdict, all_of, chain, models, product
from physai import train as trainer
from physai.curricula.parity import sparse_parity
from physai.domains import POSITIVE_INT, Domain
from physai.evidence import bootstrap_verdict, slim

# ----------------------------------------------------------------------------- constants

SOLVED_ACC = 0.99
BAND = 0.03  # plateau (hidden progress): |test accuracy - 0.5| <= BAND
RISE = (0.55, 0.95)  # the 10-90% rise of test accuracy from chance (0.5) to 1
MAX_RISE = 0.5  # the rise takes <= this share of the plateau before it (steps to RISE[0])
MIN_SOLVED = 0.9  # share of runs that must solve within the budget
MIN_PROGRESS_RHO = 0.8  # Spearman(step, movement ratio) over the plateau
MIN_PROGRESS_GROWTH = 1.5

# ----------------------------------------------------------------------------- run


@dataclass(frozen=True)
class Static(physai.Static):
    n_bits: int
    k: int
    width: int
    steps: int
    log_every: int
    batch_size: int
    n_train: int
    n_test: int


def make_task(st: Static) -> trainer.Task:
    n_bits = st.n_bits
    model = models.MLP(width=st.width)

    def data(key, hp):
        return sparse_parity(key, n_bits, st.k, st.n_train, st.n_test)

    def init(key, hp):
        net = models.init_mlp(model, key, n_bits)
        # Hidden biases drawn U(-s, s) / sqrt(n), s = bias_scale: s = 1 is the default init of
        # PyTorch's nn.Linear, the framework of Barak et al.'s code. Zero biases (s = 0, Flax's
        # default) are a contrast, not the paper's set-up: the derivative of a bias-free ReLU unit
        # has no even-degree Fourier coefficients, so for odd k the gradient on the relevant
        # bits vanishes until the biases drift away from 0.
        bias = jax.random.uniform(jax.random.fold_in(key, 1), (st.width,), minval=-1.0, maxval=1.0)
        net = {**net, "hidden_0": {**net["hidden_0"], "bias": hp["bias_scale"] * bias / jnp.sqrt(n_bits)}}
        # The initial first-layer kernel rides along as a constant: the loss never
        # reads it, so its gradient is 0 and plain SGD leaves it unchanged.
        return {"net": net, "kernel0": net["hidden_0"]["kernel"]}

    def predict(params, x):
        return model.apply({"params": params["net"]}, x)[:, 0]

    def loss(params, batch, hp):
        return jnp.mean(jnp.maximum(0.0, 1.0 - batch["y_train"] * predict(params, batch["x_train"])))

    def metrics(params, d, hp):
        w0 = params["kernel0"]
        # Movement along each weight's initial sign: linear in the drift that SGD's
        # Fourier gap puts on the relevant rows, while minibatch noise averages to ~0
        # over the 1000 neurons. (The squared movement is dominated by that noise.)
        along = jnp.mean((params["net"]["hidden_0"]["kernel"] - w0) * jnp.sign(w0), axis=1)
        rel = d["relevant_mask"]
        gap = jnp.sum(along * rel) / jnp.sum(rel) - jnp.sum(along * (1 - rel)) / jnp.sum(1 - rel)
        return {
            "test_acc": jnp.mean(jnp.sign(predict(params, d["x_test"])) == d["y_test"]),
            "relevant_amplification": gap / jnp.mean(jnp.abs(w0)),
        }

    return trainer.Task(data, init, loss, metrics, lambda hp: optax.sgd(hp["lr"]))


def trial_events(steps: np.ndarray, acc: np.ndarray, ratio: np.ndarray) -> dict:
    """Plateau, jump and hidden progress of one run.

    Args:
      steps: ``(L,)`` logged steps; acc: test accuracy; ratio: the progress measure
        (relevant amplification).

    Returns:
      ``steps_to_solve`` (interpolated first crossing of SOLVED_ACC; NaN if never),
      ``solved``, ``rise_start`` / ``rise_end`` (interpolated first crossings of
      RISE[0] / RISE[1]), ``rise_share`` ((rise_end - rise_start) / rise_start: the
      10-90% rise relative to the plateau before it; NaN if 0.95 is never reached),
      ``progress_rho`` (Spearman of the measure vs step over the in-band logs in
      [first log, last in-band step]), ``progress_growth`` (the measure at the last
      in-band step over its value at half that step; inf if it was <= 0 there and is
      > 0 at the end, 0 if it is <= 0 at the end).
    """
    t_solve = transition_step(steps, acc, SOLVED_ACC)
    start, end = (transition_step(steps, acc, level) for level in RISE)
    out = {
        "steps_to_solve": t_solve,
        "solved": not math.isnan(t_solve),
        "rise_start": start,
        "rise_end": end,
        "rise_share": (end - start) / start if start > 0 else float("nan"),
    }
    if math.isnan(t_solve) or t_solve <= 0:
        return {**out, "progress_rho": float("nan"), "progress_growth": float("nan")}
    inside = np.abs(acc - 0.5) <= BAND
    last_in = np.flatnonzero(inside & (steps <= t_solve))
    t_last_in = float(steps[last_in[-1]]) if last_in.size else 0.0
    plateau = (steps > 0) & (steps <= t_last_in) & inside
    idx = np.flatnonzero(plateau)
    if idx.size >= 3:
        rho = spearman(steps[idx], ratio[idx])
        end = float(ratio[idx[-1]])
        mid = float(ratio[np.searchsorted(steps, steps[idx[-1]] / 2)])
        growth = end / mid if mid > 0 else (math.inf if end > 0 else 0.0)
    else:
        rho, growth = float("nan"), float("nan")
    return {**out, "progress_rho": rho, "progress_growth": growth}


def run(shard) -> ShardResult:
    """Trains the shard's runs (same n, k) with online-style minibatch SGD."""
    st = shard.static

    def events(i, trial, result):
        return trial_events(result.steps, result.curves["test_acc"][i], result.curves["relevant_amplification"][i])

    return trainer.run_shard(
        make_task(st),
        shard,
        ("seed", "lr", "bias_scale"),
        steps=st.steps,
        log_every=st.log_every,
        batch_size=st.batch_size,
        columns=("test_acc", "relevant_amplification"),
        extra=events,
    )


# ----------------------------------------------------------------------------- checks
#
# Every number compared with a range is recomputed on seed-bootstrap resamples (whole seeds,
# every (k, n) run of a drawn seed along); the checks read whatever k and n the table holds.


def _solved_rate(df: pd.DataFrame) -> float:
    """Fraction of the table's runs that solved the task."""
    return float(df["solved"].to_numpy(bool).mean()) if len(df) else math.nan


GROWTH_CAP = 1e3  # progress_growth is inf where A(t) <= 0 at the plateau's midpoint: capped for the bootstrap


def _median_of(column: str, cap: float = math.inf):
    """Returns: table -> median of ``column`` (values above ``cap`` count as ``cap``) over the solved runs
    with a value (NaN if none). The bootstrap needs a finite number; a cap far above the range's bound
    does not change what the median says against it."""

    def statistic(df: pd.DataFrame) -> float:
        v = df[column].to_numpy(float)[df["solved"].to_numpy(bool)]
        v = np.minimum(v[~np.isnan(v)], cap)
        return float(np.median(v)) if v.size else math.nan

    return statistic


def _rise_rho(df: pd.DataFrame) -> float:
    """Spearman rho of the solved runs' rise shares against n (one k's rows; < 0: the rise shrinks with n)."""
    solved = df["solved"].to_numpy(bool)
    return spearman(df["n_bits"].to_numpy(float)[solved], df["rise_share"].to_numpy(float)[solved])


def check_abrupt(results: Results) -> Verdict:
    """Solved rate >= 0.9; per k: median rise share <= 0.5 and Spearman(n, rise share) < 0 (95% seed-bootstrap
    intervals)."""
    df = results.ok
    if df.empty or "solved" not in df.columns:
        return Verdict("inconclusive", float("nan"), "", "no runs")
    rate = _solved_rate(df)
    rate_part = bootstrap_verdict(
        slim(df, "solved"), _solved_rate, MIN_SOLVED, 1.0, "fraction of runs solved", hypothesis="solved_rate"
    )
    solved = df[df["solved"].astype(bool)]
    if solved.empty:
        return dataclasses.replace(rate_part, hypothesis="", explanation="no run solved the task")
    parts, text = [rate_part], []
    for k, g in solved.groupby("k"):
        table = slim(df[df["k"] == k], "solved", "n_bits", "rise_share")
        parts.append(
            bootstrap_verdict(table, _median_of("rise_share"), 0.0, MAX_RISE, "median share", hypothesis=f"rise(k={k})")
        )
        if g["n_bits"].nunique() >= 3:
            parts.append(
                bootstrap_verdict(table, _rise_rho, -1.0, -1e-9, "Spearman rho", hypothesis=f"rise_vs_n(k={k})")
            )
        med = g.groupby("n_bits")["rise_share"].median()
        text.append(f"k={k}: " + ", ".join(f"n={n}: {r:.2f}" for n, r in med.items()))
    return all_of(
        parts,
        f"{rate:.0%} of runs solve; median (steps from {RISE[0]:g} to {RISE[1]:g} test accuracy) / (steps to "
        f"{RISE[0]:g}) by n: " + "; ".join(text),
    )


def _medians(df: pd.DataFrame) -> pd.DataFrame:
    """Median steps-to-solve per (k, n); unsolved runs count as infinite."""
    d = df.assign(t=df["steps_to_solve"].fillna(np.inf))
    return d.groupby(["k", "n_bits"])["t"].median().reset_index()


def _rho_over_n(df: pd.DataFrame) -> float:
    """Spearman rho of the per-n median steps-to-solve (unsolved = inf) against n (one k's rows)."""
    t = df["steps_to_solve"].to_numpy(float)
    t = np.where(np.isnan(t), np.inf, t)
    ns, codes = np.unique(df["n_bits"].to_numpy(float), return_inverse=True)
    med = np.array([np.median(t[codes == i]) for i in range(len(ns))])
    if len(ns) < 3:
        return math.nan
    if np.all(med == med[0]):
        return 0.0
    return spearman(ns, rankdata(med))  # ranks: an infinite median (never solved) is the slowest, not dropped


def _growth_exponent(t: np.ndarray, n: np.ndarray) -> float:
    """Least-squares slope of log(median steps to solve) on log n: the exponent of t ~ n^e
    (NaN with fewer than 3 values of n, or when a median is infinite: some n never solved)."""
    ns, codes = np.unique(n, return_inverse=True)
    med = np.array([np.median(t[codes == i]) for i in range(len(ns))])
    if len(ns) < 3 or not np.isfinite(med).all():
        return math.nan
    return float(np.polyfit(np.log(ns), np.log(med), 1)[0])


def _exponent_gap(df: pd.DataFrame) -> float:
    """Growth exponent over n at the table's larger k minus at its smaller k, over the n both have."""
    t = df["steps_to_solve"].to_numpy(float)
    t = np.where(np.isnan(t), np.inf, t)
    k, n = df["k"].to_numpy(), df["n_bits"].to_numpy(float)
    k_lo, k_hi = np.unique(k)[[0, -1]]
    shared = np.isin(n, np.intersect1d(n[k == k_lo], n[k == k_hi]))
    lo, hi = shared & (k == k_lo), shared & (k == k_hi)
    return _growth_exponent(t[hi], n[hi]) - _growth_exponent(t[lo], n[lo])


def check_time_grows(results: Results) -> Verdict:
    """Per k (with >= 3 n): Spearman(n, median time) = 1; per pair of adjacent k: the larger k is slower at
    every shared n. 95% seed-bootstrap intervals."""
    df = results.ok
    if df.empty or "k" not in df.columns:
        return Verdict("inconclusive", float("nan"), "", "no runs")
    df = slim(df, "k", "n_bits", "steps_to_solve")
    med = _medians(df)
    parts, text = [], []
    for k, g in med.groupby("k"):
        g = g.sort_values("n_bits")
        text.append(f"k={k}: " + ", ".join(f"n={n}: {t:.0f}" for n, t in zip(g["n_bits"], g["t"])))
        if len(g) < 3:
            continue
        parts.append(
            bootstrap_verdict(
                df[df["k"] == k], _rho_over_n, 1.0 - 1e-9, 1.0, "Spearman rho", hypothesis=f"rho_n(k={k})"
            )
        )
    ks = sorted(med["k"].unique())
    for k_lo, k_hi in zip(ks, ks[1:]):
        pair = df[df["k"].isin([k_lo, k_hi])]
        if len(set(pair.loc[pair["k"] == k_lo, "n_bits"]) & set(pair.loc[pair["k"] == k_hi, "n_bits"])) < 3:
            continue
        parts.append(
            bootstrap_verdict(
                pair, _exponent_gap, 0.0, math.inf, "exponent difference", hypothesis=f"exponent(k={k_hi})-(k={k_lo})"
            )
        )
    if not parts:
        return Verdict("inconclusive", float("nan"), "", "need >= 3 values of n or >= 2 values of k")
    return all_of(parts, "median steps to solve: " + "; ".join(text))


def check_hidden_progress(results: Results) -> Verdict:
    """Per k: median plateau Spearman(step, amplification) >= 0.8 and median growth >= 1.5 (95% seed-bootstrap
    intervals)."""
    df = results.ok
    solved = df[df["solved"].astype(bool)] if "solved" in df.columns else df.iloc[0:0]
    solved = solved[np.isfinite(solved["progress_rho"])] if len(solved) else solved
    if solved.empty:
        return Verdict("inconclusive", float("nan"), "", "no solved run with a plateau")
    parts, text = [], []
    for k, g in solved.groupby("k"):
        table = slim(g, "solved", "progress_rho", "progress_growth")
        parts += [
            bootstrap_verdict(
                table, _median_of("progress_rho"), MIN_PROGRESS_RHO, 1.0, "median rho", hypothesis=f"rho(k={k})"
            ),
            bootstrap_verdict(
                table,
                _median_of("progress_growth", GROWTH_CAP),
                MIN_PROGRESS_GROWTH,
                math.inf,
                f"median growth (capped at {GROWTH_CAP:g})",
                hypothesis=f"growth(k={k})",
            ),
        ]
        text.append(f"k={k}: {len(g)} runs, median growth {g['progress_growth'].median():.3g}")
    return all_of(
        parts,
        "while test accuracy is flat at chance the relevant coordinates' amplification grows (end/mid "
        "plateau): " + "; ".join(text),
    )


BARAK_2022 = "Barak, Edelman, Goel, Kakade, Malach, Zhang 2022, NeurIPS"

HYPOTHESES = (
    Hypothesis(
        "abrupt_learning",
        "Test accuracy sits at chance for a long plateau, then rises from 0.55 to 0.95 in a short time "
        "against it, shorter relative to the plateau as n grows",
        "Barak et al. 2022 Fig. 1 (abrupt phase transitions in the training curves)",
        check_abrupt,
        source=Source(
            paper=BARAK_2022,
            where="abstract; Fig. 1 (training curves)",
            statement="qualitative: a variety of networks learn sparse parities 'with discontinuous phase "
            "transitions in the training curves': error sits at chance, then drops abruptly; no plateau "
            "length or jump width is given.",
            tolerance=f"a convention of this project, not from the paper (its Fig. 1/2 show the shape, no "
            f"number): the 10-90% rise of test accuracy ({RISE[0]:g} -> {RISE[1]:g}, from chance to 1) is "
            f"measured against the plateau before it (steps to {RISE[0]:g}), so the slow drift inside the "
            f"chance band and the tail above {RISE[1]:g} count in neither; 'quickly' is a median rise share "
            f"<= {MAX_RISE:g} for each k (a curve rising linearly from step 0 has 8, an exponential approach "
            "21); 'abrupt' also means sharper on larger instances, as the plateau's n^O(k) search outgrows "
            "the rise: Spearman rho of the rise shares against n below 0 for each k with >= 3 n; 'most runs' "
            f"is >= {MIN_SOLVED:.0%} solving (test accuracy >= {SOLVED_ACC:g}) within the budget.",
        ),
    ),
    Hypothesis(
        "time_grows_with_n_and_k",
        "The time to learn grows with n and with k",
        "Barak et al. 2022 (learning at ~n^O(k) iterations)",
        check_time_grows,
        source=Source(
            paper=BARAK_2022,
            where="abstract",
            statement="'On small instances, learning abruptly occurs at approximately n^{O(k)} iterations', "
            "nearly matching the SQ lower bounds; the constants are not given.",
            tolerance="for each k the median steps to solve must rise at every step of n (Spearman rho = 1, a "
            "convention of this project), and, as n^O(k) states, the growth exponent over n (least-squares "
            "slope of log median steps on log n) must be larger for the larger k: their difference's interval "
            "above 0. The order of the two k at a single small n is not part of the claim (constants decide it).",
        ),
    ),
    Hypothesis(
        "hidden_progress",
        "The first layer's weights on the relevant coordinates grow "
        "along their initial signs (beyond the others) steadily during the plateau",
        "Barak et al. 2022 (hidden progress: SGD amplifies a Fourier gap)",
        check_hidden_progress,
        source=Source(
            paper=BARAK_2022,
            where="abstract; theoretical analysis (Fourier gap in the population gradient)",
            statement="qualitative: 'SGD gradually amplifies the sparse solution via a Fourier gap in the "
            "population gradient, making continual progress that is invisible to loss and error metrics'. "
            "The measure A(t) is this project's, not the paper's.",
            tolerance=f"a convention of this project, not from the paper: for each k, 'steadily' is a median "
            f"Spearman(step, A) >= {MIN_PROGRESS_RHO:g} over the plateau (test accuracy within 0.5 +- {BAND:g}, "
            "~5 s.d. of accuracy at chance on the 8192 held-out samples) and A at its end "
            f">= {MIN_PROGRESS_GROWTH:g}x A at its midpoint (a measure that grows linearly from 0 gives rho = 1 "
            "and a factor 2).",
        ),
    ),
)

# ----------------------------------------------------------------------------- presets

BARAK = {"width": 1000, "lr": 0.1, "batch_size": 32, "log_every": 50, "n_train": 2**16, "n_test": 8192}
BARAK["bias_scale"] = 1.0  # nn.Linear's default bias init (see make_task)

PRESETS = {
    "tiny": Preset(
        product(k=[3], n_bits=[10, 12, 14], steps=[1000], seed=[0]),
        {**BARAK, "width": 128, "n_train": 4096, "n_test": 1024},
        "seconds-long smoke test (no verdict expected)",
    ),
    "demo": Preset(
        product(k=[3], n_bits=[20, 30, 40, 50], steps=[6000], seed=[0]),
        BARAK,
        "k = 3, n in {20, 30, 40, 50}, one seed, width 1000",
    ),
    "paper": Preset(
        chain(
            product(k=[3], n_bits=[20, 30, 40, 50, 60, 70], steps=[8000], seed=range(3)),
            product(k=[4], n_bits=[20, 30, 40, 50, 60, 70], steps=[12000], seed=range(3)),
        ),
        BARAK,
        "k in {3, 4}, n in {20, ..., 70}, 3 seeds, width 1000",
    ),
}

# ----------------------------------------------------------------------------- plots


def plot(results: Results) -> dict:
    """The figures (in ``experiments/_sparse_parity_plots.py``, to keep this file short)."""
    from experiments._sparse_parity_plots import plot as draw

    return draw(results)


# Allowed values of this experiment's own parameters (physai.domains.COMMON has the shared ones).
DOMAINS = {
    "n_bits": POSITIVE_INT,
    "k": Domain(low=1, integer=True, at_most="n_bits"),
    "bias_scale": Domain(low=0.0),
}

EXPERIMENT = Experiment(
    name="sparse_parity",
    question="Does SGD learn sparse parities abruptly after a plateau at chance whose length "
    "grows with n and k, while a hidden progress measure grows steadily?",
    hypotheses=HYPOTHESES,
    presets=PRESETS,
    run=run,
    plot=plot,
    static=Static,
    max_shard_size=3,
    domains=DOMAINS,
    doc=__doc__,
)
