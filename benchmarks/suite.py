"""The whole suite's cost: wall, compile and run time, FLOPs and efficiency per experiment.

Runs every registered experiment's ``demo`` preset (``--preset paper`` for the paper
presets) into a temporary folder, one after another, in this process with a cold
compilation cache, and prints one row per experiment: wall seconds, compile and run
seconds summed over its shards, GFLOP executed (XLA's cost analysis, see
``physai.train.flops_per_trial``), achieved GFLOP/s over the run seconds, and the
fraction of this machine's float32 matmul peak (``physai.timing.matmul_peak``),
with the totals. ``--from ROOT`` tabulates results already stored under ROOT (e.g.
``results/reference``, written by ``make reference``) instead of running anything.

Run: ``.venv/bin/python benchmarks/suite.py [--preset demo|paper] [--only NAME ...]
[--from ROOT] [--json out.json]`` (demo: ~15-20 minutes on 2 idle cores; paper: the sum
of the README's wall times). Experiments whose shards are not trained by
``physai.train`` (closed-form solves, numpy) have no FLOP count.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run as a script from the repository

from physai import pipeline, registry, report, store, timing  # noqa: E402
from physai.experiment import Results  # noqa: E402


def row(name: str, shards, wall: float) -> dict:
    e = timing.efficiency(shards)
    return {"experiment": name, "wall_seconds": wall, **e}


def measure(name: str, preset: str, root: str) -> dict:
    t0 = time.perf_counter()
    out = pipeline.run_experiment(name, preset, out=root, progress=False, figures=False)
    return row(name, out.results.shards, time.perf_counter() - t0)


def stored(name: str, preset: str, root: str) -> dict | None:
    if not store.experiment_dir(root, name, preset).is_dir():
        return None
    shards = store.load(root, name, preset)["shards"]
    wall = report.runtime_seconds(Results(shards.iloc[0:0], shards.iloc[0:0], shards))
    return row(name, shards, wall)


def table(rows: list[dict]) -> str:
    def num(x, fmt):
        width = int(fmt.split(".")[0])
        return f"{'n/a':>{width}s}" if x != x else format(x, fmt)

    head = ("wall s", "compile s", "run s", "GFLOP", "GFLOP/s", "% peak")
    lines = [f"{'experiment':34s} " + " ".join(f"{h:>{w}s}" for h, w in zip(head, (8, 9, 8, 9, 8, 7)))]
    for r in rows:
        lines.append(
            f"{r['experiment']:34s} {num(r['wall_seconds'], '8.1f')} {num(r['compile_seconds'], '9.1f')} "
            f"{num(r['run_seconds'], '8.1f')} {num(r['gflops'], '9.4g')} {num(r['gflops_per_second'], '8.3g')} "
            f"{num(100 * r['fraction_of_peak'], '7.1f')}"
        )
    total = {k: sum(r[k] for r in rows if r[k] == r[k]) for k in ("wall_seconds", "compile_seconds", "run_seconds")}
    lines.append(
        f"{'total':34s} {total['wall_seconds']:8.1f} {total['compile_seconds']:9.1f} {total['run_seconds']:8.1f}"
    )
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="demo")
    parser.add_argument("--only", nargs="+", default=None, metavar="NAME")
    parser.add_argument("--from", dest="root", default=None, help="tabulate results stored under ROOT")
    parser.add_argument("--json", default=None, help="also write the rows as JSON")
    args = parser.parse_args(argv)
    names = args.only or registry.names()
    rows = []
    if args.root:
        rows = [r for n in names if (r := stored(n, args.preset, args.root)) is not None]
    else:
        os.environ.setdefault("PHYSAI_CACHE_DIR", tempfile.mkdtemp(prefix="physai-suite-cache-"))  # cold
        with tempfile.TemporaryDirectory(prefix="physai-suite-") as root:
            for name in names:
                rows.append(measure(name, args.preset, root))
                print(table(rows[-1:]).splitlines()[1], flush=True)
    peak = timing.matmul_peak()
    print(f"\n{args.preset} presets; float32 matmul peak of this machine: {peak:.4g} GFLOP/s")
    print(table(rows))
    if args.json:
        Path(args.json).write_text(json.dumps({"preset": args.preset, "peak_gflops": peak, "rows": rows}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
