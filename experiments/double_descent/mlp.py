"""Double descent, part c: does a trained MLP's test error peak at its interpolation threshold?

Hypotheses, in words
  Trained two-layer ReLU MLPs (Nakkiran, Kaplun, Bansal, Yang, Barak & Sutskever
  2021, "Deep double descent", Fig. 1/4 model-wise: ResNet18 on CIFAR-10 with 15%
  label noise, Adam, 4K epochs; the test-error peak sits at the interpolation
  threshold, and label noise turns a plateau into a peak). CPU version: a random
  tanh teacher (d = 10, 4 hidden units), n = 200 samples, Gaussian label noise 0.5
  (the regression analogue of label flips), students of width 1..256 (log-spaced,
  hidden units masked so one compiled program serves every width), full-batch
  Adam (lr 1e-2, no weight decay, no early stopping), MSE. The interpolation
  threshold is the smallest width whose median train MSE is below 1% of the
  label variance. Checks: the test-error peak lies within a factor 2 of that
  width; the noisy peak is >= 2x the noiseless one; and test error descends
  again (peak >= 2x the best wider model). The noisy curve is the largest
  positive noise level in the results (0.5 in every preset). Each number is
  computed from medians over seeds per width and each verdict is decided by its
  95% seed-bootstrap interval (whole seeds resampled, the peak and the threshold
  recomputed). The checks compare end-of-training errors, so a verdict whose
  runs (at the widths it uses) had not met the trainer's convergence criterion
  is inconclusive, as is one whose peak sits at an end of the swept widths.

Sources
  Nakkiran et al. 2021 (J. Stat. Mech. 124003; ICLR 2020), Sec. 2, Sec. 5 and
  Figs. 1 and 4; the paper gives no ratios or widths for the critical interval,
  so every range here is this project's convention (see each hypothesis's
  ``source``).

Run
  physai demo double_descent.mlp
  physai verify double_descent.mlp --preset paper
  Expected runtime on 2 CPU cores: demo ~10 s, paper ~0.5 min (more with an empty
  JAX compilation cache).

Presets
  demo:  11 widths in [1, 128] x noise {0, 0.5} x 3 seeds, 2000 Adam steps.
  paper: 18 widths (20 log-spaced in [1, 256], rounded) x noise {0, 0.5} x 5 seeds,
         4000 Adam steps.
  By counting (P = width * (d + 2) + 1 parameters against n noisy labels) a
  student can first fit its training set when P is of the order of n, so the
  threshold width follows the sample count; the figure's top axis shows P / n.

Implementation notes
  * The task is ``physai.tasks.masked_mlp_regression``: test MSE is measured against
    the clean teacher (``f_test``), train MSE against the noisy labels.
  * Test error is heavy tailed near the threshold, hence medians over seeds.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

import physai
from experiments.double_descent import ANCHOR_NOISE, group_median, median_table, unless_edge_peak
from physai import (
    Experiment,
    Hypothesis,
    Preset,
    Results,
    ShardResult,
    Source,
    Verdict,
    curricula,
    logspace,
    models,
    product,
)
from physai import train as trainer
from physai.domains import POSITIVE_INT
from physai.evidence import bootstrap_verdict, unless_converged
from physai.tasks import masked_mlp_regression

INTERP_REL_MSE = 1e-2  # "train error ~ 0" = train MSE below 1% of var(y_train)

# ----------------------------------------------------------------------------- run


@dataclass(frozen=True)
class Static(physai.Static):
    """Everything that fixes the compiled shapes."""

    n: int
    n_test: int
    mlp_d: int
    teacher_width: int
    max_width: int
    steps: int


def make_task(st: Static) -> trainer.Task:
    """Two-layer ReLU students (masked to ``max_width``) of a noisy tanh teacher."""

    def data(key, hp):
        return curricula.teacher_student(key, st.n, st.n_test, st.mlp_d, st.teacher_width, hp["noise"])

    return masked_mlp_regression(
        data, st.mlp_d, st.max_width, metrics=("train_mse", "train_rel_mse", "test_mse"), test_target="f_test"
    )


def run(shard) -> ShardResult:
    """Two-layer ReLU MLPs of several widths (masked to one compiled width), full-batch Adam."""
    st = shard.static

    def size(i, trial, result):
        n_params = models.count_mlp_params(st.mlp_d, int(trial.params["width"]))
        return {"p_over_n": n_params / st.n, "n_params": n_params}

    return trainer.run_shard(
        make_task(st),
        shard,
        ("seed", "noise", "width", "lr"),
        steps=st.steps,
        log_every=max(1, st.steps // 10),
        extra=size,
    )


# ----------------------------------------------------------------------------- checks


def _mlp_curves(results: Results, noise: float):
    """Median test and train curves over seeds per width (with bootstrap CI), for the figure."""
    df = results.ok
    if not df.empty:
        df = df[np.isclose(df["noise"], noise)]
    if df.empty or df["width"].nunique() < 3:
        return None
    test = median_table(df, "width", "test_mse").set_index("width")
    train = median_table(df, "width", "train_rel_mse").set_index("width")
    return pd.DataFrame(
        {
            "test": test["median"],
            "train_rel": train["median"],
            "test_low": test["low"],
            "test_high": test["high"],
            "seeds": test["n"],
        }
    ).sort_index()


def _anchor_noise(df: pd.DataFrame) -> float:
    """The noisy curve's label noise: the largest positive level present (0.5 in every preset),
    so a swept noise level no preset contains is checked too."""
    noisy = df.loc[df["noise"] > 0, "noise"] if len(df) and "noise" in df else []
    return float(np.max(noisy)) if len(noisy) else math.nan


def _rows(df: pd.DataFrame, noise: float) -> pd.DataFrame | None:
    """The trials at one noise level, with at least 3 widths."""
    if df.empty or math.isnan(noise):
        return None
    out = df[np.isclose(df["noise"], noise)]
    return out if out["width"].nunique() >= 3 else None


def _summary(table: pd.DataFrame) -> dict:
    """From the medians over seeds per width: peak width, interpolation-threshold width (first
    width whose median train MSE < 1% var(y)), peak value, best wider value and its width."""
    widths = table["width"].to_numpy()
    w, test = group_median(widths, table["test_mse"].to_numpy(float))
    _, train = group_median(widths, table["train_rel_mse"].to_numpy(float))
    i = int(np.nanargmax(test))
    fitted = w[train < INTERP_REL_MSE]
    wider = test[i + 1 :]
    j = i + 1 + int(np.nanargmin(wider)) if len(wider) else -1
    return {
        "peak_width": int(w[i]),
        "threshold": int(fitted[0]) if len(fitted) else math.nan,
        "peak": float(test[i]),
        "right_min": float(test[j]) if j >= 0 else math.nan,
        "right_width": int(w[j]) if j >= 0 else math.nan,
        "widths": w,
    }


def _peak_over_threshold(table: pd.DataFrame) -> float:
    s = _summary(table)
    return s["peak_width"] / s["threshold"]


def _peak_over_right(table: pd.DataFrame) -> float:
    s = _summary(table)
    return s["peak"] / s["right_min"]


def _used(table: pd.DataFrame, *widths) -> pd.DataFrame:
    """The trials at the widths a verdict rests on (for the convergence caveat)."""
    return table[table["width"].isin([w for w in widths if not (isinstance(w, float) and math.isnan(w))])]


def _unless_converged_at(decide, table: pd.DataFrame, used: pd.DataFrame) -> Verdict:
    """``unless_converged(decide(table), used)`` whose recheck drops the unconverged runs of
    ``used`` (a subset of ``table``'s rows) from ``table`` and decides again on the rest."""

    def recheck(kept: pd.DataFrame) -> Verdict:
        return decide(table.drop(index=used.index.difference(kept.index)))

    return unless_converged(decide(table), used, recheck=recheck)


# Caveats: the checks compare final test errors across widths and define the threshold by the
# final train error, so they rest on runs having reached their end state: ``unless_converged``
# on the trials at the widths they use, the verdict standing when the check repeated without
# the unconverged ones among them agrees; the peak is an argmax over the swept width:
# ``unless_edge_peak`` (``unless_interior``, a refutation standing).


def check_mlp_peak_at_threshold(results: Results) -> Verdict:
    """Peak width / interpolation-threshold width (noisy curve), expected in [0.5, 2]:
    seed-bootstrap interval."""
    table = _rows(results.ok, _anchor_noise(results.ok))
    if table is None:
        return Verdict("inconclusive", math.nan, "[0.5, 2]", "no noisy MLP trials")
    table = table.reset_index(drop=True)

    def decide(table: pd.DataFrame) -> Verdict:
        s = _summary(table)
        if math.isnan(s["threshold"]):
            return Verdict(
                "inconclusive", math.nan, "[0.5, 2]", f"no width reached median train MSE < {INTERP_REL_MSE:g} var(y)"
            )
        v = bootstrap_verdict(
            table,
            _peak_over_threshold,
            0.5,
            2.0,
            "peak width / threshold width (medians)",
            f"median test MSE peaks at width {s['peak_width']}; train MSE first "
            f"falls below {INTERP_REL_MSE:g} var(y) at width {s['threshold']}",
        )
        return unless_edge_peak(v, s["widths"], s["peak_width"], "width")

    s = _summary(table)
    if math.isnan(s["threshold"]):
        return decide(table)
    return _unless_converged_at(decide, table, _used(table, s["peak_width"], s["threshold"]))


def check_mlp_noise_raises_peak(results: Results) -> Verdict:
    """Max median test MSE with label noise / without, expected >= 2: seed-bootstrap interval
    (seeds paired across the two noise levels)."""
    df = results.ok
    noise = _anchor_noise(df)
    noisy, clean = _rows(df, noise), _rows(df, 0.0)
    if noisy is None or clean is None:
        return Verdict("inconclusive", math.nan, ">= 2", "needs MLP trials at noise 0 and a positive noise")
    table = pd.concat([noisy, clean], ignore_index=True)
    table = table.assign(noisy=~np.isclose(table["noise"], 0.0))

    def ratio(t: pd.DataFrame) -> float:
        flag = t["noisy"].to_numpy()
        return _summary(t[flag])["peak"] / _summary(t[~flag])["peak"]

    def decide(table: pd.DataFrame) -> Verdict:
        flag = table["noisy"].to_numpy(bool)
        a, b = _summary(table[flag]), _summary(table[~flag])
        v = bootstrap_verdict(
            table,
            ratio,
            2.0,
            math.inf,
            "median noisy peak / noiseless peak ratio",
            f"highest median test MSE {a['peak']:.3g} (width {a['peak_width']}) "
            f"with noise {noise:g} vs {b['peak']:.3g} (width {b['peak_width']}) without",
        )
        return unless_edge_peak(v, a["widths"], a["peak_width"], "width")

    flag = table["noisy"].to_numpy(bool)
    a, b = _summary(table[flag]), _summary(table[~flag])
    used = pd.concat([_used(table[flag], a["peak_width"]), _used(table[~flag], b["peak_width"])])
    return _unless_converged_at(decide, table, used)


def check_mlp_second_descent(results: Results) -> Verdict:
    """Peak / best wider median test MSE (noisy curve), expected >= 2: seed-bootstrap interval."""
    table = _rows(results.ok, _anchor_noise(results.ok))
    if table is None:
        return Verdict("inconclusive", math.nan, ">= 2", "no noisy MLP trials")
    table = table.reset_index(drop=True)

    def decide(table: pd.DataFrame) -> Verdict:
        s = _summary(table)
        if math.isnan(s["right_min"]):
            return Verdict("inconclusive", math.nan, ">= 2", "no width beyond the peak")
        v = bootstrap_verdict(
            table,
            _peak_over_right,
            2.0,
            math.inf,
            "median peak / best wider ratio",
            f"test MSE falls from {s['peak']:.3g} at width {s['peak_width']} to {s['right_min']:.3g} "
            f"(width {s['right_width']}) for wider networks",
        )
        return unless_edge_peak(v, s["widths"], s["peak_width"], "width")

    s = _summary(table)
    if math.isnan(s["right_min"]):
        return decide(table)
    return _unless_converged_at(decide, table, _used(table, s["peak_width"], s["right_width"]))


NAKKIRAN = "Nakkiran, Kaplun, Bansal, Yang, Barak, Sutskever 2021, J. Stat. Mech. 124003 (ICLR 2020)"

HYPOTHESES = (
    Hypothesis(
        "mlp_peak_at_threshold",
        "trained 2-layer MLPs (noise 0.5): the test-MSE peak width is within 2x of the "
        f"width where train MSE first falls below {INTERP_REL_MSE:g} var(y)",
        "Nakkiran et al. 2021 'Deep double descent' (J. Stat. Mech.), Sec. 2, Figs. 1/4: "
        "the model-wise peak sits at the interpolation threshold",
        check_mlp_peak_at_threshold,
        source=Source(
            paper=NAKKIRAN,
            where="Sec. 2 (Our results: Hypothesis 1 and the model-wise summary); Figs. 1 and 4",
            statement="'the peak in test error systematically occurs at the interpolation threshold'; "
            "Hypothesis 1 places a 'critical interval' around EMC = n whose width 'depends on both the "
            "distribution and the training procedure in ways we do not yet completely understand' (no "
            "width is given; EMC counts train error <= epsilon, heuristically epsilon = 0.1 for "
            "classification).",
            tolerance="a convention of this project, not from the paper: the peak width within a factor 2 "
            "of the threshold width, which spans about two grid steps either side in the paper preset "
            "(widths ~1.35x apart) and one in the demo (~1.6x apart). The threshold's 'train error ~ 0' "
            "(median train MSE < 1% of var(y)) is also this project's convention: the paper's "
            "epsilon = 0.1 is a classification error.",
        ),
    ),
    Hypothesis(
        "mlp_noise_raises_peak",
        "the MLP test-MSE peak with label noise 0.5 is >= 2x the peak without noise",
        "Nakkiran et al. 2021 (J. Stat. Mech.) Fig. 4 and Sec. 5: label noise turns a plateau into a peak",
        check_mlp_noise_raises_peak,
        source=Source(
            paper=NAKKIRAN,
            where="Fig. 4(b) (ResNet18 on CIFAR-10, varying label noise) and Sec. 5",
            statement='qualitative: \'There is a "plateau" in test error around the interpolation point with '
            "no label noise, which develops into a peak for added label noise'; Sec. 5: a peak in test "
            "error 'that becomes more prominent in settings with label noise'. No ratio.",
            tolerance="a convention of this project, not from the paper: a factor 2 between the highest "
            "median test MSE with label noise 0.5 and without.",
        ),
    ),
    Hypothesis(
        "mlp_second_descent",
        "beyond the threshold MLP test MSE falls again: peak >= 2x the best wider model",
        "Nakkiran et al. 2021 (J. Stat. Mech.) Sec. 1 and Fig. 1: test error decreases past the threshold",
        check_mlp_second_descent,
        source=Source(
            paper=NAKKIRAN,
            where="Sec. 1 and Fig. 1 (ResNet18 of varying width on CIFAR-10, 15% label noise)",
            statement="qualitative: once model complexity is large enough to interpolate, 'increasing "
            "complexity only decreases test error'; Fig. 1 shows this model-wise. No ratio.",
            tolerance="a convention of this project, not from the paper: the peak at least 2x the lowest "
            "median test MSE of any wider model.",
        ),
    ),
)

# ----------------------------------------------------------------------------- presets


def _grid(widths, noise, seeds, steps, max_width):
    return product(
        mlp_d=[10],
        teacher_width=[4],
        max_width=[max_width],
        steps=[steps],
        lr=[1e-2],
        noise=noise,
        seed=list(seeds),
        width=widths,
    )


SETTINGS = {"n": 200, "n_test": 2000}

PRESETS = {
    "tiny": Preset(
        _grid([2, 8, 32], [ANCHOR_NOISE], range(2), steps=100, max_width=32),
        {"n": 100, "n_test": 200},
        "seconds-long smoke test (no verdict expected)",
    ),
    "demo": Preset(
        _grid(logspace(1, 128, 11, integer=True), [0.0, ANCHOR_NOISE], range(3), steps=2000, max_width=128),
        SETTINGS,
        "11 widths x noise {0, 0.5} x 3 seeds, 2000 Adam steps",
    ),
    "paper": Preset(
        _grid(logspace(1, 256, 20, integer=True), [0.0, ANCHOR_NOISE], range(5), steps=4000, max_width=256),
        SETTINGS,
        "every check at the anchor's scale (n = 200; 5 seeds, 4000 steps)",
    ),
}

# ----------------------------------------------------------------------------- plots


def plot(results: Results) -> dict:
    """Median test and train error vs hidden width, per label-noise level."""
    from analysis import plots

    mlp = results.ok
    if mlp.empty:
        return {}
    fig, axes = plots.figure(ncols=2, width=5.5, height=4.2)
    for noise in sorted(mlp["noise"].unique()):
        curve = _mlp_curves(results, noise)
        if curve is None:
            continue
        train = median_table(mlp[np.isclose(mlp["noise"], noise)], "width", "train_rel_mse").set_index("width")
        plots.band(axes[0], curve.index, curve["test"], curve["test_low"], curve["test_high"], f"label noise {noise:g}")
        plots.band(axes[1], train.index, train["median"], train["low"], train["high"], f"label noise {noise:g}")
    axes[1].axhline(INTERP_REL_MSE, color="grey", ls="-.", lw=1, label=f"fits: train MSE < {INTERP_REL_MSE:g} var(y)")
    noisy = _rows(mlp, _anchor_noise(mlp))
    if noisy is not None:
        s = _summary(noisy)
        if not math.isnan(s["threshold"]):
            for ax in axes:
                plots.mark_threshold(ax, s["threshold"], f"interpolation threshold (width {s['threshold']})")
    n, d = int(mlp["n"].iloc[0]), int(mlp["mlp_d"].iloc[0])
    for ax in axes:
        plots.loglog(ax)
        ax.set_xlabel("hidden width")
        ax.legend(fontsize=7)
    axes[0].set(
        ylabel="test MSE vs clean teacher (median, 95% CI)", title=f"2-layer MLPs, full-batch Adam (n = {n}, d = {d})"
    )
    axes[1].set(ylabel="train MSE / var(y_train)", title="training error")
    top = axes[0].secondary_xaxis("top", functions=(lambda w: (w * (d + 2) + 1) / n, lambda r: (r * n - 1) / (d + 2)))
    top.set_xlabel("parameters / n")
    fig.tight_layout()
    return {"mlp_width": fig}


# Allowed values of this experiment's own parameters (physai.domains.COMMON has the shared ones).
DOMAINS = {"mlp_d": POSITIVE_INT}

EXPERIMENT = Experiment(
    name="double_descent.mlp",
    question="Does the test error of trained two-layer MLPs peak at the width where they first "
    "fit their noisy training set, and fall again for wider ones?",
    hypotheses=HYPOTHESES,
    presets=PRESETS,
    run=run,
    plot=plot,
    static=Static,
    max_shard_size=64,
    domains=DOMAINS,
    doc=__doc__,
)
