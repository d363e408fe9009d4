"""Edge of stability: the trajectory summary, every check on hand-made tables that must
pass and must fail, and the presets."""

import math

import numpy as np
import pandas as pd
import pytest

from experiments import edge_of_stability as eos
from physai import Results, sweep
from tests.falsification import falsifies

STEPS = 4000


def _results(rows) -> Results:
    trials = pd.DataFrame(rows)
    if "status" not in trials:
        trials["status"] = "ok"
    return Results(trials, pd.DataFrame(), pd.DataFrame(), "edge_of_stability", "test")


SEEDS = 5
RNG = np.random.default_rng(0)


def _row(lr, seed=0, role="eos", **over):
    noise = RNG.normal(0.0, 1.0, 4)  # realistic seed-to-seed spread around the edge
    row = {
        "role": role,
        "lr": lr,
        "seed": seed,
        "steps": STEPS,
        "initial_sharpness": 2.5,
        "reach_step": 1000.0 + 100 * noise[0],
        "sharpening": 0.9 * (2 / lr) / 2.5 * (1 + 0.05 * noise[1]),
        "edge_median": 1.0 + 0.01 * noise[2],
        "edge_max": 1.05 + 0.02 * noise[3],
        "catapult_peak": 1.2 + 0.02 * noise[3],
        "edge_end": 2000.0,
        "edge_converged": True,
        "loss_up_fraction": 0.2 + 0.02 * noise[1],
        "loss_drop": 1e-2,
        "max_ratio": 1.1 + 0.02 * noise[3],
        "converged": True,
        "status": "ok",
    }
    row.update(over)
    return row


def _control(seed, **over):
    m = 0.15 + 0.02 * RNG.normal()
    return _row(
        0.02,
        seed,
        "control",
        reach_step=math.nan,
        sharpening=math.nan,
        edge_median=math.nan,
        edge_max=math.nan,
        catapult_peak=math.nan,
        edge_converged=False,
        loss_up_fraction=0.0,
        max_ratio=m,
        converged=False,
        **over,
    )


def _good_rows(lrs=(0.1, 0.3)):
    global RNG
    RNG = np.random.default_rng(0)  # the same noise whichever tests run
    rows = [_row(lr, s) for lr in lrs for s in range(SEEDS)]
    rows += [_control(s) for s in range(SEEDS)]
    return rows


# ----------------------------------------------------------------------------- summary


def test_sharpness_summary_on_a_synthetic_trajectory():
    steps = np.arange(0, 1101, 100)
    lr = 0.1  # 2/eta = 20
    sharpness = np.array([4, 6, 10, 15, 19, 24, 18, 20.2, 19.9, 20.0, 21.0, 30.0])
    loss = np.array([1.0, 0.5, 0.3, 0.2, 0.1, 0.2, 0.05, 0.06, 0.01, 0.0009, 0.0005, 0.0001])
    s = eos.sharpness_summary(steps, sharpness, lr, loss)
    assert s["reach_step"] == 400  # 19 >= 0.9 * 20
    assert s["sharpening"] == pytest.approx(19 / 4)
    assert s["max_ratio"] == pytest.approx(1.5)
    # window: step 400 (reach) to step 900 (loss 0.0009 <= 1e-3 * 1.0); the catapult is
    # 19, 24 (first above 2/eta) up to the drop to 18; the hover: 18, 20.2, 19.9, 20.0
    assert s["edge_end"] == 900 and s["edge_converged"]
    assert s["catapult_peak"] == pytest.approx(1.2)
    assert s["edge_median"] == pytest.approx(np.median([0.9, 1.01, 0.995, 1.0]))
    assert s["edge_max"] == pytest.approx(1.01)
    # loss in the window: 0.1, 0.2, 0.05, 0.06, 0.01, 0.0009 -> 2 rises of 5 intervals
    assert s["loss_up_fraction"] == pytest.approx(0.4)
    assert s["loss_drop"] == pytest.approx(0.009)


def test_sharpness_summary_never_reaching_threshold():
    s = eos.sharpness_summary([0, 10, 20], [1.0, 2.0, 3.0], 0.02, [1.0, 0.9, 0.8])
    assert math.isnan(s["reach_step"]) and math.isnan(s["sharpening"])
    assert s["max_ratio"] == pytest.approx(0.03)
    assert math.isnan(s["edge_median"]) and s["loss_up_fraction"] == 0.0 and not s["edge_converged"]


def test_sharpness_summary_without_a_return_below_the_edge_has_no_catapult():
    s = eos.sharpness_summary([0, 10, 20, 30], [5.0, 19.0, 25.0, 30.0], 0.1, [1.0, 0.5, 0.4, 0.3])
    assert math.isnan(s["catapult_peak"])  # the rise past 2/eta stays in the hover window
    assert s["edge_max"] == pytest.approx(1.5)


def test_window_columns_are_computed_from_the_curves():
    steps = np.arange(0, 1101, 100)
    sharpness = np.array([4, 6, 10, 15, 19, 24, 18, 20.2, 19.9, 20.0, 21.0, 30.0])
    loss = np.array([1.0, 0.5, 0.3, 0.2, 0.1, 0.2, 0.05, 0.06, 0.01, 0.0009, 0.0005, 0.0001])
    curves = pd.concat(
        [
            pd.DataFrame({"trial_id": "a", "step": steps, "split": "train", "metric": "sharpness", "value": sharpness}),
            pd.DataFrame({"trial_id": "a", "step": steps, "split": "train", "metric": "loss", "value": loss}),
        ]
    )
    trials = pd.DataFrame([{"trial_id": "a", "role": "eos", "lr": 0.1, "seed": 0, "status": "ok"}])
    table = eos.with_window(Results(trials, curves, pd.DataFrame(), "edge_of_stability", "test"))
    expected = eos.sharpness_summary(steps, sharpness, 0.1, loss)
    for column in eos.WINDOW_COLUMNS:
        assert table[column].iloc[0] == pytest.approx(expected[column]), column


# ----------------------------------------------------------------------------- checks


def test_checks_pass_on_edge_of_stability_table():
    res = _results(_good_rows())
    for h in eos.EXPERIMENT.hypotheses:
        assert h.evaluate(res).status == "supported", h.name


@pytest.mark.parametrize(
    "over",
    [
        {"sharpening": 1.2},  # started too close to 2/eta
        {"reach_step": math.nan, "sharpening": math.nan},  # never reached 2/eta
        {"reach_step": 3000.0},  # reached only in the second half
    ],
)
@falsifies("edge_of_stability", "progressive_sharpening")
def test_progressive_sharpening_fails(over):
    rows = _good_rows()
    assert eos.check_progressive_sharpening(_results(rows)).status == "supported"
    for r in rows:  # every seed at eta = 0.1 (one failing seed of five can be left out by a resample)
        if r["lr"] == 0.1:
            r.update(over)
    assert eos.check_progressive_sharpening(_results(rows)).status == "refuted"


def test_progressive_sharpening_not_supported_when_one_seed_fails():
    rows = _good_rows()
    rows[0].update(sharpening=1.2)
    assert eos.check_progressive_sharpening(_results(rows)).status != "supported"


@pytest.mark.parametrize("median,maximum", [(0.8, 1.0), (1.2, 1.25), (1.0, 1.4)])
@falsifies("edge_of_stability", "edge_of_stability")
def test_edge_of_stability_fails_off_the_edge(median, maximum):
    rows = _good_rows()
    assert eos.check_edge_of_stability(_results(rows)).status == "supported"
    for r in rows:
        if r["lr"] == 0.3:
            r.update(edge_median=median + 0.01 * RNG.normal(), edge_max=maximum + 0.01 * RNG.normal())
    assert eos.check_edge_of_stability(_results(rows)).status == "refuted"


def test_edge_of_stability_ignores_the_catapult_and_reports_it():
    rows = _good_rows()
    for r in rows:
        r["catapult_peak"] = 1.6  # left out of the window: only reported
    v = eos.check_edge_of_stability(_results(rows))
    assert v.status == "supported" and "catapult peak 1.6" in v.explanation


@falsifies("edge_of_stability", "non_monotone_loss")
def test_non_monotone_loss_fails_when_the_loss_falls_monotonically():
    rows = _good_rows()
    assert eos.check_non_monotone_loss(_results(rows)).status == "supported"
    for r in rows:
        if r["lr"] == 0.1:
            r["loss_up_fraction"] = 0.0  # monotone at the edge: not the paper's regime
    assert eos.check_non_monotone_loss(_results(rows)).status == "refuted"


def test_non_monotone_loss_fails_when_the_control_is_not_monotone():
    rows = _good_rows()
    for r in rows:
        if r["role"] == "control":
            r["loss_up_fraction"] = 0.1 + 0.01 * RNG.normal()
    assert eos.check_non_monotone_loss(_results(rows)).status == "refuted"
    no_control = [r for r in _good_rows() if r["role"] == "eos"]
    assert eos.check_non_monotone_loss(_results(no_control)).status == "inconclusive"


def test_edge_of_stability_inconclusive_when_an_eta_all_diverged():
    rows = _good_rows()
    for r in rows:
        if r["lr"] == 0.3:
            r["status"] = "diverged"
    assert eos.check_edge_of_stability(_results(rows)).status == "inconclusive"


@falsifies("edge_of_stability", "small_eta_control")
def test_control_fails_when_it_reaches_two_over_eta():
    rows = _good_rows()
    assert eos.check_small_eta_control(_results(rows)).status == "supported"
    for r in rows:
        if r["role"] == "control":
            r["max_ratio"] = 1.02 + 0.01 * RNG.normal()
    assert eos.check_small_eta_control(_results(rows)).status == "refuted"
    no_control = [r for r in _good_rows() if r["role"] == "eos"]
    assert eos.check_small_eta_control(_results(no_control)).status == "inconclusive"


def test_control_states_its_budget_and_convergence():
    v = eos.check_small_eta_control(_results(_good_rows()))
    assert f"budget of {STEPS} steps" in v.explanation and "0 of 5 control runs" in v.explanation


def test_an_eta_in_no_preset_gets_a_computed_verdict():
    rows = _good_rows(lrs=(0.07, 0.25))  # step sizes that no preset contains
    for h in eos.EXPERIMENT.hypotheses:
        v = h.evaluate(_results(rows))
        assert v.status == "supported", h.name
        assert "n/a" not in str(v.measured), h.name
    v = eos.check_edge_of_stability(_results(rows))
    assert "eta=0.07 median" in v.measured and "eta=0.25 max" in v.measured


# ----------------------------------------------------------------------------- engine


def test_presets_cover_the_anchor_etas():
    for name in ("demo", "paper"):
        plan = sweep.plan(eos.EXPERIMENT, name)
        lrs = {t.params["lr"] for t in plan.trials if t.params["role"] == "eos"}
        assert {0.1, 0.3} <= lrs
        assert any(t.params["role"] == "control" for t in plan.trials)
        assert len(plan.shards) == 1  # one architecture: one compiled program
