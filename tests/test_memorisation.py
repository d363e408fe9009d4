"""Patterns before noise: the checks on hand-made tables that must pass and must fail, the data
set-up (label redrawing) and the linear anchor's run against its closed form."""

import jax
import numpy as np
import pandas as pd

from experiments import memorisation as mem
from experiments.memorisation import checks
from physai import Results
from physai.experiment import Trial
from tests.falsification import falsifies

SEEDS = 6
STEPS = np.arange(0, 4001, 40)
N_TEST = 2000
CLASSES = 4


def _ramp(start, length):
    """0 before ``start``, rising linearly to exactly 1 over ``length`` steps."""
    return np.clip((STEPS - start) / length, 0.0, 1.0)


def mlp_curves(q, seed, t_clean=200.0, t_noisy=None, drop=0.3, test_change=0.0, memorise_over=400.0):
    """Accuracy curves of one synthetic run: clean points fitted by ``t_clean``, mislabelled ones
    memorised from ``t_noisy`` on (by default later the larger q), the test accuracy falling by
    ``drop`` times the memorised fraction."""
    jitter = 1.0 + 0.03 * np.sin(seed + 1.0)
    t_noisy = (1000.0 + 2000.0 * q) * jitter if t_noisy is None else t_noisy * jitter
    clean = 0.25 + 0.75 * _ramp(0.0, t_clean * jitter)
    memorised = _ramp(t_noisy, memorise_over)
    true = 0.05 + 0.9 * _ramp(0.0, t_clean * jitter) * (1.0 - memorised)
    given = np.minimum(0.25 * (1.0 - _ramp(0.0, t_clean * jitter)) + memorised, 1.0)
    changed = 0.75 * q
    return {
        ("train", "acc"): (1.0 - changed) * clean + changed * given,
        ("train", "clean_acc"): clean,
        ("train", "noisy_acc"): given,
        ("train", "noisy_true_acc"): true,
        ("test", "acc"): 0.25 + 0.7 * _ramp(0.0, t_clean * jitter) - drop * q * memorised + test_change,
    }


def linear_curves(seed, power=1.0, lin_d=8, lin_ratio=16.0, lin_lr=0.02):
    """Residuals exp(-lr lambda_k^power t) along each direction (power 1: the theory)."""
    lam = checks.spectrum(lin_d, lin_ratio)
    steps = np.arange(0, 1601, 4)
    lr = lin_lr / lam.max() * (1.0 + 0.01 * np.sin(seed))
    return steps, {k: np.exp(-lr * lam[k] ** power * steps) for k in range(lin_d)}


def _results(mlp=None, linear=None) -> Results:
    """``mlp``: {(q, wd, seed): curves}; ``linear``: {seed: (steps, {k: residual})}."""
    trials, frames = [], []
    for (q, wd, seed), curves in (mlp or {}).items():
        tid = f"m{q}-{wd}-{seed}"
        trials.append({"trial_id": tid, "part": "mlp", "seed": seed, "q": q, "wd": wd, "n_test": N_TEST})
        for (split, metric), values in curves.items():
            frame = {"trial_id": tid, "step": STEPS, "split": split, "metric": metric, "value": values}
            frames.append(pd.DataFrame(frame))
    for seed, (steps, residuals) in (linear or {}).items():
        tid = f"l{seed}"
        trials.append({"trial_id": tid, "part": "linear", "seed": seed, "lin_d": len(residuals), "lin_ratio": 16.0,
                       "lin_lr": 0.02})  # fmt: skip
        for k, values in residuals.items():
            frames.append(pd.DataFrame({"trial_id": tid, "step": steps, "split": "linear", "metric": f"residual_{k}",
                                        "value": values}))  # fmt: skip
    t = pd.DataFrame(trials).assign(status="ok", classes=CLASSES, n_test=N_TEST)
    return Results(t, pd.concat(frames, ignore_index=True), pd.DataFrame(), "memorisation", "test")


QS = (0.0, 0.2, 0.4, 0.6)


def _mlp(qs=QS, wd=(), **kw):
    runs = {(q, 0.0, s): mlp_curves(q, s, **kw) for q in qs for s in range(SEEDS)}
    for w, q, kw_wd in wd:
        runs.update({(q, w, s): mlp_curves(q, s, **kw_wd) for s in range(SEEDS)})
    return runs


def _verdict(name, res):
    (h,) = [h for h in mem.EXPERIMENT.hypotheses if h.name == name]
    return h.evaluate(res)


def test_a_run_where_patterns_come_first_supports_every_claim():
    wd = [(2.0, 0.4, {"t_noisy": 3000.0, "drop": 0.1})]  # memorised later, best test accuracy unchanged
    res = _results(_mlp(wd=wd), {s: linear_curves(s) for s in range(SEEDS)})
    for h in mem.EXPERIMENT.hypotheses:
        assert h.evaluate(res).status == "supported", (h.name, h.evaluate(res))


def test_trial_table_reads_times_off_the_curves():
    table = checks.trial_table(_results(_mlp(qs=(0.4,))))
    row = table.iloc[0]
    assert row["t_clean"] < row["t_noisy"] < row["t_fit"] <= STEPS[-1]
    assert row["given_at_peak"] < 0.25 < row["peak_true"]
    never = checks.trial_table(_results({(0.4, 0.0, 0): mlp_curves(0.4, 0, t_noisy=1e6)}))
    assert never["t_noisy"].iloc[0] == STEPS[-1] + 40  # censored one log interval after the end


def test_checks_are_inconclusive_without_their_part_of_the_grid():
    only_linear = _results(linear={s: linear_curves(s) for s in range(SEEDS)})
    only_mlp = _results(_mlp(qs=(0.2, 0.4)))
    for h in mem.EXPERIMENT.hypotheses:
        assert h.evaluate(only_linear if h.name != "linear_modes_by_eigenvalue" else only_mlp).status == "inconclusive"


@falsifies("memorisation", "noisy_predicted_true_first")
def test_true_label_check_fails_when_noise_is_memorised_from_the_start():
    assert _verdict("noisy_predicted_true_first", _results(_mlp())).status == "supported"
    # Mislabelled points fitted with their given label from the first logged step: never predicted true.
    res = _results(_mlp(t_noisy=0.0, memorise_over=STEPS[1]))
    assert _verdict("noisy_predicted_true_first", res).status == "refuted"


@falsifies("memorisation", "clean_before_noisy")
def test_order_check_fails_when_noisy_points_are_fitted_first():
    assert _verdict("clean_before_noisy", _results(_mlp())).status == "supported"
    res = _results(_mlp(t_clean=2000.0, t_noisy=0.0))
    assert _verdict("clean_before_noisy", res).status == "refuted"


@falsifies("memorisation", "early_stopping_gap")
def test_gap_check_fails_when_test_accuracy_does_not_fall():
    assert _verdict("early_stopping_gap", _results(_mlp())).status == "supported"
    assert _verdict("early_stopping_gap", _results(_mlp(drop=0.0))).status == "refuted"


@falsifies("memorisation", "fit_time_grows_with_q")
def test_fit_time_check_fails_when_more_noise_is_fitted_sooner():
    assert _verdict("fit_time_grows_with_q", _results(_mlp())).status == "supported"
    falling = {(q, 0.0, s): mlp_curves(q, s, t_noisy=3000.0 - 2000.0 * q) for q in QS[1:] for s in range(SEEDS)}
    assert _verdict("fit_time_grows_with_q", _results(falling)).status == "refuted"


@falsifies("memorisation", "weight_decay_delays_memorisation")
def test_weight_decay_check_fails_when_it_only_costs_test_accuracy():
    delayed = [(2.0, 0.4, {"t_noisy": 3000.0})]
    assert _verdict("weight_decay_delays_memorisation", _results(_mlp(wd=delayed))).status == "supported"
    # No delay of memorisation, and the test accuracy drops: the opposite of the claim.
    costly = [(2.0, 0.4, {"test_change": -0.2})]
    assert _verdict("weight_decay_delays_memorisation", _results(_mlp(wd=costly))).status == "refuted"


@falsifies("memorisation", "linear_modes_by_eigenvalue")
def test_linear_check_fails_when_times_scale_as_one_over_root_lambda():
    good = _results(linear={s: linear_curves(s) for s in range(SEEDS)})
    assert _verdict("linear_modes_by_eigenvalue", good).status == "supported"
    bad = _results(linear={s: linear_curves(s, power=0.5) for s in range(SEEDS)})
    assert _verdict("linear_modes_by_eigenvalue", bad).status == "refuted"


def test_labels_are_redrawn_over_all_classes_so_only_three_quarters_change():
    draw = jax.jit(mem.gaussian_classes, static_argnums=(1, 2, 3, 4))  # one compiled program, not ~20 eager ones
    data = draw(jax.random.key(0), 8000, 10, 5, CLASSES, 4.0, 0.4)
    changed = float(np.asarray(data["changed"]).mean())
    assert abs(changed - 0.4 * (CLASSES - 1) / CLASSES) < 0.025  # binomial sd ~0.005
    kept = ~np.asarray(data["changed"])
    assert np.all(np.asarray(data["y_train"])[kept] == np.asarray(data["y_true"])[kept])


def test_linear_run_matches_the_closed_form_for_its_empirical_covariance():
    st = mem.Static(part="linear", d=1, n=1, n_test=1, classes=2, width=1, batch=1, steps=1, log_every=1,
                    lin_d=4, lin_n=5000, lin_steps=200)  # fmt: skip

    params = {"seed": 0, "lin_ratio": 8.0, "lin_lr": 0.05, "lin_log_every": 4}

    class _Shard:
        static = st
        trials = (Trial("a", params),)

    out = mem.run_linear(_Shard())
    c = out.curves[out.curves["metric"] == "residual_0"]
    lam_max = 1.0  # the top eigenvalue: its residual follows (1 - lr lambda)^t up to sample error O(1/sqrt(n))
    expected = (1 - 0.05 * lam_max) ** c["step"].to_numpy(float)
    assert np.allclose(c["value"].to_numpy(float), expected, rtol=0.1, atol=1e-3)
