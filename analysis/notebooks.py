"""Executed copies of the teaching notebooks, drawn from the reference results (no training).

    python -m analysis.notebooks             write results/notebooks/<name>.ipynb for every notebook
    python -m analysis.notebooks NAME ...    only these notebooks (file stems)

A teacher previews a notebook's verdicts and figures without running it. Each notebook
runs with ``PRESET = "paper"`` against a scratch copy of ``results/reference``, so every
``run_experiment`` finds its trials stored and only loads, checks and draws them (the
copy keeps the committed results untouched). Exercise cells, the ones that run a
variation (a ``run_experiment`` call with ``overrides``), are left unexecuted: their
answer is the reader's to find, and at paper scale they would train for minutes. A
notebook that would train anything else stops the build: its reference results are
missing or stale (``make reference`` regenerates both). The stored notebooks in
``notebooks/`` stay output-free; ``tests/test_notebooks.py`` checks that each executed
copy has the same code as its notebook.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
from pathlib import Path
from unittest import mock

import nbformat

REPO = Path(__file__).resolve().parent.parent
NOTEBOOKS = REPO / "notebooks"
EXECUTED = REPO / "results" / "notebooks"
REFERENCE = REPO / "results" / "reference"
SKIP = "skip-execution"  # nbclient's tag for a cell it leaves unexecuted


def is_exercise(cell) -> bool:
    """Args: a notebook cell. Returns: whether it is an exercise (runs a variation of an experiment)."""
    return cell.cell_type == "code" and "run_experiment(" in cell.source and "overrides=" in cell.source


def _stored_tables(root: Path) -> set[Path]:
    return {p.relative_to(root) for p in root.rglob("*.parquet")}


def execute(path: Path, reference: Path = REFERENCE, timeout: int = 600):
    """Args: path: a notebook; reference: the results it reads; timeout: seconds per cell.
    Returns: the executed notebook (exercise cells unexecuted). Raises: RuntimeError when
    the notebook trained something, i.e. ``reference`` lacks or has stale results for it."""
    from nbclient import NotebookClient

    nb = nbformat.read(path, as_version=4)
    for cell in nb.cells:
        if is_exercise(cell):
            cell.metadata.setdefault("tags", []).append(SKIP)
    with tempfile.TemporaryDirectory() as scratch:
        out = Path(scratch) / "reference"
        shutil.copytree(reference, out)
        before = _stored_tables(out)
        env = {"PHYSAI_NOTEBOOK_PRESET": "paper", "PHYSAI_NOTEBOOK_OUT": str(out), "PYTHONPATH": str(REPO)}
        with mock.patch.dict(os.environ, env):  # the kernel inherits this process's environment
            client = NotebookClient(
                nb, timeout=timeout, kernel_name="python3", resources={"metadata": {"path": scratch}}
            )
            client.record_timing = False
            client.execute()
        trained = sorted(str(p) for p in _stored_tables(out) - before)
    if trained:
        raise RuntimeError(f"{path.name} trained ({trained[:3]}...): its reference results are missing or stale")
    for cell in nb.cells:
        tags = cell.metadata.get("tags", [])
        if SKIP in tags:  # the copy reads like the notebook: the tag was only for this run
            tags.remove(SKIP)
            if not tags:
                del cell.metadata["tags"]
    return nb


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", help="notebook stems (default: all)")
    args = parser.parse_args(argv)
    paths = [NOTEBOOKS / f"{n}.ipynb" for n in args.names] or sorted(NOTEBOOKS.glob("*.ipynb"))
    missing = [p.name for p in paths if not p.exists()]
    if missing:
        print(f"error: no notebook {missing[0]} in notebooks/", file=sys.stderr)
        return 2
    EXECUTED.mkdir(parents=True, exist_ok=True)
    for path in paths:
        nbformat.write(execute(path), EXECUTED / path.name)
        print(f"wrote {(EXECUTED / path.name).relative_to(REPO)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
