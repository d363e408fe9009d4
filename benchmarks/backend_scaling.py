"""Backend scaling: one sweep of many small shards on each backend, in one run.

Measures, side by side on this machine:
  * the ``processes`` backend with 1 and 2 workers (speed-up ratio), and ``local``;
  * the ``ray`` backend (a local Ray instance) against ``processes`` with the
    same parallelism: Ray's overhead per shard.
Every backend sweeps the same 64 single-trial shards (a width-256 MLP, 1500
full-batch Adam steps each) into its own temporary folder with a warm,
shared compilation cache, and the stored tables are checked to be identical.

Run: ``.venv/bin/python benchmarks/backend_scaling.py [--shards 64] [--json out.json]``
(about 3-4 minutes on 2 idle cores; Ray needs the ``ray`` extra).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import jax.numpy as jnp
import optax

import physai
from physai import Experiment, Hypothesis, Preset, Verdict, curricula, models, product
from physai import train as trainer

D, N, WIDTH = 16, 512, 256


def run(shard):
    model = models.MLP(width=WIDTH)

    def predict(p, x):
        return model.apply({"params": p}, x)[:, 0]

    def loss(p, batch, hp):
        return jnp.mean((predict(p, batch["x_train"]) - batch["y_train"]) ** 2)

    task = trainer.Task(
        data=lambda key, hp: curricula.teacher_student(key, N, N, D, 8, 0.1),
        init=lambda key, hp: models.init_mlp(model, key, D),
        loss=loss,
        metrics=lambda p, data, hp: {"train_mse": loss(p, data, hp)},
        optimizer=lambda hp: optax.adam(1e-2),
    )
    steps = shard.static.steps
    return trainer.run_shard(task, shard, ("seed",), steps=steps, log_every=steps)


@dataclass(frozen=True)
class Static(physai.Static):
    steps: int


EXPERIMENT = Experiment(
    name="backend_bench",
    question="How do backends scale?",
    hypotheses=(Hypothesis("none", "benchmark only", "none", lambda r: Verdict("supported", 0, "")),),
    presets={
        "tiny": Preset(product(seed=range(2)), {"steps": 100}),
        "demo": Preset(product(seed=range(64)), {"steps": 1500}),
        "paper": Preset(product(seed=range(64)), {"steps": 1500}),
    },
    run=run,
    static=Static,
    max_shard_size=1,
)


def _sweep(backend_args: list[str], out: Path, shards: int, cache: str) -> float:
    cmd = [
        sys.executable,
        "-m",
        "physai.cli",
        "run",
        "benchmarks.backend_scaling",
        "--out",
        str(out),
        "--set",
        f"seed={list(range(shards))}",
        "--no-progress",
        *backend_args,
    ]
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parent.parent), "PHYSAI_CACHE_DIR": cache}
    t0 = time.perf_counter()
    subprocess.run(cmd, check=True, env=env, capture_output=True, text=True)
    return time.perf_counter() - t0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shards", type=int, default=64)
    parser.add_argument("--json", default=None)
    args = parser.parse_args(argv)
    from physai import store

    runs = {
        "local": [],
        "processes_1": ["--backend", "processes", "--workers", "1"],
        "processes_2": ["--backend", "processes", "--workers", "2"],
    }
    try:
        import ray  # noqa: F401

        runs["ray"] = ["--backend", "ray"]
    except ImportError:
        print("ray not installed: skipping the Ray measurement (pip install 'physai[ray]')")
    load = os.getloadavg()[0]
    with tempfile.TemporaryDirectory() as tmp:
        cache = os.path.join(tmp, "cache")
        _sweep([], Path(tmp) / "warmup", 2, cache)  # fill the compilation cache once
        seconds, tables = {}, {}
        for name, backend_args in runs.items():
            out = Path(tmp) / name
            seconds[name] = _sweep(backend_args, out, args.shards, cache)
            t = store.load(out, "backend_bench", "demo")["trials"]
            tables[name] = t.drop(columns=["run_seconds", "shard_id"]).sort_values("trial_id").reset_index(drop=True)
        identical = all(tables[n].equals(tables["local"]) for n in tables)
    result = {
        "shards": args.shards,
        "load_before": load,
        "load_after": os.getloadavg()[0],
        "seconds": seconds,
        "identical_tables": identical,
        "speedup_processes_2_over_1": seconds["processes_1"] / seconds["processes_2"],
        "speedup_processes_2_over_local": seconds["local"] / seconds["processes_2"],
    }
    if "ray" in seconds:
        result["ray_overhead_per_shard_s"] = (seconds["ray"] - seconds["processes_2"]) / args.shards
        result["ray_over_processes_2"] = seconds["ray"] / seconds["processes_2"]
    print(f"{args.shards} shards, load average {load:.1f} -> {result['load_after']:.1f}")
    for name, s in seconds.items():
        print(f"  {name:12s} {s:7.1f} s")
    print(
        f"  processes 2 workers vs 1: {result['speedup_processes_2_over_1']:.2f}x faster; "
        f"vs local: {result['speedup_processes_2_over_local']:.2f}x"
    )
    if "ray" in seconds:
        print(
            f"  ray vs processes (2 workers): {result['ray_over_processes_2']:.2f}x the time, "
            f"{result['ray_overhead_per_shard_s'] * 1000:.0f} ms overhead per shard"
        )
    print(f"  identical tables across backends: {identical}")
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2))
    return 0 if identical else 1


if __name__ == "__main__":
    sys.exit(main())
