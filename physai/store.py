"""Tidy Parquet storage: trials, curves and shard provenance, written atomically.

Layout under ``<root>/<experiment>/<preset>/``::

    trials/<shard_id>.parquet   one row per model (written last: its presence marks the shard done)
    curves/<shard_id>.parquet   long format: trial_id, step, split, metric, value
    shards/<shard_id>.parquet   one provenance row
    figures/*.png

Every file is written to a temporary name in the same folder and moved into
place with ``os.replace``, so a reader (or a resumed sweep) sees either the
whole file or none of it. Nothing here uses pickle.
"""
from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path
from typing import Iterable

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

TABLES = ("trials", "curves", "shards")
CURVE_COLUMNS = ["trial_id", "step", "split", "metric", "value"]


def experiment_dir(root: str | os.PathLike, experiment: str, preset: str) -> Path:
    """Args: root: results root; experiment, preset: names. Returns: the folder."""
    return Path(root) / experiment / preset


@contextlib.contextmanager
def atomic_path(path: Path):
    """Yields a temporary file beside ``path`` and moves it into place with
    ``os.replace`` when the block succeeds (it is removed when the block fails).

    Args:
      path: destination file; its folder is created.

    Yields:
      The temporary path to write to.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        yield Path(tmp)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_table(path: Path, table: pa.Table) -> None:
    """Writes a Parquet file atomically.

    Args:
      path: destination file.
      table: the Arrow table.
    """
    with atomic_path(path) as tmp:
        pq.write_table(table, tmp)


def write_text(path: Path, text: str) -> None:
    """Writes a text file (JSON, Markdown, HTML) atomically.

    Args:
      path: destination file.
      text: its contents.
    """
    with atomic_path(path) as tmp:
        tmp.write_text(text)


def write_shard(folder: Path, shard_id: str, trials: pa.Table, curves: pa.Table | None,
                provenance: pa.Table) -> None:
    """Stores one finished shard; the trials file goes last and marks completion.

    Args:
      folder: ``experiment_dir(...)``.
      shard_id: the shard's id (file stem).
      trials, curves, provenance: the three tables of this shard.
    """
    if curves is not None and curves.num_rows:
        write_table(folder / "curves" / f"{shard_id}.parquet", curves)
    write_table(folder / "shards" / f"{shard_id}.parquet", provenance)
    write_table(folder / "trials" / f"{shard_id}.parquet", trials)


def _read_dir(folder: Path) -> pd.DataFrame:
    files = sorted(folder.glob("*.parquet")) if folder.is_dir() else []
    if not files:
        return pd.DataFrame()
    # Shards of one experiment may carry different columns (parts of a chained grid);
    # pandas aligns them, filling the absent ones with missing values.
    frames = [pq.read_table(f).to_pandas() for f in files]
    frames = [f for f in frames if len(f)]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def load(root: str | os.PathLike, experiment: str, preset: str,
         trial_ids: Iterable[str] | None = None) -> dict[str, pd.DataFrame]:
    """Loads the tidy tables of one experiment and preset as pandas DataFrames.

    Args:
      root: results root (``results`` by default on the CLI).
      experiment, preset: names.
      trial_ids: keep only these trials, in this order (the current plan);
        ``None`` keeps every stored trial, sorted by id.

    Returns:
      ``{"trials": ..., "curves": ..., "shards": ...}``. Curves are restricted to
      stored trials, so a curves file orphaned by a kill never shows up twice.
    """
    folder = experiment_dir(root, experiment, preset)
    trials = _read_dir(folder / "trials")
    if len(trials):
        trials = trials.drop_duplicates("trial_id", keep="last")
        if trial_ids is None:
            trials = trials.sort_values("trial_id")
        else:
            order = {t: i for i, t in enumerate(trial_ids)}
            trials = trials[trials["trial_id"].isin(order)]
            trials = trials.iloc[trials["trial_id"].map(order).argsort(kind="stable")]
        trials = trials.reset_index(drop=True)
    curves = _read_dir(folder / "curves")
    if len(curves):
        keep = set(trials["trial_id"]) if len(trials) else set()
        curves = curves[curves["trial_id"].isin(keep)]
        curves = curves.drop_duplicates(["trial_id", "step", "split", "metric"], keep="last")
        curves = curves.sort_values(["trial_id", "split", "metric", "step"]).reset_index(drop=True)
    else:
        curves = pd.DataFrame(columns=CURVE_COLUMNS)
    shards = _read_dir(folder / "shards")
    if len(shards) and len(trials) and "shard_id" in trials:
        shards = shards[shards["shard_id"].isin(set(trials["shard_id"]))].reset_index(drop=True)
    return {"trials": trials, "curves": curves, "shards": shards}


def stored_status(root: str | os.PathLike, experiment: str, preset: str) -> dict[str, str]:
    """Args: root, experiment, preset: where to look.
    Returns: ``trial_id -> status`` for every stored trial (cheap: reads two columns)."""
    folder = experiment_dir(root, experiment, preset) / "trials"
    out: dict[str, str] = {}
    if folder.is_dir():
        for f in sorted(folder.glob("*.parquet")):
            t = pq.read_table(f, columns=["trial_id", "status"])
            out.update(zip(t.column("trial_id").to_pylist(), t.column("status").to_pylist()))
    return out
