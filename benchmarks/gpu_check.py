"""The GPU path: accelerator-relevant tests, then the reference sweep batched with ``vmap``.

1. The tests that exercise the accelerator paths: the ``vmap`` and ``shard``
   strategies of the trainer, FLOP counting, and the processes backend (each
   worker sees the device through ``CUDA_VISIBLE_DEVICES`` when several exist).
2. The reference sweep of ``benchmarks/sweep_throughput.py`` (2-layer ReLU MLPs,
   widths 16-1024) with 64 seeds per width under ``--strategy vmap``, cold and warm
   compilation cache, printing trained models per minute and the fraction of the
   device's float32 matmul peak (``physai.timing.matmul_peak``) its run reached.
Goal: >= 10,000 small MLPs trained per minute on one GPU.

Run: ``make gpu-check`` (a few minutes). Needs a CUDA build of jaxlib (e.g.
``pip install 'jax[cuda12]'``); on a machine without an accelerator it stops at once
with exit 2: CI has none, and the project builds and tests without one.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SEEDS = 64


def main() -> int:
    import jax

    device = jax.devices()[0]
    if device.platform == "cpu":
        print("gpu-check: no accelerator here (jax sees only the CPU); install a CUDA jaxlib on a GPU machine")
        return 2
    print(f"device: {device.platform}:{device.device_kind} x{len(jax.devices())}", flush=True)
    tests = [
        sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
        "tests/test_train.py", "tests/test_flops.py", "tests/test_backends.py",
        "-k", "vmap or shard or processes or flops",
    ]  # fmt: skip
    status = subprocess.run(tests, cwd=REPO).returncode
    from physai import timing

    peak = timing.matmul_peak()
    seeds = f"seed=[{','.join(map(str, range(SEEDS)))}]"
    cache = tempfile.mkdtemp(prefix="physai-gpu-cache-")
    for label in ("cold", "warm"):
        cmd = [
            sys.executable, str(REPO / "benchmarks" / "sweep_throughput.py"), "--engine-only",
            "--cache-dir", cache, "--strategy", "vmap", "--set", seeds,
        ]  # fmt: skip
        # one shard at a time: summed run seconds are then the run phase the FLOP rate needs
        env = {**os.environ, "PHYSAI_SHARD_THREADS": "1"}
        out = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, env=env)
        if out.returncode:
            sys.stderr.write(out.stderr[-3000:])
            return 1
        r = json.loads(out.stdout.strip().splitlines()[-1])
        per_minute = r["trials"] / r["sweep_s"] * 60
        achieved = r["flops"] / r["run_s"] / 1e9 if r["run_s"] > 0 else float("nan")
        print(
            f"reference sweep, vmap, {label} cache: {r['trials']} models in {r['sweep_s']:.1f} s "
            f"(compile {r['compile_s']:.1f} s, run {r['run_s']:.1f} s): {per_minute:,.0f} models/min; "
            f"run at {achieved:.4g} GFLOP/s = {achieved / peak:.1%} of the fp32 matmul peak ({peak:.4g} GFLOP/s)",
            flush=True,
        )
    return status


if __name__ == "__main__":
    raise SystemExit(main())
