"""Tidy Parquet storage: trials, curves and shard provenance, written atomically.

Layout under ``<root>/<experiment>/<preset>/``::

    trials/<shard_id>.parquet   one row per model (written last: its presence marks the shard done)
    curves/<shard_id>.parquet   long format: trial_id, step, split, metric, value
    shards/<shard_id>.parquet   one provenance row (``start``/``end``: UTC timestamps)
    figures/*.png

Every file is written to a temporary name in the same folder and moved into
place with ``os.replace``, so a reader (or a resumed sweep) sees either the
whole file or none of it. Nothing here uses pickle.

One outcome per trial. A trial can be computed twice (two sweeps over
overlapping grids shard it differently; a failed attempt and a later success
land in different files). ``_resolve`` is the one rule that picks its outcome:
ok/diverged over failed, then the newest shard (``end`` of its provenance row,
else the trials file's mtime). ``load`` and ``stored_status`` apply it, and
``write_shard`` compacts with it: the losing rows are removed from the other
files (or the new shard's row is dropped when a stored one wins), so reading
``trials/*.parquet`` directly gives one row per trial too.

Corruption is detected, never read as data: files carry page checksums, which
every read verifies; a damaged file raises a one-line ``PhysaiError`` naming it.

Modules: ``files`` (paths, atomic writes, temporary-file clean-up, the folder
lock, verified reading, ``DamagedFile``); ``outcomes`` (the index of stored
trials and ``_resolve``; ``stored_outcomes``, ``stored_status``, ``intact``);
``tables`` (``load``, ``write_shard`` with compaction, ``repair``); ``query``
(``connect``: DuckDB over the tables ``load`` returns); ``params`` (trained
parameters as ``.npz``: ``save_params``, ``load_params``). Use them
through this package: ``from physai import store; store.load(...)``.
"""

from __future__ import annotations

from physai.store import params
from physai.store.files import (
    STALE_TMP_SECONDS,
    TABLES,
    TIMESTAMP,
    DamagedFile,
    atomic_path,
    experiment_dir,
    posix_seconds,
    remove_stale_tmp,
    timestamps,
    write_table,
    write_text,
)
from physai.store.outcomes import DONE, Outcome, intact, stored_outcomes, stored_status
from physai.store.params import load_params, save_params
from physai.store.query import connect
from physai.store.tables import CURVE_COLUMNS, load, repair, write_shard

__all__ = [
    "CURVE_COLUMNS",
    "DONE",
    "STALE_TMP_SECONDS",
    "TABLES",
    "TIMESTAMP",
    "DamagedFile",
    "Outcome",
    "atomic_path",
    "connect",
    "experiment_dir",
    "intact",
    "load",
    "load_params",
    "params",
    "posix_seconds",
    "remove_stale_tmp",
    "repair",
    "save_params",
    "stored_outcomes",
    "timestamps",
    "stored_status",
    "write_shard",
    "write_table",
    "write_text",
]
