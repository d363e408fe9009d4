"""Residual vs plain: the roughness measure, the checks on hand-made tables that must pass
and must fail, and the presets."""

import numpy as np
import pandas as pd
import pytest

from experiments import residual_landscape as rl
from experiments.residual_landscape import checks as ck
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


SEEDS = 5
DEPTHS = (2, 8, 16, 32)


def _rows(
    plain_test=(0.1, 0.3, 0.5, 1.5),
    res_test=(0.12, 0.11, 0.1, 0.1),
    plain_train=(0.05, 0.1, 0.2, 0.4),
    res_train=(0.05, 0.04, 0.04, 0.03),
    plain_rough=(0.0, 0.05, 0.1, 0.25),
    res_rough=(0.0, 0.0, 0.01, 0.01),
    depths=DEPTHS,
):
    rng = np.random.default_rng(0)  # seed-to-seed spread of about 5%
    rows = []
    for residual, test, train, rough in (
        (False, plain_test, plain_train, plain_rough),
        (True, res_test, res_train, res_rough),
    ):
        for depth, te, tr, ro in zip(depths, test, train, rough):
            for seed in range(SEEDS):
                noise = np.exp(0.05 * rng.normal(size=3))
                rows.append(
                    {
                        "residual": residual,
                        "depth": depth,
                        "seed": seed,
                        "test_rel_mse": te * noise[0],
                        "train_rel_mse": tr * noise[1],
                        "roughness": ro * noise[2],
                    }
                )
    return rows


def test_checks_pass_when_plain_nets_degrade_and_turn_rough():
    res = _results(_rows())
    for h in rl.EXPERIMENT.hypotheses:
        assert h.evaluate(res).status == "supported", h.name


def test_depth_trend_is_spearman_over_all_depths():
    table = pd.DataFrame({"seed": 0, "depth": [2, 4, 8, 16], "v": [1.0, 2.0, 3.0, 4.0]})
    assert ck.depth_trend(table) == pytest.approx(1.0)
    table["v"] = [1.0, 3.0, 2.0, 4.0]  # one reversed step
    assert ck.depth_trend(table) == pytest.approx(0.8)
    table["v"] = [1.0, 1e-3, 1e-4, 2.0]  # the ends rise, the curve mostly falls
    assert ck.depth_trend(table) == pytest.approx(0.2)
    two = pd.DataFrame({"seed": 0, "depth": [2, 4], "v": [2.0, 1.0]})
    assert ck.depth_trend(two) == -1.0  # Spearman's rho of two points: the sign of the step
    assert np.isnan(ck.depth_trend(two.iloc[:1]))


@falsifies("residual_landscape", "plain_test_loss_degrades", "plain_trainability_degrades")
def test_degradation_checks_fail_when_plain_is_fine_or_residual_degrades():
    assert ck.check_plain_test_loss_degrades(_results(_rows())).status == "supported"
    assert ck.check_plain_trainability_degrades(_results(_rows())).status == "supported"
    assert ck.check_plain_test_loss_degrades(_results(_rows(plain_test=(0.1, 0.08, 0.06, 0.05)))).status == "refuted"
    assert ck.check_plain_test_loss_degrades(_results(_rows(res_test=(0.1, 0.2, 0.3, 0.5)))).status == "refuted"
    falling = _rows(plain_train=(0.05, 1e-3, 1e-5, 1e-6))
    assert ck.check_plain_trainability_degrades(_results(falling)).status == "refuted"
    assert ck.check_plain_trainability_degrades(_results(_rows(res_train=(0.05, 0.1, 0.2, 0.3)))).status == "refuted"
    # the deepest net is worse than the shallowest, but the curve over depth falls: not a rising trend
    ends_only = _rows(plain_train=(0.05, 1e-3, 1e-4, 0.1))
    assert ck.check_plain_trainability_degrades(_results(ends_only)).status != "supported"


def test_diverged_runs_count_as_degraded():
    rows = _rows(plain_test=(0.1, 0.11, 0.12, 0.13))
    for r in rows:
        if not r["residual"] and r["depth"] == 32:
            r["status"] = "diverged"
    assert ck.check_plain_test_loss_degrades(_results(rows)).status == "supported"


def test_degradation_needs_converged_runs():
    rows = _rows()
    for r in rows:
        r["converged"] = True
    assert ck.check_plain_trainability_degrades(_results(rows)).status == "supported"
    rows[0]["converged"] = False  # one plain run: the medians do not rest on it
    v = ck.check_plain_trainability_degrades(_results(rows))
    assert v.status == "supported" and "1 of" in v.explanation and "same verdict" in v.explanation
    # plain runs at all depths but the shallowest: one depth left, no trend
    for r in rows:
        r["converged"] = r["residual"] or r["depth"] == 2
    v = ck.check_plain_trainability_degrades(_results(rows))
    assert v.status == "inconclusive" and "had not converged" in v.explanation


def test_depths_in_no_preset_get_a_computed_verdict():
    rows = _rows(depths=(5, 12, 20, 40))  # depths that no preset contains
    for h in rl.EXPERIMENT.hypotheses:
        v = h.evaluate(_results(rows))
        assert v.status == "supported", h.name
        assert "n/a" not in str(v.measured), h.name
    assert "depth 5,12,20,40" in ck.check_plain_test_loss_degrades(_results(rows)).measured
    assert "depth 40" in ck.check_plain_rougher(_results(rows)).measured


@falsifies("residual_landscape", "plain_rougher_at_depth")
def test_roughness_check_fails_when_both_are_smooth_or_equally_rough():
    assert ck.check_plain_rougher(_results(_rows())).status == "supported"
    assert ck.check_plain_rougher(_results(_rows(plain_rough=(0, 0.01, 0.01, 0.02)))).status == "refuted"
    assert ck.check_plain_rougher(_results(_rows(res_rough=(0.0, 0.1, 0.2, 0.25)))).status == "refuted"
    # rough at the deepest depth but smoother than at shallow depths: no roughening with depth
    assert ck.check_plain_rougher(_results(_rows(plain_rough=(0.5, 0.4, 0.3, 0.25)))).status == "refuted"


# ----------------------------------------------------------------------------- engine


def test_presets_reach_depth_sixteen_with_and_without_skips_and_standard_init():
    for name in ("demo", "paper"):
        plan = sweep.plan(rl.EXPERIMENT, name)
        assert max(t.params["depth"] for t in plan.trials) >= 16
        assert len({t.params["depth"] for t in plan.trials}) >= 3  # a trend, not two ends
        assert {t.params["residual"] for t in plan.trials} == {False, True}
        assert {t.params["init_gain"] for t in plan.trials} == {1.0}  # LeCun-normal, not chaotic
