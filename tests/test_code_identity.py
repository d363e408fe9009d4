"""Results carry the identity of the code that made them; results of other code are never
mixed in silently (a one-line refusal naming what changed, or ``--rerun``)."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd

from physai import identity
from tests.conftest import REPO

SOURCE = '''"""An experiment whose code a test edits between runs."""
import os
import time
from dataclasses import dataclass

import physai
from physai import Experiment, Hypothesis, Preset, ShardResult, Verdict, product

FACTOR = 2.0


@dataclass(frozen=True)
class Static(physai.Static):
    x: int


def run(shard):
    time.sleep(float(os.environ.get("IDENT_SLEEP", "0")))
    return ShardResult([{"y": FACTOR * t.params["x"]} for t in shard.trials])


EXPERIMENT = Experiment("ident", "q", (Hypothesis("h", "c", "a", lambda r: Verdict("supported", 1, "")),),
                        {k: Preset(product(x=[1, 2, 3], seed=[0])) for k in ("tiny", "demo", "paper")},
                        run, static=Static)
'''


def _cli(pkg_root: Path, *args, env=None, **kw):
    full = {**os.environ, "PYTHONPATH": f"{pkg_root}{os.pathsep}{REPO}", **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "physai.cli", *args], cwd=pkg_root, env=full, capture_output=True, text=True, **kw
    )


def _setup(tmp_path: Path) -> tuple[Path, Path, Path]:
    root = tmp_path / "code"
    (root / "identpkg").mkdir(parents=True)
    (root / "identpkg" / "__init__.py").write_text("")
    module = root / "identpkg" / "exp.py"
    module.write_text(SOURCE)
    return root, module, tmp_path / "out"


def _ys(out: Path) -> list[float]:
    frames = [pd.read_parquet(f) for f in sorted((out / "ident" / "demo" / "trials").glob("*.parquet"))]
    return sorted(pd.concat(frames)["y"].tolist())


def test_prose_edits_keep_results_and_code_edits_are_refused_until_rerun(tmp_path):
    root, module, out = _setup(tmp_path)
    assert _cli(root, "run", "identpkg.exp", "--out", str(out)).returncode == 0
    assert _ys(out) == [2.0, 4.0, 6.0]
    prov = pd.concat(pd.read_parquet(f) for f in (out / "ident" / "demo" / "shards").glob("*.parquet"))
    assert prov["code_fingerprint"].str.len().eq(16).all() and "identpkg/exp.py" in prov["code_files"].iloc[0]

    module.write_text(SOURCE.replace("whose code a test edits", "whose prose a test edits"))
    r = _cli(root, "run", "identpkg.exp", "--out", str(out))
    assert r.returncode == 0 and "0 shards run, 3 already stored" in r.stdout  # a docstring is not code

    module.write_text(SOURCE.replace("FACTOR = 2.0", "FACTOR = 3.0"))
    for command in (["run"], ["verify"], ["plot"], ["report"]):
        r = _cli(root, *command, "identpkg.exp", "--out", str(out))
        assert r.returncode == 2, (command, r.stdout, r.stderr)
        (line,) = r.stderr.strip().splitlines()
        assert "3 stored shard(s) of ident/demo" in line and "changed: identpkg/exp.py" in line
        assert "--rerun" in line
    status = _cli(root, "status", "identpkg.exp", "--out", str(out))
    assert status.returncode == 0 and "stale:" in status.stdout
    assert _ys(out) == [2.0, 4.0, 6.0]  # refused: nothing written

    r = _cli(root, "run", "identpkg.exp", "--out", str(out), "--rerun")
    assert r.returncode == 0 and "3 shards run" in r.stdout, r.stderr
    assert _ys(out) == [3.0, 6.0, 9.0]
    assert "stale" not in _cli(root, "status", "identpkg.exp", "--out", str(out)).stdout
    assert _cli(root, "verify", "identpkg.exp", "--out", str(out)).returncode == 0


def test_a_killed_rerun_loses_nothing_and_resumes(tmp_path):
    root, module, out = _setup(tmp_path)
    assert _cli(root, "run", "identpkg.exp", "--out", str(out)).returncode == 0
    module.write_text(SOURCE.replace("FACTOR = 2.0", "FACTOR = 5.0"))
    env = {**os.environ, "PYTHONPATH": f"{root}{os.pathsep}{REPO}", "IDENT_SLEEP": "3"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "physai.cli", "run", "identpkg.exp", "--out", str(out), "--rerun", "--no-progress"],
        cwd=root,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    deadline = time.time() + 60
    while time.time() < deadline and 10.0 not in _ys(out):  # one shard replaced
        time.sleep(0.2)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    ys = _ys(out)
    assert len(ys) == 3 and 10.0 in ys and 6.0 in ys  # x = 2 recomputed, x = 3 still the old result
    assert "stale" in _cli(root, "status", "identpkg.exp", "--out", str(out)).stdout
    assert _cli(root, "run", "identpkg.exp", "--out", str(out), "--rerun").returncode == 0
    assert _ys(out) == [5.0, 10.0, 15.0]


def test_the_fingerprint_ignores_docstrings_and_comments_but_not_code(tmp_path):
    a, b, c = tmp_path / "a.py", tmp_path / "b.py", tmp_path / "c.py"
    a.write_text('"""Doc."""\nX = 1  # one\n\n\ndef f():\n    """Says hi."""\n    return X\n')
    b.write_text('"""Other doc."""\nX = 1\n\ndef f():\n    return X\n')
    c.write_text('"""Doc."""\nX = 2\n\n\ndef f():\n    """Says hi."""\n    return X\n')
    assert identity._source_hash(a) == identity._source_hash(b) != identity._source_hash(c)


def test_a_package_experiment_run_by_worker_processes_records_the_whole_package(tmp_path):
    """A worker imports the experiment's package, not only the file its ``run`` is in: an edit
    to the package's ``__init__`` (its grid, its checks) makes processes-made results stale."""
    root = tmp_path / "code"
    package = root / "identgrp" / "exp"
    package.mkdir(parents=True)
    (root / "identgrp" / "__init__.py").write_text("")
    runner = SOURCE.split("EXPERIMENT =")[0]
    (package / "runner.py").write_text(runner)
    init = (
        "from identgrp.exp.runner import Static, run\nfrom physai import *\nLABEL = 'a'\nEXPERIMENT ="
        + (SOURCE.split("EXPERIMENT =")[1])
    )
    (package / "__init__.py").write_text(init)
    out = tmp_path / "out"
    args = ("run", "identgrp.exp", "--out", str(out), "--backend", "processes", "--workers", "1")
    r = _cli(root, *args)
    assert r.returncode == 0, r.stderr
    prov = pd.concat(pd.read_parquet(f) for f in (out / "ident" / "demo" / "shards").glob("*.parquet"))
    files = prov["code_files"].iloc[0]
    assert "identgrp/exp/__init__.py" in files and "identgrp/exp/runner.py" in files, files
    (package / "__init__.py").write_text(init.replace("LABEL = 'a'", "LABEL = 'b'"))
    r = _cli(root, *args)
    assert r.returncode == 2 and "changed: identgrp/exp/__init__.py" in r.stderr, (r.stdout, r.stderr)
