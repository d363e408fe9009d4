"""Mode connectivity: the check on hand-made tables that must pass and must fail, and the
paper preset's plan."""

import numpy as np
import pandas as pd
import pytest

from experiments import mode_connectivity as mc
from physai import Results, sweep
from tests.falsification import falsifies

PAIRS = 8


def _results(rows) -> Results:
    trials = pd.DataFrame(rows)
    trials["status"] = "ok"
    return Results(trials, pd.DataFrame(), pd.DataFrame(), "mode_connectivity", "test")


def _pairs(linear=1.2, ratio=0.03, endpoint=1e-3, converged=None):
    """Pairs whose barriers scatter (seeded) around ``linear`` nats and ``ratio`` x it."""
    rng = np.random.default_rng(0)
    lin = linear * rng.lognormal(0.0, 0.2, PAIRS)
    bez = lin * ratio * rng.lognormal(0.0, 0.3, PAIRS)
    end = endpoint * rng.lognormal(0.0, 0.2, PAIRS)
    rows = [
        {"seed": i, "linear_barrier": lb, "bezier_barrier": bb, "barrier_ratio": bb / lb, "endpoint_loss": e}
        for i, (lb, bb, e) in enumerate(zip(lin, bez, end))
    ]
    if converged is not None:
        for r in rows:
            r["converged"] = converged
    return rows


def test_check_passes_when_bezier_flattens_a_clear_barrier():
    v = mc.check_bezier_removes_barrier(_results(_pairs()))
    assert v.status == "supported"
    assert "[" in v.measured  # every part carries its interval


@pytest.mark.parametrize(
    "rows",
    [
        _pairs(ratio=0.4),  # Bezier keeps > 10% of the barrier
        _pairs(linear=0.03, endpoint=1e-5),  # no clear linear barrier
        _pairs(endpoint=0.5),  # barrier small vs endpoint loss
    ],
)
@falsifies("mode_connectivity", "bezier_removes_barrier")
def test_check_fails(rows):
    assert mc.check_bezier_removes_barrier(_results(_pairs())).status == "supported"
    assert mc.check_bezier_removes_barrier(_results(rows)).status == "refuted"


def test_check_inconclusive_when_ratio_straddles_the_bound():
    assert mc.check_bezier_removes_barrier(_results(_pairs(ratio=0.12))).status == "inconclusive"


def test_unconverged_endpoints_make_the_check_inconclusive():
    assert mc.check_bezier_removes_barrier(_results(_pairs(converged=True))).status == "supported"
    v = mc.check_bezier_removes_barrier(_results(_pairs(converged=False)))
    assert v.status == "inconclusive" and "not converged" in v.explanation


def test_settings_in_no_preset_get_a_computed_verdict():
    rows = [{**r, "width": 24, "lr": 5e-3} for r in _pairs()]  # a width and lr no preset has
    v = mc.check_bezier_removes_barrier(_results(rows))
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
