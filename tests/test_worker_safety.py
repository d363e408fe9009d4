"""Workers never import from the directory where a user runs physai, and leave quietly.

A folder named like a standard-library module (``multiprocessing/``) in the working
directory must not be imported by any backend's workers: run from a downloaded results
folder or ``/tmp``, that would be arbitrary code execution.
"""

import os
import signal
import subprocess
import time

import pytest

from tests.conftest import PHYSAI, REPO, booby_trapped


# Ray's workers: tests/test_backends.py runs its local-instance sweep from such a folder
@pytest.mark.parametrize("backend", ["local", "processes"])
def test_no_backend_imports_from_the_working_directory(backend, tmp_path):
    marker = booby_trapped(tmp_path)
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    extra = ["--workers", "1"] if backend == "processes" else []
    r = subprocess.run(
        [
            PHYSAI,
            "run",
            "tests.toy_experiment",
            "--preset",
            "tiny",
            "--out",
            str(tmp_path / "out"),
            "--no-progress",
            "--backend",
            backend,
            *extra,
        ],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert not marker.exists(), marker.read_text()
    assert r.returncode == 0, r.stderr[-2000:]
    assert "1 shards run" in r.stdout


def test_ctrl_c_on_processes_is_one_line_without_worker_tracebacks(tmp_path):
    started = tmp_path / "started"
    started.mkdir()
    env = {**os.environ, "PYTHONPATH": str(REPO), "PHYSAI_TOY_SLEEP": "30", "PHYSAI_TOY_STARTED": str(started)}
    proc = subprocess.Popen(
        [
            PHYSAI,
            "run",
            "tests.toy_experiment",
            "--out",
            str(tmp_path),
            "--no-progress",
            "--backend",
            "processes",
            "--workers",
            "2",
        ],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    deadline = time.time() + 120
    while time.time() < deadline and len(list(started.iterdir())) < 2:  # both workers inside a shard
        time.sleep(0.05)
    time.sleep(0.5)  # and into the shard's sleep
    os.killpg(proc.pid, signal.SIGINT)  # as a terminal does: the whole process group
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert "Traceback" not in err and "KeyboardInterrupt" not in err, err
    assert err.strip().splitlines()[-1].startswith("physai: interrupted")
