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
  a. success_rises_with_width: the fraction of seeds that reach "near-zero" training
     MSE (below 1e-3 of the label variance) is <= 0.7 when the student has the
     teacher's width, and rises to ~1 (>= 0.9) at every width >= 4x the teacher's.
  b. failures_are_plateaus: at the teacher's width the seeds that fail are stuck, not
     slow: >= 80% of them end on a flat plateau of the training loss (it changes by
     less than 10% over the last quarter of training), far above zero. This is what
     makes them spurious minima rather than runs that were stopped too early; it can
     fail even where (a) holds (failures still descending, e.g. along a 1/t tail,
     whose loss falls by 25% over the last quarter).
  Success is judged on the best training loss over the last tenth of training (the
  minimum over the logged points there), not on the last step: full-batch Adam at a
  constant step size, once a wide student is near zero loss, throws occasional
  spikes of several decades (its second-moment estimate shrinks with the gradient,
  so the effective step grows) from which it recovers within a few hundred steps. A
  run judged on its last step would count such a spike as a failure to find a
  global minimum. A spurious minimum, by contrast, is flat, so its best late loss is
  its final loss: the criterion moves no true failure to success. A decaying step
  size would remove the spikes too, but it changes the optimiser the landscape is
  probed with, and the late-window criterion can be recomputed from stored curves.
  Each fraction is decided by its 95% seed-bootstrap interval: supported only when
  the interval lies inside the range. A failure counts as a spurious minimum only if
  it had met the trainer's convergence criterion: a success fraction whose verdict
  would change were every still-moving failure to succeed is inconclusive.

Sources
  Safran & Shamir 2018 state the trend (a) and verify that the points their runs
  stop at are local minima (b), not these numbers: every range here is this
  project's convention (see each hypothesis's ``source``).

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
  Curves are logged every 1/20 of training, so "the last tenth" holds three logged
  points; a spike at all three would still count as a failure. A wide student can
  also miss the near-zero line while still descending (slow, not stuck); the >= 0.9
  bound leaves room for such a run.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import jax
import numpy as np
import pandas as pd

import physai
from physai import Experiment, Hypothesis, Preset, Results, ShardResult, Source, Verdict, all_of, curricula, product
from physai import train as trainer
from physai.evidence import bootstrap_verdict, slim, unless_converged
from physai.tasks import masked_mlp_regression

NEAR_ZERO = 1e-3  # "near-zero" training loss: MSE below 1e-3 of var(y_train)
MAX_SUCCESS_AT_TEACHER = 0.7  # at the teacher's width a sizeable fraction of seeds fails
MIN_SUCCESS_WIDE = 0.9  # "~1" at every width >= WIDE_FACTOR x the teacher's
WIDE_FACTOR = 4
LATE = 0.1  # success is judged on the best loss over the last tenth of training
PLATEAU_FROM = 0.75  # a plateau is judged over the last quarter of training
MAX_PLATEAU_CHANGE = 1.1  # loss at 3/4 of training / best late loss: < 10% change is flat
MIN_PLATEAU_FRACTION = 0.8  # of the failures at the teacher's width
MIN_FAILURES = 3  # fewer failures than this say nothing about what failures look like

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


def late_profile(steps: np.ndarray, losses: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The two numbers the checks read off a training curve.

    Args:
      steps: ``(L,)`` logged steps, increasing, from 0 to the end of training.
      losses: ``(T, L)`` relative train MSE of T runs at those steps.

    Returns:
      ``(best, change)``, each ``(T,)``: ``best`` the minimum over the logged points in
      the last tenth of training; ``change`` the loss at the last logged point at or
      before 3/4 of training divided by ``best`` (1 on a flat plateau).
    """
    steps, losses = np.asarray(steps, float), np.atleast_2d(np.asarray(losses, float))
    end = steps.max()
    best = np.nanmin(losses[:, steps >= (1.0 - LATE) * end], axis=1)
    before = np.flatnonzero(steps <= PLATEAU_FROM * end)[-1]
    return best, losses[:, before] / np.maximum(best, 1e-300)


def run(shard) -> ShardResult:
    """Students of every width of the shard (masked to one compiled width), full-batch Adam."""
    st = shard.static
    profile = {}

    def near_zero(i, trial, result):
        if "best" not in profile:
            profile["best"], _ = late_profile(result.steps, result.curves["train_rel_mse"])
        return {"near_zero": bool(profile["best"][i] < NEAR_ZERO)}

    return trainer.run_shard(
        make_task(st), shard, ("seed", "width", "lr"), steps=st.steps, log_every=max(1, st.steps // 20), extra=near_zero
    )


# ----------------------------------------------------------------------------- checks


def _teacher_width(results: Results) -> int | None:
    t = results.trials
    return int(t["teacher_width"].iloc[0]) if "teacher_width" in t.columns and len(t) else None


SEED_COLUMNS = ["seed", "width", "ok", "success", "best", "change", "stuck_unknown"]


def seed_table(results: Results) -> pd.DataFrame:
    """One row per trial, the columns the checks bootstrap over, read off the stored curves.

    Returns:
      DataFrame ``seed, width, ok, success, best, change, stuck_unknown``: ``best`` and
      ``change`` are :func:`late_profile` of the trial's train relative-MSE curve (NaN for
      a diverged run or one without a curve); ``success`` is True for an ok run whose
      best late loss is below the near-zero line (a diverged run is a failure);
      ``stuck_unknown`` flags a failure that had not met the trainer's convergence
      criterion (still moving: not known to be stuck). Empty without trials or curves.
    """
    t, c = results.trials, results.curves
    if t.empty or c is None or c.empty or "metric" not in c.columns:
        return pd.DataFrame(columns=SEED_COLUMNS)
    c = c[(c["metric"] == "rel_mse") & (c["split"] == "train")]
    if c.empty:
        return pd.DataFrame(columns=SEED_COLUMNS)
    wide = c.pivot_table(index="trial_id", columns="step", values="value", aggfunc="first").sort_index(axis=1)
    best, change = late_profile(wide.columns.to_numpy(float), wide.to_numpy(float))
    best = pd.Series(best, wide.index).reindex(t["trial_id"]).to_numpy(float)
    change = pd.Series(change, wide.index).reindex(t["trial_id"]).to_numpy(float)
    ok = (t["status"] == "ok").to_numpy() & np.isfinite(best)
    success = ok & (np.where(ok, best, np.inf) < NEAR_ZERO)
    converged = t["converged"].astype("boolean").fillna(False).to_numpy(bool) if "converged" in t else ~success
    return pd.DataFrame(
        {
            "seed": t["seed"].to_numpy(),
            "width": t["width"].to_numpy(int),
            "ok": ok,
            "success": success,
            "best": np.where(ok, best, math.nan),
            "change": np.where(ok, change, math.nan),
            "stuck_unknown": ok & ~success & ~converged,
        }
    )


def width_table(results: Results) -> pd.DataFrame:
    """Per student width: the success fraction and the median best late loss.

    Returns:
      DataFrame ``width, n_seeds, success, median`` sorted by width (a diverged run
      counts as a failure); empty when no trial has a curve (then the checks are
      inconclusive).
    """
    table = seed_table(results)
    columns = ["width", "n_seeds", "success", "median"]
    if table.empty or not table["ok"].any():
        return pd.DataFrame(columns=columns)
    rows = [
        {
            "width": int(w),
            "n_seeds": len(g),
            "success": float(g["success"].mean()),
            "median": float(np.nanmedian(g["best"])) if g["ok"].any() else math.nan,
        }
        for w, g in table.groupby("width")
    ]
    return pd.DataFrame(rows, columns=columns).sort_values("width").reset_index(drop=True)


def _success_fraction(table: pd.DataFrame) -> float:
    return float(table["success"].to_numpy(float).mean()) if len(table) else math.nan


def _success_part(rows: pd.DataFrame, low: float, high: float, name: str) -> Verdict:
    """Fraction of seeds below the near-zero line at one width, by its seed-bootstrap interval.

    Convergence caveat: a run below the line has reached a global minimum's neighbourhood
    (zero loss is attainable), but a failure counts as a spurious minimum only if it had
    stopped moving. The verdict stands if it is the same when every still-moving failure
    is counted as a success (as if trained on); otherwise it is inconclusive.
    """
    rows = slim(rows, "success", "stuck_unknown")
    v = bootstrap_verdict(rows, _success_fraction, low, high, "fraction of seeds", hypothesis=name)
    moving = rows["stuck_unknown"].to_numpy(bool)
    if not moving.any():
        return v
    if v.status == "inconclusive":  # undecided either way: only the reason is added
        return unless_converged(v, rows.loc[moving].assign(converged=False))
    best_case = rows.assign(success=rows["success"].to_numpy(bool) | moving)
    if bootstrap_verdict(best_case, _success_fraction, low, high, "fraction of seeds").status == v.status:
        return v
    return unless_converged(v, rows.loc[moving].assign(converged=False))


def check_success_rises(results: Results) -> Verdict:
    """Fraction of seeds whose best loss over the last tenth of training is below the
    near-zero line: <= 0.7 at the teacher's width and >= 0.9 at every width >= 4x the
    teacher's present; each part by its seed-bootstrap interval."""
    table, k = seed_table(results), _teacher_width(results)
    if width_table(results).empty or k is None:
        return Verdict("inconclusive", math.nan, "", "no finished trials with training curves")
    widths = sorted(set(table["width"]))
    wide = [w for w in widths if w >= WIDE_FACTOR * k]
    if k not in widths or not wide:
        return Verdict("inconclusive", math.nan, "", f"needs students of the teacher's width ({k}) and of >= 4x it")
    parts = [_success_part(table[table["width"] == k], 0.0, MAX_SUCCESS_AT_TEACHER, f"width {k} (teacher)")]
    parts += [_success_part(table[table["width"] == w], MIN_SUCCESS_WIDE, 1.0, f"width {w}") for w in wide]
    return all_of(
        parts,
        f"Fraction of seeds whose best train MSE over the last {LATE:.0%} of training is < {NEAR_ZERO:g} var(y), "
        f"at the teacher's width and at every width >= {WIDE_FACTOR}x it; 95% seed-bootstrap intervals.",
    )


def _plateau_fraction(table: pd.DataFrame) -> float:
    """Among the failures of the table (ok runs above the near-zero line), the fraction on a plateau."""
    fail = table["ok"].to_numpy(bool) & ~table["success"].to_numpy(bool)
    if not fail.any():
        return math.nan
    return float((table["change"].to_numpy(float)[fail] < MAX_PLATEAU_CHANGE).mean())


def check_failures_are_plateaus(results: Results) -> Verdict:
    """At the teacher's width, the fraction of failing seeds whose loss changed by < 10%
    over the last quarter of training is >= 0.8, by its seed-bootstrap interval."""
    table, k = seed_table(results), _teacher_width(results)
    expected = f">= {MIN_PLATEAU_FRACTION:g}"
    if table.empty or k is None or k not in set(table["width"]):
        return Verdict("inconclusive", math.nan, expected, f"needs students of the teacher's width ({k}) with curves")
    rows = slim(table[table["width"] == k], "ok", "success", "change")
    failures = int((rows["ok"] & ~rows["success"]).sum())
    if failures < MIN_FAILURES:
        return Verdict(
            "inconclusive", failures, expected, f"{failures} failing seeds at the teacher's width: too few to judge"
        )
    return bootstrap_verdict(
        rows,
        _plateau_fraction,
        MIN_PLATEAU_FRACTION,
        1.0,
        "fraction of failures on a plateau",
        f"{failures} of {len(rows)} seeds at the teacher's width ({k}) fail; a failure is on a plateau when its "
        f"train MSE at {PLATEAU_FROM:.0%} of training is < {MAX_PLATEAU_CHANGE:g}x its best over the last "
        f"{LATE:.0%}; 95% seed-bootstrap interval (seeds resampled, failures among them)",
    )


HYPOTHESES = (
    Hypothesis(
        "success_rises_with_width",
        "The fraction of seeds reaching near-zero training loss (best over the last tenth of "
        "training) is <= 0.7 at the teacher's width and >= 0.9 at every width >= 4x the teacher's.",
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
            "var(y)) is also this project's line. Success is read from the best loss over the last tenth "
            "of training so that a late Adam spike of a run that had reached zero loss is not counted as "
            "a spurious minimum (a spurious minimum is flat: its best late loss is its final loss).",
        ),
    ),
    Hypothesis(
        "failures_are_plateaus",
        "At the teacher's width, >= 80% of the seeds that fail end on a flat plateau of the "
        "training loss (< 10% change over the last quarter of training): spurious minima, not "
        "slow descent.",
        "Safran & Shamir 2018 (ICML): the points gradient descent stops at are genuine local minima",
        check_failures_are_plateaus,
        source=Source(
            paper="Safran, Shamir 2018, ICML (PMLR 80:4433-4441)",
            where="experiments section (runs are continued until convergence and the end points are "
            "checked to be local minima with strictly positive loss)",
            statement="qualitative: the failures at the teacher's width are spurious local minima, i.e. the "
            "training loss has stopped at a value well above zero, not a slow approach to zero. The paper "
            "gives no plateau criterion for a finite run.",
            tolerance="a convention of this project, not from the paper: 'flat' is a change of < 10% over "
            "the last quarter of training (a descent as slow as 1/t still falls by 25% there, so any "
            "power-law approach to zero at least that fast counts as moving); >= 80% of the failures leaves "
            "room for one in five to be escaping a saddle late.",
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
    """Success fraction vs width; best late losses over seeds vs width; the training curves
    at the teacher's width (failures on plateaus)."""
    import seaborn as sns

    from analysis import plots

    table, seeds = width_table(results), seed_table(results)
    if table.empty:
        return {}
    k = _teacher_width(results)
    fig, axes = plots.figure(ncols=3, width=5.0, height=4.0)
    axes[0].plot(table["width"], table["success"], marker="o")
    axes[0].set_xscale("log", base=2)
    axes[0].set_ylim(-0.05, 1.05)
    for ax in axes[:2]:
        plots.mark_threshold(ax, k, f"teacher width {k}")
    axes[0].set(
        xlabel="student width",
        ylabel=f"fraction of seeds below {NEAR_ZERO:g} var(y)",
        title=f"{int(table['n_seeds'].min())}+ seeds per width",
    )
    axes[0].legend(fontsize=8)
    data = seeds[seeds["ok"]].assign(best=lambda d: d["best"].clip(lower=1e-16))
    with plots.fixed_jitter():  # the same figure each time it is drawn
        sns.stripplot(
            data=data, x="width", y="best", ax=axes[1], native_scale=True, log_scale=(2, 10), alpha=0.6, size=4
        )
    axes[1].axhline(NEAR_ZERO, color="grey", ls="-.", lw=1, label="near-zero threshold")
    axes[1].set(
        xlabel="student width",
        ylabel="best late train MSE / var(y)",
        title=f"Best loss over the last {LATE:.0%} of training, per seed",
    )
    axes[1].legend(fontsize=8)
    c = results.curves
    c = c[(c["metric"] == "rel_mse") & (c["split"] == "train")]
    at_k = results.trials.loc[results.trials["width"] == k, "trial_id"]
    labelled = set()
    for _, g in c[c["trial_id"].isin(at_k)].groupby("trial_id"):
        g = g.sort_values("step")
        failed = g.loc[g["step"] >= (1.0 - LATE) * g["step"].max(), "value"].min() >= NEAR_ZERO
        label = "fails" if failed else "reaches ~0"
        axes[2].plot(
            g["step"],
            g["value"].clip(lower=1e-16),
            color="C3" if failed else "C0",
            lw=1,
            alpha=0.6,
            label=None if label in labelled else label,
        )
        labelled.add(label)
    axes[2].axhline(NEAR_ZERO, color="grey", ls="-.", lw=1)
    axes[2].axvline(PLATEAU_FROM * c["step"].max(), color="grey", ls=":", lw=1)
    axes[2].set_yscale("log")
    axes[2].set(
        xlabel="step",
        ylabel="train MSE / var(y)",
        title=f"Width {k} (teacher): every seed's training curve",
    )
    axes[2].legend(fontsize=8)
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
