"""Law of robustness: the curriculum, every check on hand-made tables that must pass and
must fail, the presets, and the probe on trained models."""

import math

import jax
import numpy as np
import pandas as pd
import pytest

import experiments.robustness_law as rl
from experiments.robustness_law import checks, runner, summaries
from physai import Results, sweep
from physai.curricula.sphere import isoperimetric_inputs, sphere_random_labels
from tests.falsification import falsifies

N = 100
DS = (32, 64, 128)
RATIOS = [1 / 64, 1 / 32, 1 / 16, 1 / 8, 1 / 4, 1 / 2, 1.0, 2.0]


# ----------------------------------------------------------------------------- curriculum


def test_inputs_have_unit_scale_and_labels_are_fair_coins():
    key = jax.random.key(0)
    g = np.asarray(isoperimetric_inputs(key, 4000, 40, "gaussian"))
    s = np.asarray(isoperimetric_inputs(key, 4000, 40, "sphere"))
    assert np.mean(np.sum(g**2, 1)) == pytest.approx(1.0, abs=0.02)
    assert np.allclose(np.linalg.norm(s, axis=1), 1.0, atol=1e-5)
    data = sphere_random_labels(key, 2000, 100, 10, n_extra=50)
    y = np.asarray(data["y_train"])
    assert set(np.unique(y)) == {-1.0, 1.0} and abs(y.mean()) < 0.08
    assert data["x_extra"].shape == (50, 10) and data["x_test"].shape == (100, 10)


def test_width_for_crossing_and_data_floor():
    for d in DS:
        w = runner.width_for(0.25, N, d)
        assert abs(runner.n_params(d, w) / (N * d) - 0.25) < 0.02  # matched p/(nd) at every d
    assert rl.Static.derived({"ratio": 0.25, "n": N, "d": 64}) == {"width": runner.width_for(0.25, N, 64)}
    assert summaries.crossing([1, 10, 100], [8.0, 4.0, 2.0], 4.0) == pytest.approx(10.0)
    assert math.isnan(summaries.crossing([1, 10], [8.0, 5.0], 4.0))
    # floor = (2 - 2 FIT_TOL) / distance of the closest opposite-label pair (here 0.5, not the 0.1 same-label pair)
    x = np.array([[0.0, 0.0], [0.1, 0.0], [0.5, 0.0], [3.0, 0.0]], np.float32)
    y = np.array([1.0, 1.0, -1.0, -1.0], np.float32)
    assert float(runner.data_floor(x, y)) == pytest.approx((2 - 2 * runner.FIT_TOL) / 0.4, rel=1e-5)


# ----------------------------------------------------------------------------- synthetic tables


def _results(rows) -> Results:
    trials = pd.DataFrame(rows)
    trials["status"] = "ok"
    return Results(trials, pd.DataFrame(), pd.DataFrame(), "robustness_law", "test")


def _floor(d):
    return 1.0 + 4.0 / math.sqrt(d)


def _law_rows(ds=DS, R=None, upper=3.0, fit_from=1.0, seeds=5, noise=0.01, top=True, converged=None):
    """A world that obeys the law: plain training interpolates from p = fit_from n; the
    smoothest interpolator has Lip = max(floor, R(r, d) sqrt(nd/p)), R = 1.5 + 8/d (a
    d-dependence that shrinks); lip_upper = ``upper`` x lip_search.

    Penalty 0: plain models (rough); penalty 1: the smoothest interpolator; penalty 2 (with
    ``top``): too smooth to interpolate. Every Lipschitz value carries seeded log-normal noise.
    """
    rng = np.random.default_rng(0)
    R = R or (lambda r, d: 1.5 + 8.0 / d)
    rows = []
    for d in ds:
        for r in RATIOS:
            p = r * N * d
            bound = math.sqrt(N * d / p)
            fits = p >= fit_from * N
            for seed in range(seeds):
                base = {"d": d, "n": N, "p": p, "ratio": r, "p_over_nd": r, "bound": bound, "seed": seed}
                base["lip_floor"] = _floor(d) * math.exp(noise * rng.standard_normal())
                smooth = max(base["lip_floor"], R(r, d) * bound) * math.exp(noise * rng.standard_normal())
                plain = 1.5 * math.sqrt(d) * (p / N) ** -0.2 * math.exp(noise * rng.standard_normal())
                models = [(0.0, fits, plain, 1e-14 if fits else 0.1)]
                if fits:
                    models.append((1.0, True, smooth, 1e-3))
                if top:
                    models.append((2.0, False, 0.5 * smooth, 0.2))
                for penalty, interp, lip, mse in models:
                    row = {
                        **base,
                        "penalty": penalty,
                        "interpolates": interp,
                        "max_residual": 0.0 if penalty == 0 and interp else (0.25 if interp else 0.8),
                        "lip_est": 0.8 * lip,
                        "lip_search": lip,
                        "lip_upper": upper * lip,
                        "train_mse": mse,
                    }
                    if converged is not None:
                        row["converged"] = converged
                    rows.append(row)
    return rows


CHECKS = [h.check for h in rl.HYPOTHESES]


def test_every_check_passes_when_the_law_holds():
    res = _results(_law_rows())
    for h in rl.HYPOTHESES:
        v = h.check(res)
        assert v.status == "supported", (h.name, v)
        assert v.interval is not None and v.n == 5, (h.name, v)
    first, last, rs = checks.d_dependence(checks._table(res))
    assert rs == [1 / 32, 1 / 16, 1 / 8, 1 / 4]  # interpolated at every d, bound above every floor
    assert first == pytest.approx(math.log(1.75 / 1.625), abs=0.01) and last < first
    rows = {r["d"]: r for r in summaries.smooth_rows(res)}
    assert rows[32]["p_interp"] == pytest.approx(N) and not rows[32]["interp_censored"]
    assert rows[128]["interp_censored"]  # interpolates at the smallest p swept


def test_checks_follow_the_d_values_in_the_table():
    res = _results(_law_rows(ds=(24, 48, 96, 192), fit_from=0.5))  # in no preset: first vs last pair of d
    for check in CHECKS:
        v = check(res)
        assert v.status == "supported" and "n/a" not in v.measured_text(), (check.__name__, v)
    assert "d = 192" in checks.check_smooth_needs_more_params(res).explanation


@falsifies("robustness_law", "no_interpolator_below_bound")
def test_bound_check_refuted_only_by_the_upper_estimate():
    below = lambda r, d: 0.5  # the smoothest models at half the bound
    # upper estimate below the bound too: an interpolator provably smoother than allowed
    v = checks.check_no_interpolator_below_bound(_results(_law_rows(R=below, upper=1.5)))
    assert v.status == "refuted" and "lip_upper" in v.measured_text()
    # lower estimate below, upper above: not pinned down on that side
    v = checks.check_no_interpolator_below_bound(_results(_law_rows(R=below, upper=4.0)))
    assert v.status == "inconclusive" and "not pinned down" in v.explanation


def test_bound_check_inconclusive_when_the_smoothest_used_the_largest_penalty():
    v = checks.check_no_interpolator_below_bound(_results(_law_rows(top=False)))
    assert v.status == "inconclusive" and "edge of the swept penalty" in v.explanation


@falsifies("robustness_law", "constant_settles")
def test_constant_check_fails_when_the_d_dependence_grows():
    res = _results(_law_rows(R=lambda r, d: 1.5 * (d / 32) ** (0.1 * math.log2(d / 16))))
    v = checks.check_constant_settles(res)
    assert v.status == "refuted", v


@falsifies("robustness_law", "smooth_needs_more_params")
def test_smooth_params_check_fails_when_small_models_are_already_smooth():
    # Lip_min at the floor from the smallest interpolating size on: p_smooth = p_interp
    res = _results(_law_rows(R=lambda r, d: 0.0))
    v = checks.check_smooth_needs_more_params(res)
    assert v.status == "refuted" and v.measured == pytest.approx(1.0), v


def test_censored_smooth_ratio_cannot_refute():
    # d = 128 alone: plain training interpolates at the smallest p swept, so p_interp is an upper bound
    res = _results(_law_rows(ds=(128,), R=lambda r, d: 0.0))
    v = checks.check_smooth_needs_more_params(res)
    assert v.status == "inconclusive" and "censored" in v.explanation


def test_unconverged_smoothest_runs_make_the_smooth_checks_inconclusive():
    rows = _law_rows(converged=True)
    for r in rows:
        if r["penalty"] == 1.0:
            r["converged"] = False
    res = _results(rows)
    assert checks.check_constant_settles(res).status == "inconclusive"
    # without the smoothest runs, plain ones never get smooth: the same verdict, said so
    assert "had not converged" in checks.check_smooth_needs_more_params(res).explanation
    assert checks.check_no_interpolator_below_bound(res).status == "supported"  # holds however trained


def test_checks_are_inconclusive_without_the_data_they_need():
    two_d = _results(_law_rows(ds=(32, 64)))
    assert checks.check_constant_settles(two_d).status == "inconclusive"  # needs three d
    plain_only = _results([r for r in _law_rows() if r["penalty"] == 0])
    assert checks.check_no_interpolator_below_bound(plain_only).status == "supported"
    nothing_fits = [{**r, "interpolates": False} for r in _law_rows()]
    for check in CHECKS:
        assert check(_results(nothing_fits)).status == "inconclusive", check.__name__


# ----------------------------------------------------------------------------- engine


def test_presets_match_p_over_nd_and_cover_threshold_to_past_nd():
    paper = sweep.plan(rl.EXPERIMENT, "paper")
    params = [t.params for t in paper.trials]
    assert {p["d"] for p in params} == set(DS) and {p["n"] for p in params} == {N}
    for d in DS:
        ps = sorted({runner.n_params(d, runner.width_for(p["ratio"], N, d)) for p in params if p["d"] == d})
        assert ps[0] <= 3 * N and ps[-1] >= N * d  # from p ~ n to past p ~ nd
    assert len({p["penalty"] for p in params}) >= 8 and len({p["seed"] for p in params}) >= 2
    assert len(paper.shards) <= 24
    for plan in (paper, sweep.plan(rl.EXPERIMENT, "demo"), sweep.plan(rl.EXPERIMENT, "tiny")):
        assert {t.params["d"] for t in plan.trials} >= {32, 64, 128}  # part 2 needs three d
        for shard in plan.shards:  # one compiled width per shard
            assert len({(t.params["d"], t.params["ratio"]) for t in shard.trials}) == 1
    st = rl.Static(n=N, n_test=N, d=64, width=100, steps=2000, distribution="gaussian")
    wide = rl.Static(n=N, n_test=N, d=64, width=400, steps=2000, distribution="gaussian")
    assert runner.cost(wide, 4) > runner.cost(st, 4) and runner.cost(st, 8) == 2 * runner.cost(st, 4)


def test_probe_bounds_on_trained_models():
    # The tiny shard at d = 32: plain and penalised models, measured by the probe in training.
    shard = next(s for s in sweep.plan(rl.EXPERIMENT, "tiny").shards if s.static.d == 32)
    res = rl.run(shard)
    t = pd.DataFrame([{**tr.params, **m} for tr, m in zip(shard.trials, res.metrics)])
    assert (t["status"] == "ok").all()
    for col in ("lip_est", "lip_search", "lip_upper", "lip_floor", "max_residual"):
        assert np.isfinite(t[col]).all(), col
    # Sampled max <= search (it starts from the sampled points) <= spectral product.
    assert (t["lip_search"] >= t["lip_est"] * (1 - 1e-6)).all()
    assert (t["lip_upper"] >= t["lip_search"] * (1 - 1e-4)).all()
    assert (t["interpolates"] == (t["max_residual"] <= runner.FIT_TOL)).all()
    plain, pen = t[t["penalty"] == 0].iloc[0], t[t["penalty"] > 0].iloc[0]
    assert pen["lip_est"] < plain["lip_est"] and pen["max_residual"] > plain["max_residual"]
    figures = rl.plot(
        Results(t.assign(trial_id=[tr.trial_id for tr in shard.trials]), res.curves, pd.DataFrame(), "rl", "tiny")
    )
    assert {"lipschitz_vs_p", "ratio_vs_d", "fronts"} <= set(figures)
    import matplotlib.pyplot as plt

    for fig in figures.values():
        plt.close(fig)
