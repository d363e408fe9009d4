"""Per-run summaries of the quanta experiment: when each task's accuracy rises, and
whether the rises follow frequency rank."""

from __future__ import annotations

import math

import numpy as np
from scipy import stats as sps

from analysis.transitions import transition_step

LEARNED_ACC = 0.9  # a task counts as learned if its final test accuracy is >= this
ONSET_ACC = 0.75  # onset: half-way from chance (0.5) to 1
RISE_LOW, RISE_HIGH = 0.1, 0.9  # rise window, as fractions of the way from 0.5 to 1


def rise_window(steps: np.ndarray, acc: np.ndarray) -> tuple[float, float, float]:
    """Onset and 10% -> 90% rise width of one task's accuracy curve.

    The levels are fixed fractions of the way from chance (0.5) to 1, not of the
    curve's observed range (``analysis.transitions.transition_width``): the noisy plateau
    at chance dips below 0.5, which would put the 10% level inside the noise and
    start the window at step 0. The start is the *last* log below the low level
    before the high level is reached, so noise excursions above it during the
    plateau do not widen the window.

    Args:
      steps: ``(L,)`` logged steps; acc: ``(L,)`` test accuracy of the task.

    Returns:
      ``(onset, start, end)``: interpolated first crossing of ONSET_ACC, start and
      end of the rise; NaN where the curve never reaches the level.
    """
    low = 0.5 + RISE_LOW * 0.5
    high = 0.5 + RISE_HIGH * 0.5
    onset = transition_step(steps, acc, ONSET_ACC)
    end = transition_step(steps, acc, high)
    if math.isnan(end):
        return onset, float("nan"), float("nan")
    below = np.flatnonzero((acc < low) & (steps < end))
    if below.size == 0:
        return onset, float(steps[0]), end
    i = below[-1]
    # Interpolate the crossing of the low level between log i and the next one.
    a0, a1 = float(acc[i]), float(acc[i + 1])
    if a1 <= a0:
        return onset, float(steps[i]), end
    start = float(steps[i] + (low - a0) / (a1 - a0) * (steps[i + 1] - steps[i]))
    return onset, start, end


def loss_fall_span(steps: np.ndarray, mean_loss: np.ndarray) -> float:
    """Steps over which the mean loss falls from 10% to 90% of its total drop (first value to
    minimum), the crossings interpolated between logs; NaN if it does not fall."""
    top, bottom = float(mean_loss[0]), float(np.min(mean_loss))
    if not top > bottom:
        return float("nan")
    level = lambda f: top - f * (top - bottom)  # noqa: E731
    start = transition_step(steps, mean_loss, level(RISE_LOW), rising=False)
    end = transition_step(steps, mean_loss, level(RISE_HIGH), rising=False)
    return float(end - start)


def run_summary(
    steps: np.ndarray, task_acc: np.ndarray, mean_loss: np.ndarray, probs: np.ndarray | None = None
) -> dict:
    """Learning order and abruptness of one run.

    Args:
      steps: ``(L,)`` logged steps; task_acc: ``(n_tasks, L)`` per-task test
        accuracy, task 0 the most frequent; mean_loss: ``(L,)`` frequency-weighted
        test loss; probs: ``(n_tasks,)`` task frequencies (optional).

    Returns:
      ``n_learned`` (final accuracy >= LEARNED_ACC), ``order_tau`` (Kendall tau of
      onset vs frequency rank over learned tasks; NaN with < 2), ``median_rise``,
      ``onset_spread`` (last - first onset), ``width_ratio`` (their ratio), and
      ``loss_max_drop_share`` (largest drop of the mean loss between two logs over
      its total drop), ``loss_span`` (``loss_fall_span``) and, with ``probs``,
      ``unlearned_mass`` (summed frequency of the tasks not learned).
    """
    learned = np.flatnonzero(task_acc[:, -1] >= LEARNED_ACC)
    windows = np.array([rise_window(steps, task_acc[t]) for t in learned]).reshape(-1, 3)
    onset, rise = windows[:, 0], windows[:, 2] - windows[:, 1]
    ok = np.isfinite(onset)
    tau = float(sps.kendalltau(learned[ok], onset[ok]).statistic) if ok.sum() >= 2 else float("nan")
    spread = float(np.nanmax(onset) - np.nanmin(onset)) if ok.sum() >= 2 else float("nan")
    median_rise = float(np.nanmedian(rise)) if np.isfinite(rise).any() else float("nan")
    drops = -np.diff(mean_loss)
    total = float(mean_loss[0] - mean_loss.min())
    out = {"unlearned_mass": float(np.delete(probs, learned).sum())} if probs is not None else {}
    return {
        **out,
        "n_learned": int(learned.size),
        "order_tau": tau,
        "median_rise": median_rise,
        "onset_spread": spread,
        "width_ratio": median_rise / spread if spread and spread > 0 else float("nan"),
        "loss_max_drop_share": float(drops.max() / total) if total > 0 else float("nan"),
        "loss_span": loss_fall_span(steps, mean_loss),
    }
