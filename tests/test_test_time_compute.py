"""test_time_compute: the closed forms against brute force, and every check on hand-made tables
that must pass and must fail."""

import math

import numpy as np
import pandas as pd
import pytest
from scipy.special import comb

from experiments import test_time_compute as ttc
from physai import Results
from tests.falsification import falsifies

SEEDS = range(8)


def _results(trials: list[dict], curves: list[dict]) -> Results:
    t = pd.DataFrame(trials)
    t["status"] = "ok"
    return Results(t, pd.DataFrame(curves), pd.DataFrame(), "test_time_compute", "test")


def _table(metric_fns: dict, steps, noise=0.0, temperature=1.0, n=1000) -> Results:
    """One trial per seed with curves metric -> fn(step, rng)."""
    trials, curves = [], []
    for seed in SEEDS:
        rng = np.random.default_rng(seed)
        tid = f"t{seed}"
        trials.append(
            {
                "trial_id": tid,
                "seed": seed,
                "temperature": temperature,
                "hard_fraction": 0.5,
                "n_samples": n,
            }
        )
        for step in steps:
            for metric, fn in metric_fns.items():
                curves.append(
                    {"trial_id": tid, "step": step, "split": "test", "metric": metric, "value": fn(step, rng)}
                )
    return _results(trials, curves)


# ----------------------------------------------------------------------------- closed forms


def test_failure_estimate_is_the_binomial_ratio():
    n = 20
    for c in (0, 3, 19, 20):
        for k in (1, 5, 20):
            assert ttc.failure_estimate(n, np.array([c]), k)[0] == pytest.approx(comb(n - c, k) / comb(n, k))


def test_failure_estimate_is_unbiased():
    n, k, p = 30, 7, 0.15
    c = np.arange(n + 1)
    weights = comb(n, c) * p**c * (1 - p) ** (n - c)
    assert np.sum(weights * ttc.failure_estimate(n, c, k)) == pytest.approx((1 - p) ** k)


def test_vote_exact_matches_brute_force():
    rng = np.random.default_rng(0)
    q = rng.dirichlet(np.ones(3), size=4)
    y = rng.integers(3, size=4)
    for m in (1, 2, 3, 4):
        brute = np.zeros(4)
        for counts in np.ndindex(*(m + 1,) * 3):
            if sum(counts) != m:
                continue
            counts = np.array(counts)
            prob = math.factorial(m) * np.prod(q**counts / [math.factorial(x) for x in counts], axis=1)
            top = counts == counts.max()
            brute += prob * top[y] / top.sum()
        assert ttc.vote_exact(q, y, m) == pytest.approx(brute, rel=1e-10)


# ----------------------------------------------------------------------------- falsification


@falsifies("test_time_compute", "failure_exponential")
def test_failure_exponential_fails_for_a_biased_estimator():
    steps = [1, 4, 16, 64]
    true = {"fail_exact": lambda k, r: 0.3 / k**0.5, "fail_var": lambda k, r: 1e-8}
    good = _table({**true, "fail_hat": lambda k, r: 0.3 / k**0.5 * (1 + 0.01 * r.standard_normal())}, steps)
    assert ttc.check_failure_exponential(good).status == "supported"
    # the plug-in (1 - c/n)^k is biased upwards by Jensen: 20% too much failure
    bad = _table({**true, "fail_hat": lambda k, r: 0.36 / k**0.5 * (1 + 0.01 * r.standard_normal())}, steps)
    assert ttc.check_failure_exponential(bad).status == "refuted"
    # where the estimator's own Monte-Carlo error cannot resolve the band, no k is tested
    noisy = _table({**true, "fail_var": lambda k, r: 1.0, "fail_hat": lambda k, r: 0.3 / k**0.5}, steps)
    assert ttc.check_failure_exponential(noisy).status == "inconclusive"


@falsifies("test_time_compute", "power_law_exponent")
def test_power_law_fails_when_exponents_differ():
    steps = [1, 16, 32, 64, 128, 256]

    def fail(b):
        return lambda k, r: 1 - math.exp(-0.2 * k**-b * (1 + 0.01 * r.standard_normal()))

    tail = {"tail_cdf": lambda k, r: 0.1 * k**-0.5}
    good = _table({**tail, "fail_hat": fail(0.5)}, steps)
    assert ttc.check_power_law(good).status == "supported"
    bad = _table({**tail, "fail_hat": fail(1.0)}, steps)
    assert ttc.check_power_law(bad).status == "refuted"


@falsifies("test_time_compute", "voting_closed_form")
def test_voting_closed_form_fails_when_votes_disagree():
    steps = [1, 3, 9]
    exact = {"vote_exact": lambda m, r: 0.6 + 0.01 * m}
    good = _table({**exact, "vote_measured": lambda m, r: 0.6 + 0.01 * m + 0.002 * r.standard_normal()}, steps)
    assert ttc.check_voting_closed_form(good).status == "supported"
    bad = _table({**exact, "vote_measured": lambda m, r: 0.5 + 0.002 * r.standard_normal()}, steps)
    assert ttc.check_voting_closed_form(bad).status == "refuted"


@falsifies("test_time_compute", "voting_non_monotone")
def test_non_monotone_fails_on_an_all_easy_set():
    """All-easy problems (the closed form: the right answer is every problem's mode): accuracy
    rises monotonically (no hump), refuted; a curve that rises then falls: supported."""
    steps = list(ttc.VOTES)
    q_easy = np.tile([0.5, 0.3, 0.2], (50, 1))
    y = np.zeros(50, int)
    easy_curve = {m: ttc.vote_exact(q_easy, y, m).mean() for m in steps}
    easy = _table({"vote_measured": lambda m, r: easy_curve[m] + 0.001 * r.standard_normal()}, steps)
    assert ttc.check_non_monotone(easy).status == "refuted"
    hump = dict(zip(steps, [0.50, 0.52, 0.53, 0.535, 0.53, 0.52, 0.51]))
    mixed = _table({"vote_measured": lambda m, r: hump[m] + 0.001 * r.standard_normal()}, steps)
    assert ttc.check_non_monotone(mixed).status == "supported"


def test_checks_without_data_are_inconclusive():
    empty = _results([{"trial_id": "a", "seed": 0, "temperature": 1.0, "hard_fraction": 0.5, "n_samples": 10}], [])
    for h in ttc.EXPERIMENT.hypotheses:
        assert h.evaluate(empty).status == "inconclusive"


# ----------------------------------------------------------------------------- compute trade


def _trade(metric_fns: dict, budgets=ttc.BUDGETS) -> Results:
    """One trial per seed of the compute-trade part (widths 3 vs 32) with curves metric -> fn(B, rng)."""
    trials, curves = [], []
    for seed in SEEDS:
        rng = np.random.default_rng(seed)
        tid = f"t{seed}"
        trials.append({"trial_id": tid, "seed": seed, "temperature": 1.0, "width_small": 3, "width_large": 32})
        for b in budgets:
            for metric, fn in metric_fns.items():
                curves.append({"trial_id": tid, "step": b, "split": "test", "metric": metric, "value": fn(b, rng)})
    return _results(trials, curves)


def _noisy(fn, sd=0.005):
    return lambda b, r: fn(b) + sd * r.standard_normal()


def test_flops_are_twice_the_parameters():
    assert ttc.mlp_flops(8, 3, 20) == 2 * (8 * 3 + 3 + 3 * 20 + 20)


def test_trade_measure_is_deterministic_and_votes_never_beat_coverage():
    from experiments.test_time_compute import compute_trade

    prm = dict(
        seed=0, temperature=1.0, width_small=2, width_large=8, trade_classes=6, trade_clusters=2, trade_dim=4,
        trade_separation=3.0, trade_batch=64, trade_steps=30, trade_problems=300,
    )  # fmt: skip
    runs = []
    for _ in range(2):
        curves = []
        row = compute_trade.measure(prm, lambda s, m, v: curves.append((s, m, v)))
        runs.append((row, curves))
    assert runs[0] == runs[1]
    row, curves = runs[0]
    assert row["sample_ratio"] == ttc.mlp_flops(4, 8, 6) // ttc.mlp_flops(4, 2, 6)
    c = {(m, s): v for s, m, v in curves}
    for size in ("small", "large"):
        exact = [c[(f"trade_cov_exact_{size}", b)] for b in ttc.BUDGETS]
        assert np.all(np.diff(exact) >= 0)  # coverage rises with budget
        for b in ttc.BUDGETS:  # a vote is right only if some sample is: below coverage (up to sampling noise)
            assert c[(f"trade_vote_{size}", b)] <= c[(f"trade_cov_exact_{size}", b)] + 0.05
    assert c[("trade_cov_exact_large", 1)] == pytest.approx(row["pass1_large"])


@falsifies("test_time_compute", "verifier_trade")
def test_verifier_trade_fails_when_the_large_model_covers_more():
    small = {"trade_cov_small": _noisy(lambda b: 0.8 + 0.01 * b)}
    good = _trade({**small, "trade_cov_large": _noisy(lambda b: 0.6 + 0.01 * b)})
    assert ttc.check_verifier_trade(good).status == "supported"
    # the small model's failures are confident errors (p_i ~ 0): more samples do not catch up
    bad = _trade({**small, "trade_cov_large": _noisy(lambda b: 0.9 + 0.005 * b)})
    assert ttc.check_verifier_trade(bad).status == "refuted"
    # a crossover at large budgets: one budget against is enough to withhold support
    cross = _trade({**small, "trade_cov_large": _noisy(lambda b: 0.55 + 0.028 * b)})
    assert ttc.check_verifier_trade(cross).status != "supported"


@falsifies("test_time_compute", "vote_plateau")
def test_vote_plateau_fails_when_the_vote_keeps_growing():
    cov = {"trade_cov_small": _noisy(lambda b: 1 - 0.3 / b**0.5)}
    good = _trade({**cov, "trade_vote_small": _noisy(lambda b: 0.45 + 0.002 * np.log(b))})
    assert ttc.check_vote_plateau(good).status == "supported"
    # easy problems only: the vote climbs towards 1 faster than the near-saturated coverage
    bad = _trade({**cov, "trade_vote_small": _noisy(lambda b: 1 - 0.6 / b)})
    assert ttc.check_vote_plateau(bad).status == "refuted"


@falsifies("test_time_compute", "vote_trade")
def test_vote_trade_fails_when_the_small_vote_wins():
    large = {"trade_vote_large": _noisy(lambda b: 0.7 + 0.01 * np.log(b))}
    good = _trade({**large, "trade_vote_small": _noisy(lambda b: 0.45)})
    assert ttc.check_vote_trade(good).status == "supported"
    # a small model whose mode is right as often as the large one's: its many votes win
    bad = _trade({**large, "trade_vote_small": _noisy(lambda b: 0.8)})
    assert ttc.check_vote_trade(bad).status == "refuted"
