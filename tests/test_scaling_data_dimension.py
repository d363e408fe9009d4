"""Data-dimension scaling: every check on hand-made tables that must pass and must fail."""

import numpy as np
import pandas as pd
import pytest

from experiments import scaling_data_dimension as sd
from physai import Results, sweep
from tests.falsification import falsifies

SIZES = [150, 300, 600, 1200, 2400, 4800]


def _rows(
    alpha_of=lambda d: 4 / d,
    relu2_alpha=None,
    relu2_offset=0.5,
    sick_alpha=0.0,
    sick_level=0.1,
    seeds=5,
    dims=sd.DIMENSIONS,
    compare_d=sd.COMPARE_D,
    two_nn_of=lambda d: d,
):
    """Trials with test MSE = c * N^-alpha times seeded log-normal noise (3% per run), and a
    two-NN dimension ``two_nn_of(d)`` with 2% noise per seed."""
    rng = np.random.default_rng(0)
    rows = []

    def add(arch, d, alpha, c, sizes=SIZES):
        for n in sizes:
            for seed in range(seeds):
                rows.append(
                    {
                        "arch": arch,
                        "d": d,
                        "n_params": n,
                        "seed": seed,
                        "test_mse": c * n**-alpha * np.exp(0.03 * rng.standard_normal()),
                        "two_nn_d": two_nn_of(d) * (1 + 0.02 * np.sin(seed + d)),
                    }
                )

    for d in dims:
        add("relu1", d, alpha_of(d), 0.05 * 150 ** alpha_of(d))
    a4 = alpha_of(compare_d)
    add("relu2", compare_d, a4 if relu2_alpha is None else relu2_alpha, relu2_offset * 0.05 * 150**a4)
    add("bottleneck", compare_d, sick_alpha, sick_level * 150**sick_alpha, sizes=[40, 100, 300, 800])
    trials = pd.DataFrame(rows)
    trials["status"] = "ok"
    return Results(trials, pd.DataFrame(), pd.DataFrame(), "scaling_data_dimension", "test")


def test_exponent_vs_dimension_passes_on_four_over_d():
    v = sd.check_exponent_vs_dimension(_rows())
    assert v.status == "supported"
    a, lo, hi = sd.exponent(_rows().trials.query("arch == 'relu1' and d == 8"))
    assert a == pytest.approx(0.5, abs=0.01) and lo <= a <= hi


@pytest.mark.parametrize(
    "alpha_of",
    [
        lambda d: {2: 0.5, 4: 1.0, 8: 2.0}[d],  # rises with d: slope +1
        lambda d: 2 / np.sqrt(d),  # falls, but only half as fast: slope -0.5
        lambda d: 0.5,  # the same exponent for every d: slope 0
        lambda d: {2: 1.2, 4: 1.4, 8: 0.5}[d],  # not monotone: least-squares slope ~ -0.63
    ],
)
@falsifies("scaling_data_dimension", "exponent_vs_dimension")
def test_exponent_vs_dimension_fails(alpha_of):
    assert sd.check_exponent_vs_dimension(_rows()).status == "supported"  # alpha = 4/d exactly
    assert sd.check_exponent_vs_dimension(_rows(alpha_of=alpha_of)).status == "refuted"


def test_exponent_vs_dimension_tests_the_dependence_not_the_constant():
    # alpha = 4/(3d): the constant is off by 3x but alpha ∝ 1/d: the slope is -1.
    v = sd.check_exponent_vs_dimension(_rows(alpha_of=lambda d: 4 / d / 3))
    assert v.status == "supported" and "4/d = 0.50" in v.explanation
    assert sd.dimension_slope(_rows().trials.query("arch == 'relu1'")) == pytest.approx(-1.0, abs=0.02)


@falsifies("scaling_data_dimension", "intrinsic_dimension")
def test_intrinsic_dimension_check_fails_when_the_inputs_have_another_dimension():
    assert sd.check_intrinsic_dimension(_rows()).status == "supported"
    assert sd.check_intrinsic_dimension(_rows(two_nn_of=lambda d: 0.7 * d)).status == "refuted"
    no_column = Results(_rows().trials.drop(columns="two_nn_d"), pd.DataFrame(), pd.DataFrame())
    assert sd.check_intrinsic_dimension(no_column).status == "inconclusive"


def test_two_nn_estimator_reads_the_dimension_of_embedded_data():
    rng = np.random.default_rng(0)
    for d in (2, 5):
        embed = np.linalg.qr(rng.standard_normal((16, d)))[0]
        x = rng.uniform(size=(3000, d)) @ embed.T
        assert sd.two_nn_dimension(x) == pytest.approx(d, rel=0.1)
    assert sd.input_dimension(4, 0) == pytest.approx(4, rel=sd.DIM_TOL)


def test_unconverged_runs_void_a_verdict_only_when_it_rests_on_them():
    res = _rows()
    trials = res.trials.assign(converged=True)
    at_4 = trials.index[(trials["arch"] == "relu1") & (trials["d"] == 4)]
    trials.loc[at_4[0], "converged"] = False  # one relu1 run at d = 4 (both checks use it)
    late = Results(trials, res.curves, res.shards)
    for check in (sd.check_exponent_vs_dimension, sd.check_architecture_universal):
        v = check(late)  # the converged runs alone give the same verdict: it stands
        assert v.status == "supported" and "1 of" in v.explanation and "same verdict" in v.explanation
    assert sd.check_sick_plateaus(late).status == "supported"  # the bottleneck runs had converged
    # the largest relu1 nets at d = 8, still moving, sit above the law: with them refuted, without
    # them supported, so the verdict rests on them
    top = (trials["arch"] == "relu1") & (trials["d"] == 8) & (trials["n_params"] >= 2400)
    trials = trials.assign(test_mse=trials["test_mse"].where(~top, trials["test_mse"] * 3), converged=~top)
    moving = Results(trials.assign(converged=True), res.curves, res.shards)
    assert sd.check_exponent_vs_dimension(moving).status == "refuted"
    v = sd.check_exponent_vs_dimension(Results(trials, res.curves, res.shards))
    assert v.status == "inconclusive" and "10 of" in v.explanation and "had not converged" in v.explanation
    # a bottleneck run still moving: the plateau verdict is rechecked without it
    trials = res.trials.assign(converged=True)
    sick = trials.index[trials["arch"] == "bottleneck"]
    trials.loc[sick[0], "converged"] = False
    v = sd.check_sick_plateaus(Results(trials, res.curves, res.shards))
    assert v.status == "supported" and "same verdict" in v.explanation


def test_dimensions_in_no_preset_get_computed_verdicts():
    # The checks use the d values the table holds: d = 3 and 6 (in no preset), with the
    # architectures compared at d = 6, give measured verdicts, decided as the law says.
    preset_dims = {t.params["d"] for p in sd.PRESETS for t in sweep.plan(sd.EXPERIMENT, p).trials}
    assert not {3, 6} & preset_dims
    res = _rows(dims=(3, 6), compare_d=6)
    verdicts = [
        check(res)
        for check in (sd.check_exponent_vs_dimension, sd.check_architecture_universal, sd.check_sick_plateaus)
    ]
    for v in verdicts:
        assert v.status == "supported" and "n/a" not in v.measured_text(), v
    assert "d = 3" in verdicts[0].explanation and "(d=6)" in verdicts[1].measured_text()
    # the same exponent at d = 3 and 6: no dependence on d, refuted
    assert sd.check_exponent_vs_dimension(_rows(alpha_of=lambda d: 0.5, dims=(3, 6), compare_d=6)).status == "refuted"


def test_architecture_check_passes_same_exponent_different_offset():
    assert sd.check_architecture_universal(_rows()).status == "supported"
    assert sd.offset_ratio(
        _rows().trials.query("arch == 'relu1' and d == 4"), _rows().trials.query("arch == 'relu2'")
    ) == pytest.approx(2.0, rel=0.05)


@falsifies("scaling_data_dimension", "architecture_universal")
def test_architecture_check_fails_on_different_exponent_or_identical_offset():
    assert sd.check_architecture_universal(_rows()).status == "supported"  # same alpha, offsets 2x apart
    assert sd.check_architecture_universal(_rows(relu2_alpha=1.3)).status == "refuted"
    assert sd.check_architecture_universal(_rows(relu2_offset=1.0)).status == "refuted"


@falsifies("scaling_data_dimension", "sick_plateaus")
def test_sick_check_passes_on_plateau_and_fails_on_a_scaling_student():
    assert sd.check_sick_plateaus(_rows()).status == "supported"
    assert sd.check_sick_plateaus(_rows(sick_alpha=0.5)).status == "refuted"
    # Flat but no worse than the healthy student: not the "sick" plateau.
    assert sd.check_sick_plateaus(_rows(sick_level=1e-4)).status == "refuted"


def test_checks_inconclusive_without_their_trials():
    res = _rows()
    only_relu1 = Results(res.trials[res.trials["arch"] == "relu1"], res.curves, res.shards)
    assert sd.check_architecture_universal(only_relu1).status == "inconclusive"
    assert sd.check_sick_plateaus(only_relu1).status == "inconclusive"


def _with_lrs(res: Results, bad_arch="relu2", bad_alpha=0.5, bad_val=2.0) -> Results:
    """Adds a second learning rate to every trial: the original rows (lr 1e-2, val = test)
    and, for ``bad_arch``, rows at lr 3e-2 whose curve has exponent ``bad_alpha`` and whose
    validation loss is ``bad_val`` times their test loss; other archs get a copy 10% worse."""
    good = res.trials.assign(lr=1e-2)
    good = good.assign(val_mse=good["test_mse"])
    other = good.copy()
    other["lr"] = 3e-2
    bad = other["arch"] == bad_arch
    n = other.loc[bad, "n_params"]
    base = good.loc[bad, "test_mse"]
    # crosses the good curve at the smallest size, then falls with exponent bad_alpha
    other.loc[bad, "test_mse"] = base.iloc[0] * (n / n.min()) ** -bad_alpha * 0.9
    other.loc[bad, "val_mse"] = other.loc[bad, "test_mse"] * bad_val
    other.loc[~bad, ["test_mse", "val_mse"]] *= 1.1
    return Results(pd.concat([good, other], ignore_index=True), res.curves, res.shards)


def test_tune_lr_keeps_the_best_validation_run_per_size_and_seed():
    res = _with_lrs(_rows())
    tuned = sd.tune_lr(res.trials)
    assert len(tuned) == len(res.trials) // 2
    assert tuned.groupby(["arch", "d", "n_params", "seed"]).size().max() == 1
    assert (tuned["lr"] == 1e-2).all()  # the 3e-2 copies validate worse
    # a table with one rate (or without val_mse) is left as it is
    assert len(sd.tune_lr(_rows().trials)) == len(_rows().trials)


def test_architecture_check_uses_the_tuned_rate():
    # lr 3e-2 gives relu2 a flat curve, but its validation loss is worse: tuning drops it
    assert sd.check_architecture_universal(_with_lrs(_rows(), bad_val=2.0)).status == "supported"
    # if validation preferred the flat runs, the exponents would differ: refuted
    assert sd.check_architecture_universal(_with_lrs(_rows(), bad_val=1e-3)).status == "refuted"


def test_presets_span_one_and_a_half_decades():
    for name in ("demo", "paper"):
        params = [t.params for t in sweep.plan(sd.EXPERIMENT, name).trials]
        widths = sorted({p["width"] for p in params if p["arch"] == "relu1"})
        assert widths[-1] / widths[0] >= 10**1.5 - 1e-9
        assert {p["d"] for p in params if p["arch"] == "relu1"} == set(sd.DIMENSIONS)


def test_bottleneck_has_fewer_parameters_and_statics_share_compiled_widths():
    assert sd.n_params("bottleneck", 8) < sd.n_params("relu1", 8)
    st = sd.Static.from_params(
        {"arch": "relu2", "width": 23, "d": 4, "steps": 100, "batch": 256, "n_test": 4096, "lr": 1e-2, "seed": 0}
    )
    assert st.bucket == 64 and st.arch == "relu2" and st.d == 4


def test_fourier_teacher_has_unit_variance_at_every_d_and_is_evaluated_block_by_block():
    import jax

    from physai.curricula import manifold

    for d in (2, 8):
        key = jax.random.key(sd.TEACHER_SEED + d)
        teacher = manifold.fourier_teacher_params(key, d, sd.AMBIENT, 256, 1.0)
        # the same embedding as the tanh teacher of the same key: the inputs do not change
        assert np.allclose(teacher["embed"], manifold.manifold_teacher_params(key, d, sd.AMBIENT, 8)["embed"])
        x, y = manifold.manifold_samples(jax.random.key(1), teacher, 5000)  # > one block: padded, mapped
        assert x.shape == (5000, sd.AMBIENT) and float(np.var(y)) == pytest.approx(1.0, rel=0.15)
        z = np.asarray(x) @ np.asarray(teacher["embed"])
        direct = np.cos(z @ np.asarray(teacher["omega"]) + np.asarray(teacher["phase"])) @ np.asarray(teacher["a"])
        assert np.allclose(np.asarray(y), direct * np.sqrt(2 / 256), atol=1e-3)
