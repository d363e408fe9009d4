"""The canonical trainer: one ``lax.scan`` under one ``jit`` per shard.

A ``Task`` says what to train as pure functions of ``(key, hparams)``;
``train`` runs it for a batch of trials whose varying hyperparameters (lr,
weight decay, noise, width mask, seed, ...) are *traced arrays*, so one
compiled program serves the whole shard and the persistent compilation cache
serves the next run. Data generation is compiled as its own small program
(it does not depend on the model, so shards of other widths reuse it from the
cache), and on the ``sequential`` path trials that agree on what it reads (the seed,
and hyperparameters such as a noise level: found in its traced program) share one
generation of it; initialisation, the training scan and the final probe are programs too. On
minibatches, a logging block's indices are drawn in one vectorised call before its steps
(``MAX_DRAWN_INDICES``; each step's from its own key, so the numbers do not change). A long
scan runs as a few calls of one compiled program (``progress_calls``,
``chunk_blocks``), each a share of the logging blocks, so a sweep shows progress
inside a shard; the numbers do not depend on the split, and its cost is measured
in ``benchmarks/progress_cost.py``.

Batching strategies (``strategy``):
  * ``sequential``: the compiled single-trial program is called once per trial,
    ``trial_threads()`` trials at a time (one per CPU core; every trial executes in
    one of the process's ``execution_slot``s, which the local backend's overlapping
    shards share). Measured fastest on CPU (``benchmarks/sweep_throughput.py``):
    a ``vmap`` over trials turns matmuls into batched matmuls that XLA:CPU runs slower.
  * ``vmap``: one program for all trials of the shard; best on GPU, where a
    single small model leaves the device idle.
  * ``shard``: ``vmap`` with the trial axis split across all local devices.
  * ``auto``: ``sequential`` on CPU, ``vmap`` on one accelerator, ``shard`` on several.
Each trial's numbers depend only on its own hyperparameters and seed, never on
which other trials share its shard.
"""

from __future__ import annotations

import contextvars
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import jax
import numpy as np
import optax

from physai import flops as flop_count
from physai import timing

# the run-health criteria, which experiments read as ``trainer.CONVERGED_CHANGE`` and the like
from physai.convergence import (  # noqa: F401
    CONVERGED_CHANGE,
    DIVERGENCE_GROWTH,
    FIT_FLOOR,
    converged_runs,
    diverged_runs,
    objective_change,
)
from physai.execution import SharedData, data_inputs, execution_slot, resolve_strategy, trial_threads
from physai.flops import flops_per_trial  # noqa: F401  (``trainer.flops_per_trial``)

Params = Any
Data = Mapping[str, jax.Array]
HParams = Mapping[str, jax.Array]


@dataclass(frozen=True)
class Task:
    """What to train, as pure functions (no Python state, all jit-able).

    Attributes:
      data: ``(key, hp) -> dict`` of arrays (``x_train``, ``y_train``, ``x_test``, ...).
      init: ``(key, hp) -> params``.
      loss: ``(params, batch, hp) -> scalar`` training objective; ``batch`` is
        ``data`` (full batch) or ``data`` with ``x_train``/``y_train`` replaced
        by a minibatch.
      metrics: ``(params, data, hp) -> {name: scalar}`` evaluated every
        ``log_every`` steps and at the end.
      optimizer: ``hp -> optax.GradientTransformation`` (use traced hp values,
        e.g. ``optax.adamw(hp["lr"], weight_decay=hp["wd"])``).
      sample: optional ``(key, data, hp) -> batch``, called once per step with
        that step's key, instead of the default minibatch of ``x_train``/``y_train``:
        for online training on fresh samples from the distribution (no finite
        pool to memorise), fresh unlabelled points for a penalty, or minibatches
        that also index further per-example arrays. Its output is passed to
        ``loss`` as ``batch``; leave ``batch_size`` of :func:`train` at ``None``.
      probe: optional ``(key, params, data, hp) -> {name: array}`` measured once
        on the final parameters, inside the compiled program (so it is batched
        with the trials, not looped over in Python); its values join ``final``.
        ``key`` is the trial's probe stream (see :func:`trial_keys`).
    """

    data: Callable[[jax.Array, HParams], Data]
    init: Callable[[jax.Array, HParams], Params]
    loss: Callable[[Params, Data, HParams], jax.Array]
    metrics: Callable[[Params, Data, HParams], Mapping[str, jax.Array]]
    optimizer: Callable[[HParams], optax.GradientTransformation]
    sample: Callable[[jax.Array, Data, HParams], Data] | None = None
    probe: Callable[[jax.Array, Params, Data, HParams], Mapping[str, jax.Array]] | None = None


@dataclass(frozen=True)
class TrainResult:
    """Outputs of ``train`` for T trials logged at L points.

    Attributes:
      steps: ``(L,)`` the optimisation step of each log point (0 = initial).
      curves: ``{metric: (T, L)}``; always holds ``objective``, the mean training
        objective over the steps before each log point (at step 0: at init).
      final: ``{metric: (T,)}`` the values at the last log point, and the
        ``Task.probe`` values.
      diverged: ``(T,)`` True where the run diverged (:func:`diverged_runs`).
      params: final parameters with a leading trial axis, if ``return_params``.
    """

    steps: np.ndarray
    curves: dict[str, np.ndarray]
    final: dict[str, np.ndarray]
    diverged: np.ndarray
    params: Any = None


def _as_arrays(hparams: Mapping[str, Any]) -> dict[str, np.ndarray]:
    out = {}
    for k, v in hparams.items():
        a = np.asarray(v)
        if a.dtype.kind == "f":
            a = a.astype(np.float32)
        elif a.dtype.kind in "iu":
            a = a.astype(np.int32)
        elif a.dtype.kind != "b":
            raise TypeError(f"hyperparameter {k!r} must be numeric, got dtype {a.dtype}")
        out[k] = a
    sizes = {a.shape[0] for a in out.values()}
    if len(sizes) != 1:
        raise ValueError(f"hyperparameters need one value per trial, got lengths {sorted(sizes)}")
    return out


PROBE_STREAM = 7


def trial_keys(seed) -> dict[str, jax.Array]:
    """The one rule that turns a trial's seed into its random streams.

    ``data``, ``init`` and ``steps`` (minibatches or ``Task.sample``) are the
    three splits of ``key(seed)``; ``probe`` (random directions or starts of a
    ``Task.probe``) is ``fold_in(key(seed), 7)``, independent of the three.
    An experiment that needs a trial's data outside training (to probe it
    afterwards) calls ``task.data(trial_keys(seed)["data"], hp)``.

    Args:
      seed: an integer (or a traced integer scalar).

    Returns:
      ``{"data", "init", "steps", "probe"}`` keys.
    """
    root = jax.random.key(seed)
    k_data, k_init, k_steps = jax.random.split(root, 3)
    return {"data": k_data, "init": k_init, "steps": k_steps, "probe": jax.random.fold_in(root, PROBE_STREAM)}


PROGRESS_CHUNKS = 16  # calls of the compiled training program per run, at most
# Work one call must hold before a run is split: a call costs ~0.5 ms on CPU, about
# 1% of the time 1e9 FLOPs take on two cores. Smaller runs make one call (they
# take well under a second; the sweep still counts them trial by trial).
MIN_FLOPS_PER_CALL = 1e9


def chunk_blocks(n_logs: int, chunks: int | None = None) -> int:
    """Logging blocks per call of the compiled training program.

    Training runs as a few calls of one compiled program, each advancing every
    trial by this many logging blocks, so the sweep can report progress inside
    a shard. (A host callback inside the scan would do it in one call, but XLA
    programs with host callbacks are not kept in the persistent compilation
    cache.) The smallest divisor of ``n_logs`` giving at most ``chunks`` calls
    (default ``PROGRESS_CHUNKS``): every call has the same shape, so one
    compilation serves them all. Results do not depend on it.
    """
    chunks = PROGRESS_CHUNKS if chunks is None else max(1, min(chunks, PROGRESS_CHUNKS))
    return next(c for c in range(1, n_logs + 1) if n_logs % c == 0 and n_logs // c <= chunks)


def progress_calls(flops: float) -> int:
    """Calls to split a run of ``flops`` floating-point operations into: ``flops /
    MIN_FLOPS_PER_CALL``, from 1 to ``PROGRESS_CHUNKS``."""
    return int(min(PROGRESS_CHUNKS, max(1, flops // MIN_FLOPS_PER_CALL)))


def _programs(task: Task, steps: int, log_every: int, batch_size: int | None, return_params: bool, chunk: int) -> tuple:
    """Splits a single-trial run into pure functions, each compiled once per shard.

    The data program does not depend on the model, so shards of other widths
    find it in the persistent compilation cache instead of compiling it again
    (random data generation is a large part of a small program's compile time).
    ``advance`` runs ``chunk`` logging blocks of the training scan from block
    ``first``; called ``n_logs / chunk`` times it is the whole run, with the
    same keys and the same steps as one scan.

    Returns:
      ``(start, advance, finish)`` (the data program is ``_data_program``):
      ``(data, hp) -> (carry, initial metrics)``;
      ``(carry, data, hp, first) -> (carry, {name: (chunk,)})``;
      ``(carry, data, hp) -> (probes {name: ()}, params or None)``.
    """
    if steps % log_every:
        raise ValueError(f"steps ({steps}) must be a multiple of log_every ({log_every})")
    if task.sample is not None and batch_size is not None:
        raise ValueError("give either batch_size or Task.sample (which draws each step's batch), not both")
    n_logs = steps // log_every

    def start(data, hp):
        keys = trial_keys(hp["seed"])
        params = task.init(keys["init"], hp)
        init_metrics = dict(task.metrics(params, data, hp))
        init_metrics["objective"] = task.loss(params, _batch(task, batch_size, keys["steps"], data, hp), hp)
        return (params, task.optimizer(hp).init(params)), init_metrics

    def advance(carry, data, hp, first):
        opt = task.optimizer(hp)

        def step(carry, k):
            return _step(task, opt, carry, _batch(task, batch_size, k, data, hp), hp)

        def block(carry, k):
            keys = jax.random.split(k, log_every)
            if task.sample is None and batch_size is not None:
                carry, losses = _minibatch_steps(task, opt, carry, keys, batch_size, data, hp)
            else:
                carry, losses = jax.lax.scan(step, carry, keys)
            metrics = dict(task.metrics(carry[0], data, hp))
            metrics["objective"] = losses.mean()
            return carry, metrics

        block_keys = jax.random.split(trial_keys(hp["seed"])["steps"], n_logs)
        return jax.lax.scan(block, carry, jax.lax.dynamic_slice_in_dim(block_keys, first, chunk))

    def finish(carry, data, hp):
        params = carry[0]
        probes = dict(task.probe(trial_keys(hp["seed"])["probe"], params, data, hp)) if task.probe is not None else {}
        return probes, (params if return_params else None)

    return start, advance, finish


def _data_program(task: Task) -> Callable:
    """``hp -> data``: compiled on its own, see ``_programs``."""

    def data(hp):
        return task.data(trial_keys(hp["seed"])["data"], hp)

    return data


def _run_chunks(advance, carry, data, hp, n_logs: int, chunk: int, trials: int):
    """Calls the compiled ``advance`` until every block has run; reports each call's
    progress (``trials`` trials advanced by a share of their run) to the sweep."""
    logged = []
    for first in range(0, n_logs, chunk):
        timing.stop_if_requested()
        carry, metrics = advance(carry, data, hp, np.int32(first))
        logged.append(metrics)
        timing.report_progress(trials * chunk / n_logs)
    return carry, {k: np.concatenate([np.asarray(m[k]) for m in logged], axis=-1) for k in logged[0]}


def _batch(task: Task, batch_size: int | None, k, data, hp):
    """One step's batch: ``task.sample``'s draw, the full data, or a minibatch of it."""
    if task.sample is not None:
        return task.sample(k, data, hp)
    if batch_size is None:
        return data
    return _rows(data, _indices(k, batch_size, data))


def _indices(k, batch_size: int, data):
    """A minibatch's training rows: ``batch_size`` uniform draws with replacement."""
    return jax.random.randint(k, (batch_size,), 0, data["x_train"].shape[0])


def _rows(data, idx):
    return {**data, "x_train": data["x_train"][idx], "y_train": data["y_train"][idx]}


# Minibatch indices drawn in one vectorised call, at most this many: on XLA:CPU a draw of
# 256 indices costs ~9 us in its own step but ~2.7 us a step drawn with 3,000 steps' worth
# (threefry is bound by its per-call cost at that size), a large share of a small model's
# step. The draws are the same numbers: each step's indices still come from its own key.
MAX_DRAWN_INDICES = 2**20


def _minibatch_steps(task: Task, opt, carry, keys, batch_size: int, data, hp):
    """The steps of one logging block (one key each) on minibatches, their indices drawn
    together in groups of the largest divisor of the block that keeps a group's indices
    within ``MAX_DRAWN_INDICES``: ``(carry, keys) -> (carry, losses)`` as a scan of ``_step``."""
    n = keys.shape[0]
    group = max(g for g in range(1, n + 1) if n % g == 0 and g * batch_size <= MAX_DRAWN_INDICES)

    def steps(carry, group_keys):
        idx = jax.vmap(lambda k: _indices(k, batch_size, data))(group_keys)
        return jax.lax.scan(lambda c, i: _step(task, opt, c, _rows(data, i), hp), carry, idx)

    if group == n:
        return steps(carry, keys)
    carry, losses = jax.lax.scan(steps, carry, keys.reshape(n // group, group))
    # the barrier keeps XLA from folding the reshape into the block's mean, which would then
    # sum the losses in another order than a scan of single steps gives them
    return carry, jax.lax.optimization_barrier(losses.reshape(n))


def _step(task: Task, opt, carry, batch, hp):
    """One optimiser step: ``((params, opt_state), batch) -> ((params, opt_state), loss)``."""
    params, opt_state = carry
    loss, grads = jax.value_and_grad(task.loss)(params, batch, hp)
    updates, opt_state = opt.update(grads, opt_state, params)
    return (optax.apply_updates(params, updates), opt_state), loss


def _compile(fn, *args):
    with timing.compiling():
        return jax.jit(fn).lower(*args).compile()


def train(
    task: Task,
    hparams: Mapping[str, Any],
    steps: int,
    log_every: int,
    batch_size: int | None = None,
    strategy: str = "auto",
    return_params: bool = False,
) -> TrainResult:
    """Trains one model per trial.

    Args:
      task: what to train.
      hparams: ``{name: (T,) values}``; must include ``seed``. Every value is
        traced, so trials differing only in these share one compilation.
      steps: optimisation steps per trial.
      log_every: steps between logged metrics.
      batch_size: minibatch size, or ``None`` for full-batch training.
      strategy: ``auto``, ``sequential``, ``vmap`` or ``shard`` (see module doc).
      return_params: keep the final parameters (leading trial axis).

    Returns:
      A ``TrainResult`` with numpy arrays.
    """
    hp = _as_arrays(hparams)
    if "seed" not in hp:
        raise ValueError("hyperparameters must include 'seed'")
    n_trials = len(hp["seed"])
    n_logs = steps // log_every
    data = _data_program(task)
    strategy = resolve_strategy(strategy)
    if strategy == "sequential":
        first = {k: v[0] for k, v in hp.items()}
        with timing.compiling():
            data_t = jax.jit(data).trace(first)  # its jaxpr says what it reads (data_inputs)
            data_l = data_t.lower()
            start, _, finish = _programs(task, steps, log_every, batch_size, return_params, 1)
            start_l = jax.jit(start).lower(data_l.out_info, first)
            carry_info = start_l.out_info[0]
            # the split needs only the run's size: steps x the start program (initialisation,
            # one evaluation and one loss: about a step's worth), so the exact count below can
            # come from the cache, keyed by the programs the split defines
            chunk = chunk_blocks(n_logs, progress_calls(steps * flop_count.cost(start_l)))
            _, advance, _ = _programs(task, steps, log_every, batch_size, return_params, chunk)
            lowered = (
                data_l,
                start_l,
                jax.jit(advance).lower(carry_info, data_l.out_info, first, np.int32(0)),
                jax.jit(finish).lower(carry_info, data_l.out_info, first),
            )
            flops = flop_count.cached(
                lowered[1:],
                lambda: flops_per_trial(task, data_l.out_info, first, steps, log_every, batch_size, carry_info),
            )
            timing.add_flops(n_trials * flops)
            programs = tuple(p.compile() for p in lowered)
            reads = data_inputs(data_t.jaxpr.jaxpr, first)

        shared = SharedData(programs[0], hp, reads)

        def run_one(i):
            _, start_c, advance_c, finish_c = programs
            h = {k: v[i] for k, v in hp.items()}
            d = shared.acquire(i)
            with execution_slot():
                carry, initial = start_c(d, h)
                carry, logged = _run_chunks(advance_c, carry, d, h, n_logs, chunk, 1)
                probes, params = jax.device_get(finish_c(carry, d, h))
            shared.release(i)
            curves = {k: np.concatenate([np.asarray(initial[k])[None], v]) for k, v in logged.items()}
            return curves, probes, params

        threads = min(n_trials, trial_threads())
        outs = [None] * n_trials
        if threads > 1:
            with ThreadPoolExecutor(threads, thread_name_prefix="physai-trial") as pool:
                # each trial runs in a copy of this context: its shard's counters and progress sink
                futures = {i: pool.submit(contextvars.copy_context().run, run_one, i) for i in shared.order}
                for i, future in futures.items():
                    outs[i] = future.result()
        else:
            for i in shared.order:
                outs[i] = run_one(i)
        curves = {k: np.stack([o[0][k] for o in outs]) for k in outs[0][0]}
        probes = {k: np.stack([o[1][k] for o in outs]) for k in outs[0][1]}
        params = jax.tree.map(lambda *xs: np.stack(xs), *[o[2] for o in outs]) if return_params else None
    elif strategy in ("vmap", "shard"):
        args = hp
        if strategy == "shard" and len(jax.devices()) > 1:
            n_dev = len(jax.devices())
            pad = (-n_trials) % n_dev
            args = {k: np.concatenate([v, np.repeat(v[-1:], pad)]) for k, v in hp.items()}
            mesh = jax.sharding.Mesh(np.array(jax.devices()), ("trials",))
            spec = jax.sharding.NamedSharding(mesh, jax.sharding.PartitionSpec("trials"))
            args = jax.device_put(args, spec)
        first = {k: v[0] for k, v in hp.items()}
        with timing.compiling():
            data_info = jax.eval_shape(data, first)
            flops = n_trials * flops_per_trial(task, data_info, first, steps, log_every, batch_size)
            timing.add_flops(flops)
        chunk = chunk_blocks(n_logs, progress_calls(flops))  # one call advances every trial
        start, advance, finish = _programs(task, steps, log_every, batch_size, return_params, chunk)
        # compiled before any runs (outside the execution slot); each program's output
        # shapes and shardings come from the previous one's compiled form
        data_c = _compile(jax.vmap(data), args)
        data_info = data_c.out_info
        start_c = _compile(jax.vmap(start), data_info, args)
        carry_info = start_c.out_info[0]
        advance_v = _compile(jax.vmap(advance, in_axes=(0, 0, 0, None)), carry_info, data_info, args, np.int32(0))
        finish_c = _compile(jax.vmap(finish), carry_info, data_info, args)
        with execution_slot():
            data_v = data_c(args)
            carry, initial = start_c(data_v, args)
            carry, logged = _run_chunks(advance_v, carry, data_v, args, n_logs, chunk, n_trials)
            probes, params = jax.device_get(finish_c(carry, data_v, args))
        curves = {k: np.concatenate([np.asarray(initial[k])[:, None], v], axis=1)[:n_trials] for k, v in logged.items()}
        probes = {k: np.asarray(v)[:n_trials] for k, v in probes.items()}
        if return_params:
            params = jax.tree.map(lambda x: np.asarray(x)[:n_trials], params)
    else:
        raise ValueError(f"unknown strategy {strategy!r}")
    final = {**{k: v[:, -1] for k, v in curves.items()}, **probes}
    diverged = diverged_runs(curves["objective"])
    return TrainResult(np.arange(steps // log_every + 1) * log_every, curves, final, diverged, params)


# The shard runner lives in its own module; experiments reach it, and the run-health criteria,
# through the trainer (``trainer.run_shard``, ``trainer.objective_change``).
from physai.shard_runner import curves_table, run_shard, trial_params  # noqa: E402, F401
