"""Engine tests: trial ids, planning, overrides, store round trip, failures, resume."""

import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from physai import Experiment, Hypothesis, Preset, ShardResult, Static, Verdict, product, store, sweep
from physai.errors import PhysaiError
from tests.conftest import REPO
from tests.toy_experiment import EXPERIMENT as TOY

VOLATILE = ["run_seconds"]  # timings legitimately differ between runs


@dataclass(frozen=True)
class XStatic(Static):
    x: int


def _cheap(run=None, **kw):
    def default_run(shard):
        return ShardResult([{"y": t.params["x"] * 2.0 + t.params["seed"]} for t in shard.trials])

    presets = {
        "tiny": Preset(product(x=[1], seed=[0])),
        "demo": Preset(product(x=[1, 2, 3], seed=[0, 1]), {"scale": 1.0}),
        "paper": Preset(product(x=[1], seed=[0])),
    }
    return Experiment(
        "cheap",
        "q",
        (Hypothesis("h", "c", "a", lambda r: Verdict("supported", 1, "")),),
        presets,
        run or default_run,
        **kw,
    )


def test_trial_id_is_stable_and_depends_on_every_parameter():
    a = sweep.trial_id("e", {"x": 1, "seed": 0})
    assert a == sweep.trial_id("e", {"seed": 0, "x": 1})  # key order does not matter
    assert a == sweep.trial_id("e", {"x": np.int64(1), "seed": 0})  # numpy scalars are plain values
    assert a != sweep.trial_id("e", {"x": 2, "seed": 0})
    assert a != sweep.trial_id("e", {"x": 1, "seed": 1})
    assert a != sweep.trial_id("f", {"x": 1, "seed": 0})
    assert a != sweep.trial_id("e", {"x": 1.0, "seed": 0})  # int and float are different parameters


def test_plan_groups_by_static_keys_and_caps_shard_size():
    p = sweep.plan(TOY, "paper")
    assert len(p.trials) == 12
    assert [len(s.trials) for s in p.shards] == [2] * 6
    for s in p.shards:
        assert {t.params["width"] for t in s.trials} == {s.static.width}
    again = sweep.plan(TOY, "paper")
    assert [s.shard_id for s in again.shards] == [s.shard_id for s in p.shards]


def test_overrides_replace_axes_and_settings_with_type_checks():
    p = sweep.plan(TOY, "demo", ["width=8", "seed=[5, 6]", "steps=8", "lr=1"])
    assert {(t.params["width"], t.params["seed"], t.params["steps"], t.params["lr"]) for t in p.trials} == {
        (8, 5, 8, 1.0),
        (8, 6, 8, 1.0),
    }
    assert isinstance(p.trials[0].params["lr"], float)  # an int given for a float axis becomes float
    cases = {
        "nope=1": "unknown key 'nope'",
        "width=abc": "expected int",
        "width=1.5": "expected int",
        "steps=[1,2]": "takes one value",
        "width": "expected key=value",
        "lr=(": "malformed",
        "lr=1e999": "finite",
        "lr=nan": "expected float",
        "width=[]": "at least one value",
    }
    for text, message in cases.items():
        with pytest.raises(PhysaiError, match=message.replace("(", r"\(")):
            sweep.plan(TOY, "demo", [text])
    with pytest.raises(PhysaiError, match="unknown preset 'x'.*demo, paper"):
        sweep.plan(TOY, "x")


def test_store_round_trip_and_restriction_to_plan(tmp_path):
    exp = _cheap()
    p = sweep.plan(exp, "demo")
    summary = sweep.run_sweep(p, str(tmp_path), progress=False)
    assert summary.ok == 6 and summary.shards_run == 1
    res = sweep.results(p, str(tmp_path))
    assert list(res.trials["trial_id"]) == p.trial_ids  # grid order
    assert res.trials["x"].dtype == np.int64 and res.trials["y"].dtype == np.float64
    assert list(res.trials["y"]) == [2.0, 3.0, 4.0, 5.0, 6.0, 7.0]
    assert res.shards.loc[0, "n_trials"] == 6 and res.shards.loc[0, "version_jax"] != "absent"
    # a different override writes other trials to the same folder; each plan sees only its own
    p2 = sweep.plan(exp, "demo", ["x=9"])
    sweep.run_sweep(p2, str(tmp_path), progress=False)
    assert list(sweep.results(p, str(tmp_path)).trials["trial_id"]) == p.trial_ids
    assert set(sweep.results(p2, str(tmp_path)).trials["x"]) == {9}
    assert not list(tmp_path.rglob("*.tmp"))  # no temporary files left behind
    assert not list(tmp_path.rglob("*.pkl")) and not list(tmp_path.rglob("*.pickle"))


def test_rerun_skips_stored_shards(tmp_path):
    calls = []

    def run(shard):
        calls.append(shard.shard_id)
        return ShardResult([{"y": 1.0} for _ in shard.trials])

    exp = _cheap(run, static=XStatic)
    p = sweep.plan(exp, "demo")
    assert sweep.run_sweep(p, str(tmp_path), progress=False).shards_run == 3
    assert sweep.run_sweep(p, str(tmp_path), progress=False).shards_skipped == 3
    assert len(calls) == 3


def test_failed_shard_is_recorded_the_sweep_goes_on_and_rerun_retries(tmp_path, capsys):
    attempts = {"n": 0}

    def run(shard):
        if shard.static.x == 2 and attempts["n"] == 0:
            attempts["n"] += 1
            raise RuntimeError("boom")
        return ShardResult([{"y": 1.0} for _ in shard.trials])

    exp = _cheap(run, static=XStatic)
    p = sweep.plan(exp, "demo")
    s = sweep.run_sweep(p, str(tmp_path), progress=False)
    assert (s.ok, s.failed) == (4, 2)
    t = sweep.results(p, str(tmp_path)).trials
    assert set(t.loc[t.status == "failed", "error"]) == {"RuntimeError: boom"}
    assert "boom" in capsys.readouterr().err
    s2 = sweep.run_sweep(p, str(tmp_path), progress=False)
    assert (s2.shards_run, s2.ok, s2.failed) == (1, 2, 0)
    assert set(sweep.results(p, str(tmp_path)).trials["status"]) == {"ok"}


def test_orphan_curves_from_a_killed_write_never_duplicate(tmp_path):
    p = sweep.plan(TOY, "demo")
    sweep.run_sweep(p, str(tmp_path), progress=False)
    folder = store.experiment_dir(tmp_path, "toy", "demo")
    before = sweep.results(p, str(tmp_path)).curves
    # a kill between the curves and the trials write leaves curves for trials not stored
    orphan = before.copy()
    orphan["trial_id"] = "0" * 16
    store.write_table(folder / "curves" / "orphan.parquet", pa.Table.from_pandas(orphan))
    # and a duplicated curves file (same shard written twice) adds nothing
    store.write_table(folder / "curves" / "dup.parquet", pa.Table.from_pandas(before))
    after = sweep.results(p, str(tmp_path)).curves
    pd.testing.assert_frame_equal(before, after)


def test_diverged_trials_are_stored_as_diverged_and_the_sweep_goes_on(tmp_path):
    p = sweep.plan(TOY, "diverge")
    s = sweep.run_sweep(p, str(tmp_path), progress=False)
    assert (s.ok, s.diverged, s.failed) == (2, 2, 0)
    t = sweep.results(p, str(tmp_path)).trials
    assert set(t.loc[t.lr > 1, "status"]) == {"diverged"}
    assert set(t.loc[t.lr < 1, "status"]) == {"ok"}
    assert np.isfinite(t.loc[t.lr < 1, "test_mse"]).all()
    # diverged trials count as stored: a re-run does not retry them
    assert sweep.run_sweep(p, str(tmp_path), progress=False).shards_run == 0


def _stable(tables):
    trials = tables["trials"].drop(columns=VOLATILE).sort_values("trial_id").reset_index(drop=True)
    return trials, tables["curves"].reset_index(drop=True)


def test_resume_after_sigkill_gives_identical_tables(tmp_path):
    """A sweep killed with SIGKILL mid-way, then re-run, equals an uninterrupted run."""
    full, killed = tmp_path / "full", tmp_path / "killed"
    args = [sys.executable, "-m", "physai.cli", "run", "tests.toy_experiment", "--preset", "paper", "--no-progress"]
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    subprocess.run(args + ["--out", str(full)], cwd=REPO, env=env, check=True, capture_output=True)

    proc = subprocess.Popen(
        args + ["--out", str(killed)],
        cwd=REPO,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**env, "PHYSAI_TOY_SLEEP": "0.5"},
    )
    trials_dir = killed / "toy" / "paper" / "trials"
    deadline = time.time() + 120
    while time.time() < deadline and len(list(trials_dir.glob("*.parquet"))) < 2:
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    n_before = len(list(trials_dir.glob("*.parquet")))
    assert 2 <= n_before < 6, "the kill should land mid-sweep"
    rerun = subprocess.run(args + ["--out", str(killed)], cwd=REPO, env=env, check=True, capture_output=True, text=True)
    assert f"{6 - n_before} shards run, {n_before} already stored" in rerun.stdout

    a = _stable(store.load(full, "toy", "paper"))
    b = _stable(store.load(killed, "toy", "paper"))
    pd.testing.assert_frame_equal(a[0], b[0])
    pd.testing.assert_frame_equal(a[1], b[1])
    assert len(b[0]) == 12 and b[0]["trial_id"].is_unique


def test_static_values_are_typed_and_a_missing_one_is_a_clear_error():
    @dataclass(frozen=True)
    class S(Static):
        x: int
        scale: float
        bucket: int

        @classmethod
        def derived(cls, params):
            return {"bucket": 4 * params["x"]}

    s = S.from_params({"x": 2.0, "scale": 1, "seed": 0})
    assert (s.x, s.scale, s.bucket) == (2, 1.0, 8)
    assert isinstance(s.x, int) and isinstance(s.scale, float)
    with pytest.raises(PhysaiError, match="static value 'scale'.*not a parameter"):
        S.from_params({"x": 2, "seed": 0})
    with pytest.raises(PhysaiError, match="must be an integer"):
        S.from_params({"x": 2.5, "scale": 1.0})
    with pytest.raises(TypeError, match="Static subclass"):
        _cheap(static=("x",))


def test_a_misspelt_static_key_fails_at_planning_not_as_none():
    @dataclass(frozen=True)
    class Typo(Static):
        xx: int

    with pytest.raises(PhysaiError, match="'xx'"):
        sweep.plan(_cheap(static=Typo), "demo")


def test_every_experiment_needs_tiny_demo_and_paper_presets():
    presets = {"demo": Preset(product(x=[1])), "paper": Preset(product(x=[1]))}
    with pytest.raises(ValueError, match="'tiny'"):
        Experiment("e", "q", (), presets, lambda s: None)


def test_pending_shards_run_costliest_first_and_ties_keep_grid_order(tmp_path):
    order = []

    def run(shard):
        order.append(shard.static.x)
        return ShardResult([{"y": 1.0} for _ in shard.trials])

    plain = _cheap(run, static=XStatic)
    sweep.run_sweep(sweep.plan(plain, "demo"), str(tmp_path / "a"), progress=False)
    assert order == [1, 2, 3]  # equal cost (trials per shard): grid order
    order.clear()
    costly = _cheap(run, static=XStatic, cost=lambda st, n: n * st.x)
    sweep.run_sweep(sweep.plan(costly, "demo"), str(tmp_path / "b"), progress=False)
    assert order == [3, 2, 1]


def test_a_huge_grid_is_refused_before_it_is_built():
    huge = Experiment(
        "huge",
        "q",
        (),
        {k: Preset(product(a=range(1000), b=range(1000), c=range(1000))) for k in ("tiny", "demo", "paper")},
        lambda s: None,
    )
    t0 = time.perf_counter()
    with pytest.raises(PhysaiError, match="1,000,000,000 trials, over the limit of 1,000,000"):
        sweep.plan(huge, "demo")
    assert time.perf_counter() - t0 < 1.0  # counted, not expanded
    assert len(sweep.plan(_cheap(), "demo", max_trials=6).trials) == 6


def test_values_outside_their_domain_are_refused_at_planning():
    from physai.domains import Domain

    exp = _cheap(domains={"x": Domain(low=1, high=3, integer=True)})
    for text, message in {
        "x=0": "x must be an integer >= 1 and <= 3",
        "x=4": "x=4 is outside",
        "seed=-1": "seed must be an integer >= 0",
    }.items():
        with pytest.raises(PhysaiError, match=message):
            sweep.plan(exp, "demo", [text])
    assert len(sweep.plan(exp, "demo", ["x=3"]).trials) == 2


def test_a_ctrl_c_whose_keyboard_interrupt_was_swallowed_still_stops_the_sweep(tmp_path):
    from physai import backends, worker

    exp = _cheap(static=XStatic)
    p = sweep.plan(exp, "demo")

    def runner(experiment, shards):
        for i, shard in enumerate(shards):
            if i == 1:  # what the sweep's Ctrl-C handler records before raising, e.g. inside a __del__
                backends.INTERRUPTED.set()
            yield shard, worker.execute_shard(experiment, shard)

    try:
        with pytest.raises(KeyboardInterrupt):
            sweep.run_sweep(p, str(tmp_path), progress=False, runner=runner)
    finally:
        backends.INTERRUPTED.clear()
    assert len(sweep.results(p, str(tmp_path)).trials) == 2  # the first shard only: complete, kept
