"""Curves into a tracking tool researchers already use: an offline MLflow file store.

``physai export NAME --preset P --to DIR`` writes the stored trials of an
experiment preset as an MLflow file store (``DIR/mlruns``), one MLflow run per
trial: its parameters as params, its status and ids as tags, every curve
(``<split>_<metric>``) as a metric history with its steps, and its final metrics.
Open it with ``mlflow ui --backend-store-uri DIR/mlruns`` (MLflow itself is not a
dependency: the file store is plain text in a documented layout). Run ids are the
trial ids, so exporting again overwrites the same runs instead of adding copies.
"""

from __future__ import annotations

import hashlib
import math
import os
from pathlib import Path

import pandas as pd

from physai.store.files import atomic_path, posix_seconds

META = {"trial_id", "shard_id", "status", "error", "run_seconds", "seed", "experiment", "preset"}


def _write(path: Path, text: str) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(text)


def _yaml(fields: dict) -> str:
    return "".join(f"{k}: {v}\n" for k, v in fields.items())


def export_mlflow(
    tables: dict[str, pd.DataFrame], experiment: str, preset: str, to: str | os.PathLike, parameters: set[str]
) -> Path:
    """Writes one experiment preset's trials as an MLflow file store.

    Args:
      tables: ``physai.store.load``'s ``trials``, ``curves`` and ``shards``.
      experiment, preset: names (the MLflow experiment is ``<experiment>/<preset>``).
      to: the folder that receives ``mlruns``.
      parameters: the trials' parameter names (the plan's); other numeric columns
        are final metrics.

    Returns:
      The ``mlruns`` folder.
    """
    root = Path(to) / "mlruns"
    name = f"{experiment}/{preset}"
    exp_id = str(int(hashlib.sha256(name.encode()).hexdigest()[:12], 16))  # stable across exports
    exp_dir = root / exp_id
    _write(
        exp_dir / "meta.yaml",
        _yaml(
            {
                "artifact_location": (exp_dir).resolve().as_uri(),
                "experiment_id": exp_id,
                "lifecycle_stage": "active",
                "name": name,
            }
        ),  # fmt: skip
    )
    trials, curves = tables["trials"], tables["curves"]
    shard_time = {}
    if len(tables["shards"]):
        shards = tables["shards"]
        shard_time = dict(zip(shards["shard_id"], zip(posix_seconds(shards["start"]), posix_seconds(shards["end"]))))
    by_trial = dict(tuple(curves.groupby("trial_id"))) if len(curves) else {}
    for row in trials.to_dict("records"):
        run_id = row["trial_id"]
        start, end = shard_time.get(row.get("shard_id"), (0.0, 0.0))
        run_dir = exp_dir / run_id
        _write(
            run_dir / "meta.yaml",
            _yaml({"artifact_uri": (run_dir / "artifacts").resolve().as_uri(), "end_time": int(end * 1000),
                   "entry_point_name": "", "experiment_id": exp_id, "lifecycle_stage": "active",
                   "run_id": run_id, "run_name": run_id, "run_uuid": run_id, "source_name": "", "source_type": 4,
                   "source_version": "", "start_time": int(start * 1000),
                   "status": 3 if row.get("status") == "ok" else 4, "tags": [], "user_id": "physai"}),
        )  # fmt: skip
        for key in ("status", "shard_id", "error"):
            if row.get(key) is not None:
                _write(run_dir / "tags" / f"physai.{key}", str(row[key]))
        _write(run_dir / "tags" / "mlflow.runName", run_id)
        stamp = int(end * 1000)
        for key, value in row.items():
            if key in parameters:
                _write(run_dir / "params" / key, str(value))
            elif key in META or isinstance(value, bool) or not isinstance(value, (int, float)):
                continue
            elif math.isfinite(float(value)):
                _write(run_dir / "metrics" / f"final_{key}", f"{stamp} {float(value)!r} 0\n")
        for (split, metric), c in by_trial.get(run_id, pd.DataFrame(columns=curves.columns)).groupby(
            ["split", "metric"]
        ):
            lines = "".join(
                f"{stamp} {float(v)!r} {int(s)}\n" for s, v in zip(c["step"], c["value"]) if math.isfinite(v)
            )
            _write(run_dir / "metrics" / f"{split}_{metric}", lines)
    return root
