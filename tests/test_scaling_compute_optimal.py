"""Compute-optimal frontier: the analysis on synthetic runs from a known Chinchilla law
(must pass) and from laws where each claim is false (must fail), and the typed statics."""

import itertools

import numpy as np
import pandas as pd
import pytest

from experiments import scaling_compute_optimal as co
from physai import Results, models, sweep
from tests.falsification import falsifies

WIDTHS = [8, 16, 32, 64, 128, 256]
BATCH = 128
BUDGETS = co._budgets(256, 1024, 6)
RATES = (3e-3, 1e-2, 3e-2)


def chinchilla(n, d, E=0.002, A=9.0, alpha=0.8, B=300.0, beta=0.8):
    return E + A / n**alpha + B / d**beta


def _results(
    law=chinchilla,
    constant=None,
    seeds=3,
    widths=WIDTHS,
    budgets=BUDGETS,
    noise=0.01,
    rates=RATES,
    best_rate=1e-2,
    constant_rates=None,
):
    """Trials and curves as the experiment stores them: each cosine run's final loss is
    ``law(N, D)``, each constant-lr run's logged curve ``constant(N, D)`` (default: ``law``),
    with seeded multiplicative noise (``noise``: standard deviation of the log loss), at each
    peak rate of ``rates`` (constant-lr runs: ``constant_rates``, default the same) raised by a
    factor that grows with its distance from ``best_rate``."""
    constant = constant or law
    rng = np.random.default_rng(0)
    top = max(budgets)
    trials, curves = [], []
    for width in widths:
        n = models.count_mlp_params(co.AMBIENT, width)
        steps_max = co.steps_for(width, top, BATCH)
        logged = np.arange(1, co.N_LOGS + 1) * (steps_max // co.N_LOGS)
        for seed, lr in itertools.product(range(seeds), sorted({*rates, *(constant_rates or rates)})):
            untuned = 1 + abs(np.log10(lr / best_rate))
            base = {"width": width, "n_params": n, "batch": BATCH, "seed": seed, "lr": lr, "status": "ok"}
            base["max_compute"] = top
            for budget in budgets if lr in rates else []:
                steps = int(co.decay_steps(width, budget, BATCH))
                loss = untuned * law(n, steps * BATCH) * np.exp(noise * rng.standard_normal())
                trials.append(
                    base
                    | {"trial_id": f"c{width}s{seed}b{budget:.3g}r{lr:g}", "cosine": True, "budget": budget}
                    | {"steps": steps, "examples": steps * BATCH, "test_mse": loss}
                )
            if lr not in (constant_rates or rates):
                continue
            tid = f"k{width}s{seed}r{lr:g}"
            values = untuned * constant(n, logged * BATCH) * np.exp(noise * rng.standard_normal(logged.size))
            trials.append(
                base
                | {"trial_id": tid, "cosine": False, "budget": top, "steps": steps_max}
                | {"examples": steps_max * BATCH, "test_mse": values[-1]}
            )
            curves.append(
                pd.DataFrame({"trial_id": tid, "step": logged, "split": "test", "metric": "mse", "value": values})
            )
    return Results(
        pd.DataFrame(trials), pd.concat(curves, ignore_index=True), pd.DataFrame(), "scaling_compute_optimal", "test"
    )


def test_chinchilla_law_passes_every_check():
    res = _results()
    assert co.check_u_shape(res).status == "supported"
    v = co.check_agreement(res)
    assert v.status == "supported" and v.measured == pytest.approx(0.0, abs=0.05)
    assert co.check_extrapolation(res).status == "supported"
    p = co.Pipeline(res)
    # Hoffmann et al.: N_opt ∝ C^(beta / (alpha + beta)) = C^0.5 for equal exponents.
    assert p.exponent(p.grid(p.table, 0)) == pytest.approx(0.5, abs=0.1)
    assert p.law_exponent(p.law(p.grid(p.table, 0))) == pytest.approx(0.5, abs=0.02)


@falsifies("scaling_compute_optimal", "isoflop_u_shape")
def test_loss_without_size_dependence_has_no_interior_optimum():
    assert co.check_u_shape(_results()).status == "supported"  # Chinchilla: a valley at every budget
    # Only data matters: the smallest model (most examples at fixed C) always wins.
    res = _results(law=lambda n, d: 0.002 + 300.0 / d**0.8)
    assert co.check_u_shape(res).status == "refuted"
    assert co.check_agreement(res).status == "inconclusive"  # no interior minimum to fit


def valley_moving_as(b):
    """A law whose IsoFLOP valley sits at N_opt(C) = n0 (C / c0)^b: a parabola in log N,
    which L = E + A/N^a + B/D^b cannot follow."""
    n0 = np.sqrt(models.count_mlp_params(co.AMBIENT, WIDTHS[0]) * models.count_mlp_params(co.AMBIENT, WIDTHS[-1]))
    c0 = np.sqrt(min(BUDGETS) * max(BUDGETS))

    def law(n, d):
        n_star = n0 * (co.FLOPS_PER_PARAM_EXAMPLE * n * d / c0) ** b
        return 0.01 * (1 + 0.5 * np.log(n / n_star) ** 2) * (1 + (c0 / (6 * n * d)) ** 0.3)

    return law


@falsifies("scaling_compute_optimal", "approaches_agree")
def test_minima_that_the_additive_law_cannot_place_fail_agreement():
    assert co.check_agreement(_results()).status == "supported"
    v = co.check_agreement(_results(law=valley_moving_as(0.9)))
    assert v.status == "refuted", v


@falsifies("scaling_compute_optimal", "law_extrapolates")
def test_broken_trend_at_large_compute_fails_extrapolation():
    assert co.check_extrapolation(_results()).status == "supported"  # the same law throughout
    cut = np.sqrt(BUDGETS[3] * BUDGETS[4])  # between the fitted and the held-out budgets

    def law(n, d):
        base = chinchilla(n, d)
        return np.where(6 * n * d > cut, base * 0.5, base)  # a sudden 2x drop late

    assert co.check_extrapolation(_results(law=law)).status == "refuted"


@falsifies("scaling_compute_optimal", "constant_schedule_bias")
def test_constant_checkpoints_without_bias_fail_the_contrast():
    # Checkpoints that follow the cosine runs' law: no bias, the difference straddles 0 or is below it.
    assert co.check_schedule_bias(_results()).status != "supported"
    # Checkpoints whose loss falls faster with data (beta 1.6): the optimum grows as C^(1.6/2.4).
    res = _results(constant=lambda n, d: chinchilla(n, d, beta=1.6, B=3e5))
    v = co.check_schedule_bias(res)
    assert v.status == "supported" and v.measured > 0.1, v
    # ... and with slower-falling checkpoints (beta 0.4) the contrast is refuted.
    assert co.check_schedule_bias(_results(constant=lambda n, d: chinchilla(n, d, beta=0.4, B=3.0))).status == "refuted"


def test_each_cell_takes_its_best_rate_and_a_best_rate_at_an_edge_leaves_every_verdict_inconclusive():
    res = _results(seeds=2)
    p = co.Pipeline(res)
    cos = res.trials[res.trials["cosine"]]
    med = cos.assign(v=np.log(cos["test_mse"])).groupby(["budget", "n_params", "lr"])["v"].median()
    best = med.groupby(level=["budget", "n_params"]).min().unstack()
    np.testing.assert_allclose(p.grid(p.table, 0), best.to_numpy())
    assert set(p.best_rates(0)) == set(p.best_rates(1)) == {1e-2}
    checks = (co.check_u_shape, co.check_agreement, co.check_extrapolation, co.check_schedule_bias)
    assert all("learning rates" not in check(res).explanation for check in checks)
    # the best rate at the top of the swept rates: the tuned loss may lie beyond them
    for untuned in (_results(best_rate=3e-2), _results(rates=(1e-2,))):
        for check in checks:
            v = check(untuned)
            assert v.status == "inconclusive" and "edge of the swept learning rates" in v.explanation, v
            assert np.isfinite(v.measured), v  # still measured
    # each schedule's cells are judged against its own rates: constant-lr runs swept at lower
    # rates, whose best is their top one, leave only the contrast that reads them inconclusive
    res = _results(constant_rates=(1e-3, 3e-3, 1e-2))
    assert "constant-lr cells" in co.check_schedule_bias(res).explanation
    assert all("learning rates" not in check(res).explanation for check in checks[:3])


def test_widths_and_budgets_in_no_preset_get_computed_verdicts():
    off = [6, 10, 17, 30, 52, 90, 160, 300]
    budgets = co._budgets(300, 1200, 6)
    in_presets = {t.params["width"] for p in co.PRESETS for t in sweep.plan(co.EXPERIMENT, p).trials}
    assert not set(off) & in_presets
    res = _results(widths=off, budgets=budgets)
    for check in (co.check_u_shape, co.check_agreement, co.check_extrapolation, co.check_schedule_bias):
        v = check(res)
        assert np.isfinite(v.measured) and v.interval is not None and np.all(np.isfinite(v.interval)), v
    assert co.check_agreement(res).status == "supported"


def test_checks_inconclusive_on_empty_tables():
    res = Results(
        pd.DataFrame({"trial_id": ["a"], "status": ["ok"], "width": [8], "n_params": [100], "batch": [BATCH]}),
        pd.DataFrame(columns=["trial_id", "step", "split", "metric", "value"]),
        pd.DataFrame(),
    )
    for check in (co.check_u_shape, co.check_agreement, co.check_extrapolation, co.check_schedule_bias):
        assert check(res).status == "inconclusive"


def test_one_program_per_width_and_every_cosine_run_decays_within_it():
    for name in ("demo", "paper"):
        plan = sweep.plan(co.EXPERIMENT, name)
        widths = {t.params["width"] for t in plan.trials}
        assert len({(s.static.bucket, s.static.steps) for s in plan.shards}) == len(widths)
        for s in plan.shards:
            for t in s.trials:
                own = co.decay_steps(t.params["width"], t.params["budget"], BATCH)
                assert own <= s.static.steps * 1.01  # the largest budget's run ends at the program's end
                assert t.params["cosine"] or t.params["budget"] == t.params["max_compute"]


def test_cosine_schedule_decays_to_a_tenth_then_freezes():
    st = co.Static(d=4, batch=BATCH, n_test=16, bucket=16, steps=256)
    budget = co._compute(8, 100)
    hp = {"lr": np.float32(1.0), "width": np.int32(8), "budget": np.float32(budget), "cosine": np.bool_(True)}
    own = float(co.decay_steps(8, budget, BATCH))
    assert own == 100
    import jax.numpy as jnp
    import optax

    opt = co.task._optimizer(st)(hp)
    params = {"w": jnp.ones(3)}
    state = opt.init(params)
    rates = []
    for _ in range(102):
        grads = {"w": jnp.ones(3)}
        updates, state = opt.update(grads, state, params)
        rates.append(-float(updates["w"][0]))  # Adam's first normalised step is lr x 1
        params = optax.apply_updates(params, updates)
    assert rates[0] == pytest.approx(1.0, rel=1e-3)
    assert rates[99] == pytest.approx(co.FINAL_LR_FRACTION, rel=0.05) and rates[100] == 0.0 and rates[101] == 0.0


def test_the_figure_draws_when_too_few_sizes_leave_no_interior_minimum():
    import io

    import matplotlib.pyplot as plt

    from experiments.scaling_compute_optimal import plots

    for widths in (WIDTHS, [8, 64, 256]):  # three sizes: no budget has a minimum inside them
        figs = plots.plot(_results(widths=widths, seeds=1))
        for fig in figs.values():
            fig.savefig(io.BytesIO(), format="png")  # the drawing is where it failed
            plt.close(fig)
        assert figs
