"""Double descent: every check on hand-made tables that must pass and must fail, the
closed forms, and the tiny preset end to end through the engine."""
import math

import numpy as np
import pandas as pd
import pytest
import scipy.linalg

from experiments import double_descent as dd
from physai.runtime import single_threaded_blas
from physai import Results, sweep
from physai.experiment import STATUSES

N = 200


def _results(rows) -> Results:
    trials = pd.DataFrame(rows)
    trials["status"] = "ok"
    return Results(trials, pd.DataFrame(), pd.DataFrame(), "double_descent", "test")


def _status(check, rows) -> str:
    return check(_results(rows)).status


# ----------------------------------------------------------------------------- closed forms


def test_hastie_risk_closed_form_values():
    # gamma < 1: sigma^2 g / (1 - g); gamma > 1: r^2 (1 - 1/g) + sigma^2 / (g - 1)
    assert dd.hastie_risk(0.5, 1.0, 0.25) == pytest.approx(0.25)
    assert dd.hastie_risk(2.0, 1.0, 0.25) == pytest.approx(0.5 + 0.25)
    assert np.isinf(dd.hastie_risk(1.0, 1.0, 0.25))
    g = np.array([0.1, 0.9, 1.1, 10.0])
    assert np.all(np.diff(dd.hastie_risk(g[:2], 1, 0.25)) > 0)  # rises towards p = n
    assert dd.hastie_risk(1.1, 1, 0.25) > dd.hastie_risk(10.0, 1, 0.25)  # falls after it


@pytest.mark.parametrize("p", [50, 200, 600])
def test_svd_solver_matches_lstsq_and_ridge_normal_equations(p):
    rng = np.random.default_rng(0)
    f = np.maximum(rng.standard_normal((N, 30)) @ rng.standard_normal((30, p)), 0) / np.sqrt(30 * p)
    y = rng.standard_normal(N)
    with single_threaded_blas():
        u, s, vt = dd._svd(f)
        ref = scipy.linalg.lstsq(f, y)[0]
    rcond = np.finfo(float).eps * max(N, p)
    a0 = dd._solve_from_svd(u, s, vt, y, 0.0, rcond)
    assert np.allclose(f @ a0, f @ ref, rtol=1e-6, atol=1e-8)
    assert np.linalg.norm(a0) == pytest.approx(np.linalg.norm(ref), rel=1e-5)
    a1 = dd._solve_from_svd(u, s, vt, y, 0.1, rcond)
    assert np.allclose(a1, np.linalg.solve(f.T @ f + 0.1 * np.eye(p), f.T @ y), atol=1e-8)


# ----------------------------------------------------------------------------- part a


def _linear_rows(scale=lambda g: 1.0, gammas=(0.2, 0.5, 0.9, 1.0, 1.1, 2.0, 5.0), seeds=4):
    rows = []
    for g in gammas:
        theory = float(dd.hastie_risk(g, 1.0, 0.25))
        for seed in range(seeds):
            jitter = 1 + 0.05 * (seed - (seeds - 1) / 2) / seeds
            risk = 1e6 if math.isinf(theory) else theory * scale(g) * jitter
            rows.append({"part": "linear", "p_over_n": g, "gamma": g, "seed": seed,
                         "risk": risk, "theory_risk": theory, "noise": 0.5, "signal": 1.0, "n": N})
    return rows


def test_linear_check_passes_near_theory_and_ignores_p_equal_n():
    v = dd.check_linear_theory(_results(_linear_rows()))
    assert v.status == "supported"
    assert v.measured == pytest.approx(1.0, abs=0.05)


@pytest.mark.parametrize("scale", [lambda g: 1.5, lambda g: 0.6, lambda g: 1.4 if g == 1.1 else 1.0])
def test_linear_check_fails_off_theory(scale):
    assert _status(dd.check_linear_theory, _linear_rows(scale)) == "refuted"


def test_linear_check_inconclusive_without_data():
    assert _status(dd.check_linear_theory, [{"part": "rf", "seed": 0}]) == "inconclusive"


# ----------------------------------------------------------------------------- part b

PS = [20, 50, 100, 150, 180, 200, 220, 300, 800, 3200]


def _rf_curve(peak_p=200, peak=80.0, left=0.4, right=0.15, ridge_at_peak=0.14):
    """A ridgeless curve: slow rise to ``peak`` at ``peak_p``, decay to ``right`` at 16n."""
    out = {}
    for p in PS:
        if p == peak_p:
            out[p] = peak
        elif p < peak_p:
            out[p] = left + 0.01 * p / N
        else:
            out[p] = right * (1 + 3200 / p / 16)
    ridge = {p: min(v, ridge_at_peak if p == peak_p else 0.3) for p, v in out.items()}
    return out, ridge


def _rf_rows(noises=(0.0, 0.5), seeds=3, **kw):
    rows = []
    for noise in noises:
        curve, ridge_curve = _rf_curve(**kw)
        for ridge, c in ((0.0, curve), (0.1, ridge_curve)):
            for p, v in c.items():
                for seed in range(seeds):
                    rows.append({"part": "rf", "p": p, "p_over_n": p / N, "n": N, "rf_d": 30,
                                 "noise": noise, "ridge": ridge, "seed": seed,
                                 "test_mse": v * (1 + 0.01 * seed)})
    return rows


RF_CHECKS = [dd.check_rf_peak_location, dd.check_rf_peak_height, dd.check_rf_overparam_wins,
             dd.check_rf_ridge, dd.check_rf_noiseless_peak]


def test_rf_checks_pass_on_a_double_descent_curve():
    res = _results(_rf_rows())
    for check in RF_CHECKS:
        assert check(res).status == "supported", check.__name__
    assert dd.check_rf_peak_location(res).measured == pytest.approx(1.0)


@pytest.mark.parametrize("kw, refuted", [
    ({"peak_p": 100}, [dd.check_rf_peak_location, dd.check_rf_noiseless_peak]),
    ({"peak": 1.0}, [dd.check_rf_peak_height, dd.check_rf_noiseless_peak, dd.check_rf_ridge]),
    ({"right": 0.5}, [dd.check_rf_overparam_wins]),
    ({"ridge_at_peak": 40.0}, [dd.check_rf_ridge]),
])
def test_rf_checks_fail_when_their_claim_is_broken(kw, refuted):
    res = _results(_rf_rows(**kw))
    for check in refuted:
        assert check(res).status == "refuted", check.__name__


def test_rf_checks_split_noise_levels():
    # Only the anchor noise level present: the noiseless check is inconclusive, the others hold.
    res = _results(_rf_rows(noises=(0.5,)))
    assert dd.check_rf_noiseless_peak(res).status == "inconclusive"
    assert dd.check_rf_peak_height(res).status == "supported"
    # A noiseless curve without a peak refutes only the noiseless check.
    flat = _rf_rows(noises=(0.5,)) + [
        {**r, "noise": 0.0} for r in _rf_rows(noises=(0.0,), peak=0.2, ridge_at_peak=0.1)]
    res = _results(flat)
    assert dd.check_rf_noiseless_peak(res).status == "refuted"
    assert dd.check_rf_peak_location(res).status == "supported"


# ----------------------------------------------------------------------------- part c

WIDTHS = [1, 2, 4, 8, 16, 32, 64, 128]


def _mlp_rows(noise=0.5, threshold=16, peak_width=16, peak=1.0, tail=0.2, seeds=3,
              clean_peak=0.05):
    rows = []
    for nz in (0.0, noise):
        for w in WIDTHS:
            train = 0.3 if w < threshold else 1e-6
            if nz == 0.0:
                test = clean_peak if w == peak_width else 0.03
            elif w == peak_width:
                test = peak
            elif w < peak_width:
                test = 0.05 * w / peak_width + 0.02
            else:
                test = tail * (1 + 1 / w)
            for seed in range(seeds):
                rows.append({"part": "mlp", "width": w, "noise": nz, "seed": seed, "n": N,
                             "mlp_d": 10, "train_rel_mse": train * (1 + 0.01 * seed),
                             "test_mse": test * (1 + 0.01 * seed)})
    return rows


MLP_CHECKS = [dd.check_mlp_peak_at_threshold, dd.check_mlp_noise_raises_peak,
              dd.check_mlp_second_descent]


def test_mlp_checks_pass_on_a_peak_at_the_threshold():
    res = _results(_mlp_rows())
    for check in MLP_CHECKS:
        assert check(res).status == "supported", check.__name__
    assert dd.check_mlp_peak_at_threshold(res).measured == pytest.approx(1.0)


@pytest.mark.parametrize("kw, check", [
    ({"peak_width": 64}, dd.check_mlp_peak_at_threshold),     # peak 4x past the threshold
    ({"peak_width": 2}, dd.check_mlp_peak_at_threshold),      # peak 8x before it
    ({"clean_peak": 0.8}, dd.check_mlp_noise_raises_peak),    # noise does not raise the peak
    ({"tail": 0.9}, dd.check_mlp_second_descent),             # no second descent
])
def test_mlp_checks_fail_when_their_claim_is_broken(kw, check):
    assert check(_results(_mlp_rows(**kw))).status == "refuted"


def test_mlp_threshold_uses_the_train_error_level():
    rows = _mlp_rows()
    for r in rows:  # nothing ever fits: the threshold is undefined
        r["train_rel_mse"] = 0.5
    assert _status(dd.check_mlp_peak_at_threshold, rows) == "inconclusive"


def test_checks_are_inconclusive_on_other_parts_only():
    res = _results(_linear_rows())
    for check in RF_CHECKS + MLP_CHECKS:
        assert check(res).status == "inconclusive", check.__name__


# ----------------------------------------------------------------------------- engine


def test_presets_sample_p_equal_n_and_keep_parts_in_separate_shards():
    for name in ("demo", "paper"):
        plan = sweep.plan(dd.EXPERIMENT, name)
        n = plan.trials[0].params["n"]
        rf_p = {t.params["p"] for t in plan.trials if t.params["part"] == "rf"}
        assert n in rf_p and min(rf_p) <= n / 8 and max(rf_p) >= 16 * n
        for shard in plan.shards:
            assert len({t.params["part"] for t in shard.trials}) == 1
        mlp = [s for s in plan.shards if s.static["part"] == "mlp"]
        assert all("max_width" in s.static and "steps" in s.static for s in mlp)
    paper = sweep.plan(dd.EXPERIMENT, "paper")
    rf = [t.params for t in paper.trials if t.params["part"] == "rf"]
    assert len({p["p"] for p in rf}) >= 20 and len({p["seed"] for p in rf}) >= 5
    mlp = [t.params for t in paper.trials if t.params["part"] == "mlp"]
    assert len({p["seed"] for p in mlp}) >= 3


def test_tiny_preset_end_to_end(tmp_path):
    plan = sweep.plan(dd.EXPERIMENT, "tiny")
    summary = sweep.run_sweep(plan, str(tmp_path), progress=False, debug=True)
    assert summary.failed == 0 and summary.ok == len(plan.trials)
    res = sweep.results(plan, str(tmp_path))
    assert set(res.trials["part"]) == {"linear", "rf", "mlp"}
    assert np.isfinite(res.trials["test_mse"].dropna()).all()
    assert np.isfinite(res.trials["risk"].dropna()).all()
    mlp = res.trials[res.trials["part"] == "mlp"]
    assert not res.curves.empty and set(res.curves["trial_id"]) == set(mlp["trial_id"])
    # Min-norm solutions interpolate past p = n; ridge does not.
    rf = res.trials[(res.trials["part"] == "rf") & (res.trials["p"] > res.trials["n"])]
    assert (rf.loc[rf["ridge"] == 0, "train_mse"] < 1e-8).all()
    assert (rf.loc[rf["ridge"] > 0, "train_mse"] > 1e-6).all()
    for h in dd.EXPERIMENT.hypotheses:
        v = h.evaluate(res)
        assert v.status in STATUSES and v.hypothesis == h.name
    figures = dd.EXPERIMENT.plot(res)
    assert set(figures) == {"linear_theory", "random_features", "mlp_width"}
    import matplotlib.pyplot as plt
    for fig in figures.values():
        plt.close(fig)


@pytest.mark.slow
def test_paper_preset_supports_every_hypothesis(tmp_path):
    plan = sweep.plan(dd.EXPERIMENT, "paper")
    sweep.run_sweep(plan, str(tmp_path), progress=False)
    res = sweep.results(plan, str(tmp_path))
    verdicts = [h.evaluate(res) for h in dd.EXPERIMENT.hypotheses]
    assert all(v.status == "supported" for v in verdicts), verdicts
