"""Width removes bad minima: does a wider student make every seed reach a global minimum?

Question
  A two-layer ReLU student with exactly the teacher's width can represent the
  teacher, yet gradient descent from random initialisations often stalls in
  spurious local minima (Safran & Shamir 2018, ICML, "Spurious local minima are
  common in two-layer ReLU neural networks"). Adding hidden units removes them:
  "mild over-parameterization appears to drastically reduce such local minima"
  (same paper), and for large networks poor local minima become rare, while small
  networks recover them with non-zero probability (Choromanska, Henaff, Mathieu,
  Ben Arous & LeCun 2015, AISTATS, "The loss surfaces of multilayer networks").

Hypotheses, in words
  a. success_rises_with_width: the fraction of seeds whose final training MSE is
     "near zero" (below 1e-3 of the label variance) is <= 0.7 when the student has the
     teacher's width, and rises to ~1 (>= 0.9) at every width >= 4x the teacher's.
  b. spread_falls_with_width: the seed-to-seed spread of the final relative training
     loss (interquartile range over seeds) at the widest student is <= 1/10 of the
     spread at the teacher's width.

Sources
  Safran & Shamir 2018 (a) and Choromanska et al. 2015 (b) state the trend, not
  these numbers: every range here is this project's convention (see each
  hypothesis's ``source``).

Setup (CPU scale)
  One fixed data set: Gaussian inputs (d = 10), n = 1000, labels from a random
  two-layer ReLU teacher with 4 hidden units (``curricula.teacher_student``, no
  label noise). Students: two-layer ReLU MLPs of width 4 (= teacher) up to 64, all
  in one compiled program of width 64 with a hidden-unit mask; full-batch Adam (lr
  1e-2, 3000 steps), MSE. Seeds vary only the student's initialisation (and so
  which basin it falls into): the landscape is the same for every seed of a width.
  The paper's own setting is larger: population (infinite-data) loss, teacher and
  student widths k from 6 to 20, gradient descent from many initialisations.

Run
  physai demo width_minima                     # 4 widths x 16 seeds
  physai verify width_minima --preset paper    # 8 widths x 24 seeds
  physai verify width_minima --preset tiny     # seconds; for tests only
  Expected runtime on 2 CPU cores: demo ~15 s, paper ~0.5-2 min (more with an empty
  JAX compilation cache or busy cores).

Known limitations
  Failures at the teacher's width end on discrete plateaus of the training loss
  (the spurious minima). A wide student can also miss the near-zero line while
  still descending (slow, not stuck); the >= 0.9 bound leaves room for such a run.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import jax
import numpy as np
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
    product,
    verdict_in_range,
)
from physai import train as trainer
from physai.tasks import masked_mlp_regression

NEAR_ZERO = 1e-3  # "near-zero" training loss: MSE below 1e-3 of var(y_train)
MAX_SUCCESS_AT_TEACHER = 0.7  # at the teacher's width a sizeable fraction of seeds fails
MIN_SUCCESS_WIDE = 0.9  # "~1" at every width >= WIDE_FACTOR x the teacher's
WIDE_FACTOR = 4
MAX_SPREAD_RATIO = 0.1  # IQR at the widest width / IQR at the teacher's width

# ----------------------------------------------------------------------------- run


@dataclass(frozen=True)
class Static(physai.Static):
    d: int
    n: int
    n_test: int
    teacher_width: int
    teacher_seed: int
    max_width: int
    steps: int


def make_task(st: Static) -> trainer.Task:
    """Masked students of every width up to ``max_width`` on one fixed teacher data set."""
    teacher_key = jax.random.key(st.teacher_seed)

    def data(key, hp):  # the same data for every seed: only the student's init varies
        return curricula.teacher_student(
            teacher_key, st.n, st.n_test, st.d, st.teacher_width, 0.0, activation=jax.nn.relu
        )

    return masked_mlp_regression(
        data, st.d, st.max_width, depth=1, activation="relu", metrics=("train_rel_mse", "test_rel_mse")
    )


def run(shard) -> ShardResult:
    """Students of every width of the shard (masked to one compiled width), full-batch Adam."""
    st = shard.static

    def near_zero(i, trial, result):
        return {"near_zero": float(result.final["train_rel_mse"][i]) < NEAR_ZERO}

    return trainer.run_shard(
        make_task(st), shard, ("seed", "width", "lr"), steps=st.steps, log_every=max(1, st.steps // 20), extra=near_zero
    )


# ----------------------------------------------------------------------------- checks


def width_table(results: Results) -> pd.DataFrame:
    """Per student width: success fraction, median and IQR of the final relative train loss.

    A diverged run counts as a failure (it did not reach near-zero loss).

    Args:
      results: stored tables.

    Returns:
      DataFrame ``width, n_seeds, success, median, iqr`` sorted by width.
    """
    t = results.trials
    if t.empty or "width" not in t.columns:
        return pd.DataFrame(columns=["width", "n_seeds", "success", "median", "iqr"])
    rows = []
    for width, g in t.groupby("width"):
        ok = g[g["status"] == "ok"]
        loss = ok["train_rel_mse"].to_numpy(float)
        q75, q25 = np.percentile(loss, [75, 25]) if len(loss) else (math.nan, math.nan)
        rows.append(
            {
                "width": int(width),
                "n_seeds": len(g),
                "success": float((ok["train_rel_mse"] < NEAR_ZERO).sum() / len(g)),
                "median": float(np.median(loss)) if len(loss) else math.nan,
                "iqr": float(q75 - q25),
            }
        )
    return pd.DataFrame(rows).sort_values("width").reset_index(drop=True)


def _teacher_width(results: Results) -> int | None:
    t = results.trials
    return int(t["teacher_width"].iloc[0]) if "teacher_width" in t.columns and len(t) else None


def check_success_rises(results: Results) -> Verdict:
    """Success <= 0.7 at the teacher's width; >= 0.9 at every width >= 4x the teacher's."""
    table, k = width_table(results), _teacher_width(results)
    at_teacher = table[table["width"] == k] if k else table.iloc[0:0]
    wide = table[table["width"] >= WIDE_FACTOR * k] if k else table.iloc[0:0]
    if at_teacher.empty or wide.empty:
        return Verdict("inconclusive", math.nan, "", "needs students of the teacher's width and of >= 4x it")
    low = verdict_in_range(float(at_teacher["success"].iloc[0]), 0.0, MAX_SUCCESS_AT_TEACHER)
    high = verdict_in_range(float(wide["success"].min()), MIN_SUCCESS_WIDE, 1.0)
    return all_of(
        [
            Verdict(low.status, low.measured, low.expected, "", f"width {k}"),
            Verdict(high.status, high.measured, high.expected, "", f"widths >= {WIDE_FACTOR * k} (min)"),
        ],
        f"Fraction of seeds with train MSE < {NEAR_ZERO:g} var(y): at the teacher's "
        "width, and the lowest over widths >= 4x the teacher's.",
    )


def check_spread_falls(results: Results) -> Verdict:
    """IQR over seeds of the final relative train loss: widest / teacher's width <= 0.1."""
    table, k = width_table(results), _teacher_width(results)
    at_teacher = table[table["width"] == k] if k else table.iloc[0:0]
    if at_teacher.empty or len(table) < 2:
        return Verdict(
            "inconclusive", math.nan, f"<= {MAX_SPREAD_RATIO:g}", "needs the teacher's width and a wider one"
        )
    base = float(at_teacher["iqr"].iloc[0])
    widest = float(table["iqr"].iloc[-1])
    ratio = widest / base if base > 0 else math.inf
    v = verdict_in_range(ratio, 0.0, MAX_SPREAD_RATIO)
    return Verdict(
        v.status,
        v.measured,
        v.expected,
        f"IQR over seeds of the final train MSE / var(y): width "
        f"{int(table['width'].iloc[-1])} ({widest:.3g}) over width {k} ({base:.3g}).",
    )


HYPOTHESES = (
    Hypothesis(
        "success_rises_with_width",
        "The fraction of seeds reaching near-zero training loss is <= 0.7 at the "
        "teacher's width and >= 0.9 at every width >= 4x the teacher's.",
        "Safran & Shamir 2018 (ICML): spurious minima are common at the teacher's width, "
        "mild over-parameterization removes most of them",
        check_success_rises,
        source=Source(
            paper="Safran, Shamir 2018, ICML (PMLR 80:4433-4441)",
            where="abstract; experiments section (random initialisations, teacher and student of k = 6..20 "
            "ReLU units, population loss)",
            statement="qualitative for this check: 'the probability of hitting such local minima is quite "
            "high, and increasing with the network size' and 'mild over-parameterization appears to "
            "drastically reduce such local minima'. Its fractions are for k >= 6 on the population loss, "
            "not for this set-up, and are not the thresholds here.",
            tolerance="a convention of this project, not from the paper: <= 0.7 at the teacher's width (a "
            "sizeable fraction of seeds must fail for the claim to have content) and >= 0.9 at every width "
            ">= 4x the teacher's (~1, with room for one slow run in ten); 'near zero' (train MSE < 1e-3 "
            "var(y)) is also this project's line.",
        ),
    ),
    Hypothesis(
        "spread_falls_with_width",
        "The seed-to-seed spread (IQR) of the final training loss at the widest "
        "student is <= 1/10 of that at the teacher's width.",
        "Choromanska, Henaff, Mathieu, Ben Arous, LeCun 2015 (AISTATS): poor local minima are rare "
        "in large networks, recoverable in small ones",
        check_spread_falls,
        source=Source(
            paper="Choromanska, Henaff, Mathieu, Ben Arous, LeCun 2015, AISTATS (PMLR 38:192-204)",
            where="abstract (spin-glass model of the loss, checked against trained networks)",
            statement="qualitative: for large networks the low critical values lie in a band above the "
            "global minimum and 'the number of local minima outside that band diminishes exponentially "
            "with the size of the network', whereas for small networks 'poor quality local minima have "
            "non-zero probability of being recovered'. No number for the spread over initialisations.",
            tolerance="a convention of this project, not from the paper: one decade, widest student's IQR "
            "<= 0.1 x the IQR at the teacher's width.",
        ),
    ),
)

# ----------------------------------------------------------------------------- presets

SETTINGS = {"d": 10, "n": 1000, "n_test": 1000, "teacher_width": 4, "teacher_seed": 0, "max_width": 64, "steps": 3000}

PRESETS = {
    "tiny": Preset(
        product(width=[4, 16], lr=[1e-2], seed=list(range(3))),
        {**SETTINGS, "n": 200, "n_test": 200, "max_width": 16, "steps": 300},
        "seconds; for tests",
    ),
    "demo": Preset(product(width=[4, 8, 16, 64], lr=[1e-2], seed=list(range(16))), SETTINGS, "4 widths x 16 seeds"),
    "paper": Preset(
        product(width=[4, 5, 6, 8, 12, 16, 32, 64], lr=[1e-2], seed=list(range(24))), SETTINGS, "8 widths x 24 seeds"
    ),
}

# ----------------------------------------------------------------------------- plots


def plot(results: Results) -> dict:
    """Success fraction and the distribution of final losses over seeds, vs width."""
    import seaborn as sns

    from analysis import plots

    ok = results.ok
    table = width_table(results)
    if ok.empty or table.empty:
        return {}
    fig, axes = plots.figure(ncols=2, width=5.2, height=4.0)
    axes[0].plot(table["width"], table["success"], marker="o")
    axes[0].set_xscale("log", base=2)
    axes[0].set_ylim(-0.05, 1.05)
    k = _teacher_width(results)
    for ax in axes:
        plots.mark_threshold(ax, k, f"teacher width {k}")
    axes[0].set(
        xlabel="student width",
        ylabel=f"fraction of seeds with train MSE < {NEAR_ZERO:g} var(y)",
        title=f"{int(table['n_seeds'].min())}+ seeds per width",
    )
    axes[0].legend(fontsize=8)
    data = ok.assign(width=ok["width"].astype(int))
    with plots.fixed_jitter():  # the same figure each time it is drawn
        sns.stripplot(
            data=data, x="width", y="train_rel_mse", ax=axes[1], native_scale=True, log_scale=(2, 10), alpha=0.6, size=4
        )
    axes[1].axhline(NEAR_ZERO, color="grey", ls="-.", lw=1, label="near-zero threshold")
    axes[1].set(
        xlabel="student width", ylabel="final train MSE / var(y) (one dot per seed)", title="Final losses over seeds"
    )
    axes[1].legend(fontsize=8)
    fig.tight_layout()
    return {"width_minima": fig}


EXPERIMENT = Experiment(
    name="width_minima",
    question="Does widening a student beyond its teacher's width make every random "
    "initialisation reach a global minimum?",
    hypotheses=HYPOTHESES,
    presets=PRESETS,
    run=run,
    plot=plot,
    static=Static,
    max_shard_size=256,
    doc=__doc__,
)
