"""The shard runner: trains every trial of a shard with ``physai.train.train`` and returns what
the store keeps (one row per trial, the long curves table). Experiments call it as
``physai.train.run_shard``."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import jax
import numpy as np

from physai.convergence import converged_runs, objective_change


def run_shard(
    task,
    shard,
    hparams: Sequence[str],
    steps: int,
    log_every: int,
    batch_size: int | None = None,
    columns: Sequence[str] | None = None,
    extra: Callable[[int, Any, Any], Mapping[str, Any]] | None = None,
    return_params: bool = False,
    split_of: Callable[[str], tuple[str, str]] | None = None,
):
    """Trains every trial of a shard and returns what the store keeps: the shard runner.

    The hyperparameters named in ``hparams`` are read from the trials (traced,
    one compiled program for the shard); each trial's row holds its final
    metrics, any ``extra`` values, ``objective_change`` and ``converged`` (the
    declared criterion of :func:`converged_runs`) and its status (``diverged`` when the
    objective became NaN or inf or grew by orders of magnitude, see
    :func:`diverged_runs`); the curves table holds every logged metric.

    Args:
      task: what to train.
      shard: a ``physai.Shard`` (its ``strategy`` is used).
      hparams: parameter names passed to the task as traced arrays (``seed`` included).
      steps, log_every, batch_size: as for :func:`train`.
      columns: final metrics (and probe values) kept as trial columns; default:
        all but ``objective``.
      extra: ``(i, trial, result) -> {column: value}`` per-trial values computed
        outside the compiled program (parameter counts, derived quantities).
      return_params: keep the final parameters in ``result.params`` for ``extra``
        (always kept, and saved per trial, when ``shard.params_dir`` is set: ``--save-params``).
      split_of: metric name -> ``(split, metric)`` for the curves table.

    Returns:
      The ``ShardResult`` (append further curve rows to its ``curves`` if needed).
    """
    from physai.experiment import ShardResult
    from physai.train import train  # imported here: physai.train re-exports this module's functions

    if "seed" not in hparams:
        raise ValueError("hparams must include 'seed'")
    save = bool(getattr(shard, "params_dir", ""))  # --save-params
    result = train(
        task,
        {k: shard.column(k) for k in hparams},
        steps=steps,
        log_every=log_every,
        batch_size=batch_size,
        strategy=shard.strategy,
        return_params=return_params or save,
    )
    if save:
        from physai.store.params import save_params

        for i, t in enumerate(shard.trials):
            save_params(shard.params_dir, t.trial_id, trial_params(result, i))
    if columns is None:  # per-trial scalars; array-valued probes are for ``extra``
        columns = [k for k, v in result.final.items() if k != "objective" and np.ndim(v) == 1]
    keep = list(columns)
    change = objective_change(result.curves["objective"])
    converged = converged_runs(result.curves["objective"])
    rows = []
    for i, t in enumerate(shard.trials):
        row = {k: float(result.final[k][i]) for k in keep}
        if extra is not None:
            row.update(extra(i, t, result))
        row["objective_change"] = float(change[i])
        row["converged"] = bool(converged[i])
        row["status"] = "diverged" if result.diverged[i] else "ok"
        rows.append(row)
    ids = [t.trial_id for t in shard.trials]
    return ShardResult(rows, curves_table(ids, result, split_of))


def trial_params(result, i: int):
    """Args: result: trained with ``return_params``; i: a trial index.
    Returns: that trial's final parameters (the leading trial axis removed)."""
    return jax.tree.map(lambda x: x[i], result.params)


def curves_table(trial_ids, result, split_of: Callable[[str], tuple[str, str]] | None = None):
    """Turns a ``TrainResult`` into the long curves table of the store.

    Args:
      trial_ids: one id per trial, in order.
      result: the training result.
      split_of: maps a metric name to ``(split, metric)``; by default a
        ``train_``/``test_`` prefix gives the split and anything else is ``train``.

    Returns:
      A pandas DataFrame ``trial_id, step, split, metric, value``.
    """
    import pandas as pd

    def default_split(name: str) -> tuple[str, str]:
        for split in ("train", "test"):
            if name.startswith(split + "_"):
                return split, name[len(split) + 1 :]
        return "train", name

    split_of = split_of or default_split
    frames = []
    ids = np.asarray(list(trial_ids))
    n_logs = len(result.steps)
    for name, values in result.curves.items():
        split, metric = split_of(name)
        frames.append(
            pd.DataFrame(
                {
                    "trial_id": np.repeat(ids, n_logs),
                    "step": np.tile(result.steps, len(ids)),
                    "split": split,
                    "metric": metric,
                    "value": np.asarray(values, np.float64).ravel(),
                }
            )
        )
    return pd.concat(frames, ignore_index=True)
