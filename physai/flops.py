"""FLOPs a training run executes, from XLA's cost analysis, counted once per program.

XLA's cost analysis counts a loop's body once, not once per iteration. Counting
therefore lowers one optimiser step and one evaluation on their own, and inside
them (a model that scans over its layers, a probe's fixed-length power iteration)
adds each ``scan``'s body as often as it runs (``traced_cost``). A ``while_loop``,
whose trip count is known only at run time, stays counted once. Counting costs
about as much as lowering the training program itself. The count is a function of
the lowered programs alone, so it is kept on disk beside the compilation cache,
keyed by their text: a warm run looks it up instead of lowering twice.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Mapping, Sequence
from typing import Any

import jax
import jax.extend.core


def cost(lowered) -> float:
    """Args: lowered: a ``jax.stages.Lowered``. Returns: the FLOPs XLA's cost analysis
    counts in it (each loop body once), 0 when it reports none."""
    counted = lowered.cost_analysis()
    if isinstance(counted, (list, tuple)):  # older jax: one dict per computation
        counted = counted[0] if counted else {}
    return float((counted or {}).get("flops", 0.0))


# Part of the cache key: a count cached by an earlier way of counting is counted again.
COUNTING = "scan bodies times their length"


def traced_cost(traced) -> float:
    """Args: traced: a ``jax.stages.Traced`` (``jax.jit(f).trace(...)``). Returns: the
    FLOPs of one call: XLA's count, with the body of every ``scan`` in it (outside
    other loops' bodies, which count their own) counted ``length`` times, not once."""
    return _loop_cost(traced.jaxpr, cost(traced.lower()))


def _loop_cost(closed, counted: float) -> float:
    """``counted`` (XLA's count of ``closed``, each loop body once) with every scan's body
    counted as often as it runs."""
    total = counted
    for eqn in _scans(closed.jaxpr):
        body = eqn.params["jaxpr"]
        once = cost(
            jax.jit(jax.extend.core.jaxpr_as_fun(body)).lower(
                *(jax.ShapeDtypeStruct(a.shape, a.dtype) for a in body.in_avals)
            )
        )
        unroll = eqn.params.get("unroll", 1)
        copies = eqn.params["length"] if unroll is True else max(1, min(int(unroll), eqn.params["length"]))
        # XLA counted ``copies`` bodies (an unrolled scan repeats its body); count them all
        total += eqn.params["length"] * _loop_cost(body, once) - copies * once
    return total


def _scans(jaxpr):
    """The ``scan`` equations of ``jaxpr`` and of the programs it calls, except inside loops."""
    for eqn in jaxpr.eqns:
        if eqn.primitive.name == "scan":
            yield eqn
        elif eqn.primitive.name not in ("while", "cond"):  # trip count unknown; one branch runs
            for sub in jax.extend.core.jaxprs_in_params(eqn.params):
                yield from _scans(sub)


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

    per_step = traced_cost(jax.jit(one_step).trace(state_info, data_info, hp, key_info))
    per_eval = traced_cost(jax.jit(evaluate).trace(state_info[0], data_info, hp))
    total = steps * per_step + (steps // log_every + 1) * per_eval
    if task.probe is not None:
        total += traced_cost(jax.jit(task.probe).trace(key_info, state_info[0], data_info, hp))
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
    digest = hashlib.sha256(f"{jax.__version__}\0{COUNTING}".encode())
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
