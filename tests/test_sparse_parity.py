"""Sparse parity: the curricula, event extraction on synthetic curves, every check on
hand-made tables that must pass and must fail."""

import math

import jax
import numpy as np
import pandas as pd
import pytest

from experiments import sparse_parity as sp
from physai import Results
from physai.curricula.parity import multitask_sparse_parity, sparse_parity, zipf_probabilities
from tests.falsification import falsifies


def _results(rows) -> Results:
    trials = pd.DataFrame(rows)
    trials["status"] = "ok"
    return Results(trials, pd.DataFrame(), pd.DataFrame(), "sparse_parity", "test")


# ----------------------------------------------------------------------------- curricula


def test_sparse_parity_labels_are_the_product_of_the_relevant_bits():
    d = sparse_parity(jax.random.key(3), 12, 3, 500, 100)
    x, y, rel = np.asarray(d["x_train"]), np.asarray(d["y_train"]), np.asarray(d["relevant"])
    assert len(set(rel.tolist())) == 3 and set(np.unique(x)) == {-1.0, 1.0}
    assert np.all(np.prod(x[:, rel], axis=1) == y)
    assert np.all(np.asarray(d["label_train"]) == (1 - y) / 2)
    assert np.asarray(d["relevant_mask"]).sum() == 3
    # no single bit predicts a 3-parity
    assert np.abs((x * y[:, None]).mean(0)).max() < 0.2


def test_multitask_sparse_parity_structure_and_zipf_frequencies():
    d = multitask_sparse_parity(jax.random.key(0), 5, 20, 3, 1.0, 20000, 40)
    x, y, t = np.asarray(d["x_train"]), np.asarray(d["y_train"]), np.asarray(d["task_train"])
    subsets = np.asarray(d["subsets"])
    assert np.all(x[np.arange(len(t)), t] == 1) and np.all(x[:, :5].sum(1) == 1)
    assert np.all(np.prod(x[:, 5:][np.arange(len(t))[:, None], subsets[t]], axis=1) == y)
    p = np.asarray(zipf_probabilities(5, 1.0))
    assert p == pytest.approx(np.arange(1, 6) ** -2.0 / np.sum(np.arange(1, 6) ** -2.0), rel=1e-5)
    assert np.bincount(t, minlength=5) / len(t) == pytest.approx(p, abs=0.01)
    assert np.all(np.bincount(np.asarray(d["task_test"])) == 40)


# ----------------------------------------------------------------------------- events


def _run_curve(t_solve=2000, steps=4000, every=50, noise=0.005, seed=0):
    rng = np.random.default_rng(seed)
    s = np.arange(0, steps + 1, every, dtype=float)
    acc = np.where(
        s < t_solve - 200, 0.5 + noise * rng.standard_normal(len(s)), np.clip(0.5 + (s - t_solve + 200) / 400, 0, 1)
    )
    ratio = s / t_solve  # grows steadily from 0
    return s, acc, ratio


def test_trial_events_on_a_synthetic_abrupt_run():
    ev = sp.trial_events(*_run_curve())
    assert ev["solved"] and ev["steps_to_solve"] == pytest.approx(1996, abs=10)
    # accuracy climbs by 1/400 a step from 0.5 at step 1800: 0.55 at 1820, 0.95 at 1980
    assert ev["rise_start"] == pytest.approx(1820, abs=1) and ev["rise_end"] == pytest.approx(1980, abs=1)
    assert ev["rise_share"] == pytest.approx(160 / 1820, rel=0.01)
    assert ev["progress_rho"] > 0.99 and ev["progress_growth"] > 1.5


def test_trial_events_unsolved():
    s, acc, ratio = _run_curve()
    ev = sp.trial_events(s, np.full_like(acc, 0.5), ratio)
    assert not ev["solved"] and math.isnan(ev["rise_share"]) and math.isnan(ev["progress_rho"])


# ----------------------------------------------------------------------------- checks


SEEDS = 5  # enough for the seed-bootstrap interval to decide a clear-cut table
TIMES = {(3, 20): 1000, (3, 30): 1500, (3, 40): 2000, (4, 20): 1500, (4, 30): 2500, (4, 40): 4000}


def _rows(times=None, rise=None, rho=None, growth=2.0, solved=True, seeds=SEEDS):
    """A trials table with seeded noise around the given per-run values; ``rise(k, n)`` is the rise share
    (default: falling with n, 0.4 at n = 20), ``rho(k)`` the plateau Spearman rho (default 0.95)."""
    rise = rise or (lambda k, n: 8.0 / n)
    rho = rho or (lambda k: 0.95)
    rng = np.random.default_rng(0)
    rows = []
    for (k, n), t in (times or TIMES).items():
        for seed in range(seeds):
            rows.append(
                {
                    "k": k,
                    "n_bits": n,
                    "seed": seed,
                    "solved": solved,
                    "steps_to_solve": float(t * (1 + 0.02 * rng.standard_normal())) if solved else float("nan"),
                    "rise_share": max(0.0, rise(k, n) * (1 + 0.05 * rng.standard_normal())),
                    "progress_rho": min(1.0, rho(k) + 0.02 * rng.standard_normal()),
                    "progress_growth": growth * (1 + 0.1 * rng.standard_normal()),
                }
            )
    return rows


def test_checks_pass_on_an_abrupt_table():
    res = _results(_rows())
    for h in sp.HYPOTHESES:
        v = h.evaluate(res)
        assert v.status == "supported", (h.name, v.measured_text(), v.explanation)


@falsifies("sparse_parity", "abrupt_learning", "time_grows_with_n_and_k", "hidden_progress")
@pytest.mark.parametrize(
    "hypothesis,kwargs",
    [
        ("abrupt_learning", {"rise": lambda k, n: 24.0 / n}),  # the 0.55 -> 0.95 rise is as long as the plateau
        ("abrupt_learning", {"rise": lambda k, n: 32.0 / n if k == 4 else 8.0 / n}),  # slow for k = 4 only
        ("abrupt_learning", {"rise": lambda k, n: n / 100}),  # short, but longer relative to the plateau as n grows
        ("abrupt_learning", {"solved": False}),  # no run solves
        ("time_grows_with_n_and_k", {"times": {**TIMES, (3, 30): 900}}),  # k = 3 is faster at n = 30 than at 20
        # k = 4's time grows more slowly with n than k = 3's (exponent 0.49 < 1)
        ("time_grows_with_n_and_k", {"times": {**TIMES, (4, 20): 1500, (4, 30): 1800, (4, 40): 2100}}),
        ("hidden_progress", {"rho": lambda k: 0.2}),  # the measure does not grow steadily
        ("hidden_progress", {"rho": lambda k: 0.2 if k == 4 else 0.95}),  # ... for k = 4 only (not pooled away)
        ("hidden_progress", {"growth": 1.1}),  # it hardly grows over the second half of the plateau
    ],
)
def test_checks_are_refuted_when_the_claim_is_false_and_supported_when_it_holds(hypothesis, kwargs):
    h = {h.name: h for h in sp.HYPOTHESES}[hypothesis]
    assert h.evaluate(_results(_rows())).status == "supported"
    v = h.evaluate(_results(_rows(**kwargs)))
    assert v.status == "refuted", (v.measured_text(), v.explanation)


def test_verdicts_carry_a_seed_bootstrap_interval():
    for h in sp.HYPOTHESES:
        v = h.evaluate(_results(_rows()))
        assert f"(n = {SEEDS})" in v.measured and "n/a" not in v.measured, (h.name, v.measured)


def test_a_borderline_table_is_inconclusive_not_decided_by_its_median():
    # Median rise share of k = 3 at the 0.5 bound, each seed's runs spread around it: the interval straddles it.
    rows = [{**r, "rise_share": 0.45 + 0.025 * r["seed"] - 0.001 * r["n_bits"]} if r["k"] == 3 else r for r in _rows()]
    v = sp.check_abrupt(_results(rows))
    assert v.status == "inconclusive" and "rise(k=3)" in v.measured, v.measured


def test_off_preset_values_get_a_computed_verdict():
    # k and n that no preset contains, three k (two adjacent pairs): every check reads the grid it is given.
    times = {(k, n): 0.01 * n**k for k in (2, 5, 6) for n in (17, 23, 29)}  # t ~ n^k
    v = sp.check_time_grows(_results(_rows(times=times)))
    assert v.status == "supported", (v.measured, v.explanation)
    for part in ("rho_n(k=2)", "rho_n(k=5)", "rho_n(k=6)", "exponent(k=5)-(k=2)", "exponent(k=6)-(k=5)"):
        assert part in v.measured
    for h in sp.HYPOTHESES:
        v = h.evaluate(_results(_rows(times=times)))
        assert v.status == "supported" and "n/a" not in v.measured, (h.name, v.measured)


def test_infinite_growth_keeps_a_finite_interval():
    # A run whose measure was <= 0 at the plateau's midpoint has growth inf: most runs like that must
    # still give a decided verdict (the bootstrap needs a finite median), not "no interval".
    rows = [
        {**r, "progress_growth": math.inf if r["seed"] % 2 == 0 or r["n_bits"] == 20 else r["progress_growth"]}
        for r in _rows()
    ]
    v = sp.check_hidden_progress(_results(rows))
    assert v.status == "supported" and "nan" not in v.measured, v.measured


def test_hidden_biases_follow_bias_scale_and_zero_is_the_flax_default():
    import jax

    st = sp.Static(n_bits=16, k=3, width=64, steps=10, log_every=5, batch_size=8, n_train=64, n_test=64)
    task = sp.make_task(st)
    key = jax.random.key(0)
    zero = task.init(key, {"bias_scale": 0.0})["net"]["hidden_0"]["bias"]
    torch_like = task.init(key, {"bias_scale": 1.0})["net"]["hidden_0"]["bias"]
    assert float(abs(zero).max()) == 0.0
    bound = 1 / 16**0.5  # nn.Linear: U(-1/sqrt(fan_in), 1/sqrt(fan_in))
    assert 0.8 * bound < float(abs(torch_like).max()) <= bound


def test_an_n_that_is_never_solved_counts_as_slowest_not_dropped():
    # k = 3 at n = 40 never solves: its infinite median must rank as the slowest (rho = 1), not be dropped.
    rows = [
        {**r, "solved": False, "steps_to_solve": math.nan} if (r["k"], r["n_bits"]) == (3, 40) else r for r in _rows()
    ]
    v = sp.check_time_grows(_results(rows))
    assert "rho_n(k=3): Spearman rho 1 [1, 1]" in v.measured_text(), v.measured_text()
