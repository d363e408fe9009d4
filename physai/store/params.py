"""Trained parameters kept beside the tables, as plain ``.npz`` (never pickle).

``physai run NAME --save-params`` (or ``run_experiment(..., save_params=True)``)
makes every shard trained by ``physai.train.run_shard`` write each trial's final
parameters to ``<root>/<experiment>/<preset>/params/<trial_id>.npz``, atomically,
one array per leaf, keyed by its path in the parameter tree
(``jax.tree_util.keystr``: ``['params']['Dense_0']['kernel']``). Read them back
with ``load_params``: flat by path, or rebuilt into the structure of a template
(``like=``, e.g. ``model.init(...)``) to probe the model later::

    params = store.load_params("results", "width_minima", "demo", trial_id)

The files are written by the process that trains the shard, so with ``--backend
ray`` on several machines the results root must be a shared filesystem.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from physai.errors import PhysaiError
from physai.store.files import atomic_path, experiment_dir

FOLDER = "params"


def params_path(folder: str | os.PathLike, trial_id: str) -> Path:
    """Args: folder: the params folder; trial_id: a trial. Returns: its ``.npz`` path."""
    return Path(folder) / f"{trial_id}.npz"


def save_params(folder: str | os.PathLike, trial_id: str, tree: Any) -> Path:
    """Writes one trial's parameters atomically.

    Args:
      folder: the params folder (``Shard.params_dir``).
      trial_id: the trial.
      tree: a pytree of arrays (the trial axis already removed).

    Returns:
      The path written.
    """
    import jax

    leaves = jax.tree_util.tree_flatten_with_path(tree)[0]
    arrays = {jax.tree_util.keystr(path): np.asarray(leaf) for path, leaf in leaves}
    path = params_path(folder, trial_id)
    with atomic_path(path) as tmp, open(tmp, "wb") as f:
        np.savez(f, **arrays)
    return path


def load_params(root: str | os.PathLike, experiment: str, preset: str, trial_id: str, like: Any = None) -> Any:
    """Reads one trial's saved parameters.

    Args:
      root, experiment, preset: where the results are stored.
      trial_id: the trial (a ``trial_id`` of the trials table).
      like: optional template pytree with the same structure; the arrays are put
        into it by path.

    Returns:
      ``{path: array}`` in the saved order, or the template's structure filled
      with the saved arrays.

    Raises:
      PhysaiError: one line, when none were saved for the trial (run with
        ``--save-params``) or the template's paths differ from the saved ones.
    """
    path = params_path(experiment_dir(root, experiment, preset) / FOLDER, trial_id)
    if not path.exists():
        raise PhysaiError(f"no saved parameters for trial {trial_id} in {path.parent}; run with --save-params")
    with np.load(path, allow_pickle=False) as f:
        arrays = {k: f[k] for k in f.files}
    if like is None:
        return arrays
    import jax

    leaves, treedef = jax.tree_util.tree_flatten_with_path(like)
    paths = [jax.tree_util.keystr(p) for p, _ in leaves]
    if sorted(paths) != sorted(arrays):
        raise PhysaiError(f"saved parameters of trial {trial_id} do not match the template's structure")
    return jax.tree_util.tree_unflatten(treedef, [arrays[p] for p in paths])
