"""Double descent (the group ``double_descent``: linear, random_features, mlp): every check
on hand-made tables that must pass and must fail, the closed forms, the solvers and the
presets."""

import math

import numpy as np
import pandas as pd
import pytest
import scipy.linalg

from experiments.double_descent import linear, mlp, theory
from experiments.double_descent import random_features as rf
from experiments.double_descent import random_features_checks as rfc
from experiments.double_descent.theory import gaussian_equivalent_risk
from physai import Results, Shard, Trial, registry, sweep
from physai.runtime import single_threaded_blas
from tests.falsification import falsifies

N = 200


def _results(rows) -> Results:
    trials = pd.DataFrame(rows)
    trials["status"] = "ok"
    return Results(trials, pd.DataFrame(), pd.DataFrame(), "double_descent.test", "test")


def _status(check, rows) -> str:
    return check(_results(rows)).status


def _hypothesis(module, name):
    """The declared hypothesis ``name`` of a part (its check, as the pipeline runs it)."""
    (h,) = [h for h in module.EXPERIMENT.hypotheses if h.name == name]
    return h


# ----------------------------------------------------------------------------- closed forms


def test_finite_n_risk_exact_values_and_limit():
    assert linear.finite_n_risk(100, 200, 1.0, 0.25) == pytest.approx(0.25 * 100 / 99)
    assert linear.finite_n_risk(400, 200, 1.0, 0.25) == pytest.approx(0.5 + 0.25 * 200 / 199)
    assert np.all(np.isinf(linear.finite_n_risk(np.array([199, 200, 201]), 200, 1.0, 0.25)))
    big = 10**6  # the finite-n law tends to Hastie et al.'s limit
    for g in (0.5, 2.0):
        assert linear.finite_n_risk(g * big, big, 1.0, 0.25) == pytest.approx(linear.hastie_risk(g, 1.0, 0.25), 1e-4)
    assert theory.expected_coef_norm2(100, 200, 1.0, 0.25) == pytest.approx(1 + 0.25 * 100 / 99)


def test_finite_n_risk_matches_a_monte_carlo_of_the_solver():
    rng = np.random.default_rng(0)
    n, r2, s2 = 30, 1.0, 0.25
    for p in (10, 60):
        risks = []
        for _ in range(3000):
            beta = rng.standard_normal(p)
            beta *= np.sqrt(r2) / np.linalg.norm(beta)
            x = rng.standard_normal((n, p))
            b = np.linalg.lstsq(x, x @ beta + np.sqrt(s2) * rng.standard_normal(n), rcond=None)[0]
            risks.append(np.sum((b - beta) ** 2))
        assert np.mean(risks) == pytest.approx(float(linear.finite_n_risk(p, n, r2, s2)), rel=0.05)


def test_hastie_risk_closed_form_values():
    # gamma < 1: sigma^2 g / (1 - g); gamma > 1: r^2 (1 - 1/g) + sigma^2 / (g - 1)
    assert linear.hastie_risk(0.5, 1.0, 0.25) == pytest.approx(0.25)
    assert linear.hastie_risk(2.0, 1.0, 0.25) == pytest.approx(0.5 + 0.25)
    assert np.isinf(linear.hastie_risk(1.0, 1.0, 0.25))
    g = np.array([0.1, 0.9, 1.1, 10.0])
    assert np.all(np.diff(linear.hastie_risk(g[:2], 1, 0.25)) > 0)  # rises towards p = n
    assert linear.hastie_risk(1.1, 1, 0.25) > linear.hastie_risk(10.0, 1, 0.25)  # falls after it


@pytest.mark.parametrize("p", [50, 200, 600])
def test_svd_solver_matches_lstsq_and_ridge_normal_equations(p):
    rng = np.random.default_rng(0)
    f = np.maximum(rng.standard_normal((N, 30)) @ rng.standard_normal((30, p)), 0) / np.sqrt(30 * p)
    y = rng.standard_normal(N)
    with single_threaded_blas():
        u, s, vt = rf._svd(f)
        ref = scipy.linalg.lstsq(f, y)[0]
    rcond = np.finfo(float).eps * max(N, p)
    a0 = rf._solve_from_svd(u, s, vt, y, 0.0, rcond)
    assert np.allclose(f @ a0, f @ ref, rtol=1e-6, atol=1e-8)
    assert np.linalg.norm(a0) == pytest.approx(np.linalg.norm(ref), rel=1e-5)
    a1 = rf._solve_from_svd(u, s, vt, y, 0.1, rcond)
    assert np.allclose(a1, np.linalg.solve(f.T @ f + 0.1 * np.eye(p), f.T @ y), atol=1e-8)


# ----------------------------------------------------------------------------- double_descent.linear


def _linear_rows(scale=lambda g: 1.0, gammas=(0.2, 0.5, 0.9, 1.0, 1.1, 2.0, 5.0), seeds=8):
    """Risk on the exact finite-n expectation times ``scale(gamma)``, with 5% seeded noise per seed
    (centred: at each gamma the seeds' mean is exactly the scaled expectation)."""
    rng = np.random.default_rng(0)
    rows = []
    for g in gammas:
        theory = float(linear.finite_n_risk(round(g * N), N, 1.0, 0.25))
        z = rng.standard_normal(seeds)
        for seed in range(seeds):
            jitter = 1 + 0.05 * (z[seed] - z.mean())
            risk = 1e6 if math.isinf(theory) else theory * scale(g) * jitter
            rows.append(
                {
                    "p_over_n": g,
                    "gamma": g,
                    "seed": seed,
                    "risk": risk,
                    "theory_risk": theory,
                    "noise": 0.5,
                    "signal": 1.0,
                    "n": N,
                }
            )
    return rows


def test_linear_check_passes_near_theory_and_ignores_p_equal_n():
    v = linear.check_linear_theory(_results(_linear_rows()))
    assert v.status == "supported"
    assert "below p = n" in v.measured and "above p = n" in v.measured and "every p" in v.measured


@falsifies("double_descent.linear", "linear_matches_theory")
@pytest.mark.parametrize("scale", [lambda g: 1.5, lambda g: 0.6, lambda g: 1.4 if g == 1.1 else 1.0])
def test_linear_check_fails_off_theory(scale):
    h = _hypothesis(linear, "linear_matches_theory")
    assert h.evaluate(_results(_linear_rows())).status == "supported"  # risk on the closed form
    assert h.evaluate(_results(_linear_rows(scale))).status == "refuted"  # 1.4-1.67x off it somewhere


@falsifies("double_descent.linear", "linear_matches_theory")
def test_linear_check_refutes_the_asymptotic_law_where_the_finite_n_term_matters():
    # risk on Hastie's n -> infinity limit instead: 5-10% low next to the threshold (p = 180, 190, 210)
    rows = _linear_rows(gammas=(0.9, 0.95, 1.05), seeds=40)
    for r in rows:
        r["risk"] *= float(linear.hastie_risk(r["gamma"], 1.0, 0.25) / r["theory_risk"])
    assert _status(linear.check_linear_theory, rows) == "refuted"


def test_linear_check_is_inconclusive_when_seeds_are_too_noisy():
    rows = _linear_rows(seeds=5)
    rng = np.random.default_rng(1)
    for r in rows:  # heavy seed-to-seed spread (mean kept): intervals contain 1 but are wider than the band
        r["risk"] *= float(np.exp(0.6 * rng.standard_normal() - 0.18))
    assert _status(linear.check_linear_theory, rows) == "inconclusive"


def test_linear_check_computes_gammas_no_preset_contains():
    v = linear.check_linear_theory(_results(_linear_rows(gammas=(0.37, 3.3))))
    assert v.status == "supported" and "n/a" not in v.measured_text()


def test_linear_check_inconclusive_without_gamma_away_from_one():
    assert _status(linear.check_linear_theory, _linear_rows(gammas=(1.0,))) == "inconclusive"


# ----------------------------------------------------------------------------- double_descent.random_features

PS = [20, 50, 100, 150, 180, 200, 220, 300, 800, 3200]


S2 = 0.05  # the synthetic curves' approximation error s^2


def _rf_curve(peak_p=200, peak=80.0, left=0.4, right=0.15, ridge_at_peak=0.14, ps=PS, n=N, noise=0.5, theory=1.0):
    """A ridgeless curve: fall from 1.45 ``left`` to ``left``, ``peak`` at ``peak_p``, decay to ``right``;
    at n/2 <= p <= n - 2 the Gaussian-equivalent finite-n law times ``theory``."""
    out = {}
    for p in ps:
        if p == peak_p:
            out[p] = peak
        elif n / 2 <= p <= n - 2:
            out[p] = theory * float(gaussian_equivalent_risk(p, n, S2, noise**2))
        elif p < peak_p:
            out[p] = left * (1 + 0.5 * (n - p) / n)
        else:
            out[p] = right * (1 + 16 * n / p / 16)
    ridge = {p: min(v, ridge_at_peak if p == peak_p else 0.3) for p, v in out.items()}
    return out, ridge


def _rf_rows(noises=(0.0, 0.5), seeds=6, ridge=0.1, n=N, **kw):
    """Six seeds with 10% log-normal seeded noise (mean kept) around the curve."""
    rng = np.random.default_rng(0)
    rows = []
    for noise in noises:
        curve, ridge_curve = _rf_curve(n=n, noise=noise, **kw)
        for r, c in ((0.0, curve), (ridge, ridge_curve)):
            for p, v in c.items():
                for seed in range(seeds):
                    rows.append(
                        {
                            "p": p,
                            "p_over_n": p / n,
                            "n": n,
                            "rf_d": 30,
                            "noise": noise,
                            "ridge": r,
                            "seed": seed,
                            "test_mse": v * float(np.exp(0.1 * rng.standard_normal() - 0.005)),
                            "approx_mse": S2 * float(np.exp(0.1 * rng.standard_normal() - 0.005))
                            if p <= n - 2
                            else math.nan,
                        }
                    )
    return rows


RF_CHECKS = [
    rfc.check_rf_peak_location,
    rfc.check_rf_near_threshold,
    rfc.check_rf_overparam_wins,
    rfc.check_rf_ridge,
    rfc.check_rf_noiseless_peak,
]


def test_rf_checks_pass_on_a_double_descent_curve():
    res = _results(_rf_rows())
    for check in RF_CHECKS:
        assert check(res).status == "supported", check.__name__
    assert rfc.check_rf_peak_location(res).measured == pytest.approx(1.0)


def _noiseless_flat():
    """The anchor noise level with its peak, the noiseless curve without one (highest at the
    smallest p, falling all the way)."""
    flat = _rf_rows(noises=(0.0,), peak=0.2, ridge_at_peak=0.1, theory=0.1)
    return _rf_rows(noises=(0.5,)) + [{**r, "noise": 0.0} for r in flat]


@falsifies(
    "double_descent.random_features",
    "rf_peak_at_interpolation",
    "rf_near_threshold_theory",
    "rf_overparam_beats_underparam",
    "rf_ridge_removes_peak",
    "rf_peak_without_noise",
)
@pytest.mark.parametrize(
    "broken, refuted",
    [
        (lambda: _rf_rows(peak_p=100), ["rf_peak_at_interpolation", "rf_peak_without_noise"]),  # peak at n/2
        (lambda: _rf_rows(theory=1.6), ["rf_near_threshold_theory", "rf_peak_without_noise"]),  # 1.6x the law
        (lambda: _rf_rows(theory=0.6), ["rf_near_threshold_theory", "rf_peak_without_noise"]),  # 0.6x the law
        (lambda: _rf_rows(right=0.8), ["rf_overparam_beats_underparam"]),  # worse past p = n
        (lambda: _rf_rows(ridge_at_peak=40.0), ["rf_ridge_removes_peak"]),  # ridge keeps the peak
        (_noiseless_flat, ["rf_peak_without_noise"]),  # the peak only with label noise
    ],
)
def test_rf_checks_fail_when_their_claim_is_broken(broken, refuted):
    holds, res = _results(_rf_rows()), _results(broken())
    for name in refuted:
        h = _hypothesis(rf, name)
        assert h.evaluate(holds).status == "supported", name
        assert h.evaluate(res).status == "refuted", name


def test_rf_checks_split_noise_levels():
    # Only the anchor noise level present: the noiseless check is inconclusive, the others hold.
    res = _results(_rf_rows(noises=(0.5,)))
    assert rfc.check_rf_noiseless_peak(res).status == "inconclusive"
    assert rfc.check_rf_near_threshold(res).status == "supported"
    # A noiseless curve without a peak refutes only the noiseless check.
    res = _results(_noiseless_flat())
    assert rfc.check_rf_noiseless_peak(res).status == "refuted"
    assert rfc.check_rf_peak_location(res).status == "supported"


def test_rf_checks_compute_values_no_preset_contains():
    # n = 150, label noise 0.3, ridge 0.05, p in no preset: every check still measures.
    ps = [15, 40, 90, 130, 150, 165, 230, 700, 2400]
    res = _results(_rf_rows(noises=(0.0, 0.3), ridge=0.05, ps=ps, peak_p=150, n=150))
    for check in RF_CHECKS:
        v = check(res)
        assert v.status == "supported" and "n/a" not in v.measured_text(), check.__name__


def test_rf_peak_at_the_grid_edge_is_not_supported():
    # The grid ends at p = n, where the curve is highest: no peak has been seen.
    rows = [r for r in _rf_rows() if r["p"] <= N]
    assert rfc.check_rf_peak_location(_results(rows)).status == "inconclusive"


def test_rf_check_is_inconclusive_when_seeds_disagree():
    rows = _rf_rows(theory=1.2)  # 1.2x the law, inside the band: seed noise decides nothing
    rng = np.random.default_rng(2)
    for r in rows:
        r["test_mse"] *= float(np.exp(0.8 * rng.standard_normal() - 0.32))
    assert rfc.check_rf_near_threshold(_results(rows)).status == "inconclusive"


def test_rf_near_threshold_needs_the_approximation_error_and_a_point_below_n():
    rows = [{k: v for k, v in r.items() if k != "approx_mse"} for r in _rf_rows()]  # tables before the column
    assert rfc.check_rf_near_threshold(_results(rows)).status == "inconclusive"
    rows = [r for r in _rf_rows() if not N / 2 <= r["p"] <= N - 2]
    assert rfc.check_rf_near_threshold(_results(rows)).status == "inconclusive"
    assert gaussian_equivalent_risk(180, 200, 0.05, 0.25) == pytest.approx(0.05 + 0.3 * 180 / 19)
    assert np.isnan(gaussian_equivalent_risk(199, 200, 0.05, 0.25))


# ----------------------------------------------------------------------------- double_descent.mlp

WIDTHS = [1, 2, 4, 8, 16, 32, 64, 128]


def _mlp_rows(
    noise=0.5, threshold=16, peak_width=16, peak=1.0, tail=0.2, seeds=6, clean_peak=0.05, widths=WIDTHS, under=0.5
):
    """Six seeds with 10% log-normal seeded noise; every run converged."""
    rng = np.random.default_rng(0)
    rows = []
    for nz in (0.0, noise):
        for w in widths:
            train = 0.3 if w < threshold else 1e-6
            if nz == 0.0:
                test = clean_peak if w == peak_width else 0.03
            elif w == peak_width:
                test = peak
            elif w < peak_width:
                test = under * (1 + 0.6 * w / peak_width)
            else:
                test = tail * (1 + 1 / w)
            for seed in range(seeds):
                rows.append(
                    {
                        "width": w,
                        "noise": nz,
                        "seed": seed,
                        "n": N,
                        "mlp_d": 10,
                        "train_rel_mse": train * float(np.exp(0.1 * rng.standard_normal())),
                        "test_mse": test * float(np.exp(0.1 * rng.standard_normal())),
                        "converged": True,
                    }
                )
    return rows


MLP_PEAK_CHECKS = [mlp.check_mlp_peak_at_threshold, mlp.check_mlp_noise_raises_peak, mlp.check_mlp_second_descent]
MLP_CHECKS = [*MLP_PEAK_CHECKS, mlp.check_mlp_overparam_wins]


def test_mlp_checks_pass_on_a_peak_at_the_threshold():
    res = _results(_mlp_rows())
    for check in MLP_CHECKS:
        assert check(res).status == "supported", check.__name__
    assert mlp.check_mlp_peak_at_threshold(res).measured == pytest.approx(1.0)


@falsifies(
    "double_descent.mlp",
    "mlp_peak_at_threshold",
    "mlp_noise_raises_peak",
    "mlp_second_descent",
    "mlp_overparam_beats_underparam",
)
@pytest.mark.parametrize(
    "kw, name",
    [
        ({"peak_width": 64}, "mlp_peak_at_threshold"),  # peak 4x past the threshold
        ({"peak_width": 2}, "mlp_peak_at_threshold"),  # peak 8x before it
        ({"clean_peak": 0.2}, "mlp_noise_raises_peak"),  # noiseless peak/min 6.7 > noisy 5
        ({"tail": 0.9}, "mlp_second_descent"),  # no second descent
        ({"tail": 0.9}, "mlp_overparam_beats_underparam"),  # wide models worse than narrow ones
    ],
)
def test_mlp_checks_fail_when_their_claim_is_broken(kw, name):
    h = _hypothesis(mlp, name)
    assert h.evaluate(_results(_mlp_rows())).status == "supported"
    assert h.evaluate(_results(_mlp_rows(**kw))).status == "refuted"


def test_mlp_threshold_uses_the_train_error_level():
    rows = _mlp_rows()
    for r in rows:  # nothing ever fits: the threshold is undefined
        r["train_rel_mse"] = 0.5
    assert _status(mlp.check_mlp_peak_at_threshold, rows) == "inconclusive"


def test_mlp_checks_compute_values_no_preset_contains():
    # widths and a label-noise level (0.3) that no preset contains: every check still measures.
    rows = _mlp_rows(noise=0.3, threshold=17, peak_width=17, widths=[3, 5, 9, 17, 33, 65, 129])
    for check in MLP_CHECKS:
        v = check(_results(rows))
        assert v.status == "supported" and "n/a" not in v.measured_text(), check.__name__


def test_mlp_checks_need_converged_runs_and_an_interior_peak():
    rows = _mlp_rows()
    for r in rows:  # 2 of 6 seeds at the peak had not settled; the other 4 alone say the same
        if r["width"] == 16 and r["seed"] < 2:
            r["converged"] = False
    for check in MLP_PEAK_CHECKS:
        v = check(_results(rows))
        assert v.status == "supported" and "converged runs alone" in v.explanation, check.__name__
    rows = [  # the same with narrow models near the noiseless level, so the peak is the only bump
        {**r, "converged": r["converged"] and not (r["width"] == 16 and r["seed"] < 2)} for r in _mlp_rows(under=0.03)
    ]
    for check in MLP_PEAK_CHECKS:
        assert check(_results(rows)).status == "supported", check.__name__
    for r in rows:  # no run at the peak had settled: without them the curve has no clear peak
        if r["width"] == 16:
            r["converged"] = False
    for check in MLP_PEAK_CHECKS:
        v = check(_results(rows))
        assert v.status == "inconclusive" and "not converged" in v.explanation, check.__name__
    rows = _mlp_rows()
    for r in rows:  # the best wide model (width 128) had not settled in any seed
        if r["width"] == 128 and r["noise"] > 0:
            r["converged"] = False
    v = mlp.check_mlp_overparam_wins(_results(rows))
    assert v.status in ("supported", "inconclusive") and "converged" in v.explanation
    # the peak at the widest width swept: no second descent seen, so no peak either
    edge = _mlp_rows(threshold=128, peak_width=128)
    v = mlp.check_mlp_peak_at_threshold(_results(edge))
    assert v.status == "inconclusive" and "edge" in v.explanation


# ----------------------------------------------------------------------------- runners and presets

NAMES = ("double_descent.linear", "double_descent.random_features", "double_descent.mlp")


def test_the_group_registers_three_experiments():
    assert set(NAMES) <= set(registry.names())
    assert [registry.load(n).name for n in NAMES] == list(NAMES)
    assert {h.name.split("_")[0] for h in registry.load(NAMES[1]).hypotheses} == {"rf"}


def _shard(module, static, params):
    trials = tuple(Trial(f"t{i}", p) for i, p in enumerate(params))
    return Shard(module.EXPERIMENT.name, "test", "s", static, trials, strategy="sequential")


def test_linear_runner_is_exact_and_interpolates_past_p_equal_n():
    params = [{"signal": 1.0, "noise": 0.5, "gamma": g, "seed": 0} for g in (0.5, 2.0)]
    rows = linear.run(_shard(linear, linear.Static(n=40), params)).metrics
    assert [r["p_over_n"] for r in rows] == [0.5, 2.0]
    assert rows[0]["train_mse"] > 1e-3 and rows[1]["train_mse"] < 1e-12  # p > n interpolates
    assert all(r["theory_risk"] == pytest.approx(float(linear.hastie_risk(r["p_over_n"], 1, 0.25))) for r in rows)
    assert all(r["coef_norm"] > 0 for r in rows)


def test_rf_runner_min_norm_interpolates_past_p_equal_n_and_ridge_does_not():
    st = rf.Static(n=30, n_test=50, rf_d=5, rf_bank=120)
    params = [
        {"rf_d": 5, "rf_bank": 120, "seed": s, "p": p, "noise": 0.5, "ridge": r}
        for s in (0, 1)
        for p in (15, 120)
        for r in (0.0, 0.1)
    ]
    rows = rf.run(_shard(rf, st, params)).metrics
    for prm, row in zip(params, rows):
        assert row["p_over_n"] == prm["p"] / 30 and np.isfinite(row["test_mse"])
        assert np.isfinite(row["approx_mse"]) == (prm["p"] <= 28)  # s^2 only below the threshold
        if prm["p"] > 30:
            assert (row["train_mse"] < 1e-8) == (prm["ridge"] == 0)
    with pytest.raises(ValueError, match="rf_bank"):
        rf.run(_shard(rf, st, [{**params[0], "p": 200}]))


def test_mlp_runner_fills_a_typed_row_and_curves_per_trial():
    st = mlp.Static(n=20, n_test=20, mlp_d=3, teacher_width=2, max_width=8, steps=20)
    params = [
        {"mlp_d": 3, "teacher_width": 2, "max_width": 8, "steps": 20, "lr": 1e-2, "noise": 0.5, "seed": 0, "width": w}
        for w in (2, 8)
    ]
    out = mlp.run(_shard(mlp, st, params))
    assert [r["n_params"] for r in out.metrics] == [2 * 5 + 1, 8 * 5 + 1]
    assert all(isinstance(r["n_params"], int) and r["status"] == "ok" for r in out.metrics)
    assert set(out.curves["trial_id"]) == {"t0", "t1"}
    assert set(out.curves["metric"]) == {"mse", "rel_mse", "objective"}


def test_presets_sample_p_equal_n_and_share_one_static_per_part():
    for name in ("demo", "paper"):
        plan = sweep.plan(rf.EXPERIMENT, name)
        n = plan.trials[0].params["n"]
        ps = {t.params["p"] for t in plan.trials}
        assert n in ps and min(ps) <= n / 8 and max(ps) >= 16 * n
        assert {s.static for s in plan.shards} == {rf.Static(n=n, n_test=2000, rf_d=30, rf_bank=max(ps))}
        widths = {t.params["width"] for t in sweep.plan(mlp.EXPERIMENT, name).trials}
        statics = {s.static for s in sweep.plan(mlp.EXPERIMENT, name).shards}
        assert len(statics) == 1 and next(iter(statics)).max_width == max(widths)
        assert {s.static for s in sweep.plan(linear.EXPERIMENT, name).shards} == {linear.Static(n=n)}
    paper = sweep.plan(rf.EXPERIMENT, "paper")
    assert len({t.params["p"] for t in paper.trials}) >= 20
    assert len({t.params["seed"] for t in paper.trials}) >= 5
    assert len({t.params["seed"] for t in sweep.plan(mlp.EXPERIMENT, "paper").trials}) >= 3
