"""What crosses process and machine boundaries, as bytes that cannot execute code.

* A shard description goes to a worker as JSON (experiment, preset, shard id,
  trials with their parameters, strategy, where to save trained parameters); the worker rebuilds its typed static
  values from the parameters, as the driver did.
* Its result tables come back as Arrow IPC streams, packed into one message
  behind a JSON header, so they arrive exactly as they were computed.
Neither is pickled.
"""

from __future__ import annotations

import json

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


def encode_shard(shard) -> bytes:
    """Args: shard: a ``physai.Shard``. Returns: its JSON description (static values
    are not sent: they follow from the parameters)."""
    return json.dumps(
        {
            "experiment": shard.experiment,
            "preset": shard.preset,
            "shard_id": shard.shard_id,
            "strategy": shard.strategy,
            "params_dir": shard.params_dir,
            "trials": [[t.trial_id, dict(t.params)] for t in shard.trials],
        }
    ).encode()


def decode_shard(experiment, data: bytes):
    """Args: experiment: the loaded ``Experiment``; data: from ``encode_shard``.
    Returns: the ``Shard``. Raises ValueError when it is not this experiment's."""
    from physai.experiment import Shard, Trial

    d = json.loads(data.decode())
    if d["experiment"] != experiment.name:
        raise ValueError(f"shard of {d['experiment']!r} sent to a worker of {experiment.name!r}")
    trials = tuple(Trial(tid, params) for tid, params in d["trials"])
    return Shard(
        d["experiment"],
        d["preset"],
        d["shard_id"],
        experiment.static_values(trials[0].params),
        trials,
        d["strategy"],
        d.get("params_dir", ""),
    )


def pack(tables: dict[str, pa.Table | None]) -> bytes:
    """Args: tables: a shard's tables. Returns: one message: a JSON header line naming
    each table's byte length (null for an absent one), then the Arrow IPC streams."""
    blobs = encode(tables)
    header = json.dumps({k: (None if b is None else len(b)) for k, b in blobs.items()}).encode()
    return header + b"\n" + b"".join(b for b in blobs.values() if b is not None)


def unpack(message: bytes) -> dict[str, pa.Table | None]:
    """Args: message: from ``pack``. Returns: the tables."""
    header, _, body = message.partition(b"\n")
    blobs, at = {}, 0
    for name, size in json.loads(header.decode()).items():
        blobs[name] = None if size is None else body[at : at + size]
        at += size or 0
    return decode(blobs)
