"""Residual vs plain: the roughness measure, the checks on hand-made tables that must pass
and must fail, and the tiny preset end to end through the engine."""
import numpy as np
import pandas as pd
import pytest

from experiments import residual_landscape as rl
from physai import Results, sweep
from physai.experiment import STATUSES


def _results(rows) -> Results:
    trials = pd.DataFrame(rows)
    trials["status"] = trials["status"].fillna("ok") if "status" in trials else "ok"
    return Results(trials, pd.DataFrame(), pd.DataFrame(), "residual_landscape", "test")


# ----------------------------------------------------------------------------- roughness


def test_excess_variation_is_zero_on_a_bowl_and_large_on_an_egg_crate():
    g = np.linspace(-1, 1, 31)
    a, b = np.meshgrid(g, g, indexing="ij")
    bowl = a ** 2 + 0.5 * b ** 2
    tilted = (a - 0.4) ** 2 + 2 * (b + 0.3) ** 2 + 0.5 * a  # off-centre valleys are still valleys
    crate = bowl + 0.3 * np.sin(12 * a) * np.sin(12 * b)
    assert rl.excess_variation(bowl) == pytest.approx(0.0, abs=1e-12)
    assert rl.excess_variation(tilted) == pytest.approx(0.0, abs=1e-12)
    assert rl.excess_variation(crate) > 0.3
    assert rl.excess_variation(np.ones((5, 5))) == 0.0  # flat: no variation at all


# ----------------------------------------------------------------------------- checks


def _rows(plain_test=(0.1, 0.5, 1.5), res_test=(0.1, 0.11, 0.12), plain_train=(0.05, 0.2, 0.4),
          res_train=(0.05, 0.05, 0.05), plain_rough=(0.0, 0.1, 0.25), res_rough=(0.0, 0.0, 0.01)):
    rows = []
    for residual, test, train, rough in ((False, plain_test, plain_train, plain_rough),
                                         (True, res_test, res_train, res_rough)):
        for depth, te, tr, ro in zip((2, 8, 16), test, train, rough):
            for seed in range(2):
                rows.append({"residual": residual, "depth": depth, "seed": seed,
                             "test_rel_mse": te, "train_rel_mse": tr, "roughness": ro})
    return rows


def test_checks_pass_when_plain_nets_degrade_and_turn_rough():
    res = _results(_rows())
    for h in rl.EXPERIMENT.hypotheses:
        assert h.evaluate(res).status == "supported", h.name


def test_degradation_checks_fail_when_plain_is_fine_or_residual_degrades():
    assert rl.check_plain_test_loss_degrades(
        _results(_rows(plain_test=(0.1, 0.1, 0.12)))).status == "refuted"
    assert rl.check_plain_test_loss_degrades(
        _results(_rows(res_test=(0.1, 0.3, 0.5)))).status == "refuted"
    assert rl.check_plain_trainability_degrades(
        _results(_rows(plain_train=(0.05, 1e-3, 1e-5)))).status == "refuted"


def test_diverged_runs_count_as_degraded():
    rows = _rows(plain_test=(0.1, 0.1, 0.1))
    for r in rows:
        if not r["residual"] and r["depth"] == 16:
            r["status"] = "diverged"
    assert rl.check_plain_test_loss_degrades(_results(rows)).status == "supported"


def test_roughness_check_fails_when_both_are_smooth_or_equally_rough():
    assert rl.check_plain_rougher(_results(_rows(plain_rough=(0, 0.01, 0.02)))).status == "refuted"
    assert rl.check_plain_rougher(
        _results(_rows(res_rough=(0.0, 0.1, 0.2)))).status == "refuted"


# ----------------------------------------------------------------------------- engine


def test_presets_reach_depth_sixteen_with_and_without_skips():
    for name in ("demo", "paper"):
        plan = sweep.plan(rl.EXPERIMENT, name)
        assert max(t.params["depth"] for t in plan.trials) >= 16
        assert {t.params["residual"] for t in plan.trials} == {False, True}


def test_tiny_preset_end_to_end(tmp_path):
    plan = sweep.plan(rl.EXPERIMENT, "tiny")
    summary = sweep.run_sweep(plan, str(tmp_path), progress=False, debug=True)
    assert summary.failed == 0
    res = sweep.results(plan, str(tmp_path))
    ok = res.ok
    assert len(ok) == len(plan.trials)
    assert ((ok["roughness"] >= 0) & (ok["roughness"] < 1)).all()
    slices = res.curves[res.curves["metric"] == "slice_loss"]
    assert len(slices) == len(ok) * rl.SLICE_POINTS ** 2
    # The slice is centred on the trained parameters, which sit low in it.
    for _, row in ok.iterrows():
        s = slices[slices["trial_id"] == row["trial_id"]].sort_values("step")["value"].to_numpy()
        centre = s[(rl.SLICE_POINTS ** 2) // 2]
        assert centre == pytest.approx(row["slice_centre_loss"], rel=1e-6)
        assert centre < np.median(s)
    for h in rl.EXPERIMENT.hypotheses:
        assert h.evaluate(res).status in STATUSES
    assert set(rl.plot(res)) == {"slices", "depth"}


@pytest.mark.slow
def test_paper_preset_verdicts(tmp_path):
    plan = sweep.plan(rl.EXPERIMENT, "paper")
    sweep.run_sweep(plan, str(tmp_path), progress=False)
    res = sweep.results(plan, str(tmp_path))
    verdicts = {h.name: h.evaluate(res) for h in rl.EXPERIMENT.hypotheses}
    assert verdicts["plain_test_loss_degrades"].status == "supported", verdicts
    assert verdicts["plain_rougher_at_depth"].status == "supported", verdicts
    # Measured and reported as a refutation: chaotic-init plain nets fit the training set
    # *better* with depth (see the module docstring); the check is kept, not weakened.
    assert verdicts["plain_trainability_degrades"].status in STATUSES
