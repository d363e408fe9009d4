"""Every registered experiment, end to end at its ``tiny`` preset, through the one pipeline.

One test parametrised over ``physai.registry.names()``: the ``tiny`` preset runs
(seconds), every trial is stored ``ok`` or ``diverged`` (none failed), every
hypothesis gets a verdict named after it, ``verdicts.json`` is written, and the
figures are drawn and saved. Each tiny run adds a value no preset contains
(``OFF_PRESET``, as ``--set`` would) and every hypothesis must measure something for
it: checks follow the grid, not the presets' values. ``MECHANICS`` adds what each experiment's set-up
guarantees at any scale (an interpolating min-norm solution, a probe that agrees
with its twin, nested exact-match events): if one fails, the set-up broke.
A new experiment needs no entry here to be tested.

The slow test re-runs each ``paper`` preset and checks that every verdict is the
stored reference's (``results/reference``): ``make reproduce``.
"""

import importlib
import json
from pathlib import Path

import numpy as np
import pytest

from physai import pipeline, registry
from physai.experiment import STATUSES
from tests.conftest import REPO

NAMES = registry.names()


def _module(name):
    return importlib.import_module(registry.load(name).module)


def _width_minima(res, m):
    med = res.ok.groupby("width")["train_rel_mse"].median()
    assert med.loc[16] < med.loc[4]  # a wider student fits the training set better


def _grokking(res, m):
    assert (res.trials["train_acc"] > 0.9).all()  # p = 23 is memorised within the budget
    assert {"acc", "weight_norm", "fourier_gini"} <= set(res.curves["metric"])


def _mirage(res, m):
    t = res.trials.sort_values("width")
    assert t["n_params"].is_monotonic_increasing
    em = t[[f"test_exact_match_L{L}" for L in m.LENGTHS]].to_numpy()
    assert (np.diff(em, axis=1) <= 1e-9).all()  # exact match can only fall with L


def _mode_connectivity(res, m):
    ok = res.ok
    assert (ok["linear_barrier"] >= 0).all() and (ok["bezier_barrier"] >= 0).all()
    assert (ok["bezier_barrier"] < ok["linear_barrier"]).all()
    paths = res.curves[res.curves["metric"] == "linear_path_loss"]
    assert len(paths) == 2 * len(ok) * m.PATH_POINTS  # train and test profiles
    assert set(res.curves["metric"]) >= {"linear_path_error", "bezier_path_error"}  # error along both paths


def _edge_of_stability(res, m):
    sharp = res.curves[res.curves["metric"] == "sharpness"]
    assert (sharp["value"] > 0).all()
    assert np.allclose(res.ok["final_sharpness"], res.ok["final_lanczos"], rtol=0.05)
    assert {"edge_median", "loss_up_fraction", "catapult_peak"} <= set(res.ok.columns)


def _residual_landscape(res, m):
    ok = res.ok
    assert ((ok["roughness"] >= 0) & (ok["roughness"] < 1)).all()
    slices = res.curves[res.curves["metric"] == "slice_loss"]
    assert len(slices) == len(ok) * m.SLICE_POINTS**2
    for _, row in ok.iterrows():  # the slice is centred on the trained parameters
        s = slices[slices["trial_id"] == row["trial_id"]].sort_values("step")["value"].to_numpy()
        centre = s[(m.SLICE_POINTS**2) // 2]
        assert centre == pytest.approx(row["slice_centre_loss"], rel=1e-6)
        assert centre < np.median(s)


def _robustness_law(res, m):
    t = res.trials
    for col in ("lip_est", "lip_search", "lip_upper", "lip_floor", "max_residual"):
        assert np.isfinite(t[col]).all(), col
    assert (t["lip_search"] >= t["lip_est"] * (1 - 1e-6)).all()  # search starts at the samples
    assert (t["lip_upper"] >= t["lip_search"] * (1 - 1e-4)).all()  # <= the spectral bound
    for _d, g in t.groupby("d"):  # the gradient penalty smooths the model and fits worse
        plain, pen = g[g["penalty"] == 0].iloc[0], g[g["penalty"] > 0].iloc[0]
        assert pen["lip_est"] < plain["lip_est"] and pen["max_residual"] > plain["max_residual"]


def _scaling_compute_optimal(res, m):
    smooth = m.smoothed_curves(res)
    for _width, g in smooth.groupby("width"):  # training lowers the test loss
        assert g.sort_values("step")["loss"].iloc[-1] < g.sort_values("step")["loss"].iloc[0]


def _scaling_data_dimension(res, m):
    n = res.trials.groupby(["arch", "width"])["n_params"].min()
    assert n[("bottleneck", 8)] < n[("relu1", 8)]


def _scaling_quanta(res, m):
    ok = res.ok.sort_values("width")
    assert ok["test_loss"].iloc[-1] < ok["test_loss"].iloc[0]  # bigger nets end lower
    largest = ok["trial_id"].iloc[-1]
    c = res.curves[(res.curves["trial_id"] == largest) & (res.curves["metric"] == m.acc_metric(0))]
    assert c.sort_values("step")["value"].iloc[-1] >= 0.9  # the most frequent task is learned


def _scaling_solvable(res, m):
    t = res.trials
    assert (t["loss"] >= t["noise_var"] * (1 - 1e-6)).all()  # never below the noise floor


def _sharp_flat(res, m):
    assert (res.ok["sharpness"] > 0).all()
    assert set(res.ok["batch_role"]) == {"small", "large"}


def _sparse_parity(res, m):
    assert res.trials["solved"].all()  # n <= 14, k = 3 is learned within the budget
    assert {"acc", "relevant_amplification"} <= set(res.curves["metric"])


def _dd_random_features(res, m):
    over = res.trials[res.trials["p"] > res.trials["n"]]  # min-norm interpolates past p = n
    assert (over.loc[over["ridge"] == 0, "train_mse"] < 1e-8).all()
    assert (over.loc[over["ridge"] > 0, "train_mse"] > 1e-6).all()


def _memorisation(res, module):
    lin = res.ok[res.ok["part"] == "linear"]
    assert len(lin) and (lin["final_residual_max"] < 1).all()  # gradient descent shrinks every mode's residual


def _init_criticality(res, m):
    crit = m.critical(m.layer_table(res), "relu")  # ReLU at C_W = 2 preserves E z^2 = K(1) = 2 exactly
    assert np.allclose(crit.groupby("layer")["m2"].mean(), 2.0, rtol=0.1)
    assert set(m.METRICS) <= set(res.curves["metric"])
    train = res.trials[res.trials["part"] == "train"]
    assert len(train) and train["train_acc"].between(0, 1).all()


def _data_quality(res, m):
    t = res.ok
    noise, prune, net = (t[t["part"] == p] for p in ("noise", "prune", "mlp"))
    assert np.allclose(noise["theory_error"], m.hebbian_error(noise["n_examples"] / noise["N"], noise["q"]))
    kept = np.maximum(1, np.round(prune["f"] * np.round(prune["alpha_total"] * prune["N"])))
    assert (prune["n_examples"] == kept).all()
    assert (net["stopped_step"] <= net["steps"]).all()
    cap = t[t["part"] == "capacity"]
    assert len(cap) and (cap["n_params"] == (cap["capacity_d"] + 2) * cap["width"] + 1).all()
    assert (cap["stopped_step"] <= cap["capacity_steps"]).all()


def _superposition(res, m):
    t = res.ok
    assert (t["n_represented"] <= t["n"]).all() and (t["dims_per_feature"] > 0).all()
    assert (t[t["part"] == "phase"]["exact_loss"] >= 0).all()
    # W = (1, 0), b = (0, p/2): the extra feature read as its mean, loss r (p/3 - p^2/4) exactly
    assert abs(m.exact_loss([1.0, 0.0], [0.0, 0.05], 2.0, 0.1) - 2.0 * (0.1 / 3 - 0.01 / 4)) < 1e-9


def _test_time_compute(res, m):
    c = res.curves.merge(res.ok[["trial_id", "mean_p", "n_samples", "pass1_large"]], on="trial_id")
    k1 = c[(c["metric"] == "fail_exact") & (c["step"] == 1)]
    assert np.allclose(k1["value"], 1 - k1["mean_p"])  # pass@1 is the mean success probability
    kn = c[(c["metric"] == "fail_hat") & (c["step"] == c["n_samples"])]
    assert len(kn) and (kn["value"] >= 0).all()  # k = n is on the grid
    t = res.ok
    assert (t["sample_ratio"] * t["flops_small"] <= t["flops_large"]).all()  # never more FLOPs than the large model's
    b1 = c[(c["metric"] == "trade_cov_exact_large") & (c["step"] == 1)]
    assert len(b1) and np.allclose(b1["value"], b1["pass1_large"])  # one large sample covers its pass@1


def _induction_heads(res, m):
    c = res.curves
    base = c[c["metric"] == "context_baseline"]["value"]
    assert ((base > 0) & (base < np.log(int(res.trials["vocab"].iloc[0])))).all()  # knowing the context beats uniform
    score = c[c["metric"] == "induction_score"]["value"]
    assert ((score >= 0) & (score <= 1 + 1e-6)).all()  # a share of attention mass


def _rl_verifiable_rewards(res, m):
    t = res.ok
    for model in ("base", "rl"):
        assert (t[f"{model}_passK_heldout"] >= t[f"{model}_pass1_heldout"] - 1e-9).all()  # pass@k rises with k
        assert t[f"{model}_pass1_heldout"].between(0, 1).all()


def _loss_predicts_capability(res, m):
    pts = m.points(res)
    start = pts[pts["step"] == 0]
    assert (start["capability"] - m.CHANCE).abs().max() < 0.15  # an untrained net is at chance on the benchmark
    assert set(pts["bench_rank"]) == set(res.ok["bench_rank"])  # every mixture logged its curves


MECHANICS = {
    "width_minima": _width_minima,
    "grokking": _grokking,
    "mirage": _mirage,
    "mode_connectivity": _mode_connectivity,
    "edge_of_stability": _edge_of_stability,
    "residual_landscape": _residual_landscape,
    "robustness_law": _robustness_law,
    "scaling_compute_optimal": _scaling_compute_optimal,
    "scaling_data_dimension": _scaling_data_dimension,
    "scaling_quanta": _scaling_quanta,
    "scaling_solvable": _scaling_solvable,
    "sharp_flat": _sharp_flat,
    "sparse_parity": _sparse_parity,
    "double_descent.random_features": _dd_random_features,
    "memorisation": _memorisation,
    "init_criticality": _init_criticality,
    "data_quality": _data_quality,
    "superposition": _superposition,
    "test_time_compute": _test_time_compute,
    "induction_heads": _induction_heads,
    "rl_verifiable_rewards": _rl_verifiable_rewards,
    "loss_predicts_capability": _loss_predicts_capability,
}


# Checks follow the grid: each tiny run puts at least one value that no preset contains
# into its grid (``--set``), and every hypothesis must still measure something.
OFF_PRESET = {
    "loss_predicts_capability": ["width=48,128"],
    "rl_verifiable_rewards": ["p=23"],
    "induction_heads": ["n_heads=4"],
    "test_time_compute": ["temperature=0.8", "width_large=24"],
    "superposition": ["density=1.0,0.2,0.005"],
    "init_criticality": ["width=48,96,192"],
    "data_quality": ["q=0,0.15", "alpha_total=0.7,20"],
    "memorisation": ["q=0.1,0.3,0.5"],
    "mode_connectivity": ["width=24"],
    "sharp_flat": ["batch=16,64", "lr=0.1"],
    "width_minima": ["width=4,10,16", "seed=0,1,2,3,4,5"],
    "edge_of_stability": ["lr=0.25", "seed=0,1"],
    "robustness_law": ["ratio=0.2"],
    "scaling_quanta": ["alpha=0.1", "steps=2000"],
    "scaling_compute_optimal": ["width=6,10,16,28,48,64"],
    "scaling_data_dimension": ["d=3,6"],
    "double_descent.linear": ["gamma=0.37,2.7"],
    "double_descent.random_features": ["p=25,60,100,130,400", "noise=0,0.3", "ridge=0,0.05"],
    "double_descent.mlp": ["width=2,5,12,32", "noise=0,0.3", "steps=600"],
    "residual_landscape": ["depth=3,5"],
    "grokking": ["train_fraction=0.8,0.85,0.9", "seed=0,1", "steps=800"],
    "sparse_parity": ["k=2,3", "n_bits=11,13,15"],
    "mirage": ["width=3,6,12,24,48", "max_width=48", "seed=0,1", "steps=800", "n_train=8192"],
    "scaling_solvable": ["M=160", "alpha=0.75", "size=4,6,8,10,12,40,160,640", "seed=0,1,2"],
}


def test_every_registered_experiment_is_tested_and_has_the_required_presets():
    assert len(NAMES) >= 14
    assert set(MECHANICS) <= set(NAMES), "MECHANICS names an experiment that does not exist"
    assert set(OFF_PRESET) == set(NAMES), f"no off-preset values for {sorted(set(NAMES) - set(OFF_PRESET))}"
    for name in NAMES:
        assert {"tiny", "demo", "paper"} <= set(registry.load(name).presets), name


# Half of the tiny runs are here and half in test_experiments_tiny.py, so that ``pytest -n 2
# --dist loadfile`` (which keeps a file on one worker) runs the two halves on both cores.
@pytest.mark.parametrize("name", NAMES[::2])
def test_tiny_preset_end_to_end(name, tmp_path):
    run_tiny_end_to_end(name, tmp_path)


def run_tiny_end_to_end(name, tmp_path):
    """The experiment's tiny preset with its off-preset values, end to end: every trial stored,
    every hypothesis measured, the verdicts saved, figures drawn and the set-up's mechanics."""
    import matplotlib.pyplot as plt

    overrides = OFF_PRESET.get(name, [])
    out = pipeline.run_experiment(name, "tiny", overrides, out=str(tmp_path), progress=False, debug=True)
    res, experiment = out.results, out.plan.experiment
    assert out.summary.failed == 0
    assert len(res.trials) == len(out.plan.trials)
    assert set(res.trials["status"]) <= {"ok", "diverged"}
    numeric = res.ok.select_dtypes("number")
    assert len(numeric.columns) and np.isfinite(numeric.to_numpy(float)).any()
    assert [v.hypothesis for v in out.verdicts] == [h.name for h in experiment.hypotheses]
    assert all(v.status in STATUSES for v in out.verdicts)
    _assert_off_preset(name, out)
    stored = json.loads(Path(out.verdicts_path).read_text())
    assert [r["hypothesis"] for r in stored] == [h.name for h in experiment.hypotheses]
    assert out.figures and all(p.stat().st_size > 0 for p in out.figure_paths)
    if name in MECHANICS:
        MECHANICS[name](res, _module(name))
    for fig in out.figures.values():
        plt.close(fig)


def _assert_off_preset(name, out):
    """A value no preset holds is in the grid, and every check measured something for it."""
    from physai import sweep

    experiment = out.plan.experiment
    preset_values = {
        (k, repr(v)) for p in experiment.presets for t in sweep.plan(experiment, p).trials for k, v in t.params.items()
    }
    run_values = {(k, repr(v)) for t in out.plan.trials for k, v in t.params.items() if k != "seed"}
    assert run_values - preset_values, f"{name}: OFF_PRESET adds no value that no preset contains"
    for v in out.verdicts:
        assert "n/a" not in v.measured_text() and v.measured_text(), (name, v.hypothesis, v.explanation)


@pytest.mark.slow
@pytest.mark.parametrize("name", NAMES)
def test_paper_preset_reproduces_the_reference_verdicts(name, tmp_path, monkeypatch):
    reference = REPO / "results" / "reference" / name / "paper" / "verdicts.json"
    if not reference.exists():
        pytest.skip(f"no reference verdicts for {name}")
    monkeypatch.setenv("PHYSAI_BOOTSTRAP_RESAMPLES", "1000")  # as the reference was decided
    out = pipeline.run_experiment(name, "paper", out=str(tmp_path), progress=False, figures=False)
    expected = {r["hypothesis"]: r["status"] for r in json.loads(reference.read_text())}
    assert {v.hypothesis: v.status for v in out.verdicts} == expected


def test_every_parameter_of_every_preset_has_a_domain_and_every_preset_is_inside_it():
    from physai import domains, sweep

    for name in NAMES:
        experiment = registry.load(name)
        for preset_name, preset in experiment.presets.items():
            keys = set(preset.grid.axes()) | set(preset.settings)
            missing = sorted(k for k in keys if k not in domains.COMMON and k not in experiment.domains)
            assert not missing, f"{name} preset {preset_name}: no domain for {missing}"
            sweep.plan(experiment, preset_name)  # raises on a value outside its domain
