"""The local backend runs two shards at once: one compiling while the other trains.

What must hold: the numbers do not depend on it; every shard counts only its own
compile time, FLOPs and run time (seconds spent waiting for an execution slot that
another shard held are not its run time); no more programs execute at once than there
are execution slots; shards still running stop when the sweep ends early; the
process-wide BLAS limit survives overlapping users.
"""

import threading
import time
from dataclasses import dataclass

import pytest

from physai import Experiment, Hypothesis, Preset, ShardResult, Static, Verdict, product, runtime, sweep, timing
from physai.backends.local import LocalRunner
from physai.execution import execution_slot
from tests.toy_experiment import EXPERIMENT as TOY


@dataclass(frozen=True)
class XStatic(Static):
    x: int


def _experiment(run):
    return Experiment(
        "overlap_probe",
        "q",
        (Hypothesis("h", "c", "a", lambda r: Verdict("supported", 1, "")),),
        {p: Preset(product(x=[1, 2, 3, 4], seed=[0])) for p in ("tiny", "demo", "paper")},
        run,
        static=XStatic,
    )


def _stored(p, root):
    res = sweep.results(p, root)
    return res.trials.set_index("trial_id").sort_index(), res.shards.set_index("shard_id")


def test_two_shards_at_once_give_the_numbers_of_one_at_a_time(tmp_path, monkeypatch):
    p = sweep.plan(TOY, "paper")  # 3 widths x 4 seeds in 6 shards, trained with physai.train
    for threads in ("1", "2"):
        monkeypatch.setenv("PHYSAI_SHARD_THREADS", threads)
        assert sweep.run_sweep(p, str(tmp_path / threads), progress=False).ok == len(p.trials)
    one, two = (_stored(p, str(tmp_path / t))[0] for t in ("1", "2"))
    numbers = [c for c in one.columns if one[c].dtype.kind == "f" and c != "run_seconds"]
    assert numbers and one[numbers].equals(two[numbers])
    flops = (_stored(p, str(tmp_path / t))[1]["flops"].sort_index() for t in ("1", "2"))
    assert next(flops).equals(next(flops))  # each shard counted its own FLOPs


def test_overlapping_shards_keep_their_own_counters_and_wait_is_not_run_time(tmp_path, monkeypatch):
    monkeypatch.setenv("PHYSAI_SHARD_THREADS", "2")
    monkeypatch.setenv("PHYSAI_TRIAL_THREADS", "1")  # one execution slot: the shards must take turns
    holding, most = [0], [0]
    lock = threading.Lock()

    def run(shard):
        x = shard.static.x
        timing.add_flops(1e6 * x)
        with timing.compiling():
            time.sleep(0.1 * x)
        with execution_slot():
            with lock:
                holding[0] += 1
                most[0] = max(most[0], holding[0])
            time.sleep(0.4)
            with lock:
                holding[0] -= 1
        return ShardResult([{"y": float(x)} for _ in shard.trials])

    p = sweep.plan(_experiment(run), "demo")
    t0 = time.perf_counter()
    sweep.run_sweep(p, str(tmp_path), progress=False)
    wall = time.perf_counter() - t0
    trials, shards = _stored(p, str(tmp_path))
    assert most[0] == 1  # never two programs in one slot
    x_of = trials.groupby("shard_id")["x"].first()
    for shard_id, row in shards.iterrows():
        x = x_of[shard_id]
        assert row["flops"] == 1e6 * x  # not the other shard's
        assert row["compile_seconds"] == pytest.approx(0.1 * x, abs=0.06)
        assert row["run_seconds"] == pytest.approx(0.4, abs=0.15)  # the wait for the slot excluded
    assert wall < 2.3  # one after the other: 1.0 s of compiling + 4 x 0.4 s; overlapped: about 1.7 s
    starts, ends = shards["start"].sort_values(), shards["end"].sort_values()
    assert (starts.iloc[1:].to_numpy() < ends.iloc[:-1].to_numpy()).any()  # shards did overlap


def test_shards_still_running_stop_when_the_sweep_ends_early():
    started, stopped = threading.Event(), threading.Event()

    def run(shard):
        if shard.static.x == 1:
            return ShardResult([{"y": 1.0} for _ in shard.trials])
        started.set()
        try:
            for _ in range(200):  # as the trainer does between compiled chunks
                timing.stop_if_requested()
                time.sleep(0.05)
        except KeyboardInterrupt:
            stopped.set()
            raise
        return ShardResult([{"y": 2.0} for _ in shard.trials])

    exp = _experiment(run)
    shards = sweep.plan(exp, "demo").shards
    runner = LocalRunner(threads=2)(exp, shards)
    first, _ = next(runner)
    assert first.static.x == 1 and started.wait(5)  # the second shard is running (not only queued)
    runner.close()  # what the sweep does on Ctrl-C or an error
    assert stopped.wait(5)  # the other shard stopped at its next chunk, not after 10 s


def test_one_shard_thread_runs_in_the_calling_thread():
    seen = []

    def run(shard):
        seen.append(threading.current_thread())
        return ShardResult([{"y": 1.0} for _ in shard.trials])

    exp = _experiment(run)
    list(LocalRunner(threads=1)(exp, sweep.plan(exp, "demo").shards))
    assert seen and all(t is threading.current_thread() for t in seen)


def test_the_blas_limit_holds_until_the_last_overlapping_user_leaves():
    from threadpoolctl import threadpool_info

    def blas_threads():
        return {i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas"}

    before = blas_threads()
    first, second = runtime.single_threaded_blas(), runtime.single_threaded_blas()
    first.__enter__()
    second.__enter__()
    first.__exit__(None, None, None)  # shard A leaves while shard B still solves
    assert blas_threads() == {1}
    second.__exit__(None, None, None)
    assert blas_threads() == before
