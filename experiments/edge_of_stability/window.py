"""Edge of stability: the edge window of one run, from its sharpness and training-loss curves.

The window runs from the first log point at which the sharpness reaches 2/eta (0.9 * 2/eta
counts) to the first at which the training loss has fallen to the trainer's zero-floor
criterion; inside it the catapult (the first overshoot above 2/eta and the drop that ends
it) is set apart, the ratio ``lambda_max * eta / 2`` is summarised and the loss rises are
counted. ``with_window`` recomputes these columns from the stored curves for a table
written before they existed.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from physai import Results
from physai import train as trainer

REACHED = 0.9  # sharpness counts as having reached 2/eta at 0.9 * 2/eta
# The edge window ends when the training loss first falls to this fraction of its initial
# value: the trainer's own "at its zero floor" criterion (physai.train.FIT_FLOOR).
CONVERGED_FRACTION = trainer.FIT_FLOOR

# Per-run columns of the edge window (computed from the curves for a table without them).
WINDOW_COLUMNS = tuple("edge_end edge_converged loss_up_fraction loss_drop catapult_peak edge_median edge_max".split())


def sharpness_summary(steps, sharpness, lr: float, loss=None) -> dict:
    """Summarises one sharpness (and training-loss) trajectory against the threshold 2/lr.

    The edge window runs from the first log point with ``lambda >= 0.9 * 2/eta`` to the
    first with the training loss at ``CONVERGED_FRACTION`` of its initial value (the end
    of the run if never). The catapult, up to the first log point with the ratio back
    below 1 after it first exceeded 1, is left out of the hover statistics.

    Args:
      steps: ``(L,)`` optimisation steps of the log points (0 = initialisation).
      sharpness: ``(L,)`` top Hessian eigenvalue at those steps.
      lr: the GD step size eta.
      loss: ``(L,)`` training loss at those steps (None: no window statistics).

    Returns:
      ``initial_sharpness``; ``reach_step`` (first step with ``lambda >= 0.9 * 2/eta``,
      NaN if never); ``sharpening`` (``lambda`` at that step / initial ``lambda``, NaN
      if never reached); ``max_ratio`` (max of ``lambda * eta / 2`` over the whole run);
      with ``loss``: ``edge_end``, ``edge_converged`` (the loss reached the floor),
      ``catapult_peak``, ``edge_median`` and ``edge_max`` (of the ratio after the
      catapult), ``loss_up_fraction`` (of the window's log intervals, catapult included,
      with a loss rise; the whole run if 2/eta is never reached), ``loss_drop`` (loss
      at the window's end / at its start).
    """
    steps = np.asarray(steps, float)
    sharpness = np.asarray(sharpness, float)
    ratio = sharpness * lr / 2.0
    reached = np.flatnonzero(ratio >= REACHED)
    first = int(reached[0]) if reached.size else None
    out = {
        "initial_sharpness": float(sharpness[0]),
        "reach_step": float(steps[first]) if first is not None else math.nan,
        "sharpening": float(ratio[first] / ratio[0]) if first is not None else math.nan,
        "max_ratio": float(np.max(ratio)),
    }
    if loss is None:
        return out
    loss = np.asarray(loss, float)
    floor = np.flatnonzero(loss <= CONVERGED_FRACTION * loss[0])
    end = int(floor[0]) if floor.size else len(loss) - 1
    start = first if first is not None else 0  # the control: its whole run
    window = slice(start, max(end, start) + 1)
    up = np.diff(loss[window]) > 0
    out.update(
        edge_end=float(steps[end]),
        edge_converged=bool(floor.size),
        loss_up_fraction=float(up.mean()) if up.size else math.nan,
        loss_drop=float(loss[end] / loss[start]) if end > start else math.nan,
    )
    if first is None or end <= first:
        return {**out, "catapult_peak": math.nan, "edge_median": math.nan, "edge_max": math.nan}
    r = ratio[first : end + 1]
    above = np.flatnonzero(r > 1.0)
    settle = 0  # no overshoot, or one that never comes back: no catapult to leave out
    if above.size:
        back = np.flatnonzero(r[above[0] :] < 1.0)
        settle = above[0] + int(back[0]) if back.size else 0
    rest = r[settle:]
    out.update(
        catapult_peak=float(np.max(r[:settle])) if settle else math.nan,
        edge_median=float(np.median(rest)) if rest.size else math.nan,
        edge_max=float(np.max(rest)) if rest.size else math.nan,
    )
    return out


def with_window(results: Results) -> pd.DataFrame:
    """The finished runs with the edge-window columns; computed from the stored curves
    (sharpness and training loss at every log point) for a table that predates them."""
    ok = results.ok
    if all(c in ok.columns for c in WINDOW_COLUMNS) or ok.empty or results.curves.empty:
        return ok
    curves = results.curves
    rows = []
    for _, trial in ok.iterrows():
        c = curves[curves["trial_id"] == trial["trial_id"]]
        s = c[c["metric"] == "sharpness"].sort_values("step")
        loss = c[(c["metric"] == "loss") & (c["split"] == "train")].sort_values("step")
        summary = sharpness_summary(s["step"], s["value"], float(trial["lr"]), loss["value"].to_numpy())
        rows.append({k: summary[k] for k in WINDOW_COLUMNS})
    return pd.concat(
        [ok.drop(columns=[c for c in WINDOW_COLUMNS if c in ok.columns]).reset_index(drop=True), pd.DataFrame(rows)],
        axis=1,
    )
