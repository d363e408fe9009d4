"""Sharp vs flat minima: the checks on hand-made tables that must pass and must fail, and
the tiny preset end to end through the engine."""
import numpy as np
import pandas as pd
import pytest

from experiments import sharp_flat as sf
from physai import Results, sweep
from physai.experiment import STATUSES


def _results(rows) -> Results:
    trials = pd.DataFrame(rows)
    trials["status"] = trials["status"].fillna("ok") if "status" in trials else "ok"
    return Results(trials, pd.DataFrame(), pd.DataFrame(), "sharp_flat", "test")


def _rows(large_sharpness=2.0, large_test=0.03, seeds=4):
    """Small batch 8 vs large batch 256 at two lrs; the large batch scaled by the arguments."""
    rows = []
    for lr, base_sharp, base_test in ((0.05, 20.0, 0.33), (0.2, 5.0, 0.28)):
        for seed in range(seeds):
            jitter = 1 + 0.02 * seed
            rows.append({"batch": 8, "lr": lr, "seed": seed, "sharpness": base_sharp * jitter,
                         "test_loss": base_test * jitter})
            rows.append({"batch": 256, "lr": lr, "seed": seed,
                         "sharpness": base_sharp * large_sharpness * jitter,
                         "test_loss": (base_test + large_test) * jitter})
    return rows


def test_checks_pass_when_large_batches_are_sharper_and_worse():
    res = _results(_rows())
    for h in sf.EXPERIMENT.hypotheses:
        assert h.evaluate(res).status == "supported", h.name


def test_sharper_check_fails_when_ratio_is_small():
    assert sf.check_large_batch_sharper(_results(_rows(large_sharpness=1.1))).status == "refuted"


def test_worse_test_check_fails_when_large_batch_generalises_better():
    assert sf.check_large_batch_worse_test(_results(_rows(large_test=-0.01))).status == "refuted"


def test_rank_correlation_check_fails_when_sharpness_is_unrelated_or_inverse():
    rng = np.random.default_rng(0)
    rows = [{"batch": 8, "lr": 0.1, "seed": i, "sharpness": float(s), "test_loss": float(t)}
            for i, (s, t) in enumerate(zip(rng.uniform(1, 10, 24), rng.uniform(0.2, 0.4, 24)))]
    assert sf.check_sharpness_orders_test_loss(_results(rows)).status == "refuted"
    inverse = [{**r, "test_loss": 1.0 / r["sharpness"]} for r in rows]
    v = sf.check_sharpness_orders_test_loss(_results(inverse))
    assert v.status == "refuted" and v.measured < 0


def test_checks_inconclusive_with_one_batch_size():
    rows = [r for r in _rows() if r["batch"] == 8]
    assert sf.check_large_batch_sharper(_results(rows)).status == "inconclusive"


def test_tiny_preset_end_to_end(tmp_path):
    plan = sweep.plan(sf.EXPERIMENT, "tiny")
    assert len(plan.shards) == 2  # one compiled program per batch size
    summary = sweep.run_sweep(plan, str(tmp_path), progress=False, debug=True)
    assert summary.failed == 0
    res = sweep.results(plan, str(tmp_path))
    ok = res.ok
    assert len(ok) == len(plan.trials)
    assert (ok["sharpness"] > 0).all() and np.isfinite(ok["test_loss"]).all()
    # batch 64 >= n = 64: full-batch GD, so the two seeds differ only by initialisation.
    assert set(ok["batch_role"]) == {"small", "large"}
    for h in sf.EXPERIMENT.hypotheses:
        assert h.evaluate(res).status in STATUSES
    assert set(sf.plot(res)) == {"sharpness_vs_test_loss"}


@pytest.mark.slow
def test_paper_preset_supports_every_hypothesis(tmp_path):
    plan = sweep.plan(sf.EXPERIMENT, "paper")
    sweep.run_sweep(plan, str(tmp_path), progress=False)
    res = sweep.results(plan, str(tmp_path))
    verdicts = [h.evaluate(res) for h in sf.EXPERIMENT.hypotheses]
    assert all(v.status == "supported" for v in verdicts), verdicts
