"""Loss predicts capability: the mixture permutation, the curve gap, and every check on
synthetic tables built so that its claim holds and so that it does not."""

import math

import jax
import numpy as np
import pandas as pd
import pytest

from experiments import loss_predicts_capability as lpc
from physai import Results
from physai.curricula.parity import packed_subsets, zipf_probabilities
from tests.falsification import falsifies

WIDTHS = (16, 32, 64, 128)
STEPS = np.arange(0, 3001, 100)


def test_mixture_order_moves_the_benchmark_block():
    assert lpc.mixture_order(8, 2, 2, 2).tolist() == list(range(8))
    order = lpc.mixture_order(16, 3, 4, 9)
    assert order[9:13].tolist() == [3, 4, 5, 6]  # the benchmark tasks at ranks 9..12
    assert sorted(order.tolist()) == list(range(16))
    assert order[:3].tolist() == [0, 1, 2] and order[3:9].tolist() == [7, 8, 9, 10, 11, 12]
    with pytest.raises(ValueError):
        lpc.mixture_order(16, 3, 4, 13)  # ranks 13..16: past the last task


def test_mixtures_share_tasks_and_differ_in_frequency():
    """Task j keeps its code column and subset in both mixtures; only its frequency moves."""
    settings = {**lpc.SETTINGS, "n_tasks": 8, "n_bits": 10, "bench_first": 1, "bench_size": 2}
    settings.update(n_train=20000, n_test_per_task=16, width=8, steps=1, log_every=1)
    key = jax.random.key(3)
    subsets, _ = packed_subsets(jax.random.split(key)[0], 10, 3, 8, 1)
    probs = np.asarray(zipf_probabilities(8, settings["alpha"]))
    for rank in (1, 5):
        st = lpc.Static.from_params({**settings, "bench_rank": rank})
        d = lpc.make_task(st).data(key, {})
        for x, y in ((d["x_train"], d["y_train"]), (d["x_test"], d["y_test"])):
            x = np.asarray(x, float)
            code = x[:, :8].argmax(1)
            bits = x[:, 8:]
            parity = np.prod(np.take_along_axis(bits, np.asarray(subsets)[code], axis=1), axis=1)
            assert np.array_equal(parity, np.asarray(y, float))
        share = np.bincount(np.asarray(d["x_train"][:, :8]).argmax(1), minlength=8) / 20000
        order = lpc.mixture_order(8, 1, 2, rank)
        assert share[order] == pytest.approx(probs, abs=0.01)


def _curve(loss, shift=0.0):
    """Benchmark accuracy as a smooth step in log loss around 0.15 nats (times ``exp(shift)``)."""
    return 0.5 + 0.5 / (1 + np.exp((np.log(loss) - np.log(0.15) - shift) / 0.15))


def _results(capability, seeds=range(4), ranks=(3, 9), noise=0.01) -> Results:
    """Runs whose loss falls from ln 2 towards a floor set by width; ``capability(loss, width,
    rank, compute)`` gives the benchmark accuracy."""
    rng = np.random.default_rng(0)
    trials, curves = [], []
    for seed in seeds:
        for rank in ranks:
            for w in WIDTHS:
                tid = f"{seed}-{rank}-{w}"
                n_params = 35 * w + 2
                floor = 0.4 * (w / 16) ** -1.2
                loss = floor + (math.log(2) - floor) * np.exp(-STEPS / 600) * (1 + 0.02 * rng.standard_normal())
                compute = n_params * 512 * STEPS
                acc = capability(loss, w, rank, compute) + noise * rng.standard_normal(len(STEPS))
                trials.append(
                    dict(
                        trial_id=tid,
                        seed=seed,
                        width=w,
                        bench_rank=rank,
                        bench_size=4,
                        n_params=n_params,
                        batch_size=512,
                        status="ok",
                    )
                )
                for metric, v in (("loss", loss), ("capability", acc)):
                    curves.append(pd.DataFrame(dict(trial_id=tid, step=STEPS, split="test", metric=metric, value=v)))
    return Results(pd.DataFrame(trials), pd.concat(curves, ignore_index=True), pd.DataFrame(), "lpc", "test")


def _collapsed(loss, w, rank, compute):
    return _curve(loss, shift=0.0 if rank == 3 else -0.8)  # the control's benchmark needs a lower loss


def _width_dependent(loss, w, rank, compute):
    return _curve(loss, shift=0.5 * np.log(w / 16))  # wider nets reach the benchmark at a higher loss


def _compute_only(loss, w, rank, compute):
    return 0.5 + 0.5 / (1 + np.exp(-(np.log(np.maximum(compute, 1)) - np.log(3e9)) / 0.4))


def test_curve_gap_identical_curves_and_unmoved_curves():
    loss = np.geomspace(0.7, 0.05, 30)
    a, flat = (loss, _curve(loss)), (loss, np.full(30, 0.5))
    assert lpc.curve_gap(a, a, 0.06) == pytest.approx(0.0)
    assert math.isnan(lpc.curve_gap(flat, flat, 0.06))
    assert lpc.curve_gap(a, flat, 0.06) > 0.2


@falsifies("loss_predicts_capability", "loss_collapses_capability")
def test_collapse_supported_on_one_curve_and_refuted_when_width_matters():
    assert lpc.check_collapse(_results(_collapsed)).status == "supported"
    assert lpc.check_collapse(_results(_width_dependent)).status == "refuted"


@falsifies("loss_predicts_capability", "mixture_breaks_collapse")
def test_control_supported_when_mixtures_differ_and_refuted_when_they_agree():
    assert lpc.check_control(_results(_collapsed)).status == "supported"
    same = lambda loss, w, rank, compute: _curve(loss)  # the mixture changes nothing
    assert lpc.check_control(_results(same)).status == "refuted"
    assert lpc.check_control(_results(_collapsed, ranks=(3,))).status == "inconclusive"


def test_configurations_are_never_pooled():
    """Runs that differ in a data setting (here alpha) are checked apart, one part each."""
    a, b = _results(_collapsed, seeds=range(3)), _results(_width_dependent, seeds=range(3))
    b_trials = b.trials.assign(trial_id="b" + b.trials["trial_id"], alpha=1.0)
    b_curves = b.curves.assign(trial_id="b" + b.curves["trial_id"])
    both = Results(
        pd.concat([a.trials.assign(alpha=0.5), b_trials]), pd.concat([a.curves, b_curves]), pd.DataFrame(), "lpc", "t"
    )
    v = lpc.check_collapse(both)
    assert v.status == "refuted"  # alpha = 1.0 has the width-dependent curves
    assert "alpha=0.5, bench_rank=3" in v.measured and "alpha=1.0, bench_rank=9" in v.measured
    assert lpc.check_control(both).measured.count("bench_rank=9") == 2


@falsifies("loss_predicts_capability", "loss_beats_compute")
def test_loss_beats_compute_supported_for_a_loss_law_and_refuted_for_a_compute_law():
    assert lpc.check_loss_beats_compute(_results(_collapsed)).status == "supported"
    assert lpc.check_loss_beats_compute(_results(_compute_only)).status == "refuted"
