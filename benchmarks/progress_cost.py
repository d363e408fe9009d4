"""What in-shard progress costs: the training scan in chunks against one call.

``physai.train`` runs a long training scan as up to ``PROGRESS_CHUNKS`` (16)
calls of one compiled program, at least ``MIN_FLOPS_PER_CALL`` each, so that the
sweep can report progress inside a shard (a host callback in the scan would keep
it one call, but XLA programs with host callbacks are not stored in the
persistent compilation cache). This benchmark trains the same trials as the
trainer splits them and with the whole scan in one call (``PROGRESS_CHUNKS =
1``), interleaved, in one process, and prints the run-phase seconds (wall minus
compile) of each and their ratio; ``--split-all`` also splits the small runs the
trainer keeps whole, to show the cost it avoids.

Workloads: the reference sweep's MLP (``benchmarks/sweep_throughput.py``: d = 20,
n = 1000, full-batch Adam) at width 64 and 1024, 8 seeds, and the worst case for
per-call overhead: width 16 on 64 points with a metric logged every step.

Run: ``.venv/bin/python benchmarks/progress_cost.py [--repeats 3] [--json out.json]``.
About a minute on 2 idle cores. The numbers are identical in both modes
(``tests/test_train.py``); only time is compared here.
"""

from __future__ import annotations

import argparse
import json
import time

import optax

from physai import curricula, models, runtime, tasks, timing
from physai import train as trainer

try:  # run as a script (benchmarks/ on sys.path) or imported as benchmarks.NAME
    from interleaved import medians
except ImportError:
    from benchmarks.interleaved import medians

WORKLOADS = {  # name: (width, n, steps, log_every)
    "reference MLP, width 64": (64, 1000, 500, 10),
    "reference MLP, width 1024": (1024, 1000, 500, 10),
    "tiny MLP, a log every step": (16, 64, 512, 1),
}
D, SEEDS = 20, 8


def _task(width: int, n: int) -> trainer.Task:
    model = models.MLP(width=width)
    return tasks.regression(
        lambda key, hp: curricula.teacher_student(key, n, n, D, 4, 0.1),
        lambda key, hp: models.init_mlp(model, key, D),
        lambda p, x, hp: model.apply({"params": p}, x)[:, 0],
        optimizer=lambda hp: optax.adam(1e-3),
    )


def _run_seconds(task, steps: int, log_every: int, chunks: int) -> tuple[float, int]:
    """Run-phase seconds of one ``train`` call, and the calls per trial it made."""
    trainer.PROGRESS_CHUNKS = chunks
    timing.reset()
    reports = []
    t0 = time.perf_counter()
    with timing.progress_to(reports.append):
        trainer.train(task, {"seed": list(range(SEEDS))}, steps=steps, log_every=log_every, strategy="sequential")
    return time.perf_counter() - t0 - timing.compile_seconds(), len(reports) // SEEDS


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--json", help="also write the numbers here")
    ap.add_argument("--split-all", action="store_true", help="split every run, however small")
    args = ap.parse_args(argv)
    runtime.configure()
    default, threshold, out = trainer.PROGRESS_CHUNKS, trainer.MIN_FLOPS_PER_CALL, {}
    if args.split_all:
        trainer.MIN_FLOPS_PER_CALL = 1.0
    for name, (width, n, steps, log_every) in WORKLOADS.items():
        task, counts = _task(width, n), []

        def chunked():
            seconds, n_calls = _run_seconds(task, steps, log_every, default)
            counts.append(n_calls)
            return seconds

        c, w = medians(chunked, lambda: _run_seconds(task, steps, log_every, 1)[0], args.repeats)
        calls = counts[-1]  # the same in every call
        out[name] = {"chunked_s": c, "one_call_s": w, "ratio": c / w, "calls": calls}
        print(f"{name:30s} {calls:3d} calls: {c:7.3f} s   one call: {w:7.3f} s   ratio {c / w:.3f}")
    trainer.PROGRESS_CHUNKS, trainer.MIN_FLOPS_PER_CALL = default, threshold
    if args.json:
        with open(args.json, "w") as f:
            json.dump(out, f, indent=2)
    return out


if __name__ == "__main__":
    main()
