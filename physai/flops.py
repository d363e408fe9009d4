"""FLOPs a training run executes, from XLA's cost analysis, counted once per program.

Counting lowers one optimiser step and one evaluation on their own (XLA's cost
analysis counts a loop's body once, not once per iteration), which costs about as
much as lowering the training program itself. The count is a function of the
lowered programs alone, so it is kept on disk beside the compilation cache, keyed
by their text: a warm run looks it up instead of lowering twice.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Mapping, Sequence
from typing import Any

import jax


def cost(lowered) -> float:
    """Args: lowered: a ``jax.stages.Lowered``. Returns: the FLOPs XLA's cost analysis
    counts in it (each loop body once), 0 when it reports none."""
    counted = lowered.cost_analysis()
    if isinstance(counted, (list, tuple)):  # older jax: one dict per computation
        counted = counted[0] if counted else {}
    return float((counted or {}).get("flops", 0.0))


def flops_per_trial(
    task, data_info, hp: Mapping[str, Any], steps: int, log_every: int, batch_size: int | None, state_info=None
) -> float:
    """Floating-point operations one trial of ``physai.train.train`` executes.

    XLA counts a loop's body once, not once per iteration, so the compiled scan
    cannot be asked directly: one optimiser step and one metrics evaluation are
    lowered on their own and multiplied by how often they run (``steps`` steps;
    ``steps / log_every + 1`` evaluations; the initial objective and the probe once).

    Args:
      task: what is trained (a ``physai.train.Task``).
      data_info: shapes of one trial's data (``jax.ShapeDtypeStruct`` pytree).
      hp: one trial's hyperparameters.
      steps, log_every, batch_size: as for ``train``.
      state_info: shapes of ``(params, optimiser state)`` if known (saves a trace).

    Returns:
      FLOPs per trial (0 when XLA reports none).
    """
    from physai.train import _batch, _step, trial_keys

    keys = trial_keys(hp["seed"])

    def state(hp):
        params = task.init(trial_keys(hp["seed"])["init"], hp)
        return params, task.optimizer(hp).init(params)

    if state_info is None:
        state_info = jax.eval_shape(state, hp)
    key_info = jax.eval_shape(lambda: keys["steps"])

    def one_step(carry, data, hp, k):
        return _step(task, task.optimizer(hp), carry, _batch(task, batch_size, k, data, hp), hp)

    def evaluate(params, data, hp):
        return task.metrics(params, data, hp)

    per_step = cost(jax.jit(one_step).lower(state_info, data_info, hp, key_info))
    per_eval = cost(jax.jit(evaluate).lower(state_info[0], data_info, hp))
    total = steps * per_step + (steps // log_every + 1) * per_eval
    if task.probe is not None:
        total += cost(jax.jit(task.probe).lower(key_info, state_info[0], data_info, hp))
    return total


def _folder():
    """Returns: ``flops/`` inside the compilation cache in use, or None when there is none
    (``PHYSAI_NO_CACHE``, or a folder that belongs to another user: ``physai.runtime``)."""
    from pathlib import Path

    path = jax.config.jax_compilation_cache_dir
    return Path(path) / "flops" if path else None


def cached(programs: Sequence, count) -> float:
    """The FLOP count of a run made of ``programs``, from the cache or ``count()``.

    Args:
      programs: the run's lowered programs (``jax.stages.Lowered``): together they
        determine what it executes, so their text (with the jax version) is the key.
      count: computes the count on a miss.

    Returns:
      FLOPs; a damaged or unreadable entry is counted again, never trusted.
    """
    folder = _folder()
    if folder is None:
        return count()
    digest = hashlib.sha256(jax.__version__.encode())
    for p in programs:
        digest.update(b"\0" + p.as_text(debug_info=False).encode())
    path = folder / digest.hexdigest()
    try:
        return float(path.read_text())
    except (OSError, ValueError):
        pass
    value = count()
    try:
        folder.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
        tmp.write_text(repr(value))
        os.replace(tmp, path)
    except OSError:  # a read-only cache: counted again next time
        pass
    return value
