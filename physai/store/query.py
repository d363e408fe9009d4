"""SQL over stored results: DuckDB on the same one-row-per-trial tables ``load`` returns.

``connect(root, experiment, preset)`` gives a DuckDB connection in which
``trials``, ``curves`` and ``shards`` are the de-duplicated tables of
``physai.store.load`` (the store's one-outcome-per-trial rule, checksums
verified), so a query never sees a trial twice or a damaged file::

    con = store.connect("results", "width_minima", "demo")
    con.sql("SELECT width, median(train_rel_mse) FROM trials GROUP BY width").df()

On the command line: ``physai sql width_minima "SELECT ..." --preset demo``.
"""

from __future__ import annotations

import os

from physai.store.tables import load


def connect(root: str | os.PathLike, experiment: str, preset: str):
    """Args: root, experiment, preset: where the results are stored.

    Returns: an in-memory ``duckdb.DuckDBPyConnection`` with the views ``trials``,
    ``curves`` and ``shards``.
    """
    import duckdb

    con = duckdb.connect()
    for name, frame in load(root, experiment, preset).items():
        con.register(name, frame)
    return con
