"""Store reliability: one stored outcome per trial, corruption detected, leftovers cleaned.

Each test fails with the store before these changes (loader kept whichever file
sorted last, no page checksums, resume checked trials files only, temporary
files were never removed).
"""

import os
import re
import socket
import struct
import subprocess
import sys
import time

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from physai import Experiment, Preset, ShardResult, product, store, sweep
from physai.errors import PhysaiError

COLUMNS = ["trial_id", "x", "seed", "y", "status"]


def _exp(xs, size, fail=lambda shard: False):
    """A cheap experiment over ``x in xs, seed in {0, 1}``, ``size`` trials per shard, with curves."""

    def run(shard):
        if fail(shard):
            raise RuntimeError("boom")
        metrics = [{"y": 10.0 * t.params["x"] + t.params["seed"]} for t in shard.trials]
        curves = pd.DataFrame(
            [
                {
                    "trial_id": t.trial_id,
                    "step": s,
                    "split": "train",
                    "metric": "loss",
                    "value": float(t.params["x"] + s),
                }
                for t in shard.trials
                for s in (0, 1)
            ]
        )
        return ShardResult(metrics, curves)

    presets = {name: Preset(product(x=list(xs), seed=[0, 1])) for name in ("tiny", "demo", "paper")}
    return Experiment("overlap", "q", (), presets, run, max_shard_size=size)


def _raw(root, table):
    """What pandas sees reading ``<table>/*.parquet`` directly, without physai."""
    files = sorted((store.experiment_dir(root, "overlap", "demo") / table).glob("*.parquet"))
    return pd.concat([pd.read_parquet(f) for f in files], ignore_index=True)


def _stable(tables):
    trials = tables["trials"][COLUMNS].sort_values("trial_id").reset_index(drop=True)
    curves = tables["curves"][store.CURVE_COLUMNS].sort_values(["trial_id", "step"]).reset_index(drop=True)
    return trials, curves


# ----------------------------------------------------------------------------- one outcome per trial


def test_overlapping_sweeps_converge_to_one_sweep_over_the_union(tmp_path):
    a, b, union = (
        sweep.plan(_exp(xs, size), "demo") for xs, size in (([1, 2, 3], 4), ([2, 3, 4], 3), ([1, 2, 3, 4], 5))
    )
    both, one = str(tmp_path / "both"), str(tmp_path / "one")
    sweep.run_sweep(a, both, progress=False)
    assert not {s.shard_id for s in a.shards} & {s.shard_id for s in b.shards}  # other sharding
    rerun = {t.trial_id for s in sweep.pending(b, both) for t in s.trials}
    assert rerun & set(a.trial_ids), "design: B must recompute a trial that A stored"
    sweep.run_sweep(b, both, progress=False)
    sweep.run_sweep(union, one, progress=False)

    for root in (both, one):
        raw = _raw(root, "trials")
        assert raw["trial_id"].is_unique and set(raw["trial_id"]) == set(union.trial_ids)
        curves = _raw(root, "curves")
        assert not curves.duplicated(["trial_id", "step", "split", "metric"]).any()
        assert set(curves["trial_id"]) == set(union.trial_ids)
        shards = _raw(root, "shards")  # provenance only of shards that hold an outcome
        assert set(shards["shard_id"]) == set(raw["shard_id"])
    pd.testing.assert_frame_equal(
        _raw(both, "trials")[COLUMNS].sort_values("trial_id").reset_index(drop=True),
        _raw(one, "trials")[COLUMNS].sort_values("trial_id").reset_index(drop=True),
    )
    for x, y in zip(_stable(store.load(both, "overlap", "demo")), _stable(store.load(one, "overlap", "demo"))):
        pd.testing.assert_frame_equal(x, y)
    assert sweep.pending(union, both) == []


def test_a_failed_shard_redone_by_an_overlapping_sweep_leaves_no_failure_behind(tmp_path):
    root = str(tmp_path)
    a = sweep.plan(_exp([1, 2, 3], 4, fail=lambda s: any(t.params["x"] == 3 for t in s.trials)), "demo")
    b = sweep.plan(_exp([2, 3, 4], 3), "demo")
    assert sweep.run_sweep(a, root, progress=False).failed == 2
    sweep.run_sweep(b, root, progress=False)  # redoes both x=3 trials, in other shards
    assert set(store.stored_status(root, "overlap", "demo").values()) == {"ok"}
    assert sweep.pending(a, root) == [] and sweep.pending(b, root) == []
    raw = _raw(root, "trials")
    assert raw["trial_id"].is_unique and set(raw["status"]) == {"ok"}
    failed_shard = next(s.shard_id for s in a.shards if any(t.params["x"] == 3 for t in s.trials))
    folder = store.experiment_dir(root, "overlap", "demo")
    assert not any((folder / t / f"{failed_shard}.parquet").exists() for t in store.TABLES)


def _write(folder, shard, rows, end=None, curves=True):
    """Stores a hand-made shard: ``rows`` are ``(trial_id, status, y)``."""
    trials = pa.Table.from_pylist([{"trial_id": t, "shard_id": shard, "status": st, "y": y} for t, st, y in rows])
    curve = (
        pa.Table.from_pylist(
            [{"trial_id": t, "step": 0, "split": "train", "metric": "loss", "value": float(y)} for t, _, y in rows]
        )
        if curves
        else None
    )
    prov = {"shard_id": shard, "n_trials": len(rows)}
    if end is not None:
        prov["end"] = float(end)
    store.write_shard(folder, shard, trials, curve, pa.Table.from_pylist([prov]))


def _outcome(root, tid):
    t = store.load(root, "e", "p")["trials"].set_index("trial_id")
    return t.loc[tid, "status"], t.loc[tid, "y"]


def test_ok_wins_over_failed_whichever_file_sorts_last_and_the_loser_is_compacted(tmp_path):
    folder = store.experiment_dir(tmp_path, "e", "p")
    _write(folder, "s1", [("t1", "ok", 1.0), ("t2", "ok", 2.0)], end=100)
    _write(folder, "s2", [("t2", "failed", 0.0), ("t3", "failed", 0.0)], end=200)  # newer, sorts last
    assert store.stored_status(tmp_path, "e", "p") == {"t1": "ok", "t2": "ok", "t3": "failed"}
    assert _outcome(tmp_path, "t2") == ("ok", 2.0)
    # the failed row was dropped before writing: raw files hold one row per trial
    assert sorted(pd.read_parquet(folder / "trials" / "s2.parquet")["trial_id"]) == ["t3"]
    assert sorted(pd.read_parquet(folder / "curves" / "s2.parquet")["trial_id"]) == ["t3"]

    # and the other way round: a later success removes the failed row from its file
    _write(folder, "s4", [("t5", "failed", 0.0), ("t6", "failed", 0.0)], end=300)
    _write(folder, "s0", [("t5", "ok", 5.0)], end=400)
    assert store.stored_status(tmp_path, "e", "p")["t5"] == "ok"
    assert sorted(pd.read_parquet(folder / "trials" / "s4.parquet")["trial_id"]) == ["t6"]
    assert sorted(pd.read_parquet(folder / "curves" / "s4.parquet")["trial_id"]) == ["t6"]
    # a file left empty goes, with its curves and provenance
    _write(folder, "s9", [("t7", "failed", 0.0)], end=500)
    _write(folder, "s8", [("t7", "ok", 7.0)], end=600)
    assert not any((folder / t / "s9.parquet").exists() for t in store.TABLES)
    raw = pd.concat([pd.read_parquet(f) for f in (folder / "trials").glob("*.parquet")])
    assert raw["trial_id"].is_unique


def test_among_equals_the_newest_shard_wins_by_end_time_else_by_mtime(tmp_path):
    folder = store.experiment_dir(tmp_path, "e", "p")
    _write(folder, "n1", [("t8", "ok", 1.0)], end=300)
    _write(folder, "n0", [("t8", "ok", 2.0)], end=250)  # written later, but finished earlier
    assert _outcome(tmp_path, "t8") == ("ok", 1.0)
    assert not (folder / "trials" / "n0.parquet").exists()
    # without an end time, the trials file's mtime decides: the later write wins
    _write(folder, "m1", [("t9", "ok", 1.0)])
    time.sleep(0.02)
    _write(folder, "m0", [("t9", "ok", 2.0)])
    assert _outcome(tmp_path, "t9") == ("ok", 2.0)
    assert not (folder / "trials" / "m1.parquet").exists()


def test_rerunning_a_shard_never_overwrites_an_ok_with_a_failure(tmp_path):
    folder = store.experiment_dir(tmp_path, "e", "p")
    _write(folder, "s", [("t1", "ok", 1.0), ("t2", "failed", 0.0)], end=100)
    _write(folder, "s", [("t1", "failed", 0.0), ("t2", "ok", 2.0)], end=200)  # e.g. a crash on retry
    assert store.stored_status(tmp_path, "e", "p") == {"t1": "ok", "t2": "ok"}
    loaded = store.load(tmp_path, "e", "p")
    assert list(loaded["trials"]["y"]) == [1.0, 2.0]
    assert list(loaded["curves"]["value"]) == [1.0, 2.0]  # each trial keeps its own curves


def test_load_and_status_share_one_rule_and_repair_compacts_legacy_duplicates(tmp_path):
    """Files written without compaction (older versions, or a kill mid-compaction)."""
    folder = store.experiment_dir(tmp_path, "e", "p")
    for shard, status, y, end in (("a", "ok", 1.0, 100.0), ("b", "failed", None, 200.0)):
        for table, row in (
            ("trials", {"trial_id": "t1", "shard_id": shard, "status": status, "y": y}),
            ("shards", {"shard_id": shard, "end": end}),
        ):
            (folder / table).mkdir(parents=True, exist_ok=True)
            pq.write_table(pa.Table.from_pylist([row]), folder / table / f"{shard}.parquet")
    assert store.stored_status(tmp_path, "e", "p") == {"t1": "ok"}
    assert _outcome(tmp_path, "t1") == ("ok", 1.0)
    assert list(store.load(tmp_path, "e", "p")["shards"]["shard_id"]) == ["a"]
    store.repair(folder)
    assert [f.stem for f in (folder / "trials").glob("*.parquet")] == ["a"]
    assert not (folder / "shards" / "b.parquet").exists()


# ----------------------------------------------------------------------------- corruption


def test_a_changed_byte_inside_a_page_is_detected_not_read(tmp_path):
    folder = store.experiment_dir(tmp_path, "e", "p")
    middle = 4321.987654321  # neither min nor max: in no statistics, only in the data page
    _write(folder, "s", [("t1", "ok", 1.23456789), ("t2", "ok", middle), ("t3", "ok", 98765.4321)], end=1)
    path = folder / "trials" / "s.parquet"
    raw = bytearray(path.read_bytes())
    pattern = struct.pack("<d", middle)
    assert raw.count(pattern) == 1
    at = raw.find(pattern)
    footer_start = len(raw) - 8 - struct.unpack("<I", raw[-8:-4])[0]
    meta = pq.read_metadata(path)
    y = meta.row_group(0).column(meta.schema.names.index("y"))
    start = y.dictionary_page_offset or y.data_page_offset
    assert start <= at < start + y.total_compressed_size <= footer_start  # inside y's pages
    raw[at : at + 8] = struct.pack("<d", 1111.5)
    path.write_bytes(bytes(raw))
    # design check: the footer is intact, and a reader that skips checksums gets a changed value
    assert pq.read_table(path).column("y").to_pylist() == [1.23456789, 1111.5, 98765.4321]

    with pytest.raises(PhysaiError, match=re.escape(str(path))) as err:
        store.load(tmp_path, "e", "p")
    assert "\n" not in str(err.value)


def test_a_file_that_is_not_parquet_is_named_and_a_run_sets_it_aside_and_recomputes(tmp_path, capsys):
    root = str(tmp_path)
    p = sweep.plan(_exp([1, 2, 3], 2), "demo")
    sweep.run_sweep(p, root, progress=False)
    before = _stable(store.load(root, "overlap", "demo"))
    path = store.experiment_dir(root, "overlap", "demo") / "trials" / f"{p.shards[1].shard_id}.parquet"
    path.write_bytes(b"this is not parquet\n" * 10)
    with pytest.raises(PhysaiError, match=re.escape(str(path))) as err:
        store.load(root, "overlap", "demo")
    assert "\n" not in str(err.value)
    assert len(store.stored_status(root, "overlap", "demo")) == 4  # damaged: not stored
    assert sweep.run_sweep(p, root, progress=False).shards_run == 1
    assert path.with_name(path.name + ".corrupt").exists() and "set aside" in capsys.readouterr().err
    for x, y in zip(before, _stable(store.load(root, "overlap", "demo"))):
        pd.testing.assert_frame_equal(x, y)


def _truncate(path):
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


@pytest.mark.parametrize("damage", ["truncated curves", "garbage curves", "truncated provenance", "missing provenance"])
def test_a_damaged_curves_or_provenance_file_makes_its_shard_pending_and_a_run_repairs_it(tmp_path, damage):
    root = str(tmp_path)
    p = sweep.plan(_exp([1, 2, 3], 2), "demo")
    sweep.run_sweep(p, root, progress=False)
    before = _stable(store.load(root, "overlap", "demo"))
    victim = p.shards[1].shard_id
    folder = store.experiment_dir(root, "overlap", "demo")
    path = folder / ("curves" if "curves" in damage else "shards") / f"{victim}.parquet"
    if damage.startswith("truncated"):
        _truncate(path)
    elif damage.startswith("garbage"):
        path.write_bytes(b"\0" * 100)
    else:
        path.unlink()
    assert [s.shard_id for s in sweep.pending(p, root)] == [victim]
    s = sweep.run_sweep(p, root, progress=False)
    assert (s.shards_run, s.shards_skipped) == (1, 2)
    assert sweep.pending(p, root) == []
    for x, y in zip(before, _stable(store.load(root, "overlap", "demo"))):
        pd.testing.assert_frame_equal(x, y)


# ----------------------------------------------------------------------------- leftovers of a kill


def test_temporary_files_of_dead_writers_are_removed_and_live_ones_kept(tmp_path):
    root = str(tmp_path)
    p = sweep.plan(_exp([1], 2), "demo")
    sweep.run_sweep(p, root, progress=False)
    folder = store.experiment_dir(root, "overlap", "demo")
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()  # a writer that was killed: its pid is no longer running
    host = re.sub(r"[^A-Za-z0-9_-]", "_", socket.gethostname())  # as atomic_path writes it
    me = os.getpid()
    hour_ago = time.time() - 3600
    files = {  # name: (mtime, kept?)
        f"trials/.a.parquet.{gone.pid}@{host}.k1.tmp": (None, False),  # dead writer, this host
        f"curves/.b.parquet.{me}@{host}.k2.tmp": (hour_ago, True),  # live writer: kept, however old
        f".verdicts.json.{gone.pid}@elsewhere.k3.tmp": (None, True),  # other host, recent: may be live
        f"shards/.c.parquet.{gone.pid}@elsewhere.k4.tmp": (hour_ago, False),  # other host, untouched 1 h
        "figures/.d.png.oldstyle.tmp": (None, True),
        "figures/.e.png.oldstyle.tmp": (hour_ago, False),
    }
    for name, (mtime, _) in files.items():
        f = folder / name
        f.parent.mkdir(parents=True, exist_ok=True)
        f.write_bytes(b"partial")
        if mtime is not None:
            os.utime(f, (mtime, mtime))
    sweep.run_sweep(p, root, progress=False)
    assert {n: (folder / n).exists() for n in files} == {n: kept for n, (_, kept) in files.items()}

    # atomic_path names its file so that the rule can read the writer's pid and host
    with store.atomic_path(folder / "x.json") as tmp:
        assert tmp.name.startswith(f".x.json.{me}@{host}.") and tmp.name.endswith(".tmp")
        store.remove_stale_tmp(folder, now=time.time() + 86400)  # even a day later
        assert tmp.exists()


def test_files_get_the_users_umask_not_0600(tmp_path):
    import pyarrow as pa

    from physai import store

    old = os.umask(0o022)
    try:
        store.write_table(tmp_path / "t.parquet", pa.table({"a": [1]}))
        store.write_text(tmp_path / "v.json", "{}")
        assert (tmp_path / "t.parquet").stat().st_mode & 0o777 == 0o644
        assert (tmp_path / "v.json").stat().st_mode & 0o777 == 0o644
        os.umask(0o077)
        store.write_text(tmp_path / "private.json", "{}")
        assert (tmp_path / "private.json").stat().st_mode & 0o777 == 0o600
    finally:
        os.umask(old)
