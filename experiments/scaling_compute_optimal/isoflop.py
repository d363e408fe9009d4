"""From logged curves to IsoFLOP curves: smoothing, budgets, minima, envelope, split."""

from __future__ import annotations

import numpy as np
import pandas as pd

from analysis.fits import isoflop_minima
from physai import Results

from .task import FLOPS_PER_PARAM_EXAMPLE

SMOOTH_FACTOR = 1.15  # log-step window half-width for smoothing a logged curve
MIN_WIDTHS_PER_BUDGET = 5  # an IsoFLOP curve needs this many widths to judge its shape
U_MARGIN = 1.10  # both ends of a U must be >= 10% above its minimum
SKIP_LOGS = 2  # the first logged points are the initial transient, not a law
N_BUDGETS = 15  # log-spaced compute budgets


def smoothed_curves(results: Results) -> pd.DataFrame:
    """Median-over-seeds, log-window-smoothed test-MSE curve of every width.

    Args:
      results: stored tables (trials with ``width``, ``n_params``, ``batch``; curves
        with metric ``test_mse``).

    Returns:
      Columns ``width, n_params, step, examples, compute, loss`` (the first SKIP_LOGS logged steps dropped).
    """
    ok = results.ok
    curves = results.curves
    if ok.empty or curves.empty:
        return pd.DataFrame(columns=["width", "n_params", "step", "examples", "compute", "loss"])
    # curves_table splits "test_mse" into split "test", metric "mse".
    c = curves[(curves["split"] == "test") & (curves["metric"] == "mse")]
    c = c[c["step"] > 0]
    c = c.merge(ok[["trial_id", "width", "n_params", "batch"]], on="trial_id")
    rows = []
    for (width, n_params, batch), g in c.groupby(["width", "n_params", "batch"]):
        per_step = g.groupby("step")["value"].apply(lambda v: np.median(np.log(v)))
        per_step = per_step.iloc[SKIP_LOGS:]
        steps, log_loss = per_step.index.to_numpy(float), per_step.to_numpy(float)
        for s in steps:
            window = (steps >= s / SMOOTH_FACTOR) & (steps <= s * SMOOTH_FACTOR)
            rows.append(
                {
                    "width": int(width),
                    "n_params": int(n_params),
                    "step": s,
                    "examples": s * batch,
                    "compute": FLOPS_PER_PARAM_EXAMPLE * n_params * s * batch,
                    "loss": float(np.exp(log_loss[window].mean())),
                }
            )
    return pd.DataFrame(rows)


def isoflop_table(smooth: pd.DataFrame, n_budgets: int = N_BUDGETS) -> pd.DataFrame:
    """Loss of every width at log-spaced compute budgets (log-log interpolation).

    A width joins a budget's IsoFLOP curve when the budget lies within its logged
    compute range.

    Args:
      smooth: from ``smoothed_curves``.
      n_budgets: number of budgets.

    Returns:
      Columns ``compute, width, n_params, examples, loss``.
    """
    if smooth.empty:
        return pd.DataFrame(columns=["compute", "width", "n_params", "examples", "loss"])
    ranges = {}
    for width, g in smooth.groupby("width"):
        g = g.sort_values("step")
        ranges[width] = (g["compute"].iloc[0], g["compute"].iloc[-1], g)
    lo = min(r[0] for r in ranges.values())
    # Every width is trained to ~max_compute; ending at the smallest final compute keeps
    # all widths on the top budgets (step rounding makes the final computes differ by ~1%).
    hi = min(r[1] for r in ranges.values())
    rows = []
    for budget in np.geomspace(lo, hi, n_budgets):
        for width, (c_lo, c_hi, g) in ranges.items():
            if c_lo <= budget <= c_hi:
                loss = np.exp(np.interp(np.log(budget), np.log(g["compute"]), np.log(g["loss"])))
                n_params = int(g["n_params"].iloc[0])
                rows.append(
                    {
                        "compute": float(budget),
                        "width": width,
                        "n_params": n_params,
                        "examples": budget / (FLOPS_PER_PARAM_EXAMPLE * n_params),
                        "loss": float(loss),
                    }
                )
    return pd.DataFrame(rows)


def middle_budgets(iso: pd.DataFrame) -> list[float]:
    """Args: iso: from ``isoflop_table``. Returns: the middle third (by rank) of the
    budgets whose curve has >= MIN_WIDTHS_PER_BUDGET widths."""
    counts = iso.groupby("compute")["width"].nunique()
    full = sorted(counts[counts >= MIN_WIDTHS_PER_BUDGET].index)
    k = len(full)
    return full[k // 3 : k - k // 3] if k >= 3 else full


def u_shape_summary(iso: pd.DataFrame) -> pd.DataFrame:
    """Per middle budget: interior minimum, end losses over the minimum.

    Returns:
      Columns ``compute, is_interior, left_ratio, right_ratio, u_shaped``.
    """
    rows = []
    for budget in middle_budgets(iso):
        curve = iso[iso["compute"] == budget].sort_values("n_params")
        losses = curve["loss"].to_numpy()
        argmin = int(np.argmin(losses))
        left, right = losses[0] / losses[argmin], losses[-1] / losses[argmin]
        interior = 0 < argmin < len(losses) - 1
        rows.append(
            {
                "compute": budget,
                "is_interior": interior,
                "left_ratio": left,
                "right_ratio": right,
                "u_shaped": bool(interior and min(left, right) >= U_MARGIN),
            }
        )
    return pd.DataFrame(rows, columns=["compute", "is_interior", "left_ratio", "right_ratio", "u_shaped"])


def frontier(iso: pd.DataFrame) -> pd.DataFrame:
    """IsoFLOP minima (Chinchilla Approach 2) of the budgets with enough widths.

    Returns:
      ``isoflop_minima`` output: ``compute, n_opt, loss_opt, is_interior``.
    """
    counts = iso.groupby("compute")["width"].nunique()
    keep = iso[iso["compute"].isin(counts[counts >= MIN_WIDTHS_PER_BUDGET].index)]
    if keep.empty:
        return pd.DataFrame(columns=["compute", "n_opt", "loss_opt", "is_interior"])
    return isoflop_minima(keep, "compute", "n_params", "loss")


def envelope(iso: pd.DataFrame) -> pd.DataFrame:
    """The best loss reached at each budget (minimum over the widths that reach it).

    Returns:
      Columns ``compute, loss, width`` sorted by compute.
    """
    idx = iso.groupby("compute")["loss"].idxmin()
    return iso.loc[idx, ["compute", "loss", "width"]].sort_values("compute").reset_index(drop=True)


def extrapolation_split(iso: pd.DataFrame):
    """Splits the envelope at two thirds of the log-compute range of the budgets.

    Returns:
      ``(fit_points, held_out_points)``, both from ``envelope``.
    """
    env = envelope(iso)
    log_c = np.log(env["compute"])
    cut = log_c.min() + 2 / 3 * (log_c.max() - log_c.min())
    return env[log_c <= cut + 1e-9], env[log_c > cut + 1e-9]
