"""Shared fixtures: a private compilation cache and a helper to call the CLI in a subprocess."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
PHYSAI = str(Path(sys.executable).parent / "physai")  # the console script a user runs


def booby_trapped(folder: Path) -> Path:
    """Fills ``folder`` with packages named like standard-library modules that record being
    imported; returns the marker file they write. Run physai from there: no worker may import them."""
    marker = folder / "EXECUTED"
    for name in ("multiprocessing", "json"):
        pkg = folder / name
        pkg.mkdir()
        (pkg / "__init__.py").write_text(
            f"open({str(marker)!r}, 'a').write({name!r})\nraise ImportError('imported from the working directory')\n"
        )
    return marker


@pytest.fixture(scope="session", autouse=True)
def private_cache(tmp_path_factory):
    """Keeps tests from reading or polluting the user's JAX compilation cache."""
    os.environ["PHYSAI_CACHE_DIR"] = str(tmp_path_factory.mktemp("jax-cache"))
    # Unit tests check verdicts on tables built (or runs sized) to be decided; 100 seed
    # resamples decide them as 1000 would, at a tenth of the time. The slow reference
    # test restores the full count.
    os.environ.setdefault("PHYSAI_BOOTSTRAP_RESAMPLES", "100")
    # ``pytest -n 2`` already keeps every core busy: shards overlapping inside a test process
    # only contend (the tiny end-to-end runs took 114 s against 99 s one shard at a time).
    # ``test_local_backend.py`` runs the overlapping default explicitly.
    os.environ.setdefault("PHYSAI_SHARD_THREADS", "1")
    yield


def physai(*args, env=None, **kw) -> subprocess.CompletedProcess:
    """Runs ``python -m physai.cli ARGS`` from the repo root (so ``tests.toy_experiment`` imports)."""
    full_env = {**os.environ, "PYTHONPATH": str(REPO), **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "physai.cli", *args], cwd=REPO, env=full_env, capture_output=True, text=True, **kw
    )
