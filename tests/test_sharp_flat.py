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


def _rows(large_sharpness=2.0, large_test=0.03, seeds=6, lrs=(0.05, 0.2), batches=(8, 256), converged=None):
    """Small vs large batch at each lr, with seeded noise; the large batch set by the arguments."""
    rng = np.random.default_rng(0)
    rows = []
    for lr in lrs:
        base_sharp, base_test = 1.0 / lr, 0.35 - 0.3 * lr
        for seed in range(seeds):
            for batch, sharp, test in ((batches[0], 1.0, 0.0), (batches[1], large_sharpness, large_test)):
                rows.append(
                    {
                        "batch": batch,
                        "lr": lr,
                        "seed": seed,
                        "sharpness": base_sharp * sharp * rng.lognormal(0.0, 0.05),
                        "test_loss": base_test + test + rng.normal(0.0, 0.004),
                    }
                )
    if converged is not None:
        for r in rows:
            r["converged"] = converged
    return rows


def test_checks_pass_when_large_batches_are_sharper_and_worse():
    res = _results(_rows())
    for h in sf.EXPERIMENT.hypotheses:
        assert h.evaluate(res).status == "supported", h.name


@falsifies("sharp_flat", "large_batch_sharper")
def test_sharper_check_fails_when_ratio_is_small():
    assert sf.check_large_batch_sharper(_results(_rows(large_sharpness=1.35))).status == "supported"
    assert sf.check_large_batch_sharper(_results(_rows(large_sharpness=1.05))).status == "refuted"


@falsifies("sharp_flat", "large_batch_worse_test")
def test_worse_test_check_fails_when_large_batch_generalises_better():
    assert sf.check_large_batch_worse_test(_results(_rows(large_test=0.01))).status == "supported"
    assert sf.check_large_batch_worse_test(_results(_rows(large_test=-0.01))).status == "refuted"


@falsifies("sharp_flat", "sharpness_orders_test_loss")
def test_rank_correlation_check_fails_when_sharpness_is_inverse_and_not_when_unrelated():
    rng = np.random.default_rng(0)
    rows = [
        {"batch": 8, "lr": 0.1, "seed": i, "sharpness": float(s), "test_loss": float(t)}
        for i, (s, t) in enumerate(zip(rng.uniform(1, 10, 24), rng.uniform(0.2, 0.4, 24)))
    ]
    ordered = [{**r, "test_loss": 0.2 + 0.01 * r["sharpness"]} for r in rows]  # monotone in sharpness
    assert sf.check_sharpness_orders_test_loss(_results(ordered)).status == "supported"
    inverse = [{**r, "test_loss": 1.0 / r["sharpness"]} for r in rows]
    v = sf.check_sharpness_orders_test_loss(_results(inverse))
    assert v.status == "refuted" and "Spearman rho -" in v.measured
    # Unrelated: the interval straddles 0, so the claim is not supported; refuting it would
    # take an interval wholly below 0, which no correlation means.
    assert sf.check_sharpness_orders_test_loss(_results(rows)).status == "inconclusive"


def test_rank_correlation_is_judged_within_each_lr_not_pooled():
    # The larger lr has lower sharpness (2/lr) and lower test loss, so a pooled rho is high;
    # within each lr the sharper runs generalise better: the claim is refuted.
    rng = np.random.default_rng(1)
    rows = []
    for lr, scale, offset in ((0.05, 40.0, 0.35), (0.2, 10.0, 0.28)):
        for i, u in enumerate(rng.uniform(0.5, 1.0, 24)):
            rows.append({"batch": 8, "lr": lr, "seed": i, "sharpness": scale * u, "test_loss": offset - 0.02 * u})
    v = sf.check_sharpness_orders_test_loss(_results(rows))
    assert v.status == "refuted" and "lr=0.05" in v.measured and "lr=0.2" in v.measured
    assert "pooled over lrs 0." in v.explanation  # reported: positive when pooled


def test_sharper_check_reports_sharpness_against_the_gd_cap():
    v = sf.check_large_batch_sharper(_results(_rows()))
    assert "1 = GD's stability cap 2/lr" in v.explanation and "lr=0.05 batch 256: 1.00" in v.explanation


def test_checks_inconclusive_with_one_batch_size():
    rows = [r for r in _rows() if r["batch"] == 8]
    assert sf.check_large_batch_sharper(_results(rows)).status == "inconclusive"


def test_checks_inconclusive_when_runs_had_not_converged():
    assert sf.check_large_batch_sharper(_results(_rows(converged=True))).status == "supported"
    res = _results(_rows(converged=False))
    for h in sf.EXPERIMENT.hypotheses:
        v = h.evaluate(res)
        assert v.status == "inconclusive" and "not converged" in v.explanation, h.name


def test_values_in_no_preset_get_a_computed_verdict():
    res = _results(_rows(lrs=(0.1,), batches=(16, 128)))  # no preset has lr 0.1, batch 16 or 128
    for h in sf.EXPERIMENT.hypotheses:
        v = h.evaluate(res)
        assert v.status == "supported" and "n/a" not in v.measured_text(), h.name
    assert "lr=0.1" in sf.check_large_batch_sharper(res).measured


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


def test_verdict_stands_unless_the_unconverged_runs_decide_it():
    # Two of 24 runs unconverged, and the converged ones alone say the same: the verdict stands.
    rows = _rows(converged=True)
    rows[0]["converged"] = rows[5]["converged"] = False
    for h in sf.EXPERIMENT.hypotheses:
        v = h.evaluate(_results(rows))
        assert v.status == "supported", h.name
    assert "converged runs alone" in sf.check_sharpness_orders_test_loss(_results(rows)).explanation
    # Every large-batch run at lr 0.2 unconverged: without them there is no comparison there.
    rows = [{**r, "converged": not (r["batch"] == 256 and r["lr"] == 0.2)} for r in _rows()]
    v = sf.check_large_batch_sharper(_results(rows))
    assert v.status == "inconclusive" and "not converged" in v.explanation
    # The correlation rests on the unconverged runs: the converged ones alone are unrelated.
    rng = np.random.default_rng(0)
    rows = [
        {"batch": 8, "lr": 0.1, "seed": i, "sharpness": float(s), "test_loss": float(t), "converged": i < 8}
        for i, (s, t) in enumerate(zip(rng.uniform(1, 10, 24), rng.uniform(0.2, 0.4, 24)))
    ]
    rows = [r if r["converged"] else {**r, "test_loss": 0.2 + 0.01 * r["sharpness"]} for r in rows]
    v = sf.check_sharpness_orders_test_loss(_results(rows))
    assert v.status == "inconclusive" and "not converged" in v.explanation
