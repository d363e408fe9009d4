"""The canonical trainer: strategies agree, trials are independent, masks are exact."""

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from physai import convergence, curricula, execution, models
from physai import train as trainer

D, MAX_W = 6, 16


def _task(model, width_from_hp=False, opt=None):
    def data(key, hp):
        return curricula.teacher_student(key, 48, 32, D, 4, hp["noise"])

    def mask(hp):
        return models.width_mask(hp["width"], model.width) if width_from_hp else None

    def predict(p, x, hp):
        return model.apply({"params": p}, x, mask(hp))[:, 0]

    def loss(p, batch, hp):
        return jnp.mean((predict(p, batch["x_train"], hp) - batch["y_train"]) ** 2)

    def metrics(p, data, hp):
        return {
            "train_mse": loss(p, data, hp),
            "test_mse": jnp.mean((predict(p, data["x_test"], hp) - data["y_test"]) ** 2),
        }

    def init(key, hp):
        return models.init_mlp(model, key, D, hp["width"] if width_from_hp else None)

    return trainer.Task(data, init, loss, metrics, opt or (lambda hp: optax.adam(hp["lr"])))


HP = {"lr": [1e-2, 3e-2, 1e-2], "noise": [0.0, 0.1, 0.5], "seed": [0, 1, 2]}


def test_sequential_and_vmap_agree():
    task = _task(models.MLP(width=8))
    a = trainer.train(task, HP, steps=60, log_every=20, strategy="sequential")
    b = trainer.train(task, HP, steps=60, log_every=20, strategy="vmap")
    assert list(a.steps) == [0, 20, 40, 60]
    for k in a.curves:
        np.testing.assert_allclose(a.curves[k], b.curves[k], rtol=2e-4, atol=1e-6)
    assert a.final["train_mse"][0] < a.curves["train_mse"][0, 0]  # it learns


def test_a_trial_does_not_depend_on_its_shard_mates():
    task = _task(models.MLP(width=8))
    together = trainer.train(task, HP, steps=40, log_every=20, strategy="sequential")
    alone = trainer.train(task, {k: v[1:2] for k, v in HP.items()}, steps=40, log_every=20, strategy="sequential")
    for k in together.curves:
        np.testing.assert_array_equal(together.curves[k][1], alone.curves[k][0])


def test_same_seed_same_numbers_different_seed_different_numbers():
    task = _task(models.MLP(width=8))
    a = trainer.train(task, HP, steps=20, log_every=20)
    b = trainer.train(task, HP, steps=20, log_every=20)
    np.testing.assert_array_equal(a.curves["test_mse"], b.curves["test_mse"])
    c = trainer.train(task, {**HP, "seed": [7, 8, 9]}, steps=20, log_every=20)
    assert not np.allclose(a.curves["test_mse"], c.curves["test_mse"])


def test_masked_width_equals_the_sliced_small_network_throughout_training():
    widths = [3, 9, 16]
    hp = {"lr": [1e-2] * 3, "noise": [0.1] * 3, "seed": [0, 1, 2], "width": widths}
    big = models.MLP(width=MAX_W)
    result = trainer.train(_task(big, width_from_hp=True), hp, steps=40, log_every=40, return_params=True)
    x = jax.random.normal(jax.random.key(5), (10, D))
    for i, w in enumerate(widths):
        p = jax.tree.map(lambda a: a[i], result.params)
        masked = big.apply({"params": p}, x, models.width_mask(w, MAX_W))
        small_params = {
            "hidden_0": {"kernel": p["hidden_0"]["kernel"][:, :w], "bias": p["hidden_0"]["bias"][:w]},
            "readout": {"kernel": p["readout"]["kernel"][:w], "bias": p["readout"]["bias"]},
        }
        small = models.MLP(width=w).apply({"params": small_params}, x)
        np.testing.assert_allclose(masked, small, rtol=1e-5, atol=1e-6)
        # masked units get exactly zero gradient, so they never move
        grads = jax.grad(lambda q: jnp.sum(big.apply({"params": q}, x, models.width_mask(w, MAX_W)) ** 2))(p)
        assert np.all(np.asarray(grads["hidden_0"]["kernel"][:, w:]) == 0)
        assert np.all(np.asarray(grads["readout"]["kernel"][w:]) == 0)
        if w < MAX_W:
            assert np.any(np.asarray(grads["hidden_0"]["kernel"][:, :w]) != 0)


def test_masked_init_scale_matches_an_unmasked_network_of_that_width():
    big, w = models.MLP(width=1024), 16
    readouts = [models.init_mlp(big, jax.random.key(s), D, jnp.asarray(w))["readout"]["kernel"][:w] for s in range(50)]
    small = [models.init_mlp(models.MLP(width=w), jax.random.key(s), D)["readout"]["kernel"] for s in range(50)]
    assert np.std(readouts) == pytest.approx(np.std(small), rel=0.15)


def test_divergence_is_flagged_not_raised():
    task = _task(models.MLP(width=8), opt=lambda hp: optax.sgd(hp["lr"]))
    r = trainer.train(task, {"lr": [1e-2, 1e6], "noise": [0.1, 0.1], "seed": [0, 0]}, steps=40, log_every=20)
    assert list(r.diverged) == [False, True]


def test_curves_table_is_long_and_split_by_prefix():
    task = _task(models.MLP(width=4))
    r = trainer.train(task, HP, steps=20, log_every=10)
    table = trainer.curves_table(["a", "b", "c"], r)
    assert list(table.columns) == ["trial_id", "step", "split", "metric", "value"]
    assert len(table) == 3 * 3 * 3  # trials x log points x metrics
    assert set(zip(table.split, table.metric)) == {("train", "mse"), ("test", "mse"), ("train", "objective")}


def test_bad_arguments_raise():
    task = _task(models.MLP(width=4))
    with pytest.raises(ValueError, match="multiple of log_every"):
        trainer.train(task, HP, steps=25, log_every=10)
    with pytest.raises(ValueError, match="seed"):
        trainer.train(task, {"lr": [0.1]}, steps=10, log_every=10)
    with pytest.raises(ValueError, match="one value per trial"):
        trainer.train(task, {"lr": [0.1, 0.2], "seed": [0]}, steps=10, log_every=10)
    sampled = dataclasses.replace(task, sample=lambda key, data, hp: data)
    with pytest.raises(ValueError, match="batch_size or Task.sample"):
        trainer.train(sampled, HP, steps=10, log_every=10, batch_size=8)


def test_sample_hook_reproduces_the_default_minibatch():
    """A ``sample`` that draws the default minibatch (same key, same indices) gives the same run."""
    task = _task(models.MLP(width=8))

    def minibatch(key, data, hp):
        idx = jax.random.randint(key, (8,), 0, data["x_train"].shape[0])
        return {**data, "x_train": data["x_train"][idx], "y_train": data["y_train"][idx]}

    default = trainer.train(task, HP, steps=40, log_every=20, batch_size=8)
    hooked = trainer.train(dataclasses.replace(task, sample=minibatch), HP, steps=40, log_every=20)
    for name in default.curves:
        np.testing.assert_array_equal(default.curves[name], hooked.curves[name])


@pytest.mark.parametrize("most", [8, 40])  # 1 and 5 of a block's 20 steps per draw
def test_minibatch_indices_drawn_together_are_the_draws_of_each_step(most, monkeypatch):
    """Indices drawn for several steps in one call (``MAX_DRAWN_INDICES``) train exactly as a
    draw in each step from its own key (a ``sample`` hook that draws them one step at a time);
    the default, a whole block per draw, is ``test_sample_hook_reproduces_the_default_minibatch``."""
    task = _task(models.MLP(width=8))

    def minibatch(key, data, hp):
        idx = jax.random.randint(key, (8,), 0, data["x_train"].shape[0])
        return {**data, "x_train": data["x_train"][idx], "y_train": data["y_train"][idx]}

    monkeypatch.setattr(trainer, "MAX_DRAWN_INDICES", most)
    drawn = trainer.train(task, HP, steps=40, log_every=20, batch_size=8)
    each = trainer.train(dataclasses.replace(task, sample=minibatch), HP, steps=40, log_every=20)
    for name in each.curves:
        np.testing.assert_array_equal(drawn.curves[name], each.curves[name])


def test_sample_hook_trains_online_on_fresh_data():
    """Fresh samples every step: a linear student learns the teacher with no training pool,
    deterministically per seed, and unlike a 4-point pool it cannot memorise."""
    w_true = jnp.arange(1.0, D + 1) / D

    def data(key, hp):
        x = jax.random.normal(key, (4, D))  # a tiny pool, used only by the pool run
        return {"x_train": x, "y_train": x @ w_true, "x_test": x, "y_test": x @ w_true}

    def fresh(key, data, hp):
        x = jax.random.normal(key, (32, D))
        return {**data, "x_train": x, "y_train": x @ w_true}

    def loss(w, batch, hp):
        return jnp.mean((batch["x_train"] @ w - batch["y_train"]) ** 2)

    def metrics(w, data, hp):
        return {"weight_error": jnp.linalg.norm(w - w_true)}

    task = trainer.Task(data, lambda key, hp: jnp.zeros(D), loss, metrics, lambda hp: optax.sgd(hp["lr"]))
    hp = {"lr": [0.1, 0.1], "seed": [0, 1]}
    online = trainer.train(dataclasses.replace(task, sample=fresh), hp, steps=200, log_every=100)
    again = trainer.train(dataclasses.replace(task, sample=fresh), hp, steps=200, log_every=100)
    pool = trainer.train(task, hp, steps=200, log_every=100)
    assert (online.final["weight_error"] < 1e-3).all()  # the teacher, from fresh data
    assert (pool.final["weight_error"] > 0.1).all()  # 4 points in 6-d: underdetermined
    np.testing.assert_array_equal(online.final["weight_error"], again.final["weight_error"])
    assert online.final["weight_error"][0] != online.final["weight_error"][1]


def test_run_shard_rows_probe_inside_the_program_and_the_key_rule():
    from physai import Experiment, Hypothesis, Preset, Verdict, product, sweep
    from physai.experiment import Static

    @dataclasses.dataclass(frozen=True)
    class S(Static):
        steps: int

    def data(key, hp):
        return {"x_train": jax.random.normal(key, (32, 3)), "y_train": jnp.zeros(32)}

    def probe(key, params, dat, hp):  # runs once, on the final parameters
        return {
            "w_norm": jnp.sum(params["w"] ** 2),
            "probe_draw": jax.random.normal(key),
            "profile": jnp.arange(4.0) * hp["lr"],
        }

    task = trainer.Task(
        data,
        lambda key, hp: {"w": jax.random.normal(key, (3,))},
        lambda p, b, hp: jnp.mean((b["x_train"] @ p["w"] - b["y_train"]) ** 2),
        lambda p, d, hp: {"train_mse": jnp.mean((d["x_train"] @ p["w"]) ** 2)},
        lambda hp: optax.sgd(hp["lr"]),
        probe=probe,
    )
    exp = Experiment(
        "probe",
        "q",
        (Hypothesis("h", "c", "a", lambda r: Verdict("supported", 1, "")),),
        {k: Preset(product(lr=[0.05, 1e9], seed=[0, 1]), {"steps": 20}) for k in ("tiny", "demo", "paper")},
        lambda s: None,
        static=S,
    )
    shard = sweep.plan(exp, "tiny").shards[0]
    res = trainer.run_shard(
        task,
        shard,
        ("seed", "lr"),
        steps=20,
        log_every=10,
        extra=lambda i, t, r: {"profile_sum": float(r.final["profile"][i].sum())},
    )
    rows = res.metrics
    assert [r["status"] for r in rows] == ["ok", "ok", "diverged", "diverged"]  # lr 1e9 blows up
    assert set(rows[0]) == {  # scalars only, and the convergence criterion
        "train_mse",
        "w_norm",
        "probe_draw",
        "profile_sum",
        "objective_change",
        "converged",
        "status",
    }
    assert rows[0]["profile_sum"] == pytest.approx(6 * 0.05)
    # the probe's key is the trial's probe stream: fold_in(key(seed), 7)
    for row, seed in zip(rows, [0, 1, 0, 1]):
        assert row["probe_draw"] == pytest.approx(float(jax.random.normal(trainer.trial_keys(seed)["probe"])))
    assert rows[0]["probe_draw"] != rows[1]["probe_draw"]
    assert set(res.curves["metric"]) == {"mse", "objective"} and len(res.curves) == 4 * 3 * 2
    # the data stream: what an experiment re-creates outside training
    x = data(trainer.trial_keys(0)["data"], None)["x_train"]
    assert np.array_equal(np.asarray(x), np.asarray(data(jax.random.split(jax.random.key(0), 3)[0], None)["x_train"]))


def test_divergence_is_nan_inf_or_orders_of_magnitude_of_growth():
    objective = np.array(
        [
            [1.18, 0.9, 0.5],  # trains
            [1.18, 3.0, 12.0],  # a spike, not divergence
            [1.18, 1e5, 8e29],  # lr = 1e7: finite, but no trained model
            [1.0, np.nan, np.nan],
            [0.0, 1.0, 2.0],
        ]
    )  # no scale to grow from: only non-finite counts
    assert convergence.diverged_runs(objective).tolist() == [False, False, True, True, False]
    assert convergence.DIVERGENCE_GROWTH == 1e4


def test_convergence_is_the_relative_change_over_the_last_tenth_of_training():
    flat = np.array([[4.0, 2.0, 1.5, 1.2, 1.1, 1.05, 1.02, 1.01, 1.005, 1.001, 1.0005]])
    falling = np.array([[4.0, 3.6, 3.2, 2.8, 2.4, 2.0, 1.6, 1.2, 0.8, 0.4, 0.2]])
    change = convergence.objective_change(np.concatenate([flat, falling]))
    assert change[0] == pytest.approx(abs(1.0005 - 1.001) / 1.001)  # log 9 of 10 vs the last
    assert change[1] == pytest.approx(0.5)
    assert (change < convergence.CONVERGED_CHANGE).tolist() == [True, False]
    # An objective falling geometrically to its zero floor never slows to a 1% change,
    # but below 1e-3 of its start it has reached its minimum; above that it has not.
    fitted = 4.0 * 0.25 ** np.arange(0, 11)[None, :]  # 4 -> 4e-6 (1e-6 of the start)
    halfway = 4.0 * 0.7 ** np.arange(0, 11)[None, :]  # 4 -> 0.11 (3% of the start)
    runs = np.concatenate([flat, falling, fitted, halfway])
    assert convergence.objective_change(runs)[2] > convergence.CONVERGED_CHANGE
    assert convergence.converged_runs(runs).tolist() == [True, False, True, False]


@pytest.mark.parametrize("strategy", ["sequential", "vmap"])
def test_training_reports_progress_inside_a_run_and_chunks_do_not_change_numbers(strategy, monkeypatch):
    from physai import timing

    task = _task(models.MLP(width=8))
    monkeypatch.setattr(trainer, "MIN_FLOPS_PER_CALL", 1.0)  # split even this small run
    reports = []
    with timing.progress_to(reports.append):
        chunked = trainer.train(task, HP, steps=160, log_every=10, strategy=strategy)
    n_trials, n_logs = len(HP["seed"]), 16
    assert sum(reports) == pytest.approx(n_trials)  # every trial's steps, reported as they run
    calls = n_logs // trainer.chunk_blocks(n_logs)
    assert calls > 1 and len(reports) == (calls * n_trials if strategy == "sequential" else calls)
    monkeypatch.setattr(trainer, "PROGRESS_CHUNKS", 1)  # the whole scan in one call
    whole = trainer.train(task, HP, steps=160, log_every=10, strategy=strategy)
    for k in whole.curves:
        np.testing.assert_array_equal(chunked.curves[k], whole.curves[k])


def test_chunks_divide_the_logging_blocks():
    assert trainer.chunk_blocks(100) == 10 and trainer.chunk_blocks(30) == 2 and trainer.chunk_blocks(7) == 1
    assert trainer.chunk_blocks(97) == 97  # a prime count above the limit runs in one call
    for n in range(1, 200):
        c = trainer.chunk_blocks(n)
        assert n % c == 0 and n // c <= trainer.PROGRESS_CHUNKS
    assert trainer.chunk_blocks(100, 1) == 100 and trainer.chunk_blocks(100, 4) == 25
    # Small runs make one call: the split's per-call cost would be a visible share of them.
    assert trainer.progress_calls(0.0) == 1 and trainer.progress_calls(0.5 * trainer.MIN_FLOPS_PER_CALL) == 1
    assert trainer.progress_calls(3 * trainer.MIN_FLOPS_PER_CALL) == 3
    assert trainer.progress_calls(1e6 * trainer.MIN_FLOPS_PER_CALL) == trainer.PROGRESS_CHUNKS


def test_trials_that_agree_on_what_the_data_reads_share_one_generation_and_keep_their_numbers():
    calls = []

    def data(key, hp):
        jax.debug.callback(lambda: calls.append(1))  # counts executions of the data program
        return curricula.teacher_student(key, 48, 32, D, 4, hp["noise"])

    task = dataclasses.replace(_task(models.MLP(width=8)), data=data)
    first = {"lr": np.float32(0.1), "noise": np.float32(0.0), "seed": np.int32(0)}

    def inputs(task):
        return execution.data_inputs(jax.make_jaxpr(trainer._data_program(task))(first).jaxpr, first)

    assert inputs(task) == ("noise", "seed")
    assert inputs(dataclasses.replace(task, data=lambda key, hp: {"x": jax.random.normal(key, (3,))})) == ("seed",)

    # trials 0, 1 and 3 differ only in lr (which the data does not read); trial 2 in noise
    hp = {"lr": [1e-2, 3e-2, 1e-2, 2e-2], "noise": [0.1, 0.1, 0.5, 0.1], "seed": [0, 0, 0, 0]}
    together = trainer.train(task, hp, steps=40, log_every=20, strategy="sequential")
    assert len(calls) == 2
    calls.clear()
    alone = trainer.train(task, {k: v[3:] for k, v in hp.items()}, steps=40, log_every=20)  # shared trial 0's data
    assert len(calls) == 1
    for k in together.curves:
        np.testing.assert_array_equal(together.curves[k][3], alone.curves[k][0])


def test_shared_data_is_freed_when_the_last_trial_of_its_group_is_done():
    made = []
    hp = {"seed": np.array([0, 1, 0], np.int32), "lr": np.array([1.0, 1.0, 2.0], np.float32)}
    shared = execution.SharedData(lambda h: made.append(int(h["seed"])) or object(), hp, ("seed",))
    a, b = shared.acquire(0), shared.acquire(1)
    assert shared.acquire(2) is a and a is not b and made == [0, 1]
    shared.release(0)
    assert shared.acquire(2) is a  # trial 2 still uses it
    shared.release(1), shared.release(2)
    assert not shared._data


def test_the_trials_of_one_data_run_one_after_another():
    hp = {"seed": np.array([0, 1, 0, 2, 1], np.int32), "lr": np.ones(5, np.float32)}
    assert execution.SharedData(None, hp, ("seed",)).order == [0, 2, 1, 4, 3]
