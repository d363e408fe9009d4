"""Which code made a result: a fingerprint per shard, and refusal to mix results of other code.

Each shard's provenance row records ``code_fingerprint`` (a hash over the
experiment's source files), ``code_files`` (each file's hash, to name what
changed), ``physai_version`` and, for an experiment from an installed package of
the user's, ``package_version``. Source is hashed as its syntax tree without
docstrings, so editing prose or comments does not make results stale, while any
change to what runs does.

A sweep whose planned trials are stored by shards of other code stops with a
one-line message naming what changed (``physai.sweep.run_sweep``), unless it is
asked to recompute them (``--rerun``); ``verify``, ``plot`` and ``report``
refuse such tables the same way, and ``physai status`` lists them.
"""

from __future__ import annotations

import ast
import functools
import hashlib
import importlib.metadata
import importlib.util
import json
import sys
import threading
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq

from physai.errors import PhysaiError

FIELDS = ("code_fingerprint", "code_files", "physai_version", "package_version")


def _source_hash(path: Path) -> str:
    """The hash of a Python file's syntax tree without docstrings (prose edits keep it)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if (
            isinstance(body, list)
            and body
            and isinstance(body[0], ast.Expr)
            and isinstance(body[0].value, ast.Constant)
            and isinstance(body[0].value.value, str)
        ):
            node.body = body[1:] or [ast.Pass()]
    return hashlib.sha256(ast.dump(tree, include_attributes=False).encode()).hexdigest()[:16]


def source_files(module: str) -> list[Path]:
    """The files whose code makes an experiment.

    A module is its file; a package (``experiments/robustness_law/``) is every
    ``.py`` file in it; a member of an experiment group (``double_descent.mlp``)
    also depends on the group's shared files, so the group's folder counts whole.

    Args:
      module: the importable module that defines ``EXPERIMENT``.

    Returns:
      The paths, sorted.
    """
    spec = importlib.util.find_spec(module)
    if spec is None or spec.origin is None:
        raise PhysaiError(f"cannot find the source of experiment module {module!r}")
    origin = Path(spec.origin)
    if spec.submodule_search_locations:  # a package: all of it
        return sorted(origin.parent.rglob("*.py"))
    parent = sys.modules.get(module.rpartition(".")[0])
    if parent is not None and hasattr(parent, "EXPERIMENTS"):  # a member of a group
        return sorted(origin.parent.rglob("*.py"))
    return [origin]


def _package_version(module: str) -> str:
    top = module.partition(".")[0]
    if top == "__main__":  # a script: no installed package to name (and the lookup costs ~0.3 s)
        return ""
    dists = importlib.metadata.packages_distributions().get(top, [])
    for dist in dists:
        try:
            return f"{dist} {importlib.metadata.version(dist)}"
        except importlib.metadata.PackageNotFoundError:
            continue
    return ""


_identity_lock = threading.Lock()


def code_identity(module: str) -> dict[str, str]:
    """Args: module: the experiment's module. Returns: the provenance fields ``FIELDS``
    (empty fingerprint for code with no source file, e.g. typed into an interpreter).

    Computed once per module and process, under a lock: shards finishing together on
    the local backend's threads would otherwise parse the sources at the same time,
    which CPython 3.11's ``ast`` does not survive ("AST constructor recursion depth
    mismatch")."""
    with _identity_lock:
        return _code_identity(module)


@functools.cache
def _code_identity(module: str) -> dict[str, str]:
    from physai import __version__

    try:
        files = source_files(module)
    except (PhysaiError, ValueError, ImportError):
        return {"code_fingerprint": "", "code_files": "{}", "physai_version": __version__, "package_version": ""}
    base = Path(importlib.util.find_spec(module.partition(".")[0]).origin or files[0]).parent.parent
    hashes = {}
    for path in files:
        try:
            name = str(path.relative_to(base))
        except ValueError:
            name = str(path)
        hashes[name] = _source_hash(path)
    blob = json.dumps({"files": hashes, "physai": __version__}, sort_keys=True)
    own = module.partition(".")[0] not in ("experiments", "tests", "benchmarks")
    return {
        "code_fingerprint": hashlib.sha256(blob.encode()).hexdigest()[:16],
        "code_files": json.dumps(hashes, sort_keys=True),
        "physai_version": __version__,
        "package_version": _package_version(module) if own else "",
    }


def module_of(experiment) -> str:
    """Args: experiment: an ``Experiment``. Returns: the module that defines it."""
    return experiment.module or experiment.run.__module__


def _what_changed(stored: dict[str, Any], current: dict[str, str]) -> str:
    if not stored.get("code_fingerprint"):
        return "made by code that recorded no fingerprint"
    if stored.get("physai_version") != current["physai_version"]:
        return f"physai {stored.get('physai_version')} -> {current['physai_version']}"
    if stored.get("package_version") != current["package_version"]:
        return f"{stored.get('package_version') or 'no package'} -> {current['package_version']}"
    old, new = json.loads(stored.get("code_files") or "{}"), json.loads(current["code_files"])
    changed = sorted(f for f in set(old) | set(new) if old.get(f) != new.get(f))
    return "changed: " + (", ".join(changed) if changed else "the experiment's code")


def stale_shards(plan_, root: str) -> dict[str, str]:
    """The stored shards holding planned trials that other code made.

    Args:
      plan_: a ``physai.sweep.Plan``; root: results root.

    Returns:
      ``{shard file stem: what changed}`` (empty when every stored result is current).
    """
    from physai import store

    folder = store.experiment_dir(root, plan_.experiment.name, plan_.preset)
    outcomes = store.stored_outcomes(root, plan_.experiment.name, plan_.preset)
    stems = {outcomes[t].shard for t in plan_.trial_ids if t in outcomes and outcomes[t].status in store.DONE}
    if not stems:
        return {}
    current = code_identity(module_of(plan_.experiment))
    stale = {}
    for stem in sorted(stems):
        path = folder / "shards" / f"{stem}.parquet"
        try:
            row = pq.read_table(path).to_pylist()[0]
        except (OSError, IndexError, ValueError):
            continue  # a missing or damaged provenance file makes the shard pending anyway
        if row.get("code_fingerprint") != current["code_fingerprint"]:
            stale[stem] = _what_changed(row, current)
    return stale


def stale_message(plan_, stale: dict[str, str], root: str) -> str:
    """One line: how many stored shards are stale, what changed, and the way out."""
    reasons = sorted(set(stale.values()))
    return (
        f"{len(stale)} stored shard(s) of {plan_.experiment.name}/{plan_.preset} under {root} came from "
        f"other code ({'; '.join(reasons)}); run with --rerun to recompute them"
    )


def require_current(plan_, root: str) -> None:
    """Raises PhysaiError (one line) when stored results of the plan came from other code."""
    stale = stale_shards(plan_, root)
    if stale:
        raise PhysaiError(stale_message(plan_, stale, root))
