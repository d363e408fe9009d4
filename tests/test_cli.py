"""The physai command as a user runs it: bad input is one line and exit 2, nothing written."""
import os
from pathlib import Path

import pytest

from tests.conftest import physai

TOY = "tests.toy_experiment"


def _snapshot(root: Path) -> dict:
    return {p: p.stat().st_mtime_ns for p in root.rglob("*")} if root.exists() else {}


@pytest.fixture(scope="module")
def stored(tmp_path_factory):
    """A results root holding a finished toy demo run."""
    root = tmp_path_factory.mktemp("results")
    r = physai("run", TOY, "--out", str(root), "--no-progress")
    assert r.returncode == 0, r.stderr
    return root


BAD = {
    "unknown experiment": (["run", "nope"], "unknown experiment 'nope'; choose from:"),
    "unknown preset": (["run", TOY, "--preset", "huge"], "unknown preset 'huge' for toy; choose from: demo, paper"),
    "unknown grid key": (["run", TOY, "--set", "depth=3"], "unknown key 'depth'"),
    "malformed value": (["run", TOY, "--set", "lr=[1,"], "malformed value"),
    "mistyped value": (["run", TOY, "--set", "width=wide"], "expected int"),
    "missing =": (["run", TOY, "--set", "width"], "expected key=value"),
    "unknown strategy": (["run", TOY, "--strategy", "magic"], "invalid choice: 'magic'"),
    "unknown command": (["frobnicate"], "invalid choice: 'frobnicate'"),
    "verify unknown preset": (["verify", TOY, "--preset", "huge"], "unknown preset"),
    "plot nothing stored": (["plot", TOY, "--set", "seed=[99]"], "nothing stored"),
}


@pytest.mark.parametrize("case", list(BAD))
def test_bad_input_is_one_line_exit_2_and_writes_nothing(case, stored):
    args, message = BAD[case]
    before = _snapshot(stored)
    r = physai(*args, "--out", str(stored)) if args[0] != "frobnicate" else physai(*args)
    assert r.returncode == 2, (r.stdout, r.stderr)
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("physai: error:"), r.stderr
    assert message in lines[0]
    assert "Traceback" not in r.stderr
    assert _snapshot(stored) == before  # nothing written or overwritten


def test_unwritable_out_is_refused(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    r = physai("run", TOY, "--out", str(blocker / "sub"))
    assert r.returncode == 2 and "not a writable folder" in r.stderr
    assert blocker.read_text() == "not a folder"


def test_debug_shows_the_traceback():
    r = physai("run", "nope", "--debug")
    assert r.returncode != 0 and "Traceback" in r.stderr


def test_verify_exit_codes_follow_the_verdicts(stored):
    ok = physai("verify", TOY, "--out", str(stored), "--no-progress")
    assert ok.returncode == 0, ok.stderr
    assert "supported" in ok.stdout and "0 shards run, 4 already stored" in ok.stdout
    assert (stored / "toy" / "demo" / "verdicts.json").exists()
    # diverge preset, all lr huge: no ok trials -> the check has no data -> inconclusive -> exit 1
    bad = physai("verify", TOY, "--preset", "diverge", "--set", "lr=1e6", "--out", str(stored), "--no-progress")
    assert bad.returncode == 1, bad.stderr
    assert "inconclusive" in bad.stdout


def test_status_and_list(stored):
    r = physai("status", TOY, "--out", str(stored))
    assert r.returncode == 0 and "6/6 trials stored" in r.stdout
    r = physai("status", TOY, "--preset", "paper", "--out", str(stored))
    assert "0/12 trials stored" in r.stdout and "12 missing" in r.stdout
    r = physai("list")
    assert r.returncode == 0 and "double_descent" in r.stdout


def test_persistent_compilation_cache_is_private_and_used(tmp_path):
    cache = tmp_path / "cache"
    r = physai("run", TOY, "--out", str(tmp_path / "res"), "--no-progress", env={"PHYSAI_CACHE_DIR": str(cache)})
    assert r.returncode == 0, r.stderr
    assert cache.is_dir() and (cache.stat().st_mode & 0o777) == 0o700
    assert any(cache.iterdir()), "compiled programs should be cached"
