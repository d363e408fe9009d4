"""The declared run-health criteria: when a training run has converged, and when it diverged.

Every shard's trials carry ``objective_change`` and ``converged`` (``physai.train.run_shard``),
and a diverged run is recorded as such, never dropped; an analysis that rests on unconverged
runs says so (``physai.evidence.unless_converged``).
"""

from __future__ import annotations

import numpy as np

DIVERGENCE_GROWTH = 1e4
CONVERGED_CHANGE = 0.01  # relative change of the objective over the last tenth of training
FIT_FLOOR = 1e-3  # or the objective fell below this fraction of its initial value: at its zero floor


def objective_change(objective: np.ndarray) -> np.ndarray:
    """The declared convergence statistic, per trial.

    The relative change of the logged training objective over the last tenth of
    training: ``|L(end) - L(0.9 T)| / |L(0.9 T)|``, read at the log point nearest
    below 90% of the steps. A run with ``change < CONVERGED_CHANGE`` (1%) is
    ``converged`` (see :func:`converged_runs` for the other way to converge); an
    analysis that rests on unconverged runs says so.

    Args:
      objective: ``(T, L)`` the logged objective, log point 0 at initialisation.

    Returns:
      ``(T,)`` relative changes (NaN for a run with fewer than two log points).
    """
    objective = np.asarray(objective, np.float64)
    n_logs = objective.shape[1] - 1
    if n_logs < 1:
        return np.full(objective.shape[0], np.nan)
    ref = min(int(np.floor(0.9 * n_logs)), n_logs - 1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.abs(objective[:, -1] - objective[:, ref]) / np.abs(objective[:, ref])


def converged_runs(objective: np.ndarray) -> np.ndarray:
    """The declared convergence criterion, per trial.

    A run has converged when its objective changed by less than ``CONVERGED_CHANGE``
    (1%) over the last tenth of training (:func:`objective_change`), or when it fell
    below ``FIT_FLOOR`` (1e-3) of its initial value. The second clause is for
    objectives whose minimum is zero and that approach it at a steady relative rate
    (cross-entropy on separable data falls like 1/t, an interpolating MSE
    geometrically): such a run never slows to a 1% change, yet it is at its
    minimum to within 0.1% of where it started.

    Args:
      objective: ``(T, L)`` the logged objective, log point 0 at initialisation.

    Returns:
      ``(T,)`` booleans.
    """
    objective = np.asarray(objective, np.float64)
    change = objective_change(objective)
    with np.errstate(invalid="ignore"):
        fitted = np.abs(objective[:, -1]) <= FIT_FLOOR * np.abs(objective[:, 0])
    return (change < CONVERGED_CHANGE) | fitted


def diverged_runs(objective: np.ndarray) -> np.ndarray:
    """The declared divergence criterion, per trial.

    A run diverged when its logged training objective became NaN or inf, or
    grew above ``DIVERGENCE_GROWTH`` (four orders of magnitude) times its value
    at initialisation: a finite loss of 1e29 is no trained model. Ordinary
    training never comes near it (loss spikes and catapults stay within a
    factor of ten or so of the initial loss).

    Args:
      objective: ``(T, L)`` the logged objective, log point 0 at initialisation.

    Returns:
      ``(T,)`` booleans.
    """
    objective = np.asarray(objective, np.float64)
    start = np.abs(objective[:, :1])
    with np.errstate(invalid="ignore"):
        grew = (start > 0) & (np.abs(objective) > DIVERGENCE_GROWTH * start)
    return ~np.isfinite(objective).all(axis=1) | grew.any(axis=1)
