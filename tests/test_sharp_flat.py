"""Sharp vs flat minima: the checks on hand-made tables that must pass and must fail, and
the sharpness probe on one tiny shard."""

import numpy as np
import pandas as pd

from experiments import sharp_flat as sf
from physai import Results, sweep
from tests.falsification import falsifies


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
            rows.append(
                {"batch": 8, "lr": lr, "seed": seed, "sharpness": base_sharp * jitter, "test_loss": base_test * jitter}
            )
            rows.append(
                {
                    "batch": 256,
                    "lr": lr,
                    "seed": seed,
                    "sharpness": base_sharp * large_sharpness * jitter,
                    "test_loss": (base_test + large_test) * jitter,
                }
            )
    return rows


def test_checks_pass_when_large_batches_are_sharper_and_worse():
    res = _results(_rows())
    for h in sf.EXPERIMENT.hypotheses:
        assert h.evaluate(res).status == "supported", h.name


@falsifies("sharp_flat", "large_batch_sharper")
def test_sharper_check_fails_when_ratio_is_small():
    assert sf.check_large_batch_sharper(_results(_rows(large_sharpness=1.3))).status == "supported"
    assert sf.check_large_batch_sharper(_results(_rows(large_sharpness=1.1))).status == "refuted"


@falsifies("sharp_flat", "large_batch_worse_test")
def test_worse_test_check_fails_when_large_batch_generalises_better():
    assert sf.check_large_batch_worse_test(_results(_rows(large_test=0.01))).status == "supported"
    assert sf.check_large_batch_worse_test(_results(_rows(large_test=-0.01))).status == "refuted"


@falsifies("sharp_flat", "sharpness_orders_test_loss")
def test_rank_correlation_check_fails_when_sharpness_is_unrelated_or_inverse():
    rng = np.random.default_rng(0)
    rows = [
        {"batch": 8, "lr": 0.1, "seed": i, "sharpness": float(s), "test_loss": float(t)}
        for i, (s, t) in enumerate(zip(rng.uniform(1, 10, 24), rng.uniform(0.2, 0.4, 24)))
    ]
    ordered = [{**r, "test_loss": 0.2 + 0.01 * r["sharpness"]} for r in rows]  # monotone in sharpness
    assert sf.check_sharpness_orders_test_loss(_results(ordered)).status == "supported"
    assert sf.check_sharpness_orders_test_loss(_results(rows)).status == "refuted"
    inverse = [{**r, "test_loss": 1.0 / r["sharpness"]} for r in rows]
    v = sf.check_sharpness_orders_test_loss(_results(inverse))
    assert v.status == "refuted" and v.measured < 0


def test_checks_inconclusive_with_one_batch_size():
    rows = [r for r in _rows() if r["batch"] == 8]
    assert sf.check_large_batch_sharper(_results(rows)).status == "inconclusive"


def test_tiny_shards_measure_sharpness_in_training():
    plan = sweep.plan(sf.EXPERIMENT, "tiny")
    assert len(plan.shards) == 2  # one compiled program per batch size
    # batch 64 >= n = 64: full-batch GD, so the two seeds differ only by initialisation.
    shard = next(s for s in plan.shards if s.static.batch >= s.static.n)
    res = sf.run(shard)
    ok = pd.DataFrame(res.metrics)
    assert (ok["status"] == "ok").all() and len(ok) == len(shard.trials)
    assert (ok["sharpness"] > 0).all() and np.isfinite(ok["test_loss"]).all()
    assert set(ok["batch_role"]) == {"large"}
    assert {"train_loss", "test_loss", "test_acc"} <= set(ok.columns)
    assert set(res.curves["metric"]) >= {"loss", "acc", "objective"}
    trials = pd.DataFrame([{**t.params, **m, "trial_id": t.trial_id} for t, m in zip(shard.trials, res.metrics)])
    figures = sf.plot(Results(trials, res.curves, pd.DataFrame(), "sharp_flat", "tiny"))
    assert set(figures) == {"sharpness_vs_test_loss"}
    import matplotlib.pyplot as plt

    for fig in figures.values():
        plt.close(fig)
