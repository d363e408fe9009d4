"""A seconds-long experiment for engine tests: a small MLP per trial.

``lr`` large with plain SGD diverges (NaN), which the diverged-trial test uses;
``PHYSAI_TOY_SLEEP`` (seconds per shard) slows shards so a test can kill a sweep mid-way;
``PHYSAI_TOY_SLEEP_AFTER`` (seconds) holds a shard after its training, before it is stored;
``PHYSAI_TOY_STARTED`` (a folder) gets one file per shard as it starts, so a test knows when
workers are inside their shards;
``PHYSAI_TOY_DIE_ONCE`` / ``PHYSAI_TOY_DIE_WIDTH`` make a worker kill itself (backend tests).
"""

import os
import signal
import time
from dataclasses import dataclass

import jax.numpy as jnp
import optax

import physai
from physai import Experiment, Hypothesis, Preset, curricula, models, product, verdict_in_range
from physai import train as trainer

D = 5


def _maybe_die(shard):
    """Fault injection for backend tests: SIGKILL this process (the worker) on request."""
    once = os.environ.get("PHYSAI_TOY_DIE_ONCE")  # a marker path: die the first time only
    if once and not os.path.exists(once):
        open(once, "w").close()
        os.kill(os.getpid(), signal.SIGKILL)
    if os.environ.get("PHYSAI_TOY_DIE_WIDTH") == str(shard.static.width):  # always die
        os.kill(os.getpid(), signal.SIGKILL)


def run(shard):
    _maybe_die(shard)
    if os.environ.get("PHYSAI_TOY_STARTED"):
        open(os.path.join(os.environ["PHYSAI_TOY_STARTED"], f"{os.getpid()}-{shard.shard_id}"), "w").close()
    time.sleep(float(os.environ.get("PHYSAI_TOY_SLEEP", "0")))
    model = models.MLP(width=shard.static.width)

    def data(key, hp):
        return curricula.teacher_student(key, 64, 64, D, 4, hp["noise"])

    def predict(p, x):
        return model.apply({"params": p}, x)[:, 0]

    def loss(p, batch, hp):
        return jnp.mean((predict(p, batch["x_train"]) - batch["y_train"]) ** 2)

    def metrics(p, data, hp):
        return {
            "train_mse": loss(p, data, hp),
            "test_mse": jnp.mean((predict(p, data["x_test"]) - data["y_test"]) ** 2),
        }

    task = trainer.Task(
        data, lambda key, hp: models.init_mlp(model, key, D), loss, metrics, lambda hp: optax.sgd(hp["lr"])
    )
    steps = shard.static.steps
    result = trainer.run_shard(task, shard, ("lr", "noise", "seed"), steps=steps, log_every=steps // 4)
    time.sleep(float(os.environ.get("PHYSAI_TOY_SLEEP_AFTER", "0")))
    return result


@dataclass(frozen=True)
class Static(physai.Static):
    width: int
    steps: int


def check_fits(results):
    return verdict_in_range(float(results.ok["test_mse"].median()), 0.0, 10.0, "a small MLP fits a small teacher")


def plot(results):
    from analysis import plots

    fig, ax = plots.figure()
    ok = results.ok
    ax.plot(ok["width"], ok["test_mse"], "o")
    ax.set(xlabel="width", ylabel="test MSE", title="toy")
    return {"test_mse": fig}


EXPERIMENT = Experiment(
    name="toy",
    question="Does the engine work?",
    hypotheses=(Hypothesis("fits", "test MSE stays small", "none (engine test)", check_fits),),
    presets={
        "tiny": Preset(product(width=[4], lr=[0.05], noise=[0.1], seed=range(2)), {"steps": 40}),
        "demo": Preset(product(width=[4, 8], lr=[0.05], noise=[0.1], seed=range(3)), {"steps": 40}),
        "paper": Preset(product(width=[4, 8, 16], lr=[0.05], noise=[0.1], seed=range(4)), {"steps": 40}),
        "diverge": Preset(product(width=[8], lr=[0.05, 1e6], noise=[0.1], seed=range(2)), {"steps": 40}),
    },
    run=run,
    plot=plot,
    static=Static,
    max_shard_size=2,
    doc=__doc__,
)
