"""Grokking: the task (embedding + MLP on (a + b) mod p, full-batch AdamW), the run and
the events of one trial (memorisation, grokking, weight norm and Fourier Gini around them)."""

from __future__ import annotations

import math
from dataclasses import dataclass

import jax.numpy as jnp
import numpy as np
import optax

import physai
from analysis.transitions import transition_step
from physai import ShardResult
from physai import train as trainer
from physai.curricula.arithmetic import modular_arithmetic
from physai.models.embedding import EmbedMLP, embedding_table
from physai.probes.fourier import fourier_sparsity, global_norm

TRAIN_ACC = 0.99  # "memorised": train accuracy >= this
TEST_ACC = 0.95  # "grokked": test accuracy >= this
# Before the jump: test accuracy at or below chance, 1/p (a memorising network does no better
# than guessing on held-out pairs); the jump has started once it leaves that plateau.


@dataclass(frozen=True)
class Static(physai.Static):
    p: int
    embed_dim: int
    hidden: int
    steps: int
    log_every: int


def make_task(st: Static) -> trainer.Task:
    p = st.p
    model = EmbedMLP(p, st.embed_dim, st.hidden, p)

    def data(key, hp):
        return modular_arithmetic(key, p, hp["train_fraction"])

    def init(key, hp):
        return model.init(key, jnp.zeros((1, 2), jnp.int32))["params"]

    def per_example(params, d):
        logits = model.apply({"params": params}, d["x_train"])
        return logits, optax.softmax_cross_entropy_with_integer_labels(logits, d["y_train"])

    def loss(params, d, hp):
        _, ce = per_example(params, d)
        return jnp.sum(ce * d["train_mask"]) / jnp.sum(d["train_mask"])

    def metrics(params, d, hp):
        logits, ce = per_example(params, d)
        correct = (logits.argmax(-1) == d["y_train"]).astype(jnp.float32)
        train, test = d["train_mask"], d["test_mask"]
        sparsity = fourier_sparsity(embedding_table(params), p)
        return {
            "train_acc": jnp.sum(correct * train) / jnp.sum(train),
            "test_acc": jnp.sum(correct * test) / jnp.sum(test),
            "train_loss": jnp.sum(ce * train) / jnp.sum(train),
            "test_loss": jnp.sum(ce * test) / jnp.sum(test),
            "weight_norm": global_norm(params),
            "fourier_gini": sparsity["gini"],
            "effective_frequencies": sparsity["effective_frequencies"],
        }

    def optimizer(hp):
        return optax.adamw(hp["lr"], b1=0.9, b2=0.98, weight_decay=hp["weight_decay"])

    return trainer.Task(data, init, loss, metrics, optimizer)


def _at(steps: np.ndarray, values: np.ndarray, step: float) -> float:
    """The logged value at the first log point at or after ``step`` (NaN if none)."""
    if math.isnan(step):
        return float("nan")
    i = int(np.searchsorted(steps, step - 1e-9))
    return float(values[i]) if i < len(steps) else float("nan")


def trial_events(steps: np.ndarray, curves: dict[str, np.ndarray], chance: float) -> dict:
    """Transition times and the progress measures around them, for one trial.

    Args:
      steps: ``(L,)`` logged steps.
      curves: ``{metric: (L,)}`` with ``train_acc``, ``test_acc``, ``weight_norm``,
        ``fourier_gini``.
      chance: test accuracy of guessing, 1/p.

    Returns:
      ``steps_to_memorise`` / ``steps_to_grok`` (interpolated first crossing of
      TRAIN_ACC / TEST_ACC, NaN if never), ``grokked``, ``grok_ratio``, the weight
      norm at memorisation, its max over [memorise, grok] and over [memorise, end], at
      grok and final, and the Fourier Gini at memorisation, just before the jump (last
      log from memorisation to the grok step with test accuracy <= chance; at
      memorisation if none), at grok and final, plus ``early_rise``: the share of the
      Gini's rise from memorisation to the end achieved before the jump.
    """
    t_mem = transition_step(steps, curves["train_acc"], TRAIN_ACC)
    t_grok = transition_step(steps, curves["test_acc"], TEST_ACC)
    norm, gini, test = curves["weight_norm"], curves["fourier_gini"], curves["test_acc"]
    out = {
        "steps_to_memorise": t_mem,
        "steps_to_grok": t_grok,
        "grokked": not math.isnan(t_grok),
        "grok_ratio": t_grok / max(t_mem, 1.0) if not math.isnan(t_grok + t_mem) else float("nan"),
        "norm_at_memorise": _at(steps, norm, t_mem),
        "norm_at_grok": _at(steps, norm, t_grok),
        "norm_final": float(norm[-1]),
        # the largest norm from memorisation to the end of the run: its fall to the end
        # (clean-up) is compared with the no-decay runs' (weight_norm_falls)
        "norm_max_after_memorise": float(norm[steps >= t_mem - 1e-9].max()) if not math.isnan(t_mem) else math.nan,
        "gini_init": float(gini[0]),
        "gini_at_memorise": _at(steps, gini, t_mem),
        "gini_at_grok": _at(steps, gini, t_grok),
        "gini_final": float(gini[-1]),
    }
    if not math.isnan(t_mem + t_grok):
        window = (steps >= t_mem - 1e-9) & (steps <= t_grok + 1e-9)
        i_grok = int(np.searchsorted(steps, t_grok - 1e-9))
        window[min(i_grok, len(steps) - 1)] = True  # include the log point at the crossing
        out["norm_peak"] = float(norm[window].max())
        # the pre-jump plateau lies after memorisation; a run whose test accuracy has left
        # chance by then has no plateau, and nothing of the Gini's rise precedes its jump
        before = np.flatnonzero((test <= chance) & (steps >= t_mem - 1e-9) & (steps <= t_grok))
        pre = float(gini[before[-1]]) if before.size else out["gini_at_memorise"]
        out["gini_pre_jump"] = pre
        rise = out["gini_final"] - out["gini_at_memorise"]
        out["early_rise"] = (pre - out["gini_at_memorise"]) / rise if rise > 0 else float("nan")
    else:
        out.update(norm_peak=float("nan"), gini_pre_jump=float("nan"), early_rise=float("nan"))
    return out


def run(shard) -> ShardResult:
    """Trains every trial of the shard (one compiled program) and extracts its events."""
    st = shard.static

    def events(i, trial, result):
        return trial_events(result.steps, {k: v[i] for k, v in result.curves.items()}, 1.0 / st.p)

    return trainer.run_shard(
        make_task(st),
        shard,
        ("seed", "train_fraction", "weight_decay", "lr"),
        steps=st.steps,
        log_every=st.log_every,
        columns=("train_acc", "test_acc", "test_loss", "weight_norm"),
        extra=events,
    )
