"""Width removes bad minima: the checks on hand-made tables that must pass and must fail,
the typed statics and the presets."""

import numpy as np
import pandas as pd

from experiments import width_minima as wm
from physai import Results, Shard, Trial, sweep
from tests.falsification import falsifies

SEEDS = 12
STEPS = np.arange(0, 3001, 150)  # 21 logged points, as the presets log

_RNG = np.random.default_rng(0)
# Teacher's width: 3 of 12 seeds reach ~zero loss, the rest sit on plateaus.
STUCK = np.concatenate([10 ** _RNG.uniform(-10, -8, 3), 10 ** _RNG.uniform(-2.2, -1.3, SEEDS - 3)])
FIT = 10 ** _RNG.uniform(-7.5, -5.5, SEEDS)  # every seed succeeds


def plateau(level):
    """A curve that falls from 1 onto ``level`` by a fifth of training and stays there."""
    return np.maximum(level, np.exp(-STEPS / 100.0))


def slow(level):
    """A curve still descending like 1/t at the end of training, ending at ``level``."""
    return level * STEPS[-1] / np.maximum(STEPS, 1)


def spiked(level, spike=1e-2):
    """A run at ``level`` whose last logged point is a spike above the near-zero line."""
    curve = plateau(level)
    curve[-1] = spike
    return curve


def _results(curves_by_width, teacher_width=4, status=None, converged=None) -> Results:
    """Trials and train rel-MSE curves; ``curves_by_width[w][s]`` is seed s's curve at width w."""
    trials, frames = [], []
    for w, curves in curves_by_width.items():
        for s, curve in enumerate(curves):
            tid = f"w{w}s{s}"
            row = {"trial_id": tid, "width": w, "seed": s, "teacher_width": teacher_width}
            row["train_rel_mse"] = float(curve[-1])
            row["status"] = (status or {}).get((w, s), "ok")
            if converged is not None:
                row["converged"] = converged(w, s)
            trials.append(row)
            frames.append(
                pd.DataFrame({"trial_id": tid, "step": STEPS, "split": "train", "metric": "rel_mse", "value": curve})
            )
    return Results(pd.DataFrame(trials), pd.concat(frames, ignore_index=True), pd.DataFrame(), "width_minima", "test")


def _plateaus(levels):
    return [plateau(v) for v in levels]


def _hypothesis(name):
    (h,) = [h for h in wm.EXPERIMENT.hypotheses if h.name == name]
    return h


def test_late_profile_reads_the_best_late_loss_and_the_change_over_the_last_quarter():
    curves = np.stack([plateau(1e-2), spiked(1e-8), slow(1e-2)])
    best, change = wm.late_profile(STEPS, curves)
    assert np.allclose(best, [1e-2, 1e-8, 1e-2 * 3000 / 3000])
    assert np.isclose(change[0], 1.0) and np.isclose(change[1], 1.0)
    assert np.isclose(change[2], 3000 / 2250)  # 1/t falls by a third over the last quarter


def test_width_table_counts_success_on_the_best_late_loss():
    res = _results({4: _plateaus(STUCK), 16: [spiked(v) for v in FIT]})
    table = wm.width_table(res)
    assert list(table["width"]) == [4, 16]
    assert table["success"].tolist() == [0.25, 1.0]  # a late spike is not a failure


def test_checks_are_inconclusive_without_finished_trials_or_curves():
    res = _results(
        {4: _plateaus(STUCK), 16: _plateaus(FIT)}, status={(w, s): "diverged" for w in (4, 16) for s in range(SEEDS)}
    )
    assert wm.width_table(res).empty
    for h in wm.EXPERIMENT.hypotheses:
        assert h.evaluate(res).status == "inconclusive", h.name
    no_curves = Results(res.trials.assign(status="ok"), pd.DataFrame(), pd.DataFrame(), "width_minima", "test")
    for h in wm.EXPERIMENT.hypotheses:
        assert h.evaluate(no_curves).status == "inconclusive", h.name


def test_checks_pass_when_width_removes_bad_minima():
    res = _results({4: _plateaus(STUCK), 8: _plateaus(FIT), 16: _plateaus(FIT), 64: _plateaus(FIT)})
    for h in wm.EXPERIMENT.hypotheses:
        assert h.evaluate(res).status == "supported", h.name


@falsifies("width_minima", "success_rises_with_width")
def test_success_check_fails_when_teacher_width_already_succeeds_or_wide_fails():
    h = _hypothesis("success_rises_with_width")
    assert h.evaluate(_results({4: _plateaus(STUCK), 16: _plateaus(FIT)})).status == "supported"
    assert h.evaluate(_results({4: _plateaus(FIT), 16: _plateaus(FIT)})).status == "refuted"  # no bad minima
    assert h.evaluate(_results({4: _plateaus(STUCK), 16: _plateaus(STUCK)})).status == "refuted"  # width does not help
    # A diverged run counts as a failure: half the wide students diverge.
    diverged = {(16, s): "diverged" for s in range(SEEDS // 2)}
    assert h.evaluate(_results({4: _plateaus(STUCK), 16: _plateaus(FIT)}, status=diverged)).status == "refuted"


def test_a_spike_at_the_last_step_does_not_fail_a_run_but_a_late_rise_that_stays_does():
    h = _hypothesis("success_rises_with_width")
    assert h.evaluate(_results({4: _plateaus(STUCK), 16: [spiked(v) for v in FIT]})).status == "supported"
    risen = [plateau(v) for v in FIT]
    for c in risen:
        c[STEPS >= 2600] = 1e-2  # the whole last tenth above the line: a failure
    assert h.evaluate(_results({4: _plateaus(STUCK), 16: risen})).status == "refuted"


def test_success_check_has_a_part_for_every_wide_width():
    v = wm.check_success_rises(_results({4: _plateaus(STUCK), 16: _plateaus(FIT), 64: _plateaus(STUCK)}))
    assert v.status == "refuted"
    assert "width 16" in v.measured and "width 64" in v.measured


def test_success_check_inconclusive_without_wide_students():
    assert wm.check_success_rises(_results({4: _plateaus(STUCK), 8: _plateaus(FIT)})).status == "inconclusive"


def test_still_moving_failures_make_a_verdict_inconclusive_only_when_they_could_flip_it():
    # At the teacher's width 3 of 12 succeed; 2 failures had not converged. Counted as
    # successes the fraction is still <= 0.7: the verdict stands.
    curves = {4: _plateaus(STUCK), 16: _plateaus(FIT)}
    few = _results(curves, converged=lambda w, s: not (w == 4 and s in (3, 4)))
    assert wm.check_success_rises(few).status == "supported"
    # Now 7 of the 9 failures were still moving: as successes they could lift it above 0.7.
    many = _results(curves, converged=lambda w, s: not (w == 4 and s < 10))
    assert wm.check_success_rises(many).status == "inconclusive"


@falsifies("width_minima", "failures_are_plateaus")
def test_plateau_check_fails_when_failures_are_still_descending():
    h = _hypothesis("failures_are_plateaus")
    wide = _plateaus(FIT)
    assert h.evaluate(_results({4: _plateaus(STUCK), 16: wide})).status == "supported"
    # The same success fractions, but every failure is a slow 1/t descent: not a spurious minimum.
    descending = [plateau(v) if v < wm.NEAR_ZERO else slow(v) for v in STUCK]
    assert h.evaluate(_results({4: descending, 16: wide})).status == "refuted"
    assert _hypothesis("success_rises_with_width").evaluate(_results({4: descending, 16: wide})).status == "supported"
    # Two failing seeds only: too few to say what failures look like.
    two = _plateaus(np.concatenate([FIT[:10], STUCK[-2:]]))
    assert h.evaluate(_results({4: two, 16: wide})).status == "inconclusive"


def test_widths_in_no_preset_get_a_computed_verdict():
    # Teacher of width 3 (no preset has it), students of width 3 and 13.
    res = _results({3: _plateaus(STUCK), 13: _plateaus(FIT)}, teacher_width=3)
    for h in wm.EXPERIMENT.hypotheses:
        v = h.evaluate(res)
        assert v.status == "supported", h.name
        assert "n/a" not in v.measured_text()


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
    curves = out.curves[(out.curves["metric"] == "rel_mse") & (out.curves["split"] == "train")]
    for trial, r in zip(shard.trials, out.metrics):  # the trainer may add its own columns (e.g. convergence)
        assert {"train_rel_mse", "test_rel_mse", "near_zero", "status"} <= set(r)
        c = curves[curves["trial_id"] == trial.trial_id]
        best = c.loc[c["step"] >= 0.9 * c["step"].max(), "value"].min()
        assert r["near_zero"] == (best < wm.NEAR_ZERO)
    assert set(out.curves["metric"]) == {"rel_mse", "objective"}
