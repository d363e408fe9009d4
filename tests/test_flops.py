"""Shard FLOPs come from XLA's cost analysis and agree with a hand count of an MLP's matmuls."""

import jax
import jax.numpy as jnp
import optax
import pytest

from physai import timing
from physai import train as trainer

N, N_TEST, D, W = 256, 128, 32, 64


def _task():
    def data(key, hp):
        k1, k2 = jax.random.split(key)
        x, xt = jax.random.normal(k1, (N, D)), jax.random.normal(k2, (N_TEST, D))
        return {"x_train": x, "y_train": x[:, 0], "x_test": xt, "y_test": xt[:, 0]}

    def init(key, hp):
        k1, k2 = jax.random.split(key)
        return {"w1": jax.random.normal(k1, (D, W)) / D**0.5, "w2": jax.random.normal(k2, (W,)) / W**0.5}

    def predict(p, x):
        return jax.nn.relu(x @ p["w1"]) @ p["w2"]

    def loss(p, batch, hp):
        return jnp.mean((predict(p, batch["x_train"]) - batch["y_train"]) ** 2)

    def metrics(p, data, hp):
        return {"test_mse": jnp.mean((predict(p, data["x_test"]) - data["y_test"]) ** 2)}

    return trainer.Task(data, init, loss, metrics, lambda hp: optax.sgd(hp["lr"]))


@pytest.mark.parametrize("strategy", ["sequential", "vmap"])
def test_counted_flops_match_the_hand_count_of_the_matmuls(strategy):
    steps, log_every, trials = 20, 10, 2
    # Hand count (2 FLOPs per multiply-add): a step's forward pass is 2 N (D W + W); its
    # backward pass computes the gradients of both weight matrices and the hidden layer's
    # input gradient, another 2 N (D W + W) + 2 N W; each evaluation is a forward pass on
    # the test set.
    per_step = 2 * N * (D * W + W) * 2 + 2 * N * W
    per_eval = 2 * N_TEST * (D * W + W)
    hand = trials * (steps * per_step + (steps // log_every + 1) * per_eval)
    timing.reset()
    trainer.train(_task(), {"lr": [0.01] * trials, "seed": list(range(trials))}, steps, log_every, strategy=strategy)
    counted = timing.flops()
    assert 0.9 * hand <= counted <= 1.3 * hand, (counted, hand)  # elementwise ops add a little


def test_nothing_counted_is_nan_not_zero():
    timing.reset()
    assert timing.flops() != timing.flops()


def test_a_warm_run_reads_the_count_from_the_cache_and_never_trusts_a_damaged_entry(tmp_path, monkeypatch):
    import jax

    from physai import flops as flop_count

    before = jax.config.jax_compilation_cache_dir
    jax.config.update("jax_compilation_cache_dir", str(tmp_path))
    try:
        _cached_counts(tmp_path, monkeypatch)
        jax.config.update("jax_compilation_cache_dir", None)
        assert flop_count._folder() is None  # no compilation cache in use (refused or off): no count cache
    finally:
        jax.config.update("jax_compilation_cache_dir", before)


def _cached_counts(tmp_path, monkeypatch):
    from physai import flops as flop_count

    assert flop_count._folder() == tmp_path / "flops"
    calls = []
    real = trainer.flops_per_trial
    monkeypatch.setattr(trainer, "flops_per_trial", lambda *a, **k: calls.append(1) or real(*a, **k))

    def counted():
        timing.reset()
        trainer.train(_task(), {"lr": [0.01], "seed": [0]}, 20, 10, strategy="sequential")
        return timing.flops()

    cold = counted()
    assert calls == [1] and len(list((tmp_path / "flops").iterdir())) == 1
    assert counted() == cold and calls == [1]  # warm: from the cache, not counted again
    (entry,) = (tmp_path / "flops").iterdir()
    entry.write_text("not a number")
    assert counted() == cold and calls == [1, 1]  # damaged: counted again and rewritten
    assert float(entry.read_text()) == cold


LAYERS = 6


def _deep_task(scanned: bool, probe_iterations: int = 0):
    """``LAYERS`` tanh layers of width W, applied by a ``lax.scan`` or by a Python loop (the
    same work); the probe, if any, runs ``probe_iterations`` power-iteration steps the same two ways."""
    base = _task()

    def init(key, hp):
        k1, k2, k3 = jax.random.split(key, 3)
        return {
            "w1": jax.random.normal(k1, (D, W)) / D**0.5,
            "hidden": jax.random.normal(k2, (LAYERS, W, W)) / W**0.5,
            "w2": jax.random.normal(k3, (W,)) / W**0.5,
        }

    def predict(p, x):
        h = jnp.tanh(x @ p["w1"])
        if scanned:
            h, _ = jax.lax.scan(lambda h, w: (jnp.tanh(h @ w), None), h, p["hidden"])
        else:
            for i in range(LAYERS):
                h = jnp.tanh(h @ p["hidden"][i])
        return h @ p["w2"]

    def loss(p, batch, hp):
        return jnp.mean((predict(p, batch["x_train"]) - batch["y_train"]) ** 2)

    def metrics(p, data, hp):
        return {"test_mse": jnp.mean((predict(p, data["x_test"]) - data["y_test"]) ** 2)}

    def probe(key, p, data, hp):
        power = lambda v: p["hidden"][0] @ v / jnp.linalg.norm(v)  # noqa: E731
        v = jnp.ones(W)
        if scanned:
            v = jax.lax.fori_loop(0, probe_iterations, lambda i, v: power(v), v)
        else:
            for _ in range(probe_iterations):
                v = power(v)
        return {"top": jnp.linalg.norm(v)}

    return trainer.Task(base.data, init, loss, metrics, base.optimizer, probe=probe if probe_iterations else None)


def test_a_scan_inside_the_step_counts_its_body_once_per_iteration():
    # XLA's cost analysis counts a loop body once: a model that scans over its layers, or a
    # probe's fixed-length loop, would count one layer (one iteration) instead of all of them
    from physai.flops import flops_per_trial

    hp = {"lr": 0.01, "seed": 0}
    data_info = jax.eval_shape(lambda: _task().data(jax.random.key(0), hp))
    count = lambda task: flops_per_trial(task, data_info, hp, steps=20, log_every=10, batch_size=None)  # noqa: E731
    looped, unrolled = count(_deep_task(True, 50)), count(_deep_task(False, 50))
    assert abs(looped / unrolled - 1) < 0.02, (looped, unrolled)
    hidden_layers = 20 * 3 * 2 * N * W * W * LAYERS  # forward, input and weight gradients
    assert looped > hidden_layers


def test_nested_loops_count_every_iteration_and_an_unrolled_scan_is_not_counted_twice():
    from physai.flops import traced_cost

    m = jnp.ones((W, W))

    def power(v):
        return m @ v / jnp.linalg.norm(v)

    def nested(v):  # 4 x 5 power steps: a fori_loop inside a scan
        inner = lambda v, _: (jax.lax.fori_loop(0, 5, lambda i, v: power(v), v), None)  # noqa: E731
        return jax.lax.scan(inner, v, None, length=4)[0]

    def unrolled_scan(v):
        return jax.lax.scan(lambda v, _: (power(v), None), v, None, length=20, unroll=4)[0]

    def written_out(v):
        for _ in range(20):
            v = power(v)
        return v

    v = jnp.ones(W)
    plain = traced_cost(jax.jit(written_out).trace(v))
    for looped in (nested, unrolled_scan):
        counted = traced_cost(jax.jit(looped).trace(v))
        assert abs(counted / plain - 1) < 0.05, (looped.__name__, counted, plain)
