"""The two baselines of ``sweep_throughput.py``: what a scientist writes first.

* ``part_torch``: a naive PyTorch loop, one model at a time, the steps in Python.
* ``part_jax_scan``: a hand-written JAX loop: per width one ``jit`` of a
  ``lax.scan`` over the steps (metrics logged every ``log_every`` steps in an
  inner scan), called per seed, the seeds of a width run on ``trial_threads()``
  threads as the engine does. No engine code runs: its difference from the
  engine's warm run is the engine's own overhead (planning, the store, the shard
  runner, FLOP counting, progress calls).

Both train the reference sweep (``SETTINGS``): a 2-layer ReLU MLP on teacher-student
regression, full-batch Adam. Each is called in a fresh process by ``sweep_throughput``
and returns seconds as a dict.
"""

from __future__ import annotations

import time

WIDTHS = (16, 64, 256, 1024)
SEEDS = 8
SETTINGS = {
    "steps": 500,
    "d": 20,
    "n": 1000,
    "n_test": 1000,
    "teacher_width": 32,
    "noise": 0.1,
    "lr": 1e-3,
    "log_every": 100,
}


def part_jax_scan(args) -> dict:
    """The hand-written ``jit(lax.scan)`` loop (see the module docstring).

    Returns: ``{"import_s", "sweep_s", "compile_s", "run_s", "test_mse"}``; compile
    seconds are those of ``jit(...).lower(...).compile()`` per width.
    """
    from concurrent.futures import ThreadPoolExecutor

    import jax
    import jax.numpy as jnp
    import numpy as np
    import optax

    from physai import curricula, runtime
    from physai.execution import trial_threads

    runtime.configure(compilation_cache=False)  # a fresh loop compiles: its compile is counted apart
    jax.devices()
    import_s = time.perf_counter() - args.t_start
    s = SETTINGS
    d, steps, log_every = s["d"], args.steps, s["log_every"]
    widths = WIDTHS if args.preset == "paper" else (16, 64)
    seeds = SEEDS if args.preset == "paper" else 2
    opt = optax.adam(s["lr"])

    def init(key, width):
        k1, k2 = jax.random.split(key)
        return {  # as flax's Dense: lecun-normal kernels, zero biases
            "w1": jax.random.normal(k1, (d, width)) / jnp.sqrt(d),
            "b1": jnp.zeros(width),
            "w2": jax.random.normal(k2, (width, 1)) / jnp.sqrt(width),
            "b2": jnp.zeros(1),
        }

    def mse(p, x, y):
        return jnp.mean(((jax.nn.relu(x @ p["w1"] + p["b1"]) @ p["w2"] + p["b2"])[:, 0] - y) ** 2)

    def run(seed, width):
        data = curricula.teacher_student(jax.random.key(seed), s["n"], s["n_test"], d, s["teacher_width"], s["noise"])
        params = init(jax.random.key(seed + 1000), width)

        def step(carry, _):
            p, o = carry
            grads = jax.grad(mse)(p, data["x_train"], data["y_train"])
            updates, o = opt.update(grads, o, p)
            return (optax.apply_updates(p, updates), o), None

        def block(carry, _):
            carry, _ = jax.lax.scan(step, carry, None, length=log_every)
            p = carry[0]
            return carry, (mse(p, data["x_train"], data["y_train"]), mse(p, data["x_test"], data["y_test"]))

        (params, _), curves = jax.lax.scan(block, (params, opt.init(params)), None, length=steps // log_every)
        return curves

    t0 = time.perf_counter()
    compile_s, test_mse = 0.0, []
    for width in widths:
        c0 = time.perf_counter()
        compiled = jax.jit(run, static_argnums=1).lower(0, width).compile()
        compile_s += time.perf_counter() - c0
        with ThreadPoolExecutor(min(seeds, trial_threads())) as pool:
            outs = list(pool.map(lambda seed: jax.device_get(compiled(seed)), range(seeds)))
        test_mse += [float(o[1][-1]) for o in outs]
    wall = time.perf_counter() - t0
    return {
        "import_s": import_s,
        "sweep_s": wall,
        "compile_s": compile_s,
        "run_s": wall - compile_s,
        "test_mse": float(np.median(test_mse)),
    }


def part_torch(args) -> dict:
    """The naive PyTorch loop: one model at a time, Python step loop, default threads.

    A width that starts past its share of ``args.torch_budget`` seconds (a
    machine so loaded that two torch threads crawl) stops after its first seed
    and its time is extrapolated to all seeds (``seeds_timed`` per width).
    """
    import numpy as np
    import torch
    from torch import nn

    if args.torch_threads:
        torch.set_num_threads(args.torch_threads)
    import_s = time.perf_counter() - args.t_start
    s = SETTINGS
    d, n, n_test, tw = s["d"], s["n"], s["n_test"], s["teacher_width"]
    widths = WIDTHS if args.preset == "paper" else (16, 64)
    seeds = SEEDS if args.preset == "paper" else 2
    t0 = time.perf_counter()
    test_mse, total, timed = [], 0.0, []
    for i, width in enumerate(widths):
        t_width, done = time.perf_counter(), 0
        for seed in range(seeds):
            if done and time.perf_counter() - t0 > args.torch_budget * (i + 1) / len(widths):
                break
            rng = np.random.default_rng(seed)
            w_t = rng.standard_normal((d, tw)) / np.sqrt(d)
            a_t = rng.standard_normal(tw)
            teacher = lambda x: np.tanh(x @ w_t) @ a_t / np.sqrt(tw)
            x = rng.standard_normal((n, d))
            xt = rng.standard_normal((n_test, d))
            y = teacher(x) + s["noise"] * rng.standard_normal(n)
            x, y, xt, yt = (torch.tensor(v, dtype=torch.float32) for v in (x, y, xt, teacher(xt)))
            torch.manual_seed(seed)
            net = nn.Sequential(nn.Linear(d, width), nn.ReLU(), nn.Linear(width, 1))
            opt = torch.optim.Adam(net.parameters(), lr=s["lr"])
            curve = []
            for step in range(args.steps):
                if step % s["log_every"] == 0:
                    with torch.no_grad():
                        curve.append(
                            (
                                nn.functional.mse_loss(net(x)[:, 0], y).item(),
                                nn.functional.mse_loss(net(xt)[:, 0], yt).item(),
                            )
                        )
                opt.zero_grad()
                loss = nn.functional.mse_loss(net(x)[:, 0], y)
                loss.backward()
                opt.step()
            with torch.no_grad():
                curve.append(
                    (nn.functional.mse_loss(net(x)[:, 0], y).item(), nn.functional.mse_loss(net(xt)[:, 0], yt).item())
                )
            test_mse.append(curve[-1][1])
            done += 1
        timed.append(done)
        total += (time.perf_counter() - t_width) * seeds / done
    return {
        "import_s": import_s,
        "sweep_s": total,
        "seeds_timed": timed,
        "threads": torch.get_num_threads(),
        "test_mse": float(np.median(test_mse)),
    }
