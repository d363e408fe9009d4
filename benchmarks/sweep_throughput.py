"""Sweep throughput: the physai engine against a naive per-model PyTorch loop.

What it measures (all in one run, so the ratios share the machine's load):

* ``REFERENCE``, a real physai ``Experiment``: a 2-layer ReLU MLP student
  (one hidden layer), d=20, n=1000 train / 1000 test teacher-student
  regression (``curricula.teacher_student``, MSE), full-batch Adam lr 1e-3,
  500 steps (``--steps``), widths {16, 64, 256, 1024} x 8 seeds,
  ``static=Static`` (one compiled program per width), train/test MSE
  logged every 100 steps, run through the engine (``sweep.plan`` +
  ``sweep.run_sweep``) into a temporary results folder.
* Baseline: what a scientist writes first in PyTorch: for each width, for
  each seed, ``nn.Sequential`` + ``torch.optim.Adam`` and the steps in a
  Python loop, default threads, same data sizes, same metric logging. Also
  timed with one thread, because two torch threads slow down badly when other
  processes load the machine.
* Baseline 3: a hand-written JAX loop (``baselines.part_jax_scan``): per width
  one ``jit`` of a ``lax.scan`` over the steps, called per seed on the engine's
  trial threads; its run phase against the engine's shows the engine's own
  overhead (``warm_run_over_jax_scan_run``, target <= 1.10). The torch loop's
  time over that run phase alone (``torch_over_jax_scan_run``) is the ceiling
  of any JAX sweep's ratio on this machine: no compile, no engine overhead.
* Peak: this machine's float32 matmul peak (jitted 2048x2048 ``jnp.dot``, and
  ``torch.matmul`` for reference), best of 10, measured at the start and end of
  each repeat; the best is used.
* Engine ``cold``: a fresh process with an empty compilation-cache folder
  (tracing and compiling included); ``warm``: a second fresh process reusing
  that folder (the local backend runs two shards at once: one compiling while
  the other trains); ``warm, 1 shard at a time``: the same with
  ``PHYSAI_SHARD_THREADS=1``, whose summed run seconds are the run phase compared
  with the ``jit(scan)`` loop's (overlapping shards' run seconds overlap in time);
  ``warm, 1 trial at a time``: also ``PHYSAI_TRIAL_THREADS=1``. Engine seconds = ``plan`` + ``run_sweep`` wall
  time; imports and JAX backend start-up are excluded and reported as
  ``import_s`` in the JSON.
* Compile and run seconds, summed from the stored shard provenance (the
  ``shards`` table), and the run phase's GFLOP/s as a fraction of the jax
  peak. FLOPs per model and step are counted by the usual rule
  ``6 * n * params = 6 * n * (d*w + 2*w + 1)``. This is an upper bound: the
  input layer needs no input gradient, so the work really done is about
  ``4*n*d*w + 6*n*w``, roughly 2/3 of it.
* Trainer strategies ``sequential`` vs ``vmap`` on the same sweep (warm run
  phase). This is the measurement behind ``auto`` = ``sequential`` on CPU.

Every measurement runs in its own subprocess. Each repeat (``--repeats``)
runs: peak, torch, jax jit(scan), engine sequential cold/warm/warm-1-shard/warm-1-trial, torch 1 thread,
engine vmap cold/warm, peak. The reported numbers are medians over repeats.

Run: ``make bench`` (= ``.venv/bin/python benchmarks/sweep_throughput.py``),
``... --json out.json`` to also write the numbers, ``... --preset demo --steps 100``
for a smoke run. ``--engine-only --cache-dir DIR [--strategy S] [--set k=v]``
runs one engine sweep in this process and prints JSON.
Needs torch (the optional ``bench`` extra). About 2 minutes per repeat on 2
idle cores (default: one repeat). On a loaded machine it takes longer, and the
torch loop is then capped by ``--torch-budget``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass

_T_START = time.perf_counter()

import jax.numpy as jnp  # noqa: E402
import optax  # noqa: E402

import physai  # noqa: E402
from physai import Experiment, Preset, curricula, models, product  # noqa: E402
from physai import train as trainer  # noqa: E402

# (imported at the top, as an experiment module does: their cost is in ``import_s``, not in the sweep)

try:  # run as a script (benchmarks/ on sys.path) or imported as benchmarks.sweep_throughput
    from baselines import SEEDS, SETTINGS, WIDTHS, part_jax_scan, part_torch
except ImportError:
    from benchmarks.baselines import SEEDS, SETTINGS, WIDTHS, part_jax_scan, part_torch


def _run(shard):
    """Trains one width's seeds with the canonical trainer."""
    st = shard.static
    d = st.d
    model = models.MLP(width=st.width)

    def data(key, hp):
        return curricula.teacher_student(key, st.n, st.n_test, d, st.teacher_width, st.noise)

    def predict(params, x):
        return model.apply({"params": params}, x)[:, 0]

    def loss(params, batch, hp):
        return jnp.mean((predict(params, batch["x_train"]) - batch["y_train"]) ** 2)

    def metrics(params, data, hp):
        return {
            "train_mse": loss(params, data, hp),
            "test_mse": jnp.mean((predict(params, data["x_test"]) - data["y_test"]) ** 2),
        }

    task = trainer.Task(
        data, lambda key, hp: models.init_mlp(model, key, d), loss, metrics, lambda hp: optax.adam(hp["lr"])
    )
    return trainer.run_shard(task, shard, ("lr", "seed"), steps=st.steps, log_every=st.log_every)


@dataclass(frozen=True)
class Static(physai.Static):
    width: int
    d: int
    n: int
    n_test: int
    teacher_width: int
    noise: float
    steps: int
    log_every: int


REFERENCE = Experiment(
    name="sweep_throughput",
    question="How fast does the engine run a small width x seed sweep on this machine?",
    hypotheses=(),
    presets={
        "tiny": Preset(product(width=[16], seed=range(2)), SETTINGS, "seconds; for tests"),
        "demo": Preset(product(width=[16, 64], seed=range(2)), SETTINGS, "a seconds-long smoke run"),
        "paper": Preset(
            product(width=list(WIDTHS), seed=range(SEEDS)),
            SETTINGS,
            "the reference sweep: widths {16,64,256,1024} x 8 seeds, 500 Adam steps",
        ),
    },
    run=_run,
    static=Static,
)


def model_flops(steps: int, widths=WIDTHS, seeds: int = SEEDS, n: int = SETTINGS["n"], d: int = SETTINGS["d"]) -> float:
    """Args: steps, widths, seeds, n, d: the sweep. Returns: forward+backward FLOPs of the
    training steps, ``sum_w seeds * steps * 6 * n * (d*w + 2*w + 1)``."""
    return float(sum(seeds * steps * 6 * n * (d * w + 2 * w + 1) for w in widths))


# ----------------------------------------------------------------------------- parts (subprocesses)


def part_engine(args) -> dict:
    """One engine sweep in this (fresh) process, with ``args.cache_dir`` as compilation cache."""
    os.environ["PHYSAI_CACHE_DIR"] = args.cache_dir
    import jax

    from physai import runtime, sweep

    runtime.configure()
    jax.devices()  # backend start-up counts with imports, not with the sweep
    import_s = time.perf_counter() - _T_START
    with tempfile.TemporaryDirectory(prefix="physai-bench-") as root:
        t0 = time.perf_counter()
        p = sweep.plan(REFERENCE, args.preset, [f"steps={args.steps}", *args.set], strategy=args.strategy)
        summary = sweep.run_sweep(p, root, progress=False)
        wall = time.perf_counter() - t0
        res = sweep.results(p, root)
    if summary.failed or summary.ok + summary.diverged != len(p.trials):
        raise SystemExit(f"engine sweep did not complete: {summary}")
    shards = res.shards
    return {
        "import_s": import_s,
        "sweep_s": wall,
        "compile_s": float(shards["compile_seconds"].sum()),
        "run_s": float(shards["run_seconds"].sum()),
        "flops": float(shards["flops"].sum()) if "flops" in shards else float("nan"),
        "per_width_run_s": {str(int(w)): float(s) for w, s in _per_width(res).items()},
        "test_mse": float(res.ok["test_mse"].median()),
        "trials": len(res.trials),
    }


def _per_width(res):
    w = res.trials.groupby("shard_id")["width"].first()
    return res.shards.set_index("shard_id")["run_seconds"].rename(index=w).sort_index()


def part_peak(args) -> dict:
    """float32 matmul peak: best of several 2048^3 products, jax (jit) and torch."""
    import jax
    import jax.numpy as jnp
    import numpy as np
    import torch

    m = 2048
    flops = 2.0 * m**3
    a = jax.random.normal(jax.random.key(0), (m, m), jnp.float32)
    b = jax.random.normal(jax.random.key(1), (m, m), jnp.float32)
    dot = jax.jit(jnp.dot)
    dot(a, b).block_until_ready()
    best_jax = min(_timed(lambda: dot(a, b).block_until_ready()) for _ in range(args.peak_reps))
    ta, tb = torch.from_numpy(np.asarray(a)), torch.from_numpy(np.asarray(b))
    torch.matmul(ta, tb)
    best_torch = min(_timed(lambda: torch.matmul(ta, tb)) for _ in range(args.peak_reps))
    return {
        "jax_gflops": flops / best_jax / 1e9,
        "torch_gflops": flops / best_torch / 1e9,
        "torch_threads": torch.get_num_threads(),
    }


def _timed(fn) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


PARTS = {"engine": part_engine, "torch": part_torch, "jax_scan": part_jax_scan, "peak": part_peak}


# ----------------------------------------------------------------------------- orchestration


def _spawn(part: str, args, env=None, **extra) -> dict:
    cmd = [
        sys.executable,
        os.path.abspath(__file__),
        "--part",
        part,
        "--steps",
        str(args.steps),
        "--preset",
        args.preset,
        "--peak-reps",
        str(args.peak_reps),
    ]
    for k, v in extra.items():
        cmd += [f"--{k.replace('_', '-')}", str(v)]
    t0 = time.perf_counter()
    out = subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, **(env or {})})
    if out.returncode:
        sys.stderr.write(out.stderr)
        raise SystemExit(f"{' '.join(cmd)} failed ({out.returncode})")
    result = json.loads(out.stdout.strip().splitlines()[-1])
    result["process_s"] = time.perf_counter() - t0
    return result


def _load() -> str:
    try:
        return " ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        return "?"


def main(argv=None) -> dict | None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--steps", type=int, default=SETTINGS["steps"])
    ap.add_argument("--preset", default="paper", choices=list(REFERENCE.presets))
    ap.add_argument("--repeats", type=int, default=1, help="interleaved repeats (medians reported)")
    ap.add_argument("--no-vmap", action="store_true", help="skip the sequential-vs-vmap comparison")
    ap.add_argument("--json", help="also write the numbers here")
    ap.add_argument("--peak-reps", type=int, default=10)
    ap.add_argument("--part", choices=list(PARTS), help=argparse.SUPPRESS)
    ap.add_argument(
        "--engine-only", action="store_true", help="run one engine sweep in this process (with --cache-dir, --strategy)"
    )
    ap.add_argument("--cache-dir", help="compilation cache folder for --engine-only / --part engine")
    ap.add_argument("--strategy", default="auto")
    ap.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="grid/setting override for --engine-only (e.g. seed=[0,1,2,3])",
    )
    ap.add_argument("--torch-threads", type=int, default=0, help=argparse.SUPPRESS)
    ap.add_argument(
        "--torch-budget",
        type=float,
        default=120.0,
        help="seconds after which the pytorch loop times one seed per remaining width and extrapolates",
    )
    args = ap.parse_args(argv)
    if args.engine_only:
        args.part = "engine"
    if args.part:
        if args.part == "engine" and not args.cache_dir:
            args.cache_dir = tempfile.mkdtemp(prefix="physai-bench-cache-")
        args.t_start = _T_START
        print(json.dumps(PARTS[args.part](args)))
        return None

    strategies = ("sequential",) if args.no_vmap else ("sequential", "vmap")
    keys = ["torch", "torch_1thread", "jax_scan", "sequential_cold", "sequential_warm"]
    keys += ["sequential_warm_1shard", "sequential_warm_1trial"]
    keys += [] if args.no_vmap else ["vmap_cold", "vmap_warm"]
    runs: dict[str, list[dict]] = {k: [] for k in keys}
    loads, peaks = [_load()], []
    say = lambda what: print(
        f"[{time.strftime('%H:%M:%S')}] repeat {r + 1}/{args.repeats}: {what}", file=sys.stderr, flush=True
    )
    for r in range(args.repeats):  # noqa: B007 (read by say)
        say("matmul peak")
        peaks.append(_spawn("peak", args))
        say("pytorch loop, default threads")
        runs["torch"].append(_spawn("torch", args, torch_budget=args.torch_budget))
        say("hand-written jax jit(scan) loop")
        runs["jax_scan"].append(_spawn("jax_scan", args))
        with tempfile.TemporaryDirectory(prefix="physai-bench-cache-") as cache:
            for phase in ("cold", "warm"):
                say(f"engine sequential {phase}")
                runs[f"sequential_{phase}"].append(_spawn("engine", args, cache_dir=cache, strategy="sequential"))
            say("engine sequential warm, one shard at a time")
            runs["sequential_warm_1shard"].append(
                _spawn("engine", args, env={"PHYSAI_SHARD_THREADS": "1"}, cache_dir=cache, strategy="sequential")
            )
            say("engine sequential warm, one trial at a time")
            runs["sequential_warm_1trial"].append(
                _spawn(
                    "engine",
                    args,
                    env={"PHYSAI_TRIAL_THREADS": "1", "PHYSAI_SHARD_THREADS": "1"},
                    cache_dir=cache,
                    strategy="sequential",
                )
            )
        say("pytorch loop, 1 thread")
        runs["torch_1thread"].append(_spawn("torch", args, torch_threads=1, torch_budget=args.torch_budget))
        if not args.no_vmap:
            with tempfile.TemporaryDirectory(prefix="physai-bench-cache-") as cache:
                for phase in ("cold", "warm"):
                    say(f"engine vmap {phase}")
                    runs[f"vmap_{phase}"].append(_spawn("engine", args, cache_dir=cache, strategy="vmap"))
        say("matmul peak")
        peaks.append(_spawn("peak", args))
        loads.append(_load())
    peak = {k: max(p[k] for p in peaks) for k in ("jax_gflops", "torch_gflops")}

    med = lambda key, field="sweep_s": statistics.median(x[field] for x in runs[key])
    flops = model_flops(args.steps) if args.preset == "paper" else model_flops(args.steps, (16, 64), 2)
    torch_s, torch1_s = med("torch"), med("torch_1thread")
    out = {
        "steps": args.steps,
        "preset": args.preset,
        "repeats": args.repeats,
        "load_avg_1_5_15": loads,
        "cpus": os.cpu_count(),
        "peak_gflops_jax": peak["jax_gflops"],
        "peak_gflops_torch": peak["torch_gflops"],
        "peak_gflops_jax_all": [p["jax_gflops"] for p in peaks],
        "torch_s": torch_s,
        "torch_threads": runs["torch"][0]["threads"],
        "torch_1thread_s": torch1_s,
        "torch_seeds_timed": [x["seeds_timed"] for x in runs["torch"] + runs["torch_1thread"]],
        "jax_scan_s": med("jax_scan"),
        "jax_scan_compile_s": med("jax_scan", "compile_s"),
        "jax_scan_run_s": med("jax_scan", "run_s"),
        # the most any JAX sweep of this workload can reach against the torch loop here: the
        # hand-written loop's run phase alone, with no compile and no engine of its own
        "torch_over_jax_scan_run": torch_s / med("jax_scan", "run_s"),
        "model_gflop": flops / 1e9,
        "flops_formula": "sum over models of steps * 6 * n * (d*w + 2*w + 1)",
        "engine_seconds": "plan + run_sweep wall time in a fresh process (imports excluded)",
        "runs": runs,
    }
    for s in strategies:
        cold, warm = med(f"{s}_cold"), med(f"{s}_warm")
        # the run phase of one shard at a time: overlapping shards' run seconds overlap in time
        run_s = med("sequential_warm_1shard", "run_s") if s == "sequential" else med(f"{s}_warm", "run_s")
        out[s] = {
            "cold_s": cold,
            "warm_s": warm,
            "import_s": med(f"{s}_warm", "import_s"),
            "cold_compile_s": med(f"{s}_cold", "compile_s"),
            "cold_run_s": med(f"{s}_cold", "run_s"),
            "warm_compile_s": med(f"{s}_warm", "compile_s"),
            "warm_run_s": med(f"{s}_warm", "run_s"),
            "warm_run_phase_s": run_s,
            "torch_over_cold": torch_s / cold,
            "torch_over_warm": torch_s / warm,
            "torch_1thread_over_cold": torch1_s / cold,
            "torch_1thread_over_warm": torch1_s / warm,
            # the engine's own overhead against the hand-written loop (target: warm within 10%)
            "warm_over_jax_scan": warm / med("jax_scan"),
            "warm_run_over_jax_scan_run": run_s / med("jax_scan", "run_s"),
            "run_gflops": flops / run_s / 1e9,
            "run_fraction_of_peak": flops / run_s / 1e9 / peak["jax_gflops"],
        }
    out["sequential"]["warm_1shard_s"] = med("sequential_warm_1shard")
    out["sequential"]["warm_1trial_s"] = med("sequential_warm_1trial")
    out["sequential"]["warm_1trial_run_s"] = med("sequential_warm_1trial", "run_s")
    if "vmap" in out:
        out["vmap_over_sequential_warm_run"] = out["vmap"]["warm_run_s"] / out["sequential"]["warm_run_s"]
        out["vmap_over_sequential_warm_sweep"] = out["vmap"]["warm_s"] / out["sequential"]["warm_s"]
    _print_table(out, strategies)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(out, f, indent=2)
    return out


def _print_table(out: dict, strategies) -> None:
    print(
        f"reference sweep: widths {list(WIDTHS)} x {SEEDS} seeds, {out['steps']} full-batch Adam "
        f"steps, n={SETTINGS['n']}, d={SETTINGS['d']}: {out['model_gflop']:.0f} GFLOP "
        f"(6 n params per model-step)"
    )
    print(
        f"cpus {out['cpus']}; load avg (1/5/15 min) before: {out['load_avg_1_5_15'][0]}, after: "
        f"{out['load_avg_1_5_15'][-1]}; medians of {out['repeats']} interleaved repeat(s)"
    )
    print(
        f"float32 matmul peak (2048^3, best of {len(out['peak_gflops_jax_all'])} runs): jax "
        f"{out['peak_gflops_jax']:.0f} GFLOP/s, torch {out['peak_gflops_torch']:.0f} GFLOP/s"
    )
    partial = [t for t in out["torch_seeds_timed"] if min(t) < SEEDS]
    if out["preset"] == "paper" and partial:
        print(f"note: pytorch time budget hit, seeds timed per width {partial}, rest extrapolated")
    rows = [(f"pytorch loop ({out['torch_threads']} threads, default)", out["torch_s"], "")]
    rows.append(("pytorch loop (1 thread)", out["torch_1thread_s"], ""))
    rows.append(
        (
            "hand-written jax jit(scan) loop",
            out["jax_scan_s"],
            f"compile {out['jax_scan_compile_s']:.2f} + run {out['jax_scan_run_s']:.2f}",
        )
    )
    for s in strategies:
        r = out[s]
        rows.append((f"engine {s} cold", r["cold_s"], f"compile {r['cold_compile_s']:.2f} + run {r['cold_run_s']:.2f}"))
        rows.append(
            (
                f"engine {s} warm",
                r["warm_s"],
                f"compile {r['warm_compile_s']:.2f} + run {r['warm_run_s']:.2f}"
                + (
                    ""
                    if s == "sequential"
                    else f"; run {r['run_gflops']:.0f} GFLOP/s = {r['run_fraction_of_peak']:.0%} of jax peak"
                ),
            )
        )
        if s == "sequential":
            rows.append(
                (
                    "engine sequential warm, 1 shard at a time",
                    r["warm_1shard_s"],
                    f"run {r['warm_run_phase_s']:.2f} (PHYSAI_SHARD_THREADS=1): {r['run_gflops']:.0f} GFLOP/s"
                    f" = {r['run_fraction_of_peak']:.0%} of jax peak",
                )
            )
            rows.append(
                (
                    "engine sequential warm, 1 trial at a time",
                    r["warm_1trial_s"],
                    f"run {r['warm_1trial_run_s']:.2f} (PHYSAI_TRIAL_THREADS=1)",
                )
            )
    print(f"{'':44s}{'seconds':>8s}{'torch/':>8s}{'torch1/':>8s}")
    for name, sec, note in rows:
        print(f"{name:44s}{sec:8.2f}{out['torch_s'] / sec:8.2f}{out['torch_1thread_s'] / sec:8.2f}  {note}")
    print(
        f"(engine seconds = plan + run_sweep in a fresh process; interpreter + imports excluded, "
        f"~{out['sequential']['import_s']:.1f} s)"
    )
    for st in strategies:
        r = out[st]
        print(
            f"engine {st} warm / jax jit(scan) loop: {r['warm_over_jax_scan']:.2f} whole, "
            f"{r['warm_run_over_jax_scan_run']:.2f} run phase (target <= 1.10)"
        )
    print(
        f"ceiling: pytorch loop / jax jit(scan) run phase alone (no compile) = {out['torch_over_jax_scan_run']:.2f}"
        " (targets: engine cold >= 3, warm >= 5; a target above this ceiling is out of reach of"
        " any JAX loop on this machine)"
    )
    if "vmap_over_sequential_warm_run" in out:
        print(
            f"strategy: vmap / sequential, warm run phase = {out['vmap_over_sequential_warm_run']:.2f}"
            f" (whole warm sweep {out['vmap_over_sequential_warm_sweep']:.2f})"
        )


if __name__ == "__main__":
    main()
