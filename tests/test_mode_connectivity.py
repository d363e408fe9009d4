"""Mode connectivity: the check on hand-made tables that must pass and must fail, and the
paper preset's plan."""

import pandas as pd
import pytest

from experiments import mode_connectivity as mc
from physai import Results, sweep
from tests.falsification import falsifies


def _results(rows) -> Results:
    trials = pd.DataFrame(rows)
    trials["status"] = "ok"
    return Results(trials, pd.DataFrame(), pd.DataFrame(), "mode_connectivity", "test")


def _pairs(linear=(1.0, 1.3, 1.5, 0.9, 1.1), bezier=(0.02, 0.01, 0.05, 0.03, 0.2), endpoint=1e-3):
    return [
        {"seed": i, "linear_barrier": lb, "bezier_barrier": bb, "barrier_ratio": bb / lb, "endpoint_loss": endpoint}
        for i, (lb, bb) in enumerate(zip(linear, bezier))
    ]


def test_check_passes_when_bezier_flattens_a_clear_barrier():
    v = mc.check_bezier_removes_barrier(_results(_pairs()))
    assert v.status == "supported"


@pytest.mark.parametrize(
    "rows",
    [
        _pairs(bezier=(0.3, 0.2, 0.5, 0.3, 0.01)),  # Bezier keeps > 10% of the barrier
        _pairs(
            linear=(0.05, 0.04, 0.06, 0.05, 0.05),  # no clear linear barrier
            bezier=(0.001, 0.001, 0.001, 0.001, 0.001),
        ),
        _pairs(endpoint=0.5),  # barrier small vs endpoint loss
    ],
)
@falsifies("mode_connectivity", "bezier_removes_barrier")
def test_check_fails(rows):
    assert mc.check_bezier_removes_barrier(_results(_pairs())).status == "supported"
    assert mc.check_bezier_removes_barrier(_results(rows)).status == "refuted"


def test_paper_preset_has_ten_or_more_distinct_pairs():
    plan = sweep.plan(mc.EXPERIMENT, "paper")
    assert len(plan.trials) >= 10
    assert len({t.params["seed"] for t in plan.trials}) == len(plan.trials)
