"""Backends give identical tables; dead workers are retried, then recorded failed."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from physai import store
from tests.conftest import PHYSAI, REPO, booby_trapped, physai

TOY = "tests.toy_experiment"


def _trials(root):
    t = store.load(root, "toy", "paper")["trials"]
    return t.drop(columns=["run_seconds"]).sort_values("trial_id").reset_index(drop=True)


@pytest.fixture(scope="module")
def local_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("local")
    r = physai("run", TOY, "--preset", "paper", "--out", str(root), "--no-progress")
    assert r.returncode == 0, r.stderr
    return root


def test_processes_backend_matches_local(local_run, tmp_path):
    r = physai(
        "run",
        TOY,
        "--preset",
        "paper",
        "--out",
        str(tmp_path),
        "--backend",
        "processes",
        "--workers",
        "2",
        "--no-progress",
    )
    assert r.returncode == 0, r.stderr
    pd.testing.assert_frame_equal(_trials(local_run), _trials(tmp_path))
    pids = set(store.load(tmp_path, "toy", "paper")["shards"]["pid"])
    assert len(pids) == 2 and os.getpid() not in pids  # really ran in two workers


def test_backends_agree_bitwise_on_models_big_enough_for_parallel_matmuls(tmp_path):
    """Width-256 MLPs on 512 points: XLA splits these matmuls across cores, so a worker that
    saw fewer cores than the driver (e.g. pinned) would produce different numbers."""
    tables = []
    for backend in (["--backend", "local"], ["--backend", "processes", "--workers", "1"]):
        out = tmp_path / backend[1]
        r = physai(
            "run",
            "benchmarks.backend_scaling",
            "--out",
            str(out),
            "--set",
            "seed=[0,1]",
            "--set",
            "steps=300",
            "--no-progress",
            *backend,
        )
        assert r.returncode == 0, r.stderr
        t = store.load(out, "backend_bench", "demo")["trials"]
        tables.append(t.drop(columns=["run_seconds"]).sort_values("trial_id").reset_index(drop=True))
    pd.testing.assert_frame_equal(tables[0], tables[1], check_exact=True)


def test_a_worker_killing_itself_is_retried_and_tables_match(local_run, tmp_path):
    marker = tmp_path / "died"
    r = physai(
        "run",
        TOY,
        "--preset",
        "paper",
        "--out",
        str(tmp_path / "res"),
        "--backend",
        "processes",
        "--workers",
        "2",
        "--no-progress",
        env={"PHYSAI_TOY_DIE_ONCE": str(marker)},
    )
    assert r.returncode == 0, r.stderr
    assert marker.exists() and "died (exit code -9); attempt 1 of 3" in r.stderr
    pd.testing.assert_frame_equal(_trials(local_run), _trials(tmp_path / "res"))


def test_a_shard_that_always_kills_its_worker_is_recorded_failed_then_rerun(local_run, tmp_path):
    out = tmp_path / "res"
    r = physai(
        "run",
        TOY,
        "--preset",
        "paper",
        "--out",
        str(out),
        "--backend",
        "processes",
        "--workers",
        "2",
        "--retries",
        "1",
        "--no-progress",
        env={"PHYSAI_TOY_DIE_WIDTH": "16"},
    )
    assert r.returncode == 0, r.stderr
    t = store.load(out, "toy", "paper")["trials"]
    assert set(t.loc[t.width == 16, "status"]) == {"failed"}
    assert t.loc[t.width == 16, "error"].str.contains("worker died").all()
    assert set(t.loc[t.width != 16, "status"]) == {"ok"}
    # re-running picks up the failed shards only
    r2 = physai(
        "run", TOY, "--preset", "paper", "--out", str(out), "--backend", "processes", "--workers", "2", "--no-progress"
    )
    assert "2 shards run, 4 already stored" in r2.stdout
    pd.testing.assert_frame_equal(_trials(local_run), _trials(out))


def _children(pid: int) -> list[int]:
    kids = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            kids.append(int(stat.parent.name))
    return kids


def _processes_sweep(out, sleep: str, own_session: bool = False) -> subprocess.Popen:
    """Starts the toy paper sweep on two worker processes, each shard sleeping ``sleep`` s.

    With ``own_session`` it gets a process group of its own and SIGINT at its default,
    as a terminal's foreground job has (a background job of a non-interactive shell,
    ``make test &``, inherits it ignored), so a test can Ctrl-C the whole group.
    """
    extra = {}
    if own_session:
        extra = {"start_new_session": True, "preexec_fn": lambda: signal.signal(signal.SIGINT, signal.SIG_DFL)}
    command = [sys.executable, "-m", "physai.cli", "run", TOY, "--preset", "paper", "--out", str(out)]
    return subprocess.Popen(
        [*command, "--backend", "processes", "--workers", "2", "--no-progress"],
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO), "PHYSAI_TOY_SLEEP": sleep},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        **extra,
    )


def test_a_worker_killed_from_outside_mid_sweep(local_run, tmp_path):
    out = tmp_path / "res"
    proc = _processes_sweep(out, sleep="1.5")
    trials_dir = out / "toy" / "paper" / "trials"
    deadline = time.time() + 120
    while time.time() < deadline and not list(trials_dir.glob("*.parquet")):
        time.sleep(0.05)
    workers = [p for p in _children(proc.pid) if "spawn_main" in Path(f"/proc/{p}/cmdline").read_text()]
    assert workers, "expected running workers"
    os.kill(workers[0], signal.SIGKILL)
    _, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err
    t = _trials(out)
    assert t["trial_id"].is_unique and (t["status"] == "ok").all()
    pd.testing.assert_frame_equal(_trials(local_run), t)


# ----------------------------------------------------------------------------- Ray
ray = pytest.importorskip("ray")


def test_ray_local_instance_matches_local_and_imports_nothing_from_the_working_directory(local_run, tmp_path):
    marker = booby_trapped(tmp_path)  # run from a folder of fake standard-library modules
    r = subprocess.run(
        [PHYSAI, "run", TOY, "--preset", "paper", "--out", str(tmp_path / "out"), "--backend", "ray", "--no-progress"],
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert not marker.exists(), marker.read_text()
    assert r.returncode == 0, r.stderr[-2000:]
    pd.testing.assert_frame_equal(_trials(local_run), _trials(tmp_path / "out"))


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_ray_cluster_by_address_matches_local(local_run, tmp_path):
    import secrets

    ray_bin = str(Path(sys.executable).parent / "ray")
    port = _free_port()
    token = tmp_path / "ray_token"  # the cluster and its client share a token, as Ray's docs ask
    token.write_text(secrets.token_hex(32))
    # single-machine mode keeps every Ray service on 127.0.0.1
    ray_env = {
        "RAY_AUTH_MODE": "token",
        "RAY_AUTH_TOKEN_PATH": str(token),
        "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0",
        "RAY_USAGE_STATS_ENABLED": "0",
    }
    env = {**os.environ, "PYTHONPATH": str(REPO), **ray_env}
    start = subprocess.run(
        [
            ray_bin,
            "start",
            "--head",
            "--node-ip-address",
            "127.0.0.1",
            "--port",
            str(port),
            "--num-cpus",
            "2",
            "--include-dashboard",
            "false",
            "--disable-usage-stats",
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert start.returncode == 0, start.stderr
    try:
        r = physai(
            "run",
            TOY,
            "--preset",
            "paper",
            "--out",
            str(tmp_path),
            "--backend",
            "ray",
            "--address",
            f"127.0.0.1:{port}",
            "--no-progress",
            env=ray_env,
        )
        assert r.returncode == 0, r.stderr
        pd.testing.assert_frame_equal(_trials(local_run), _trials(tmp_path))
    finally:
        subprocess.run([ray_bin, "stop", "--force"], env=env, capture_output=True, timeout=120)


def test_ray_unreachable_address_is_one_line_exit_2(tmp_path):
    out = tmp_path / "res"
    r = physai("run", TOY, "--out", str(out), "--backend", "ray", "--address", f"127.0.0.1:{_free_port()}")
    assert r.returncode == 2 and r.stderr.count("\n") == 1 and "cannot reach Ray" in r.stderr
    assert not out.exists()


def test_missing_ray_extra_is_one_line_exit_2(tmp_path):
    shadow = tmp_path / "shadow" / "ray"
    shadow.mkdir(parents=True)
    (shadow / "__init__.py").write_text("raise ImportError(\"No module named 'ray'\")\n")
    out = tmp_path / "res"
    r = physai(
        "run", TOY, "--out", str(out), "--backend", "ray", env={"PYTHONPATH": f"{shadow.parent}{os.pathsep}{REPO}"}
    )
    assert r.returncode == 2 and r.stderr.count("\n") == 1
    assert "pip install 'physai[ray]'" in r.stderr
    assert not out.exists()


def test_ctrl_c_stops_cleanly_and_leaves_only_complete_shards(local_run, tmp_path):
    out = tmp_path / "res"
    proc = _processes_sweep(out, sleep="2", own_session=True)
    trials_dir = out / "toy" / "paper" / "trials"
    deadline = time.time() + 120
    while time.time() < deadline and not list(trials_dir.glob("*.parquet")):
        time.sleep(0.05)
    workers = _children(proc.pid)
    assert workers
    os.killpg(proc.pid, signal.SIGINT)  # what Ctrl-C in a terminal sends: the whole process group
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130 and "interrupted" in err
    stored = list(trials_dir.glob("*.parquet"))
    assert 1 <= len(stored) < 6 and not list(out.rglob("*.tmp"))
    time.sleep(1)
    alive = [
        p
        for p in workers
        if Path(f"/proc/{p}/stat").exists() and Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    ]
    assert alive == []  # no worker left behind
    r = physai("run", TOY, "--preset", "paper", "--out", str(out), "--backend", "processes", "--no-progress")
    assert r.returncode == 0 and f"{6 - len(stored)} shards run" in r.stdout
    pd.testing.assert_frame_equal(_trials(local_run), _trials(out))
