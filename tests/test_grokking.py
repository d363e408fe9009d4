"""Grokking: event extraction on synthetic curves, every check on hand-made tables that must
pass and must fail, the curriculum and Fourier probe."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pandas as pd
import pytest

from experiments import grokking as gk
from physai import Results
from physai.curricula.arithmetic import modular_arithmetic, multidigit_addition
from physai.probes.fourier import fourier_basis, fourier_sparsity, gini
from tests.falsification import falsifies


def _results(rows) -> Results:
    trials = pd.DataFrame(rows)
    trials["status"] = "ok"
    return Results(trials, pd.DataFrame(), pd.DataFrame(), "grokking", "test")


# ----------------------------------------------------------------------------- library


def test_modular_arithmetic_split_and_labels():
    d = modular_arithmetic(jax.random.key(0), 7, 0.3)
    x, y = np.asarray(d["x_train"]), np.asarray(d["y_train"])
    assert x.shape == (49, 2) and len({tuple(r) for r in x}) == 49  # every pair once
    assert np.all(y == (x[:, 0] + x[:, 1]) % 7)
    assert d["train_mask"].sum() == round(0.3 * 49)
    assert np.all(np.asarray(d["train_mask"] + d["test_mask"]) == 1)


def test_multidigit_addition_answers():
    d = multidigit_addition(jax.random.key(1), 3, 50, 10)
    x, y = np.asarray(d["x_train"]), np.asarray(d["y_train"])
    val = lambda digits: digits @ np.array([100, 10, 1])
    assert np.all(val(y) == (val(x[:, :3]) + val(x[:, 3:])) % 1000)


def test_fourier_sparsity_separates_one_frequency_from_noise():
    p = 31
    basis = fourier_basis(p)
    assert np.allclose(basis @ basis.T, np.eye(p), atol=1e-5)
    t = np.arange(p)
    pure = np.stack([np.cos(2 * np.pi * 3 * t / p), np.sin(2 * np.pi * 3 * t / p)], 1)
    s_pure = fourier_sparsity(jnp.asarray(pure, jnp.float32), p)
    s_noise = fourier_sparsity(jax.random.normal(jax.random.key(0), (p, 64)), p)
    assert s_pure["gini"] > 0.9 and float(s_pure["effective_frequencies"]) == pytest.approx(1, abs=1e-3)
    assert s_noise["gini"] < 0.3 and s_noise["effective_frequencies"] > 10
    assert float(gini(jnp.ones(5))) == pytest.approx(0.0, abs=1e-6)


def test_one_layer_transformer_reads_only_the_past():
    from physai.models.transformer import OneLayerTransformer, with_equals_token

    p = 7
    model = OneLayerTransformer(p + 1, p, d_model=16, n_heads=2, d_mlp=32)
    x = with_equals_token(jnp.array([[1, 2], [3, 4]], jnp.int32), p)
    assert x.shape == (2, 3) and int(x[0, 2]) == p
    params = model.init(jax.random.key(0), x)["params"]
    logits = model.apply({"params": params}, x)
    assert logits.shape == (2, p) and np.isfinite(np.asarray(logits)).all()
    # the prediction at "=" depends on both operands
    other = model.apply({"params": params}, x.at[0, 0].set(5))
    assert not np.allclose(np.asarray(other[0]), np.asarray(logits[0]))


# ----------------------------------------------------------------------------- events


def _curves(t_mem=200, t_grok=2000, steps=4000, every=50):
    s = np.arange(0, steps + 1, every, dtype=float)
    train = np.clip(s / t_mem, 0, 1)
    test = 1 / (1 + np.exp(-(s - t_grok + 150) / 40))
    norm = np.where(s < t_mem, 15 + s / t_mem * 45, 60 - 20 * np.clip((s - t_mem) / (steps - t_mem), 0, 1))
    g = 0.05 + 0.5 * np.clip((s - t_mem) / (steps - t_mem), 0, 1)
    return s, {"train_acc": train, "test_acc": test, "weight_norm": norm, "fourier_gini": g}


def test_trial_events_on_a_synthetic_grokking_run():
    s, c = _curves()
    ev = gk.trial_events(s, c, 1 / 59)
    assert ev["grokked"] and ev["steps_to_memorise"] == pytest.approx(198, abs=2)
    assert 1900 < ev["steps_to_grok"] < 2100 and ev["grok_ratio"] > 9
    assert ev["norm_at_grok"] < ev["norm_peak"]
    # test accuracy leaves chance (1/59) after step 1650, where the Gini is at 0.241 of 0.05 -> 0.55
    assert ev["gini_pre_jump"] == pytest.approx(0.05 + 0.5 * 1450 / 3800)
    assert ev["early_rise"] == pytest.approx((0.5 * 1450 / 3800) / 0.5)


def test_trial_events_without_grokking():
    s, c = _curves()
    c["test_acc"] = np.full_like(s, 0.1)
    ev = gk.trial_events(s, c, 1 / 59)
    assert not ev["grokked"] and math.isnan(ev["steps_to_grok"]) and math.isnan(ev["early_rise"])


# ----------------------------------------------------------------------------- checks


SEEDS = 5  # enough for the seed-bootstrap interval to decide a clear-cut table


def _rows(
    fracs=(0.5, 0.6, 0.7),
    seeds=SEEDS,
    grok_steps=None,
    ratio=lambda f: 6 / f**2,
    wd0_grok=False,
    wd0_slower=1.0,
    norm_ratio=0.8,
    norm_fall=0.8,
    wd0_fall=1.0,
    early=0.5,
    grok_wd1=True,
    weight_decays=(0.0, 1.0),
):
    """A trials table with seeded noise around the given per-run values (``ratio``: step(test) / step(train),
    a number or a function of the fraction, by default falling from 24 at 0.5; ``wd0_grok``: the
    weight-decay-0 runs grok, ``wd0_slower`` times later than the weight-decay runs)."""
    rng = np.random.default_rng(0)
    grok_steps = grok_steps or {0.5: 3000, 0.6: 2000, 0.7: 1000}
    rows = []
    for f in fracs:
        for wd in weight_decays:
            for s in range(seeds):
                grokked = wd0_grok if wd == 0 else grok_wd1
                slower = wd0_slower if wd == 0 else 1.0
                t = float(grok_steps[f] * slower * (1 + 0.05 * rng.standard_normal())) if grokked else float("nan")
                r = ratio(f) if callable(ratio) else ratio
                peak = 60.0 + rng.normal(0, 3)
                at_grok = peak * min(1.0, norm_ratio + 0.03 * rng.standard_normal())
                rows.append(
                    {
                        "train_fraction": f,
                        "weight_decay": wd,
                        "seed": s,
                        "steps": 4000,
                        "steps_to_memorise": 200.0,
                        "grokked": grokked,
                        "steps_to_grok": t,
                        "grok_ratio": r * (1 + 0.1 * rng.standard_normal()) if grokked else float("nan"),
                        "test_acc": 1.0 if grokked else rng.uniform(0, 0.3),
                        "norm_peak": peak,
                        "norm_at_grok": at_grok,
                        "norm_final": peak * min(1.0, (wd0_fall if wd == 0 else norm_fall) + 0.02 * rng.normal()),
                        "norm_max_after_memorise": peak,
                        "early_rise": early + 0.05 * rng.standard_normal(),
                        "gini_at_memorise": 0.1,
                        "gini_pre_jump": 0.3,
                        "gini_final": 0.5,
                    }
                )
    return rows


def test_checks_pass_on_a_grokking_table():
    res = _results(_rows())
    for h in gk.HYPOTHESES:
        v = h.evaluate(res)
        assert v.status == "supported", (h.name, v.measured_text(), v.explanation)


@falsifies(
    "grokking",
    "grokking_delay",
    "weight_decay_accelerates_generalisation",
    "more_data_groks_sooner",
    "weight_norm_falls",
    "fourier_sparsity_rises_first",
)
@pytest.mark.parametrize(
    "hypothesis,kwargs",
    [
        # test follows train closely at the smallest fraction (4x), less so with more data
        ("grokking_delay", {"ratio": {0.5: 4.0, 0.6: 3.0, 0.7: 2.0}.get}),
        # a long delay at the smallest fraction, but it grows with the fraction
        ("grokking_delay", {"ratio": {0.5: 12.0, 0.6: 20.0, 0.7: 30.0}.get}),
        ("grokking_delay", {"grok_wd1": False}),  # no weight-decay run groks
        # without weight decay the runs generalise, in half the steps
        ("weight_decay_accelerates_generalisation", {"wd0_grok": True, "wd0_slower": 0.5}),
        # no run generalises within the budget, with or without weight decay: no acceleration to see
        ("weight_decay_accelerates_generalisation", {"grok_wd1": False}),
        ("more_data_groks_sooner", {"grok_steps": {0.5: 1000, 0.6: 2000, 0.7: 3000}}),  # more data, later
        ("more_data_groks_sooner", {"grok_steps": {0.5: 3000, 0.6: 1000, 0.7: 2000}}),  # not monotone
        # with weight decay the norm ends at its peak while without it falls: the claim reversed
        ("weight_norm_falls", {"norm_fall": 1.0, "wd0_fall": 0.8}),
        ("fourier_sparsity_rises_first", {"early": 0.05}),  # the Gini rises only with the jump
    ],
)
def test_checks_are_refuted_when_the_claim_is_false_and_supported_when_it_holds(hypothesis, kwargs):
    h = {h.name: h for h in gk.HYPOTHESES}[hypothesis]
    assert h.evaluate(_results(_rows())).status == "supported"
    v = h.evaluate(_results(_rows(**kwargs)))
    assert v.status == "refuted", (v.measured_text(), v.explanation)


def test_verdicts_carry_a_seed_bootstrap_interval():
    for h in gk.HYPOTHESES:
        v = h.evaluate(_results(_rows()))
        parts = v.measured if isinstance(v.measured, str) else v.measured_text()
        assert f"(n = {SEEDS})" in parts and "n/a" not in parts, (h.name, parts)


def test_a_borderline_table_is_inconclusive_not_decided_by_its_median():
    # Decayed and no-decay norms fall alike, with seed-to-seed spread: the interval straddles 0.
    v = gk.check_weight_norm_falls(_results(_rows(norm_fall=0.99, wd0_fall=0.99)))
    assert v.status == "inconclusive" and v.interval[0] < 0 < v.interval[1], v.measured_text()


def test_off_preset_values_get_a_computed_verdict():
    # Train fractions and a weight decay that no preset contains: every check reads the grid it is given.
    steps = {0.42: 3500, 0.77: 1500, 0.93: 600}
    res = _results(_rows(fracs=tuple(steps), grok_steps=steps, weight_decays=(0.0, 0.3)))
    for h in gk.HYPOTHESES:
        v = h.evaluate(res)
        assert v.status == "supported" and "n/a" not in v.measured_text(), (h.name, v.measured_text())


def test_progress_checks_only_read_delayed_runs():
    # Runs that generalise together with memorisation (ratio < 3) have no transition to
    # look across: the norm and Fourier checks ignore them.
    res = _results(_rows(ratio=2.0, norm_fall=1.0, early=0.0))
    assert gk.check_weight_norm_falls(res).status == "inconclusive"
    assert gk.check_fourier_first(res).status == "inconclusive"


def test_fewer_than_three_fractions_is_inconclusive():
    assert gk.check_more_data_sooner(_results(_rows(fracs=(0.5, 0.7)))).status == "inconclusive"


def test_a_fraction_that_never_groks_counts_as_slowest_not_dropped():
    # The smallest fraction never groks within the budget: its median steps-to-grok is infinite, which must
    # rank as the slowest (rho = -1), and its delay counts as budget / step(train) = 20, a lower bound.
    rows = [{**r, "grokked": False, "steps_to_grok": math.nan} if r["train_fraction"] == 0.5 else r for r in _rows()]
    assert gk.check_more_data_sooner(_results(rows)).status == "supported"
    v = gk.check_grokking_delay(_results(rows))
    assert "delay(f=0.5): median ratio 20 " in v.measured_text(), v.measured_text()
