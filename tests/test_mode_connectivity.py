"""Mode connectivity: the checks on hand-made tables that must pass and must fail, the
barrier definitions, and the paper preset's plan."""

import math

import numpy as np
import pandas as pd
import pytest

from experiments import mode_connectivity as mc
from physai import Results, sweep
from tests.falsification import falsifies

PAIRS = 8
CLASSES, N_TEST = 5, 1000


def _results(rows) -> Results:
    trials = pd.DataFrame(rows)
    trials["status"] = "ok"
    return Results(trials, pd.DataFrame(), pd.DataFrame(), "mode_connectivity", "test")


def _pairs(
    linear=1.2,
    ratio=0.03,
    endpoint=1e-3,
    test_error=0.15,
    line_rise=0.2,
    curve_rise=0.005,
    curve_train=0.0005,
    converged=None,
):
    """Pairs whose barriers scatter (seeded) around the given medians: ``linear`` nats of
    train loss and ``ratio`` x it for the curve; test-error barriers ``line_rise`` (line)
    and ``curve_rise`` (curve) above an endpoint test error ``test_error``; a train-error
    barrier ``curve_train`` along the curve."""
    rng = np.random.default_rng(0)
    jitter = lambda s: rng.lognormal(0.0, s, PAIRS)  # noqa: E731
    lin, end = linear * jitter(0.2), endpoint * jitter(0.2)
    bez = lin * ratio * jitter(0.3)
    rows = []
    for i in range(PAIRS):
        rows.append(
            {
                "seed": i,
                "classes": CLASSES,
                "n_test": N_TEST,
                "linear_barrier": lin[i],
                "bezier_barrier": bez[i],
                "barrier_ratio": bez[i] / lin[i],
                "endpoint_loss": end[i],
                "endpoint_test_error": test_error * (1 + 0.1 * rng.standard_normal()),
                "linear_test_error_barrier": line_rise * (1 + 0.1 * rng.standard_normal()),
                "bezier_test_error_barrier": curve_rise * (1 + 0.3 * rng.standard_normal()),
                "bezier_train_error_barrier": curve_train * rng.uniform(0.5, 1.5),
            }
        )
    if converged is not None:
        for r in rows:
            r["converged"] = converged
    return rows


def test_barrier_columns_from_path_profiles():
    t = np.linspace(0, 1, mc.PATH_POINTS)
    bump = np.sin(np.pi * t)
    out = {
        "linear_train_loss": 1e-3 + bump,
        "bezier_train_loss": 1e-3 + 0.02 * bump,
        "linear_test_loss": 0.5 + bump,
        "bezier_test_loss": 0.5 + 0.1 * bump,
        "linear_train_error": 0.3 * bump,
        "bezier_train_error": 0.0 * t,
        "linear_test_error": 0.1 + 0.1 * t + 0.2 * bump,  # endpoints 0.1 and 0.2
        "bezier_test_error": 0.1 + 0.1 * t,  # monotone between unequal endpoints: no barrier
    }
    cols = mc.barriers(out)
    assert math.isclose(cols["linear_barrier"], 1.0, rel_tol=1e-6)
    assert math.isclose(cols["barrier_ratio"], 0.02, rel_tol=1e-6)
    assert cols["endpoint_test_error"] == pytest.approx(0.2)
    assert cols["bezier_test_error_barrier"] == pytest.approx(0.0)
    assert 0.1 < cols["linear_test_error_barrier"] < 0.2
    assert cols["bezier_train_error_barrier"] == 0.0 and cols["linear_train_error_barrier"] == pytest.approx(0.3)


def test_checks_pass_when_the_curve_flattens_a_clear_barrier():
    for check in (mc.check_bezier_removes_barrier, mc.check_curve_keeps_accuracy):
        v = check(_results(_pairs()))
        assert v.status == "supported", check.__name__
        assert "[" in v.measured  # every part carries its interval


@pytest.mark.parametrize(
    "rows",
    [
        _pairs(ratio=0.4),  # Bezier keeps > 10% of the barrier
        _pairs(linear=0.1, endpoint=1e-5),  # a line barrier 1/16 of ln(5): no ridge, however small the endpoints
    ],
)
@falsifies("mode_connectivity", "bezier_removes_barrier")
def test_barrier_check_fails(rows):
    assert mc.check_bezier_removes_barrier(_results(_pairs())).status == "supported"
    assert mc.check_bezier_removes_barrier(_results(rows)).status == "refuted"


@pytest.mark.parametrize(
    "rows",
    [
        _pairs(line_rise=0.03),  # the line barely changes the test error
        _pairs(curve_rise=0.06),  # the curve loses 6 points of test error (~6 s.e.)
        _pairs(curve_train=0.05),  # the curve misclassifies 5% of the training points
    ],
)
@falsifies("mode_connectivity", "curve_keeps_accuracy")
def test_accuracy_check_fails(rows):
    assert mc.check_curve_keeps_accuracy(_results(_pairs())).status == "supported"
    assert mc.check_curve_keeps_accuracy(_results(rows)).status == "refuted"


def test_a_loss_barrier_many_times_a_tiny_endpoint_loss_is_not_enough():
    # 0.05 nats is 50x the endpoint loss (the old criterion passed it) but 3% of ln(5).
    v = mc.check_bezier_removes_barrier(_results(_pairs(linear=0.05, endpoint=1e-3)))
    assert v.status == "refuted"


def test_check_inconclusive_when_ratio_straddles_the_bound():
    assert mc.check_bezier_removes_barrier(_results(_pairs(ratio=0.1))).status == "inconclusive"


def test_checks_inconclusive_without_the_error_columns():
    rows = [{k: v for k, v in r.items() if "error" not in k} for r in _pairs()]
    assert mc.check_bezier_removes_barrier(_results(rows)).status == "supported"  # loss columns suffice
    v = mc.check_curve_keeps_accuracy(_results(rows))
    assert v.status == "inconclusive" and "no stored pairs" in v.explanation


def test_unconverged_endpoints_make_the_checks_inconclusive():
    for check in (mc.check_bezier_removes_barrier, mc.check_curve_keeps_accuracy):
        assert check(_results(_pairs(converged=True))).status == "supported"
        v = check(_results(_pairs(converged=False)))
        assert v.status == "inconclusive" and "not converged" in v.explanation


def test_settings_in_no_preset_get_a_computed_verdict():
    rows = [{**r, "width": 24, "lr": 5e-3, "classes": 3, "n_test": 400} for r in _pairs()]
    for check in (mc.check_bezier_removes_barrier, mc.check_curve_keeps_accuracy):
        v = check(_results(rows))
        assert v.status == "supported" and "n/a" not in v.measured_text()


def test_paper_preset_has_ten_or_more_distinct_pairs():
    plan = sweep.plan(mc.EXPERIMENT, "paper")
    assert len(plan.trials) >= 10
    assert len({t.params["seed"] for t in plan.trials}) == len(plan.trials)


def test_verdict_stands_unless_the_unconverged_endpoints_decide_it():
    # 2 of 8 pairs unconverged, and the other 6 alone say the same: the verdict stands.
    rows = [{**r, "converged": r["seed"] >= 2} for r in _pairs()]
    v = mc.check_bezier_removes_barrier(_results(rows))
    assert v.status == "supported" and "converged runs alone" in v.explanation
    # Only the unconverged pairs have a low Bezier barrier; the one converged pair keeps 40%.
    rows = [{**r, "converged": r["seed"] == 0} for r in _pairs()]
    rows[0] = {**rows[0], "bezier_barrier": 0.4 * rows[0]["linear_barrier"], "barrier_ratio": 0.4}
    assert mc.check_bezier_removes_barrier(_results([{**r, "converged": True} for r in rows])).status == "supported"
    v = mc.check_bezier_removes_barrier(_results(rows))
    assert v.status == "inconclusive" and "not converged" in v.explanation
