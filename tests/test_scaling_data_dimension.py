"""Data-dimension scaling: every check on hand-made tables that must pass and must fail."""

import pandas as pd
import pytest

from experiments import scaling_data_dimension as sd
from physai import Results, sweep
from tests.falsification import falsifies

SIZES = [150, 300, 600, 1200, 2400, 4800]


def _rows(alpha_of=lambda d: 4 / d, relu2_alpha=None, relu2_offset=0.5, sick_alpha=0.0, sick_level=0.1, seeds=2):
    """Trials with test MSE = c * N^-alpha (tiny deterministic jitter over seeds)."""
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
                        "test_mse": c * n**-alpha * (1 + 0.02 * (seed - 0.5)),
                    }
                )

    for d in sd.DIMENSIONS:
        add("relu1", d, alpha_of(d), 0.05 * 150 ** alpha_of(d))
    a4 = alpha_of(4)
    add("relu2", 4, a4 if relu2_alpha is None else relu2_alpha, relu2_offset * 0.05 * 150**a4)
    add("bottleneck", 4, sick_alpha, sick_level * 150**sick_alpha, sizes=[40, 100, 300, 800])
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
        lambda d: 0.5,  # the same exponent for every d: does not fall
        lambda d: 4 / d / 3,  # falls, but 4/alpha = 3d: outside +-50%
        lambda d: {2: 1.2, 4: 1.4, 8: 0.5}[d],  # within +-50% of d for d >= 4 but not monotone
    ],
)
@falsifies("scaling_data_dimension", "exponent_vs_dimension")
def test_exponent_vs_dimension_fails(alpha_of):
    assert sd.check_exponent_vs_dimension(_rows()).status == "supported"  # alpha = 4/d exactly
    assert sd.check_exponent_vs_dimension(_rows(alpha_of=alpha_of)).status == "refuted"


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
