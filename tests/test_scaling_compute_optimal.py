"""Compute-optimal frontier: the IsoFLOP analysis on synthetic curves from a known
Chinchilla law (must pass) and from laws without an optimum, with an optimum that moves
the wrong way or with a broken trend (must fail), and the typed statics."""

import numpy as np
import pandas as pd
import pytest

from experiments import scaling_compute_optimal as co
from physai import Results, models, sweep
from tests.falsification import falsifies

WIDTHS = [8, 14, 23, 40, 70, 120, 200, 256]
BATCH = 128


def chinchilla(n, d, E=0.002, A=9.0, alpha=0.8, B=300.0, beta=0.8):
    return E + A / n**alpha + B / d**beta


def _results(law=chinchilla, max_compute=co._compute(256, 1500), seeds=5, widths=WIDTHS, noise=0.01):
    """Trials and curves as the experiment stores them, losses drawn from ``law(N, D)``
    with seeded multiplicative noise (``noise`` standard deviation of the log loss)."""
    rng = np.random.default_rng(0)
    trials, curves = [], []
    for width in widths:
        steps = co.steps_for(width, max_compute, BATCH)
        n = models.count_mlp_params(co.AMBIENT, width)
        logged = np.arange(co.N_LOGS + 1) * (steps // co.N_LOGS)
        for seed in range(seeds):
            tid = f"w{width}s{seed}"
            trials.append(
                {"trial_id": tid, "width": width, "n_params": n, "batch": BATCH, "seed": seed, "status": "ok"}
            )
            jitter = np.exp(noise * rng.standard_normal(logged.size))
            loss = np.where(logged > 0, law(n, np.maximum(logged, 1) * BATCH), 1.0) * jitter
            curves.append(
                pd.DataFrame({"trial_id": tid, "step": logged, "split": "test", "metric": "mse", "value": loss})
            )
    return Results(
        pd.DataFrame(trials), pd.concat(curves, ignore_index=True), pd.DataFrame(), "scaling_compute_optimal", "test"
    )


def test_chinchilla_law_gives_u_shapes_exponent_and_extrapolation():
    res = _results()
    assert co.check_u_shape(res).status == "supported"
    v = co.check_exponent(res)
    # Hoffmann et al.: N* ∝ C^(beta / (alpha + beta)) = C^0.5 for equal exponents.
    assert v.status == "supported" and v.measured == pytest.approx(0.5, abs=0.1)
    assert co.check_extrapolation(res).status == "supported"


def optimum_moving_as(b, n0=None, c0=None):
    """A law whose IsoFLOP valley sits at N*(C) = n0 (C / c0)^b: a parabola in log N."""
    n0 = n0 or np.sqrt(models.count_mlp_params(co.AMBIENT, WIDTHS[0]) * models.count_mlp_params(co.AMBIENT, WIDTHS[-1]))
    c0 = c0 or 0.14 * co._compute(256, 1500)  # about the geometric middle of the budgets

    def law(n, d):
        n_star = n0 * (co.FLOPS_PER_PARAM_EXAMPLE * n * d / c0) ** b
        return 0.01 * (1 + 0.5 * np.log(n / n_star) ** 2)

    return law


@falsifies("scaling_compute_optimal", "isoflop_u_shape")
def test_loss_without_size_dependence_has_no_interior_optimum():
    assert co.check_u_shape(_results()).status == "supported"  # Chinchilla: a valley at every budget
    # Only data matters: the smallest model (most examples at fixed C) always wins.
    res = _results(law=lambda n, d: 0.002 + 300.0 / d**0.8)
    assert co.check_u_shape(res).status == "refuted"
    assert co.check_exponent(res).status in ("refuted", "inconclusive")


@falsifies("scaling_compute_optimal", "compute_optimal_exponent")
@pytest.mark.parametrize("b", [-0.4, 1.3])
def test_exponent_check_fails_when_the_optimum_moves_outside_zero_to_one(b):
    # Interior valleys everywhere, but N* shrinks with compute (b < 0) or grows faster
    # than compute itself (b > 1, so the data D* = C / 6N* shrinks): refuted.
    assert co.check_exponent(_results(law=optimum_moving_as(0.5))).status == "supported"
    v = co.check_exponent(_results(law=optimum_moving_as(b)))
    assert v.status == "refuted" and v.measured == pytest.approx(b, abs=0.1)


@falsifies("scaling_compute_optimal", "law_extrapolates")
def test_broken_trend_at_large_compute_fails_extrapolation():
    assert co.check_extrapolation(_results()).status == "supported"  # the same law throughout
    cut = co._compute(256, 1500) * 0.3

    def law(n, d):
        base = chinchilla(n, d)
        return np.where(6 * n * d > cut, base * 0.5, base)  # a sudden 2x drop late

    assert co.check_extrapolation(_results(law=law)).status == "refuted"


def test_exponent_interval_must_exclude_one():
    # Model size only matters (data free): the optimum is always the largest model -> b
    # is not inside (0, 1) or there is no interior minimum at all.
    res = _results(law=lambda n, d: 0.002 + 30.0 / n**0.8 + 1e-6 / d)
    assert co.check_exponent(res).status in ("refuted", "inconclusive")
    assert co.check_u_shape(res).status == "refuted"


def test_widths_and_compute_in_no_preset_get_computed_verdicts():
    # The checks read the budgets and widths from the table: widths and a compute that
    # no preset has still give measured verdicts (and the law's valley is found).
    off = [6, 10, 17, 30, 52, 90, 160, 300]
    assert not set(off) & {t.params["width"] for p in co.PRESETS for t in sweep.plan(co.EXPERIMENT, p).trials}
    res = _results(max_compute=co._compute(300, 1200), widths=off)
    for check in (co.check_u_shape, co.check_exponent, co.check_extrapolation):
        v = check(res)
        assert np.isfinite(v.measured) and v.interval is not None and np.all(np.isfinite(v.interval)), v
    assert co.check_exponent(res).status == "supported"


def test_checks_inconclusive_on_empty_curves():
    res = Results(
        pd.DataFrame({"trial_id": ["a"], "status": ["ok"], "width": [8], "n_params": [100], "batch": [BATCH]}),
        pd.DataFrame(columns=["trial_id", "step", "split", "metric", "value"]),
        pd.DataFrame(),
    )
    for check in (co.check_u_shape, co.check_exponent, co.check_extrapolation):
        assert check(res).status == "inconclusive"


def test_every_width_is_trained_to_the_same_compute():
    for name in ("demo", "paper"):
        plan = sweep.plan(co.EXPERIMENT, name)
        widths = sorted({t.params["width"] for t in plan.trials})
        assert widths[-1] / widths[0] >= 10**1.5 - 1e-9
        computes = [
            co.FLOPS_PER_PARAM_EXAMPLE
            * models.count_mlp_params(co.AMBIENT, s.trials[0].params["width"])
            * s.static.steps
            * s.static.batch
            for s in plan.shards
        ]
        assert max(computes) / min(computes) < 1.1


def test_static_derives_bucket_and_steps_from_the_width():
    params = {
        "d": 4,
        "batch": BATCH,
        "n_test": 1024,
        "width": 40,
        "lr": 3e-3,
        "seed": 0,
        "max_compute": co._compute(256, 1500),
    }
    st = co.EXPERIMENT.static_values(params)
    assert st == co.Static(
        d=4, batch=BATCH, n_test=1024, bucket=64, steps=co.steps_for(40, params["max_compute"], BATCH)
    )
    assert st.steps % co.N_LOGS == 0 and st.steps > 1500  # narrower than 256: trained longer
