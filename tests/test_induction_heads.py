"""Induction heads: the event extraction and the checks on hand-made curves that must pass
and must fail, the data's structure, and the induction score on hand-made attention."""

import jax
import jax.numpy as jnp
import numpy as np
import pandas as pd

from experiments import induction_heads as ih
from physai import Results
from tests.falsification import falsifies

STEPS = np.arange(0, 2001, 25, dtype=float)
BASE = 2.2  # context baseline (nats)
SEEDS = 6
_RNG = np.random.default_rng(0)
MIDS = _RNG.uniform(500, 1500, SEEDS)  # each seed's phase change at its own step


def sigmoid_step(start, end, mid, width=15.0):
    """A curve that moves from ``start`` to ``end`` around ``mid`` within ~``width`` steps."""
    return start + (end - start) / (1.0 + np.exp(-(STEPS - mid) / width))


def linear(start, end):
    return start + (end - start) * STEPS / STEPS[-1]


def abrupt(mid):
    """Two-layer run: a plateau above the context baseline, then an abrupt drop; the induction
    score and the ICL score jump at the same step."""
    return {
        "repeated": sigmoid_step(2.6, 0.25, mid),
        "induction": sigmoid_step(0.1, 0.85, mid),
        "icl": sigmoid_step(-1.9, -4.2, mid),
    }


def control(ratio=1.15):
    """One-layer run: stays above the context baseline."""
    return {
        "repeated": np.full_like(STEPS, ratio * BASE),
        "induction": np.full_like(STEPS, 0.13),
        "icl": -1.9 + 0 * STEPS,
    }


def results(runs_by_depth) -> Results:
    """Trials (with the events read off the curves by ``run_events``) and curves, from ``{layers: [run, ...]}``."""
    trials, frames = [], []
    for layers, runs in runs_by_depth.items():
        for seed, run in enumerate(runs):
            tid = f"l{layers}s{seed}"
            events = ih.run_events(STEPS, run["repeated"], np.full_like(STEPS, BASE), run["induction"], run["icl"])
            trials.append({"trial_id": tid, "layers": layers, "seed": seed, "status": "ok", **events})
            for metric, key in (("repeated_loss", "repeated"), ("induction_score", "induction"), ("icl_score", "icl")):
                frames.append(
                    pd.DataFrame(
                        {"trial_id": tid, "step": STEPS, "split": "train", "metric": metric, "value": run[key]}
                    )
                )
    return Results(pd.DataFrame(trials), pd.concat(frames, ignore_index=True), pd.DataFrame(), "induction_heads", "t")


def good():
    return {1: [control() for _ in range(SEEDS)], 2: [abrupt(m) for m in MIDS]}


def hypothesis(name):
    (h,) = [h for h in ih.EXPERIMENT.hypotheses if h.name == name]
    return h


def test_run_events_reads_the_window_and_the_jumps():
    e = ih.run_events(
        STEPS,
        **{k: v for k, v in zip(("repeated", "induction", "icl"), abrupt(1000.0).values())},
        baseline=np.full_like(STEPS, BASE),
    )
    assert e["dropped"] and e["window"] < 0.05
    assert abs(e["midpoint"] - 0.5) < 0.01
    assert e["induction_rise"] > 0.7 and e["icl_drop"] > 2.0
    flat = ih.run_events(STEPS, np.full_like(STEPS, 2.5), np.full_like(STEPS, BASE), STEPS * 0, STEPS * 0)
    assert not flat["dropped"] and flat["window"] == 1.0 and np.isnan(flat["induction_rise"])


def test_all_checks_pass_on_a_phase_change():
    res = good()
    for h in ih.EXPERIMENT.hypotheses:
        assert h.evaluate(results(res)).status == "supported", h.name


def test_checks_are_inconclusive_without_the_depths_they_need():
    only_one = results({1: [control() for _ in range(SEEDS)]})
    for h in ih.EXPERIMENT.hypotheses:
        assert h.evaluate(only_one).status == "inconclusive", h.name


@falsifies("induction_heads", "abrupt_drop")
def test_abrupt_drop_fails_on_a_gradual_descent_or_no_drop():
    h = hypothesis("abrupt_drop")
    gradual = {**good(), 2: [{**abrupt(1000.0), "repeated": linear(BASE, 0.25)} for _ in range(SEEDS)]}
    assert h.evaluate(results(gradual)).status == "refuted"
    never = {**good(), 2: [control() for _ in range(SEEDS)]}  # no seed forms induction within training
    assert h.evaluate(results(never)).status == "refuted"


@falsifies("induction_heads", "induction_score_jumps")
def test_induction_check_fails_when_the_score_moves_elsewhere_or_gradually():
    h = hypothesis("induction_score_jumps")
    late = {**good(), 2: [{**abrupt(m), "induction": sigmoid_step(0.1, 0.85, m + 400)} for m in MIDS]}
    assert h.evaluate(results(late)).status == "refuted"
    gradual = {**good(), 2: [{**abrupt(m), "induction": linear(0.1, 0.85)} for m in MIDS]}
    assert h.evaluate(results(gradual)).status == "refuted"


@falsifies("induction_heads", "one_layer_stays_high")
def test_control_check_fails_when_one_layer_also_solves_it_or_two_layers_do_not():
    h = hypothesis("one_layer_stays_high")
    assert h.evaluate(results({**good(), 1: [abrupt(m) for m in MIDS]})).status == "refuted"
    assert h.evaluate(results({**good(), 2: [control() for _ in range(SEEDS)]})).status == "refuted"


@falsifies("induction_heads", "icl_score_jumps")
def test_icl_check_fails_when_the_score_improves_gradually():
    h = hypothesis("icl_score_jumps")
    gradual = {**good(), 2: [{**abrupt(m), "icl": linear(-1.9, -4.2)} for m in MIDS]}
    assert h.evaluate(results(gradual)).status == "refuted"


def test_sequences_repeat_with_their_period_and_the_baseline_counts_distinct_tokens():
    d = ih.repeated_sequences(jax.random.key(0), 64, 32, 64, 6)
    tokens, period = np.asarray(d["tokens"]), np.asarray(d["period"])
    assert period.min() >= 6 and period.max() <= 16
    for row, p in zip(tokens, period, strict=True):
        assert np.array_equal(row[p:], row[: 32 - p])
    assert np.array_equal(np.asarray(d["repeated"])[0], np.arange(32) >= period[0] + 1)
    ctx = np.asarray(d["ctx_loss"])[0]
    assert np.isclose(ctx[5], np.log(len(set(tokens[0, :5].tolist()))))


def test_induction_score_is_one_for_a_perfect_induction_pattern():
    t, p = 12, 4
    q = np.arange(t)[:, None]
    s = np.arange(t)[None, :]
    perfect = ((s == q - p + 1) & (q >= p)).astype(float)
    perfect[q[:, 0] < p, 0] = 1.0  # rows before the first repeat attend to the first token
    score = ih.induction_scores(jnp.asarray(perfect)[None, None], jnp.asarray([p]))
    assert np.isclose(float(score[0]), 1.0)
    uniform = np.tril(np.ones((t, t))) / np.arange(1, t + 1)[:, None]
    assert float(ih.induction_scores(jnp.asarray(uniform)[None, None], jnp.asarray([p]))[0]) < 0.3


def test_a_control_that_was_still_improving_does_not_support_the_claim():
    res = results(good())
    trials = res.trials.assign(converged=lambda t: t["layers"] == 2)  # every one-layer run still moving
    v = hypothesis("one_layer_stays_high").evaluate(Results(trials, res.curves, res.shards))
    assert v.status == "inconclusive"
    half = res.trials.assign(converged=lambda t: (t["layers"] == 2) | (t["seed"] % 2 == 0))
    assert hypothesis("one_layer_stays_high").evaluate(Results(half, res.curves, res.shards)).status == "supported"
