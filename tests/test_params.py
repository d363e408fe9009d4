"""`--save-params` keeps each trained trial's final parameters as .npz; `store.load_params` reads them."""

import jax
import numpy as np
import pytest

from physai import PhysaiError, models, store
from tests import toy_experiment
from tests.conftest import physai

TOY = "tests.toy_experiment"


def test_parameters_are_saved_by_workers_read_back_into_the_model_and_kept_on_resume(tmp_path):
    r = physai("run", TOY, "--preset", "tiny", "--out", str(tmp_path), "--no-progress")
    assert r.returncode == 0, r.stderr
    trials = store.load(tmp_path, "toy", "tiny")["trials"]
    with pytest.raises(PhysaiError, match="run with --save-params"):
        store.load_params(tmp_path, "toy", "tiny", trials["trial_id"].iloc[0])
    # Asking for parameters of stored results trains those shards again, in worker processes too.
    r = physai(
        "run", TOY, "--preset", "tiny", "--out", str(tmp_path), "--no-progress", "--save-params",
        "--backend", "processes", "--workers", "1",
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    assert "0 shards run" not in r.stdout + r.stderr
    again = physai("run", TOY, "--preset", "tiny", "--out", str(tmp_path), "--no-progress", "--save-params")
    assert again.returncode == 0 and "note:" not in again.stderr
    assert "0 shards run" in again.stdout + again.stderr  # everything is kept: nothing to do
    trials = store.load(tmp_path, "toy", "tiny")["trials"]
    row = trials[trials["status"] == "ok"].iloc[0]
    flat = store.load_params(tmp_path, "toy", "tiny", row["trial_id"])
    assert flat and all(isinstance(v, np.ndarray) for v in flat.values())
    model = models.MLP(width=int(row["width"]))
    template = models.init_mlp(model, jax.random.key(0), toy_experiment.D)
    params = store.load_params(tmp_path, "toy", "tiny", row["trial_id"], like=template)
    assert jax.tree.structure(params) == jax.tree.structure(template)
    with pytest.raises(PhysaiError, match="template"):
        store.load_params(tmp_path, "toy", "tiny", row["trial_id"], like={"other": np.zeros(1)})
