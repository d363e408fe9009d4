"""Width removes bad minima: the checks on hand-made tables that must pass and must fail,
the typed statics and the presets."""

import numpy as np
import pandas as pd

from experiments import width_minima as wm
from physai import Results, Shard, Trial, sweep
from tests.falsification import falsifies

SEEDS = 12


def _results(rows) -> Results:
    trials = pd.DataFrame(rows)
    trials["status"] = trials["status"].fillna("ok") if "status" in trials else "ok"
    return Results(trials, pd.DataFrame(), pd.DataFrame(), "width_minima", "test")


def _rows(losses_by_width, teacher_width=4):
    return [
        {"width": w, "seed": s, "teacher_width": teacher_width, "train_rel_mse": float(loss), "status": "ok"}
        for w, losses in losses_by_width.items()
        for s, loss in enumerate(losses)
    ]


_RNG = np.random.default_rng(0)
# Teacher's width: 3 of 12 seeds reach ~zero loss, the rest sit on plateaus (IQR ~ 1e-2).
STUCK = np.concatenate([10 ** _RNG.uniform(-10, -8, 3), 10 ** _RNG.uniform(-2.2, -1.3, SEEDS - 3)])
FIT = 10 ** _RNG.uniform(-7.5, -5.5, SEEDS)  # every seed succeeds, IQR ~ 1e-6


def test_width_table_counts_success_and_spread():
    table = wm.width_table(_results(_rows({4: STUCK, 16: FIT})))
    assert list(table["width"]) == [4, 16]
    assert table["success"].tolist() == [0.25, 1.0]
    assert table["iqr"].iloc[1] < table["iqr"].iloc[0]


def test_width_table_is_empty_and_checks_inconclusive_without_finished_trials():
    rows = [{"width": w, "seed": s, "teacher_width": 4, "status": "diverged"} for w in (4, 16) for s in range(3)]
    res = _results(rows)  # no run finished: no train_rel_mse column at all
    assert wm.width_table(res).empty
    for h in wm.EXPERIMENT.hypotheses:
        assert h.evaluate(res).status == "inconclusive", h.name


def _hypothesis(name):
    (h,) = [h for h in wm.EXPERIMENT.hypotheses if h.name == name]
    return h


def test_checks_pass_when_width_removes_bad_minima():
    res = _results(_rows({4: STUCK, 8: FIT, 16: FIT, 64: FIT}))
    for h in wm.EXPERIMENT.hypotheses:
        v = h.evaluate(res)
        assert v.status == "supported", h.name


@falsifies("width_minima", "success_rises_with_width")
def test_success_check_fails_when_teacher_width_already_succeeds_or_wide_fails():
    h = _hypothesis("success_rises_with_width")
    assert h.evaluate(_results(_rows({4: STUCK, 16: FIT}))).status == "supported"
    assert h.evaluate(_results(_rows({4: FIT, 16: FIT}))).status == "refuted"  # no bad minima to remove
    assert h.evaluate(_results(_rows({4: STUCK, 16: STUCK}))).status == "refuted"  # width does not help
    # A diverged run counts as a failure: half the wide students diverge.
    rows = _rows({4: STUCK, 16: FIT})
    for r in rows:
        if r["width"] == 16 and r["seed"] < SEEDS // 2:
            r["status"] = "diverged"
    assert wm.check_success_rises(_results(rows)).status == "refuted"


def test_success_check_has_a_part_for_every_wide_width():
    v = wm.check_success_rises(_results(_rows({4: STUCK, 16: FIT, 64: STUCK})))
    assert v.status == "refuted"
    assert "width 16" in v.measured and "width 64" in v.measured


def test_success_check_inconclusive_without_wide_students():
    assert wm.check_success_rises(_results(_rows({4: STUCK, 8: FIT}))).status == "inconclusive"


def test_still_moving_failures_make_a_verdict_inconclusive_only_when_they_could_flip_it():
    # At the teacher's width 3 of 12 succeed; 2 failures had not converged. Counted as
    # successes the fraction is still <= 0.7: the verdict stands.
    rows = _rows({4: STUCK, 16: FIT})
    for r in rows:
        r["converged"] = r["train_rel_mse"] >= wm.NEAR_ZERO and not (r["width"] == 4 and r["seed"] in (3, 4))
    assert wm.check_success_rises(_results(rows)).status == "supported"
    # The spread check without those 2: the remaining failures still spread, and the verdict stands.
    v = wm.check_spread_falls(_results(rows))
    assert v.status == "supported" and "converged runs alone" in v.explanation
    # Now 7 of the 9 failures were still moving: as successes they could lift it above 0.7.
    for r in rows:
        r["converged"] = r["train_rel_mse"] >= wm.NEAR_ZERO and not (r["width"] == 4 and r["seed"] < 10)
    v = wm.check_success_rises(_results(rows))
    assert v.status == "inconclusive"
    # The spread check rests on the final losses of the failures still moving: without them
    # the teacher's width has too little spread left to decide it.
    assert wm.check_spread_falls(_results(rows)).status == "inconclusive"


def test_widths_in_no_preset_get_a_computed_verdict():
    # Teacher of width 3 (no preset has it), students of width 3 and 13.
    res = _results(_rows({3: STUCK, 13: FIT}, teacher_width=3))
    for h in wm.EXPERIMENT.hypotheses:
        v = h.evaluate(res)
        assert v.status == "supported", h.name
        assert "n/a" not in v.measured_text()


@falsifies("width_minima", "spread_falls_with_width")
def test_spread_check_fails_when_wide_students_spread_as_much():
    h = _hypothesis("spread_falls_with_width")
    assert h.evaluate(_results(_rows({4: STUCK, 64: FIT}))).status == "supported"
    assert h.evaluate(_results(_rows({4: STUCK, 64: STUCK[::-1]}))).status == "refuted"
    assert h.evaluate(_results(_rows({4: FIT, 64: FIT[::-1]}))).status == "refuted"  # width leaves the spread as it is


def test_presets_have_sixteen_seeds_per_width_from_the_teacher_up():
    for name in ("demo", "paper"):
        plan = sweep.plan(wm.EXPERIMENT, name)
        widths = {t.params["width"] for t in plan.trials}
        k = plan.trials[0].params["teacher_width"]
        assert min(widths) == k and max(widths) >= 4 * k
        for w in widths:
            assert sum(t.params["width"] == w for t in plan.trials) >= 16
        assert len(plan.shards) == 1  # masked widths share one compiled program
        st = plan.shards[0].static
        assert isinstance(st, wm.Static) and st.max_width >= max(widths) and st.teacher_width == k


def test_near_zero_column_and_metrics_come_from_the_shared_task():
    st = wm.Static(d=3, n=16, n_test=16, teacher_width=2, teacher_seed=0, max_width=4, steps=20)
    shard = Shard(
        "width_minima",
        "test",
        "s",
        st,
        tuple(Trial(f"t{w}", {"width": w, "lr": 1e-2, "seed": 0}) for w in (2, 4)),
        strategy="sequential",
    )
    out = wm.run(shard)
    for r in out.metrics:  # the shared trainer may add its own columns (e.g. convergence)
        assert {"train_rel_mse", "test_rel_mse", "near_zero", "status"} <= set(r)
        assert r["near_zero"] == (r["train_rel_mse"] < wm.NEAR_ZERO)
    assert set(out.curves["metric"]) == {"rel_mse", "objective"}
