"""Double descent, part c: does a trained MLP's test error peak at its interpolation threshold?

Hypotheses, in words
  Trained two-layer ReLU MLPs (Nakkiran, Kaplun, Bansal, Yang, Barak & Sutskever
  2021, "Deep double descent", Fig. 1/4 model-wise: ResNet18 on CIFAR-10 with 15%
  label noise, Adam, 4K epochs; the test-error peak sits at the interpolation
  threshold, and label noise turns a plateau into a peak). CPU version: a random
  tanh teacher (d = 50, 4 hidden units), n = 200 samples, Gaussian label noise 0.5
  (the regression analogue of label flips), students of width 1..256 (log-spaced,
  hidden units masked so one compiled program serves every width), full-batch
  Adam (lr 1e-2, no weight decay, no early stopping), MSE. The input dimension
  is 50 so that the narrow students cannot already fit the teacher from 200
  samples (at d = 10 the width-1 student was the best model of all, and the
  claim that wider is better again could not show); the threshold then lies at
  width ~4, where P = width (d + 2) + 1 parameters first reach n. The
  interpolation threshold is the smallest width whose median train MSE is below
  1% of the label variance. Checks: the test-error peak lies within a factor 2
  of that width; label noise raises the peak relative to each curve's own
  minimum ((peak/min) with noise > without); test error descends again (peak >=
  2x the best wider model); and bigger is better again (the best model wider
  than the threshold beats the best narrower one). The noisy curve is the
  largest positive noise level in the results (0.5 in every preset). Each
  number is computed from medians over seeds per width and each verdict is
  decided by its 95% seed-bootstrap interval (whole seeds resampled, the peak
  and the threshold recomputed). The checks compare end-of-training errors, so
  a verdict whose runs (at the widths it uses) had not met the trainer's
  convergence criterion is inconclusive, as is one whose peak sits at an end of
  the swept widths (a refutation stands).

Sources
  Nakkiran et al. 2021 (J. Stat. Mech. 124003; ICLR 2020), Sec. 2, Sec. 5 and
  Figs. 1 and 4; the paper gives no ratios or widths for the critical interval,
  so every range here is this project's convention (see each hypothesis's
  ``source``).

Run
  physai demo double_descent.mlp
  physai verify double_descent.mlp --preset paper
  Expected runtime on 2 CPU cores: demo ~1 min, paper ~4-8 min (more with an
  empty JAX compilation cache or on shared cores).

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
from experiments.double_descent import ANCHOR_NOISE, group_median
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
from physai.evidence import bootstrap_verdict, unless_converged, unless_interior
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
    th = fitted[0] if len(fitted) else math.nan
    under, over = w < th, w > th  # all False when no width fits
    lo = int(np.flatnonzero(under)[np.nanargmin(test[under])]) if under.any() else -1
    hi = int(np.flatnonzero(over)[np.nanargmin(test[over])]) if over.any() else -1
    return {
        "under_min": float(test[lo]) if lo >= 0 else math.nan,
        "under_width": int(w[lo]) if lo >= 0 else math.nan,
        "over_min": float(test[hi]) if hi >= 0 else math.nan,
        "over_width": int(w[hi]) if hi >= 0 else math.nan,
        "min": float(np.nanmin(test)),
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


def _over_over_under(table: pd.DataFrame) -> float:
    s = _summary(table)
    return s["over_min"] / s["under_min"]


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
# ``unless_interior(..., refutation_stands=True)``.


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
        return unless_interior(v, s["widths"], s["peak_width"], "width", refutation_stands=True)

    s = _summary(table)
    if math.isnan(s["threshold"]):
        return decide(table)
    return _unless_converged_at(decide, table, _used(table, s["peak_width"], s["threshold"]))


def check_mlp_noise_raises_peak(results: Results) -> Verdict:
    """(Peak / minimum of the noisy median curve) / (peak / minimum of the noiseless one), expected
    > 1: seed-bootstrap interval (seeds paired across the two noise levels). Each curve is
    compared with its own minimum, so the label noise's own addition to the test error (it
    raises the whole noisy curve) does not count as a peak."""
    df = results.ok
    noise = _anchor_noise(df)
    noisy, clean = _rows(df, noise), _rows(df, 0.0)
    if noisy is None or clean is None:
        return Verdict("inconclusive", math.nan, "> 1", "needs MLP trials at noise 0 and a positive noise")
    table = pd.concat([noisy, clean], ignore_index=True)
    table = table.assign(noisy=~np.isclose(table["noise"], 0.0))

    def ratio(t: pd.DataFrame) -> float:
        flag = t["noisy"].to_numpy()
        a, b = _summary(t[flag]), _summary(t[~flag])
        return (a["peak"] / a["min"]) / (b["peak"] / b["min"])

    def decide(table: pd.DataFrame) -> Verdict:
        flag = table["noisy"].to_numpy(bool)
        a, b = _summary(table[flag]), _summary(table[~flag])
        v = bootstrap_verdict(
            table,
            ratio,
            1.0,
            math.inf,
            "(noisy peak/min) / (noiseless peak/min), medians",
            f"with noise {noise:g} the median test MSE peaks at {a['peak']:.3g} (width {a['peak_width']}), "
            f"{a['peak'] / a['min']:.3g}x its minimum {a['min']:.3g}; without noise at {b['peak']:.3g} "
            f"(width {b['peak_width']}), {b['peak'] / b['min']:.3g}x its minimum {b['min']:.3g}",
            strict=True,  # "raises" is strict
        )
        return unless_interior(v, a["widths"], a["peak_width"], "width", refutation_stands=True)

    flag = table["noisy"].to_numpy(bool)
    a, b = _summary(table[flag]), _summary(table[~flag])
    used = pd.concat([_used(table[flag], a["peak_width"]), _used(table[~flag], b["peak_width"])])
    return _unless_converged_at(decide, table, used)


def check_mlp_overparam_wins(results: Results) -> Verdict:
    """Best median test MSE above the interpolation-threshold width / best below it (noisy curve),
    expected < 1: seed-bootstrap interval. No grid-edge caveat: the claim compares two minima,
    and a wider grid could only lower the over-parameterised one further."""
    table = _rows(results.ok, _anchor_noise(results.ok))
    if table is None:
        return Verdict("inconclusive", math.nan, "< 1", "no noisy MLP trials")
    table = table.reset_index(drop=True)

    def decide(table: pd.DataFrame) -> Verdict:
        s = _summary(table)
        if math.isnan(s["under_min"]) or math.isnan(s["over_min"]):
            return Verdict("inconclusive", math.nan, "< 1", "needs widths both below and above the threshold")
        return bootstrap_verdict(
            table,
            _over_over_under,
            -math.inf,
            1.0,
            "median best over- / best under-parameterised ratio",
            f"best median test MSE above the threshold width {s['threshold']}: {s['over_min']:.3g} (width "
            f"{s['over_width']}); below it: {s['under_min']:.3g} (width {s['under_width']})",
            strict=True,  # "below" is strict
        )

    s = _summary(table)
    if math.isnan(s["under_min"]) or math.isnan(s["over_min"]):
        return decide(table)
    return _unless_converged_at(decide, table, _used(table, s["under_width"], s["over_width"]))


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
        return unless_interior(v, s["widths"], s["peak_width"], "width", refutation_stands=True)

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
        "label noise raises the MLP test-MSE peak relative to its own curve: (peak/min) with noise 0.5 "
        "> (peak/min) without noise",
        "Nakkiran et al. 2021 (J. Stat. Mech.) Fig. 4 and Sec. 5: label noise turns a plateau into a peak",
        check_mlp_noise_raises_peak,
        source=Source(
            paper=NAKKIRAN,
            where="Fig. 4(b) (ResNet18 on CIFAR-10, varying label noise) and Sec. 5",
            statement='qualitative: \'There is a "plateau" in test error around the interpolation point with '
            "no label noise, which develops into a peak for added label noise'; Sec. 5: a peak in test "
            "error 'that becomes more prominent in settings with label noise'. No ratio.",
            tolerance="none needed: the claim is an ordering, so the line is the ratio 1 (strictly above). "
            "Each curve's peak is divided by its own minimum because label noise raises the whole noisy "
            "curve (the fitted noise adds to the test error at every width): comparing absolute peaks would "
            "pass without any peak at all.",
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
    Hypothesis(
        "mlp_overparam_beats_underparam",
        "bigger is better again: the best MLP wider than the interpolation threshold has lower median test MSE "
        "than the best narrower one (noise 0.5)",
        "Nakkiran et al. 2021 (J. Stat. Mech.) Sec. 1 and Fig. 1: the largest models are the best",
        check_mlp_overparam_wins,
        source=Source(
            paper=NAKKIRAN,
            where="abstract, Sec. 1 and Fig. 1 (ResNet18 of varying width on CIFAR-10, 15% label noise)",
            statement="qualitative: abstract, 'as we increase model size, performance first gets worse and "
            "then gets better'; in Fig. 1 the widest models reach a lower test error than any "
            "under-parameterised one. No ratio.",
            tolerance="none needed: the claim is an ordering of two minima, so the line is the ratio 1 "
            "(strictly below); not a number from the paper.",
        ),
    ),
)

# ----------------------------------------------------------------------------- presets


def _grid(widths, noise, seeds, steps, max_width):
    return product(
        mlp_d=[50],
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
    """Test and train error vs hidden width (``experiments.double_descent.plots``)."""
    from experiments.double_descent import plots

    return plots.mlp(results)


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
