"""What drawing a block's minibatch indices together saves: one vectorised draw against a draw per step.

On the minibatch path (``batch_size``) ``physai.train`` draws the indices of up to
``MAX_DRAWN_INDICES`` minibatches in one call before the steps that use them; each
step's indices still come from its own key, so the numbers are the same as a draw in
every step (``tests/test_train.py``). This benchmark trains the same trials both
ways (a draw per step is ``MAX_DRAWN_INDICES = batch_size``), interleaved, in one
process, and prints the run-phase seconds (wall minus compile) of each and their
ratio.

Workloads: small MLPs on a 2^16-point teacher-student pool, batch 256, 3,000 Adam
steps logged every 300 (the scale of ``scaling_data_dimension``'s students), at
width 16 and 256, 8 seeds.

Run: ``.venv/bin/python benchmarks/minibatch_draws.py [--repeats 3] [--json out.json]``.
About a minute on 2 idle cores.
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

WIDTHS = (16, 256)
D, N, BATCH, STEPS, LOG_EVERY, SEEDS = 16, 2**16, 256, 3000, 300, 8


def _task(width: int) -> trainer.Task:
    model = models.MLP(width=width)
    return tasks.regression(
        lambda key, hp: curricula.teacher_student(key, N, 1024, D, 32, 0.1),
        lambda key, hp: models.init_mlp(model, key, D),
        lambda p, x, hp: model.apply({"params": p}, x)[:, 0],
        optimizer=lambda hp: optax.adam(1e-3),
    )


def _run_seconds(task, most: int) -> float:
    """Run-phase seconds of one ``train`` call drawing at most ``most`` indices at once."""
    trainer.MAX_DRAWN_INDICES = most
    timing.reset()
    t0 = time.perf_counter()
    trainer.train(task, {"seed": list(range(SEEDS))}, STEPS, LOG_EVERY, batch_size=BATCH, strategy="sequential")
    return time.perf_counter() - t0 - timing.compile_seconds()


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--json", help="also write the numbers here")
    args = ap.parse_args(argv)
    runtime.configure()
    default, out = trainer.MAX_DRAWN_INDICES, {}
    for width in WIDTHS:
        task = _task(width)
        t, e = medians(lambda: _run_seconds(task, default), lambda: _run_seconds(task, BATCH), args.repeats)
        out[f"width {width}"] = {"drawn_together_s": t, "drawn_each_step_s": e, "ratio": t / e}
        print(f"width {width:4d}: drawn together {t:7.3f} s   a draw per step {e:7.3f} s   ratio {t / e:.3f}")
    trainer.MAX_DRAWN_INDICES = default
    if args.json:
        with open(args.json, "w") as f:
            json.dump(out, f, indent=2)
    return out


if __name__ == "__main__":
    main()
