"""What a worker executes: one shard of an experiment, in, three Arrow tables, out.

Every backend (``local``, ``processes``, ``ray``) calls ``execute_shard``; the
driver (``physai.sweep``) writes what it returns. Kept apart from the sweep so
that backends depend on this module and the sweep on backends, never in a cycle.
"""

from __future__ import annotations

import sys
import time
from typing import Any

import numpy as np
import pyarrow as pa

from physai import identity, provenance, store, timing
from physai.errors import PhysaiError
from physai.experiment import Experiment, Shard, ShardResult

RESERVED = {"experiment", "preset", "trial_id", "shard_id", "status", "error", "run_seconds"}


def plain(value: Any) -> Any:
    """Converts numpy/jax scalars to Python values so ids and Parquet types are stable."""
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return float(value)
    if hasattr(value, "item") and getattr(value, "shape", None) == ():
        return plain(value.item())
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    return value


def execute_shard(experiment: Experiment, shard: Shard, debug: bool = False) -> dict[str, pa.Table]:
    """Runs one shard and returns its tables (nothing is written here).

    A shard whose ``run`` raises is returned with every trial ``failed`` and the
    error text, so the sweep goes on and a re-run retries it.

    Args:
      experiment: the experiment.
      shard: the shard.
      debug: re-raise errors from ``run`` instead of recording them.

    Returns:
      ``{"trials": ..., "curves": ... or None, "shards": ...}`` Arrow tables.
    """
    from physai import runtime

    runtime.configure()
    timing.reset()
    start = time.time()
    t0 = time.perf_counter()
    error = None
    try:
        with timing.progress_of_shard(len(shard.trials)):
            result = experiment.run(shard)
        if not isinstance(result, ShardResult) or len(result.metrics) != len(shard.trials):
            raise RuntimeError(
                f"{experiment.name}.run must return a ShardResult with one metrics dict per trial ({len(shard.trials)})"
            )
    except Exception as exc:  # recorded per shard: one bad shard must not stop a sweep
        if debug:
            raise
        error = f"{type(exc).__name__}: {exc}"
        print(f"physai: shard {shard.shard_id} failed: {error}", file=sys.stderr)
        result = None
    # seconds spent waiting for an execution slot that another shard held are not this shard's
    wall = time.perf_counter() - t0 - timing.idle_seconds()
    return shard_tables(
        experiment.name,
        shard,
        result,
        error,
        start,
        wall,
        timing.compile_seconds(),
        code=identity.code_identity(identity.module_of(experiment)),
        flops=timing.flops(),
    )


def shard_tables(
    experiment: str,
    shard: Shard,
    result: ShardResult | None,
    error: str | None,
    start: float,
    wall: float = 0.0,
    compile_s: float = 0.0,
    code: dict[str, str] | None = None,
    flops: float = float("nan"),
) -> dict[str, pa.Table]:
    """Builds a shard's three tables; with ``error`` every trial is ``failed``.

    Args:
      experiment: experiment name.
      shard: the shard.
      result: what ``run`` returned (ignored when ``error`` is set).
      error: the error text of a failed shard, or None.
      start: POSIX start time.
      wall: wall seconds of the shard.
      compile_s: seconds of it spent compiling.
      code: the code identity (``physai.identity.code_identity``) recorded in provenance.
      flops: floating-point operations the shard executed (``physai.timing.flops``).

    Returns:
      ``{"trials": ..., "curves": ... or None, "shards": ...}`` Arrow tables.
    """
    if error is not None or result is None:
        result = ShardResult([{} for _ in shard.trials], None)
    rows = []
    for t, metrics in zip(shard.trials, result.metrics):
        metrics = {k: plain(v) for k, v in metrics.items()}
        status = metrics.pop("status", "ok") if error is None else "failed"
        clash = (set(t.params) | RESERVED) & set(metrics)
        if clash:
            raise PhysaiError(
                f"{experiment}: metric name {sorted(clash)[0]!r} clashes with a parameter or a reserved column"
            )
        rows.append(
            {
                "experiment": experiment,
                "preset": shard.preset,
                "trial_id": t.trial_id,
                "shard_id": shard.shard_id,
                **t.params,
                **metrics,
                "status": status,
                "error": error,
                # the trials of a shard train together (one program, trial threads): a trial's
                # own time is not measurable, so each gets the shard's run time / its trials
                "run_seconds": (wall - compile_s) / len(shard.trials),
            }
        )
    curves = None
    if result.curves is not None and len(result.curves):
        frame = result.curves[store.CURVE_COLUMNS].copy()
        frame["step"] = frame["step"].astype("int64")
        frame["value"] = frame["value"].astype("float64")
        curves = pa.Table.from_pandas(frame, preserve_index=False)
    prov = provenance.record(
        shard.shard_id, len(shard.trials), compile_s, wall - compile_s, start, time.time(), shard.strategy, flops
    )
    prov.update({k: "" for k in identity.FIELDS})
    prov.update(code or {})
    trials = pa.Table.from_pylist(rows)
    # ``error`` is a string column in every file, also when no trial of the shard failed
    # (all-null would be typed ``null``, and files of one table would differ in schema).
    trials = trials.set_column(trials.schema.get_field_index("error"), "error", trials["error"].cast(pa.string()))
    shards = pa.Table.from_pylist([prov])
    for column in ("start", "end"):  # typed: DuckDB and pandas read them as times
        shards = shards.set_column(shards.schema.get_field_index(column), column, store.timestamps([prov[column]]))
    return {"trials": trials, "curves": curves, "shards": shards}
