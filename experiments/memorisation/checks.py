"""The checks of ``experiments.memorisation``: per-trial times and accuracies read off the stored
curves, the linear anchor's learning times, and the hypotheses with their sources."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from analysis.stats import spearman
from physai import Hypothesis, Results, Source, Verdict, all_of
from physai.evidence import bootstrap_verdict, slim

HIGH_ACC = 0.9  # "high accuracy" of a subset: 90% of its points
MIN_TRUE = 0.5  # (a) more than half the mislabelled points predicted with their true class
MIN_RHO = 0.8  # (d) one swapped adjacent pair among 4 q values gives rho = 0.8
GAP_SES = 3.0  # (c) the gap must exceed 3 binomial standard errors of the test accuracy
SLOPE_RANGE = (0.9, 1.1)  # (f) see the source's tolerance
LATE = 0.1  # "the end of training": its last tenth
AFTER = 1.0 + 1e-9  # (b) "before": the ratio must exceed 1, not merely equal it
MORE = 1e-9  # (e) "more than": the difference must exceed 0, not merely equal it


def spectrum(lin_d: int, lin_ratio: float) -> np.ndarray:
    """Eigenvalues of the linear part's input covariance: geometric from 1 down to 1/lin_ratio."""
    return float(lin_ratio) ** (-np.arange(lin_d) / max(lin_d - 1, 1))


# ----------------------------------------------------------------------------- derived tables


def first_step(steps: np.ndarray, values: np.ndarray, level: float, after: float) -> float:
    """First logged step at which ``values >= level`` (``after`` when never: censored)."""
    hit = np.flatnonzero(np.nan_to_num(values, nan=-np.inf) >= level)
    return float(steps[hit[0]]) if hit.size else after


TRIAL_COLUMNS = [
    "seed", "q", "wd", "n_test", "classes", "t_clean", "t_noisy", "t_fit",
    "peak_true", "given_at_peak", "best_early", "late_test", "best_test",
]  # fmt: skip


def trial_table(results: Results) -> pd.DataFrame:
    """One row per MLP trial: the times and accuracies the checks read off its curves.

    ``t_clean``/``t_noisy``: first step with >= 90% given-label accuracy on the clean /
    mislabelled training points; ``t_fit``: first step with 100% train accuracy (each censored
    at one log interval after the end); ``peak_true``: the highest true-label accuracy of the
    mislabelled points, ``given_at_peak`` their given-label accuracy at that step; ``best_early``
    the best test accuracy over the first half of training, ``late_test`` the mean over the
    last tenth, ``best_test`` the best over the whole run.
    """
    t, c = results.trials, results.curves
    if t.empty or c is None or c.empty or "part" not in t.columns:
        return pd.DataFrame(columns=TRIAL_COLUMNS)
    t = t[(t["part"] == "mlp") & (t["status"] == "ok")]
    c = c[c["trial_id"].isin(t["trial_id"]) & c["split"].isin(["train", "test"])]
    if t.empty or c.empty:
        return pd.DataFrame(columns=TRIAL_COLUMNS)
    rows = []
    wide = c.assign(name=c["split"] + "_" + c["metric"]).pivot_table(
        index=["trial_id", "step"], columns="name", values="value", aggfunc="first", dropna=False
    )
    for _, trial in t.iterrows():
        if trial["trial_id"] not in wide.index.get_level_values(0):
            continue
        g = wide.loc[trial["trial_id"]].sort_index()
        steps = g.index.to_numpy(float)
        end = steps.max()
        after = end + (steps[1] - steps[0] if len(steps) > 1 else 1.0)
        true_acc = g["train_noisy_true_acc"].to_numpy(float)
        peak = int(np.nanargmax(true_acc)) if np.isfinite(true_acc).any() else None
        test = g["test_acc"].to_numpy(float)
        rows.append(
            {
                "seed": trial["seed"],
                "q": float(trial["q"]),
                "wd": float(trial["wd"]),
                "n_test": int(trial["n_test"]),
                "classes": int(trial["classes"]),
                "t_clean": first_step(steps, g["train_clean_acc"].to_numpy(float), HIGH_ACC, after),
                "t_noisy": first_step(steps, g["train_noisy_acc"].to_numpy(float), HIGH_ACC, after),
                "t_fit": first_step(steps, g["train_acc"].to_numpy(float), 1.0, after),
                "peak_true": math.nan if peak is None else float(true_acc[peak]),
                "given_at_peak": math.nan if peak is None else float(g["train_noisy_acc"].to_numpy(float)[peak]),
                "best_early": float(np.nanmax(test[steps <= end / 2])),
                "late_test": float(np.nanmean(test[steps >= (1 - LATE) * end])),
                "best_test": float(np.nanmax(test)),
            }
        )
    return pd.DataFrame(rows, columns=TRIAL_COLUMNS)


def _noisy_rows(results: Results) -> pd.DataFrame:
    """Trials with label noise and no weight decay (the plain runs of each q > 0)."""
    table = trial_table(results)
    return table[(table["q"] > 0) & (table["wd"] == 0)]


def _per_q(rows: pd.DataFrame, part, explanation: str) -> Verdict:
    """One part (or a list of parts) per label-noise fraction present, combined with ``all_of``."""
    qs = sorted(set(rows["q"]))
    if not qs:
        return Verdict("inconclusive", math.nan, "", "needs trials with q > 0 and wd = 0")
    parts = [part(rows[rows["q"] == q], f"q={q:g}") for q in qs]
    return all_of([v for p in parts for v in (p if isinstance(p, list) else [p])], explanation)


# ----------------------------------------------------------------------------- checks


def check_noisy_true_first(results: Results) -> Verdict:
    """(a) At the step where mislabelled points are most often predicted with their true class:
    given-label accuracy < 1/C and true-label accuracy > 0.5, per q, by seed-bootstrap intervals."""
    rows = _noisy_rows(results)

    def part(g, name):
        chance = 1.0 / int(g["classes"].iloc[0])
        return [
            bootstrap_verdict(slim(g, "given_at_peak"), lambda d: d["given_at_peak"].mean(), 0.0, chance,
                              "mean given-label accuracy", hypothesis=f"{name} given label (chance {chance:g})"),
            bootstrap_verdict(slim(g, "peak_true"), lambda d: d["peak_true"].mean(), MIN_TRUE, 1.0,
                              "mean true-label accuracy", hypothesis=f"{name} true label"),
        ]  # fmt: skip

    return _per_q(rows, part, "mislabelled training points at the step where most of them carry their true prediction")


def check_clean_before_noisy(results: Results) -> Verdict:
    """(b) Median over seeds of t_noisy / t_clean (90% given-label accuracy) > 1, per q."""

    def part(g, name):
        stat = lambda d: float(np.median(d["t_noisy"] / np.maximum(d["t_clean"], 1.0)))
        return bootstrap_verdict(slim(g, "t_noisy", "t_clean"), stat, AFTER, math.inf, "median t_noisy / t_clean",
                                 hypothesis=name)  # fmt: skip

    return _per_q(_noisy_rows(results), part, "steps to 90% given-label accuracy, mislabelled over clean points")


def check_early_stopping_gap(results: Results) -> Verdict:
    """(c) Mean over seeds of (best test accuracy in the first half - mean test accuracy in the last
    tenth) > 3 binomial standard errors (0.5 / sqrt(n_test)), per q."""

    def part(g, name):
        floor = GAP_SES * 0.5 / math.sqrt(int(g["n_test"].iloc[0]))
        stat = lambda d: float((d["best_early"] - d["late_test"]).mean())
        return bootstrap_verdict(slim(g, "best_early", "late_test"), stat, floor, 1.0, "mean gap", hypothesis=name)

    return _per_q(_noisy_rows(results), part, "best test accuracy in the first half minus the mean of the last tenth")


def _mean_rho(d: pd.DataFrame) -> float:
    seeds, q, t = d["seed"].to_numpy(), d["q"].to_numpy(float), d["t_fit"].to_numpy(float)
    rhos = [spearman(q[seeds == s], t[seeds == s]) for s in np.unique(seeds)]  # numpy: runs per resample
    return float(np.nanmean(rhos)) if rhos else math.nan


def check_fit_time_grows(results: Results) -> Verdict:
    """(d) Per-seed Spearman rho(q, time to 100% train accuracy), averaged over seeds, >= 0.8."""
    table = trial_table(results)
    rows = table[table["wd"] == 0]
    qs = sorted(set(rows["q"]))
    if len(qs) < 3:
        return Verdict("inconclusive", math.nan, f">= {MIN_RHO:g}", "needs >= 3 label-noise fractions at wd = 0")
    return bootstrap_verdict(
        slim(rows, "q", "t_fit"), _mean_rho, MIN_RHO, 1.0, "mean Spearman rho",
        f"time to fit every training label vs q over q = {qs[0]:g}..{qs[-1]:g}; 95% seed-bootstrap interval",
    )  # fmt: skip


def _wd_pairs(results: Results) -> pd.DataFrame:
    """For each (seed, q > 0, wd > 0): log memorisation delay and |log change of best test accuracy|
    against the wd = 0 run of the same seed and q."""
    table = trial_table(results)
    base = table[(table["wd"] == 0) & (table["q"] > 0)].set_index(["seed", "q"])
    rows = []
    for _, r in table[(table["wd"] > 0) & (table["q"] > 0)].iterrows():
        if (r["seed"], r["q"]) in base.index:
            b = base.loc[(r["seed"], r["q"])]
            rows.append(
                {
                    "seed": r["seed"],
                    "q": r["q"],
                    "wd": r["wd"],
                    "delay": math.log(r["t_noisy"] / max(b["t_noisy"], 1.0)),
                    "test_change": abs(math.log(r["best_test"] / b["best_test"])),
                }
            )
    return pd.DataFrame(rows, columns=["seed", "q", "wd", "delay", "test_change"])


def check_weight_decay(results: Results) -> Verdict:
    """(e) Mean over seeds of log(t_noisy(wd) / t_noisy(0)) - |log(best_test(wd) / best_test(0))| > 0,
    for each (q, wd > 0) present."""
    pairs = _wd_pairs(results)
    if pairs.empty:
        return Verdict("inconclusive", math.nan, "> 0", "needs runs with and without weight decay at the same q > 0")
    stat = lambda d: float((d["delay"] - d["test_change"]).mean())
    parts = [
        bootstrap_verdict(slim(g, "delay", "test_change"), stat, MORE, math.inf, "mean log delay - |log test change|",
                          hypothesis=f"q={q:g} wd={wd:g}")
        for (q, wd), g in pairs.groupby(["q", "wd"])
    ]  # fmt: skip
    return all_of(parts, "memorisation delay vs change of best test accuracy, both as log ratios to wd = 0")


def linear_table(results: Results) -> pd.DataFrame:
    """One row per (linear trial, direction): ``seed, lam, lr, t`` with t the first time the residual
    along that direction falls to 1/e, interpolated log-linearly between logged steps."""
    t, c = results.trials, results.curves
    columns = ["seed", "lam", "lr", "t"]
    if t.empty or c is None or c.empty or "part" not in t.columns:
        return pd.DataFrame(columns=columns)
    t = t[t["part"] == "linear"].set_index("trial_id")
    c = c[(c["split"] == "linear") & c["trial_id"].isin(t.index)]
    rows = []
    for (tid, metric), g in c.groupby(["trial_id", "metric"]):
        p = t.loc[tid]
        lam = spectrum(int(p["lin_d"]), float(p["lin_ratio"]))
        k = int(metric.split("_")[1])
        g = g.sort_values("step")
        steps, logr = g["step"].to_numpy(float), np.log(np.maximum(g["value"].to_numpy(float), 1e-300))
        below = np.flatnonzero(logr <= -1.0)
        if below.size == 0 or below[0] == 0:
            time = math.nan
        else:
            i = below[0]
            time = steps[i - 1] + (steps[i] - steps[i - 1]) * (-1.0 - logr[i - 1]) / (logr[i] - logr[i - 1])
        rows.append({"seed": p["seed"], "lam": lam[k], "lr": float(p["lin_lr"]) / lam.max(), "t": time})
    return pd.DataFrame(rows, columns=columns)


def _slope(d: pd.DataFrame) -> float:
    ok = np.isfinite(d["t"].to_numpy(float))
    if ok.sum() < 3:
        return math.nan
    return float(np.polyfit(np.log(1.0 / d["lam"].to_numpy(float)[ok]), np.log(d["t"].to_numpy(float)[ok]), 1)[0])


def check_linear_modes(results: Results) -> Verdict:
    """(f) Log-log slope of t_k against 1/lambda_k and mean lr lambda_k t_k, each in [0.9, 1.1]."""
    table = linear_table(results)
    if table.empty:
        return Verdict("inconclusive", math.nan, "", "needs trials of the linear part")
    low, high = SLOPE_RANGE
    prefactor = lambda d: float(np.nanmean(d["lr"] * d["lam"] * d["t"]))
    return all_of(
        [
            bootstrap_verdict(table, _slope, low, high, "slope of log t_k vs log 1/lambda_k", hypothesis="slope"),
            bootstrap_verdict(table, prefactor, low, high, "mean lr lambda_k t_k", hypothesis="prefactor"),
        ],
        "time for the residual along each eigendirection to fall to 1/e; 95% seed-bootstrap intervals",
    )


# ----------------------------------------------------------------------------- hypotheses

ARPIT = "Arpit, Jastrzebski, Ballas, Krueger, Bengio, Kanwal, Maharaj, Fischer, Courville, Bengio, Lacoste-Julien"
ARPIT += " 2017, ICML"
ZHANG = "Zhang, Bengio, Hardt, Recht, Vinyals 2017, ICLR"
LIU = "Liu, Niles-Weed, Razavian, Fernandez-Granda 2020, NeurIPS"

HYPOTHESES = (
    Hypothesis(
        "noisy_predicted_true_first",
        "At the logged step where the mislabelled training points are most often predicted with their true "
        "class, fewer than chance (1/C) are predicted with their given label and more than half with their "
        "true one (per q > 0, wd = 0).",
        "Liu et al. 2020 Fig. 1; Arpit et al. 2017 Sec. 4: patterns are learned before noise",
        check_noisy_true_first,
        source=Source(
            paper=LIU,
            where="Fig. 1 (CIFAR-10, symmetric label noise: fraction of mislabelled examples predicted with "
            "their true label vs memorised over training); Arpit et al. 2017 Sec. 4",
            statement="qualitative: early in training most mislabelled examples are predicted with their "
            "true label, and the fraction memorised (predicted with the given label) is small; it grows later.",
            tolerance="chance 1/C is the given-label accuracy of a predictor that ignores the labels; a "
            "pattern learner predicts a mislabelled point's true class, so its given-label accuracy falls "
            "below chance. 'More than half' with the true class is this project's convention for 'most'.",
        ),
    ),
    Hypothesis(
        "clean_before_noisy",
        "The clean training points reach 90% given-label accuracy before the mislabelled ones do: the median "
        "over seeds of t_noisy / t_clean is > 1 (per q > 0, wd = 0).",
        "Arpit et al. 2017 Sec. 4: real (clean) examples are fitted before noise",
        check_clean_before_noisy,
        source=Source(
            paper=ARPIT,
            where="Sec. 4 ('DNNs learn patterns first'); Zhang et al. 2017 Fig. 1a (random labels fit later)",
            statement="qualitative: clean examples are fitted first, noisy examples later.",
            tolerance="the claim is an order in time, so the bound is 1 (the interval must lie above it); "
            "90% as 'high accuracy' is this project's convention. A mislabelled subset never fitted is "
            "censored at the end, which only lowers the ratio.",
        ),
    ),
    Hypothesis(
        "early_stopping_gap",
        "The best test accuracy over the first half of training exceeds the mean test accuracy over the last "
        "tenth by more than 3 binomial standard errors (3 x 0.5 / sqrt(n_test)) (per q > 0, wd = 0).",
        "Arpit et al. 2017 Sec. 5 / Zhang et al. 2017: memorising noise costs test accuracy late in training",
        check_early_stopping_gap,
        source=Source(
            paper=ARPIT,
            where="Sec. 5 (validation accuracy with noisy labels peaks early, then falls as noise is "
            "memorised; early stopping as an implicit regulariser)",
            statement="qualitative: with label noise, best validation accuracy comes before the end of training.",
            tolerance="3 x 0.5 / sqrt(n_test) is three times the largest binomial standard error of an "
            "accuracy measured on n_test test points: a smaller gap could come from which points the test "
            "set happens to hold rather than from a change of the model's accuracy, and the maximum over "
            "the first half is biased upward by step-to-step jitter; the paper gives no number.",
        ),
    ),
    Hypothesis(
        "fit_time_grows_with_q",
        "The step at which the whole training set is fitted rises with the label-noise fraction q over the "
        "swept q (wd = 0): per-seed Spearman rho, averaged over seeds, >= 0.8.",
        "Zhang et al. 2017 Fig. 1b: time to fit grows with label corruption",
        check_fit_time_grows,
        source=Source(
            paper=ZHANG,
            where="Fig. 1b (CIFAR-10: time to overfit relative to true labels vs label-corruption level)",
            statement="qualitative: the convergence slowdown grows (roughly linearly) with the corruption level.",
            tolerance="a monotone rise has rho = 1; with 4 q values one swapped adjacent pair gives 0.8, so "
            ">= 0.8 allows at most about one swap per seed (this project's convention).",
        ),
    ),
    Hypothesis(
        "weight_decay_delays_memorisation",
        "Weight decay delays the memorisation of mislabelled points (log ratio of t_noisy to the wd = 0 run) "
        "by more than it changes the best test accuracy (|log ratio|): mean difference over seeds > 0.",
        "Arpit et al. 2017 Sec. 5: regularisers hinder memorisation more than they hurt generalisation",
        check_weight_decay,
        source=Source(
            paper=ARPIT,
            where="Sec. 5 (regularisation: dropout, input noise, weight decay etc. slow the fitting of noise "
            "while keeping validation accuracy on real data)",
            statement="qualitative: regularisers can degrade memorisation without compromising "
            "generalisation on real data.",
            tolerance="both changes are log ratios to the same seed's unregularised run, so they are on one "
            "unit-free scale; the claim 'more than' gives the bound 0. A run that never memorises is censored "
            "at the end, which only shortens the measured delay.",
        ),
    ),
    Hypothesis(
        "linear_modes_by_eigenvalue",
        "Linear anchor: the time for the residual along eigendirection k to fall to 1/e scales as 1/lambda_k "
        "(log-log slope in [0.9, 1.1]) with lr lambda_k t_k in [0.9, 1.1].",
        "Saxe, McClelland, Ganguli 2014: gradient descent learns each input mode at a rate set by its variance",
        check_linear_modes,
        source=Source(
            paper="Saxe, McClelland, Ganguli 2014, ICLR (linear networks; the one-layer case is gradient "
            "descent on least squares)",
            where="Sec. 2 (each mode's learning time scales as 1/(its input-output singular value); for one "
            "layer the residual along eigenvector k decays as (1 - lr lambda_k)^t)",
            statement="residual_k(t) = (1 - lr lambda_k)^t: t_1/e = -1/ln(1 - lr lambda_k) ~ 1/(lr lambda_k).",
            tolerance="exact for the empirical covariance; against the population eigenvalues the sample "
            "covariance moves each eigenvalue and mixes directions by O(sqrt(d / n)) (8 / 4000: 4.5%), and "
            "discrete time shifts t by 1/2 step (1% at lr lambda_max = 0.02): +-10% holds both with room.",
        ),
    ),
)
