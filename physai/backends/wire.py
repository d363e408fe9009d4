"""Shard tables on the wire: Arrow IPC bytes, so results cross process and
machine boundaries without pickle and arrive exactly as they were computed."""
from __future__ import annotations

import pyarrow as pa


def encode(tables: dict[str, pa.Table | None]) -> dict[str, bytes | None]:
    """Args: tables: ``{"trials", "curves", "shards"}`` Arrow tables (curves may be None).
    Returns: the same keys with Arrow IPC stream bytes."""
    out = {}
    for name, table in tables.items():
        if table is None:
            out[name] = None
            continue
        sink = pa.BufferOutputStream()
        with pa.ipc.new_stream(sink, table.schema) as writer:
            writer.write_table(table)
        out[name] = sink.getvalue().to_pybytes()
    return out


def decode(blobs: dict[str, bytes | None]) -> dict[str, pa.Table | None]:
    """Args: blobs: from ``encode``. Returns: the Arrow tables."""
    return {name: (None if b is None else pa.ipc.open_stream(b).read_all()) for name, b in blobs.items()}
