"""Reading and writing whole shards: ``load`` (one row per trial), ``write_shard``
(which compacts as it stores) and ``repair`` (run before a sweep writes)."""

from __future__ import annotations

import contextlib
import os
import sys
import time
from collections.abc import Callable, Iterable
from pathlib import Path

import pandas as pd
import pyarrow as pa

from physai.errors import PhysaiError
from physai.store.files import (
    DamagedFile,
    _ids_and_statuses,
    _locked,
    _paths,
    _read,
    _trials_files,
    experiment_dir,
    posix_seconds,
    remove_stale_tmp,
    write_table,
)
from physai.store.outcomes import _finite_max, _index, _resolve, _stored_when

CURVE_COLUMNS = ["trial_id", "step", "split", "metric", "value"]


def load(
    root: str | os.PathLike, experiment: str, preset: str, trial_ids: Iterable[str] | None = None
) -> dict[str, pd.DataFrame]:
    """Loads the tidy tables of one experiment and preset as pandas DataFrames.

    Args:
      root: results root (``results`` by default on the CLI).
      experiment, preset: names.
      trial_ids: keep only these trials, in this order (the current plan);
        ``None`` keeps every stored trial, sorted by id.

    Returns:
      ``{"trials": ..., "curves": ..., "shards": ...}``: one row per trial (its
      outcome by the store's precedence rule), its curves and provenance from the
      same shard file, so a curves file orphaned by a kill never shows up.
      Raises PhysaiError (one line, naming the file) on a damaged file.
    """
    folder = experiment_dir(root, experiment, preset)
    tables: dict[str, pa.Table] = {}
    rows = []
    for stem, path in _trials_files(folder).items():
        try:
            tables[stem] = _read(path)
        except FileNotFoundError:  # removed by a concurrent compaction
            continue
        ids, sts = _ids_and_statuses(path, tables[stem])
        rows.extend(zip(ids, sts, [stem] * len(ids)))
    winners = _resolve(rows, _stored_when(folder))
    if trial_ids is not None:
        trial_ids = list(trial_ids)
    wanted = set(winners) if trial_ids is None else set(trial_ids) & set(winners)

    def from_stem(table: pa.Table, stem: str, keep: Callable[[str], bool]) -> pd.DataFrame | None:
        mask = [
            keep(t) and winners[t].shard == stem if t in winners else False
            for t in table.column("trial_id").to_pylist()
        ]
        return table.filter(pa.array(mask, pa.bool_())).to_pandas() if any(mask) else None

    frames = [from_stem(t, stem, wanted.__contains__) for stem, t in tables.items()]
    frames = [f for f in frames if f is not None]
    trials = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
    if len(trials):
        trials = trials.drop_duplicates("trial_id", keep="last")
        if trial_ids is None:
            trials = trials.sort_values("trial_id")
        else:
            order = {t: i for i, t in enumerate(trial_ids)}
            trials = trials.iloc[trials["trial_id"].map(order).argsort(kind="stable")]
        trials = trials.reset_index(drop=True)
    kept = set(trials["trial_id"]) if len(trials) else set()
    stems = sorted({winners[t].shard for t in kept})

    curve_frames = []
    for stem in stems:
        path = folder / "curves" / f"{stem}.parquet"
        if not path.exists():
            continue
        c = _read(path)
        if "trial_id" not in c.column_names:
            raise DamagedFile(path, "no trial_id column: not a curves table")
        f = from_stem(c, stem, kept.__contains__)
        if f is not None:
            curve_frames.append(f)
    if curve_frames:
        curves = pd.concat(curve_frames, ignore_index=True)
        curves = curves.drop_duplicates(["trial_id", "step", "split", "metric"], keep="last")
        curves = curves.sort_values(["trial_id", "split", "metric", "step"]).reset_index(drop=True)
    else:
        curves = pd.DataFrame(columns=CURVE_COLUMNS)

    shard_frames = []
    for stem in stems:
        path = folder / "shards" / f"{stem}.parquet"
        if path.exists():
            s = _read(path).to_pandas()
            if len(s):
                shard_frames.append(s)
    shards = pd.concat(shard_frames, ignore_index=True) if shard_frames else pd.DataFrame()
    if len(shards) and "shard_id" in trials and "shard_id" in shards:
        shards = shards[shards["shard_id"].isin(set(trials["shard_id"]))].reset_index(drop=True)
    return {"trials": trials, "curves": curves, "shards": shards}


# ----------------------------------------------------------------------------- storing


def _remove_shard_files(folder: Path, stem: str) -> None:
    # trials first: once it is gone the shard is not stored; orphans are never read
    for name in ("trials", "curves", "shards"):
        _paths(folder, stem)[name].unlink(missing_ok=True)


def _without(table: pa.Table, tids: set[str]) -> pa.Table:
    mask = [t not in tids for t in table.column("trial_id").to_pylist()]
    return table.filter(pa.array(mask, pa.bool_()))


def _drop_rows(folder: Path, stem: str, tids: set[str]) -> None:
    """Removes the rows of ``tids`` from one stored shard's files.

    Curves go first, then trials: an interrupted removal leaves the trial stored
    twice, which the loaders resolve and ``repair`` finishes. A trials file left
    empty is deleted with its curves and provenance. A damaged file cannot be
    rewritten and is left for ``load`` to name.
    """
    p = _paths(folder, stem)
    try:
        before = p["trials"].stat()
        trials = _read(p["trials"])
        _ids_and_statuses(p["trials"], trials)
    except (FileNotFoundError, PhysaiError):
        return
    rest = _without(trials, tids)
    if rest.num_rows == trials.num_rows:
        return
    if rest.num_rows == 0:
        _remove_shard_files(folder, stem)
        return
    try:
        curves = _read(p["curves"])
        if "trial_id" in curves.column_names:
            kept = _without(curves, tids)
            if kept.num_rows == 0:
                p["curves"].unlink(missing_ok=True)
            elif kept.num_rows < curves.num_rows:
                write_table(p["curves"], kept)
    except (FileNotFoundError, PhysaiError):
        pass
    write_table(p["trials"], rest)
    # keep its mtime: it dates the shard's outcomes when its provenance has no end time
    os.utime(p["trials"], ns=(before.st_atime_ns, before.st_mtime_ns))


def _concat(tables: list[pa.Table]) -> pa.Table:
    tables = [t for t in tables if t is not None and t.num_rows]
    if not tables:
        return pa.table({})
    if len(tables) == 1:
        return tables[0]
    return pa.concat_tables(tables, promote_options="permissive")


def write_shard(folder: Path, shard_id: str, trials: pa.Table, curves: pa.Table | None, provenance: pa.Table) -> None:
    """Stores one finished shard; the trials file goes last and marks completion.

    Compacts as it stores, so that every trial keeps one stored outcome (see
    ``_resolve``): rows of the same trials in other files that lose to the new
    ones are removed there (with their curves); a new row that loses to a stored
    one (say ``failed`` while an ``ok`` is stored) is dropped before writing, and
    when it loses to a row of this shard's own earlier file, that row and its
    curves are kept in the rewritten file.

    Args:
      folder: ``experiment_dir(...)``.
      shard_id: the shard's id (file stem).
      trials, curves, provenance: the three tables of this shard.
    """
    folder = Path(folder)
    with _locked(folder):
        _store(folder, shard_id, trials, curves, provenance)


def _store(folder: Path, shard_id: str, trials: pa.Table, curves: pa.Table | None, provenance: pa.Table) -> None:
    p = _paths(folder, shard_id)
    index, _ = _index(folder)
    own_trials = own_curves = None
    if shard_id in index:  # an earlier attempt at this shard, replaced by this write
        try:
            own_trials = _read(p["trials"])
            own_curves = _read(p["curves"]) if p["curves"].exists() else None
        except (FileNotFoundError, PhysaiError):  # unreadable: nothing of it can be kept
            del index[shard_id]
            own_trials = own_curves = None

    new_ids, new_statuses = _ids_and_statuses(Path(f"<new shard {shard_id}>"), trials)
    ids = set(new_ids) | set(index[shard_id][0] if shard_id in index else ())
    rows = [(tid, st, stem) for stem, (tids, sts) in index.items() for tid, st in zip(tids, sts) if tid in ids]
    rows += [(tid, st, None) for tid, st in zip(new_ids, new_statuses)]  # None: the new shard
    new_end = None
    if "end" in provenance.column_names:
        new_end = _finite_max(posix_seconds(provenance.column("end")))
    if new_end is None:
        new_end = time.time()
    stored_when = _stored_when(folder)

    def when(source):
        return (new_end, 1, shard_id) if source is None else stored_when(source)

    winners = _resolve(rows, when)
    from_new = {t for t in new_ids if winners[t].shard is None}
    carried = {t for t, o in winners.items() if o.shard == shard_id}

    def only(table, keep):
        if table is None or "trial_id" not in table.column_names:
            return None
        return table.filter(pa.array([t in keep for t in table.column("trial_id").to_pylist()], pa.bool_()))

    out_trials = _concat([only(trials, from_new), only(own_trials, carried)])
    if out_trials.num_rows:
        position = {t: i for i, t in enumerate(new_ids)}  # the shard's own trial order
        out_ids = out_trials.column("trial_id").to_pylist()
        order = sorted(range(len(out_ids)), key=lambda i: position.get(out_ids[i], len(position)))
        out_trials = out_trials.take(order)
        out_curves = _concat([only(curves, from_new), only(own_curves, carried)])
        if out_curves.num_rows:
            write_table(p["curves"], out_curves)
        else:
            p["curves"].unlink(missing_ok=True)  # never leave an earlier attempt's curves
        write_table(p["shards"], provenance)
        write_table(p["trials"], out_trials)
    else:  # every row lost to outcomes stored elsewhere: this shard stores nothing
        _remove_shard_files(folder, shard_id)

    losers: dict[str, set[str]] = {}
    for tid, _, source in rows:
        if source is not None and source != shard_id and winners[tid].shard != source:
            losers.setdefault(source, set()).add(tid)
    for stem in sorted(losers):
        _drop_rows(folder, stem, losers[stem])


def repair(folder: Path) -> None:
    """Makes a folder consistent before a sweep writes into it.

    Removes temporary files of killed writes (``remove_stale_tmp``); sets damaged
    trials files aside as ``<name>.corrupt`` (their trials then count as missing
    and are re-run); finishes compactions a kill interrupted (a trial stored in
    several files keeps only its outcome).

    Args:
      folder: ``experiment_dir(...)``; nothing happens when it does not exist.
    """
    folder = Path(folder)
    if not folder.is_dir():
        return
    with _locked(folder):
        remove_stale_tmp(folder)
        index, bad = _index(folder)
        for stem, err in bad.items():
            path = folder / "trials" / f"{stem}.parquet"
            with contextlib.suppress(FileNotFoundError):
                os.replace(path, path.with_name(path.name + ".corrupt"))
                print(
                    f"physai: {path} is damaged ({err.reason}); set aside as {path.name}.corrupt, "
                    "its trials are run again",
                    file=sys.stderr,
                )
        where: dict[str, set[str]] = {}
        for stem, (ids, _) in index.items():
            for tid in ids:
                where.setdefault(tid, set()).add(stem)
        twice = {tid for tid, stems in where.items() if len(stems) > 1}
        if not twice:
            return
        rows = [(tid, st, stem) for stem, (ids, sts) in index.items() for tid, st in zip(ids, sts) if tid in twice]
        winners = _resolve(rows, _stored_when(folder))
        losers: dict[str, set[str]] = {}
        for tid, _, stem in rows:
            if winners[tid].shard != stem:
                losers.setdefault(stem, set()).add(tid)
        for stem in sorted(losers):
            _drop_rows(folder, stem, losers[stem])
