"""Which trials are stored, and with which outcome: the index of trials files and
the one precedence rule, ``_resolve``, that every reader and writer applies."""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Hashable, Iterable
from pathlib import Path
from typing import Any, NamedTuple

import pyarrow.parquet as pq

from physai.errors import PhysaiError
from physai.store.files import (
    _READ_ERRORS,
    DamagedFile,
    _cached,
    _ids_and_statuses,
    _read,
    _trials_files,
    experiment_dir,
    posix_seconds,
)

DONE = ("ok", "diverged")  # outcomes that win over "failed"


def _read_ids(path: Path) -> tuple[list, list]:
    return _ids_and_statuses(path, _read(path, ["trial_id", "status"]))


def _index(folder: Path) -> tuple[dict[str, tuple[list, list]], dict[str, DamagedFile]]:
    """Returns: ``{shard file stem: (trial ids, statuses)}`` of every readable trials
    file, and ``{stem: error}`` of the damaged ones (cheap: two columns, cached)."""
    index: dict[str, tuple[list, list]] = {}
    bad: dict[str, DamagedFile] = {}
    for stem, path in _trials_files(folder).items():
        try:
            index[stem] = _cached(path, _read_ids)
        except FileNotFoundError:
            continue
        except DamagedFile as e:
            bad[stem] = e
    return index, bad


def _finite_max(values: Iterable) -> float | None:
    vals = [float(v) for v in values if isinstance(v, (int, float)) and math.isfinite(v)]
    return max(vals) if vals else None


def _end_time(folder: Path, stem: str) -> float:
    """When a stored shard finished: ``end`` of its provenance row, else the
    mtime of its trials file (0 when neither can be read)."""
    try:
        end = _cached(
            folder / "shards" / f"{stem}.parquet", lambda p: _finite_max(posix_seconds(_read(p, ["end"]).column("end")))
        )
        if end is not None:
            return end
    except (FileNotFoundError, PhysaiError):
        pass
    try:
        return (folder / "trials" / f"{stem}.parquet").stat().st_mtime
    except FileNotFoundError:
        return 0.0


class Outcome(NamedTuple):
    """A trial's stored outcome: its status and the shard file (stem) holding it."""

    status: str
    shard: Any


def _resolve(rows: Iterable[tuple[str, Any, Hashable]], when: Callable[[Hashable], tuple]) -> dict[str, Outcome]:
    """The one rule deciding which stored row is a trial's outcome.

    A row ranks by: ok/diverged over failed (a failed attempt never hides a
    result); then ``when(source)``, newest first. Rows of one trial within one
    source count once.

    Args:
      rows: ``(trial_id, status, source)`` for every stored row.
      when: ``source -> (time, tie-breakers...)``; called only for trials stored
        in more than one source.

    Returns:
      ``{trial_id: Outcome(status, source)}``.
    """
    groups: dict[str, list[tuple[Any, Hashable]]] = {}
    for tid, status, source in rows:
        groups.setdefault(tid, []).append((status, source))
    times: dict[Hashable, tuple] = {}

    def rank(candidate):
        status, source = candidate
        if source not in times:
            times[source] = when(source)
        return (status in DONE, times[source])

    out = {}
    for tid, candidates in groups.items():
        if len({source for _, source in candidates}) == 1:
            status, source = candidates[-1]
        else:
            status, source = max(candidates, key=rank)
        out[tid] = Outcome(status, source)
    return out


def _stored_when(folder: Path) -> Callable[[str], tuple]:
    return lambda stem: (_end_time(folder, stem), 0, stem)


def stored_outcomes(root: str | os.PathLike, experiment: str, preset: str) -> dict[str, Outcome]:
    """Args: root, experiment, preset: where to look.

    Returns: ``trial_id -> Outcome(status, shard)`` for every stored trial, by the
    store's one precedence rule (cheap: reads two columns). A damaged trials file
    counts as not stored (a run sets it aside and re-runs its trials)."""
    folder = experiment_dir(root, experiment, preset)
    index, _ = _index(folder)
    rows = ((tid, st, stem) for stem, (ids, sts) in index.items() for tid, st in zip(ids, sts))
    return _resolve(rows, _stored_when(folder))


def stored_status(root: str | os.PathLike, experiment: str, preset: str) -> dict[str, str]:
    """Args: root, experiment, preset: where to look.
    Returns: ``trial_id -> status`` for every stored trial (cheap: reads two columns)."""
    return {t: o.status for t, o in stored_outcomes(root, experiment, preset).items()}


def intact(folder: Path, shard: str) -> bool:
    """Cheap check that a stored shard's other tables are readable: the Parquet
    footer of its provenance (required) and of its curves (when present) parse.
    Page checksums are verified when the data is loaded.

    Args:
      folder: ``experiment_dir(...)``.
      shard: the shard file's stem.

    Returns:
      False when a table is truncated, unreadable or (provenance) missing.
    """
    folder = Path(folder)
    curves = folder / "curves" / f"{shard}.parquet"
    try:
        if pq.read_metadata(folder / "shards" / f"{shard}.parquet").num_rows < 1:
            return False
        if curves.exists():
            pq.read_metadata(curves)
    except _READ_ERRORS:
        return False
    return True
