"""Double descent: does test error peak where the model can first interpolate the training set?

Question
  Classical statistics says test error is U-shaped in model size. Modern practice
  says bigger is better. Double descent reconciles both: test error rises to a
  peak at the *interpolation threshold*, the size at which the model can first
  fit every training label (noise included), and falls again beyond it. We test
  this in three settings of increasing realism, each with its own anchor, as
  three experiments of this group (each with its own hypotheses, presets, table
  and figure):

  a. ``double_descent.linear``: min-norm least squares against its exact
     finite-n risk (Belkin, Hsu & Xu 2020), whose limit is the closed form of
     Hastie, Montanari, Rosset & Tibshirani (2022).
  b. ``double_descent.random_features``: ReLU random features with a min-norm
     read-out (Belkin, Hsu, Ma & Mandal 2019).
  c. ``double_descent.mlp``: trained two-layer ReLU MLPs (Nakkiran, Kaplun,
     Bansal, Yang, Barak & Sutskever 2021, "Deep double descent", J. Stat. Mech.;
     ICLR 2020).

Run
  physai demo double_descent.random_features      # demo preset + verdicts + figures
  physai run double_descent.mlp --preset demo     # the sweep only
  physai verify double_descent.linear --preset paper   # every check at the anchors' scale
  physai verify double_descent.mlp --preset tiny  # seconds; smoke test only, no verdict expected

Sources
  Each part's hypotheses carry their paper, where in it, the paper's own
  statement and the reason for each range (``Hypothesis.source``).

Expected runtime (the three parts together, 2 CPU cores, empty JAX compilation
cache): demo ~1-2 min, paper ~5-10 min (the MLP part most of it); more on cores
shared with other jobs.

Implementation notes
  * Closed-form parts (a, b) solve in float64 with numpy/scipy (SVD / lstsq,
    rcond = machine eps * max(n, p), as ``numpy.linalg.lstsq``); the data come from
    ``physai.curricula`` in float32 and are cast. Near ``p = n`` the error is heavy
    tailed, hence medians (b, c) over seeds where a peak's place is compared; a law
    for the expectation (a, and b below the threshold) is tested on means.
  * OpenBLAS is held to one thread during the solves: on 2 shared cores its
    spinning worker threads made each 200x3200 SVD many times slower.
"""

from __future__ import annotations

import jax
import numpy as np
import pandas as pd

from analysis.stats import aggregate
from physai import curricula

EXPERIMENTS = ("linear", "random_features", "mlp")

ANCHOR_NOISE = 0.5  # label-noise standard deviation of the anchors (parts a, b, c)
CHECK_RESAMPLES = 200  # bootstrap resamples of aggregate() in checks (only medians are used)

# Jitted once per shape: eager calls would compile each of their ~10 primitives per new p.
linear_teacher = jax.jit(curricula.gaussian_linear_teacher, static_argnums=(1, 2, 3))


def stream_key(seed: int, stream: int):
    """The closed-form parts' random streams: ``fold_in(key(seed), stream)``
    (0: data, 1: random features). Trained parts use ``physai.train.trial_keys``."""
    return jax.random.fold_in(jax.random.key(int(seed)), stream)


def median_table(df: pd.DataFrame, by, value: str, n_resamples: int = CHECK_RESAMPLES):
    """Medians over seeds (with bootstrap CI) via ``analysis.stats.aggregate``."""
    return aggregate(df, by, value, n_resamples=n_resamples)


def group_median(keys: np.ndarray, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Median of ``values`` per distinct key, in numpy (cheap enough to run inside a
    seed bootstrap, where it is recomputed on every resample).

    Returns:
      ``(sorted distinct keys, their medians)``; NaN values are dropped first.
    """
    keep = ~np.isnan(values)
    keys, values = keys[keep], values[keep]
    order = np.lexsort((values, keys))
    keys, values = keys[order], values[order]
    distinct, start, count = np.unique(keys, return_index=True, return_counts=True)
    return distinct, 0.5 * (values[start + (count - 1) // 2] + values[start + count // 2])
