"""Residual vs plain: the roughness measure, the checks on hand-made tables that must pass
and must fail, and the presets."""

import numpy as np
import pandas as pd
import pytest

from experiments import residual_landscape as rl
from physai import Results, sweep
from tests.falsification import falsifies


def _results(rows) -> Results:
    trials = pd.DataFrame(rows)
    trials["status"] = trials["status"].fillna("ok") if "status" in trials else "ok"
    return Results(trials, pd.DataFrame(), pd.DataFrame(), "residual_landscape", "test")


# ----------------------------------------------------------------------------- roughness


def test_excess_variation_is_zero_on_a_bowl_and_large_on_an_egg_crate():
    g = np.linspace(-1, 1, 31)
    a, b = np.meshgrid(g, g, indexing="ij")
    bowl = a**2 + 0.5 * b**2
    tilted = (a - 0.4) ** 2 + 2 * (b + 0.3) ** 2 + 0.5 * a  # off-centre valleys are still valleys
    crate = bowl + 0.3 * np.sin(12 * a) * np.sin(12 * b)
    assert rl.excess_variation(bowl) == pytest.approx(0.0, abs=1e-12)
    assert rl.excess_variation(tilted) == pytest.approx(0.0, abs=1e-12)
    assert rl.excess_variation(crate) > 0.3
    assert rl.excess_variation(np.ones((5, 5))) == 0.0  # flat: no variation at all


# ----------------------------------------------------------------------------- checks


def _rows(
    plain_test=(0.1, 0.5, 1.5),
    res_test=(0.1, 0.11, 0.12),
    plain_train=(0.05, 0.2, 0.4),
    res_train=(0.05, 0.05, 0.05),
    plain_rough=(0.0, 0.1, 0.25),
    res_rough=(0.0, 0.0, 0.01),
):
    rows = []
    for residual, test, train, rough in (
        (False, plain_test, plain_train, plain_rough),
        (True, res_test, res_train, res_rough),
    ):
        for depth, te, tr, ro in zip((2, 8, 16), test, train, rough):
            for seed in range(2):
                rows.append(
                    {
                        "residual": residual,
                        "depth": depth,
                        "seed": seed,
                        "test_rel_mse": te,
                        "train_rel_mse": tr,
                        "roughness": ro,
                    }
                )
    return rows


def test_checks_pass_when_plain_nets_degrade_and_turn_rough():
    res = _results(_rows())
    for h in rl.EXPERIMENT.hypotheses:
        assert h.evaluate(res).status == "supported", h.name


@falsifies("residual_landscape", "plain_test_loss_degrades", "plain_trainability_degrades")
def test_degradation_checks_fail_when_plain_is_fine_or_residual_degrades():
    assert rl.check_plain_test_loss_degrades(_results(_rows())).status == "supported"
    assert rl.check_plain_trainability_degrades(_results(_rows())).status == "supported"
    assert rl.check_plain_test_loss_degrades(_results(_rows(plain_test=(0.1, 0.1, 0.12)))).status == "refuted"
    assert rl.check_plain_test_loss_degrades(_results(_rows(res_test=(0.1, 0.3, 0.5)))).status == "refuted"
    assert rl.check_plain_trainability_degrades(_results(_rows(plain_train=(0.05, 1e-3, 1e-5)))).status == "refuted"
    assert rl.check_plain_trainability_degrades(_results(_rows(res_train=(0.05, 0.1, 0.2)))).status == "refuted"


def test_diverged_runs_count_as_degraded():
    rows = _rows(plain_test=(0.1, 0.1, 0.1))
    for r in rows:
        if not r["residual"] and r["depth"] == 16:
            r["status"] = "diverged"
    assert rl.check_plain_test_loss_degrades(_results(rows)).status == "supported"


@falsifies("residual_landscape", "plain_rougher_at_depth")
def test_roughness_check_fails_when_both_are_smooth_or_equally_rough():
    assert rl.check_plain_rougher(_results(_rows())).status == "supported"
    assert rl.check_plain_rougher(_results(_rows(plain_rough=(0, 0.01, 0.02)))).status == "refuted"
    assert rl.check_plain_rougher(_results(_rows(res_rough=(0.0, 0.1, 0.2)))).status == "refuted"


# ----------------------------------------------------------------------------- engine


def test_presets_reach_depth_sixteen_with_and_without_skips():
    for name in ("demo", "paper"):
        plan = sweep.plan(rl.EXPERIMENT, name)
        assert max(t.params["depth"] for t in plan.trials) >= 16
        assert {t.params["residual"] for t in plan.trials} == {False, True}
