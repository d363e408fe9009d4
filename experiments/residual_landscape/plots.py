"""Figures of the residual_landscape experiment: the 2D slices and the losses and
roughness against depth (kept apart so the experiment's module stays short)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from experiments.residual_landscape import SLICE_POINTS, SLICE_RADIUS
from physai import Results


def depth_table(results: Results, value: str) -> pd.DataFrame:
    """Median of ``value`` over seeds per (residual, depth); a diverged run counts as +inf.

    Args:
      results: stored tables.
      value: a trial metric (``test_rel_mse``, ``roughness``, ...).

    Returns:
      DataFrame ``residual, depth, median`` sorted by residual then depth.
    """
    t = results.trials
    if t.empty or value not in t.columns:
        return pd.DataFrame(columns=["residual", "depth", "median"])
    vals = t[value].where(t["status"] == "ok", math.inf)
    out = t.assign(v=vals).groupby(["residual", "depth"])["v"].median().rename("median").reset_index()
    return out.sort_values(["residual", "depth"]).reset_index(drop=True)


def _rho(g: pd.DataFrame) -> float:
    from analysis.stats import spearman

    v = np.nan_to_num(g["median"].to_numpy(float), posinf=np.finfo(float).max)
    return spearman(g["depth"].to_numpy(float), v) if len(g) >= 3 else math.nan


def plot(results: Results) -> dict:
    """Contours of the 2D slices side by side (plain | residual, shallowest / deepest);
    test and train loss and roughness against depth."""
    from analysis import plots

    ok = results.ok
    if ok.empty:
        return {}
    figures = {}
    slices = results.curves[results.curves["metric"] == "slice_loss"]
    depths = sorted(ok["depth"].unique())
    shown = [depths[0], depths[-1]] if len(depths) > 1 else depths
    if not slices.empty:
        fig, axes = plots.figure(ncols=2, nrows=len(shown), width=4.2, height=3.8, squeeze=False)
        grid = np.linspace(-SLICE_RADIUS, SLICE_RADIUS, SLICE_POINTS)
        for r, depth in enumerate(shown):
            for c, residual in enumerate((False, True)):
                ax = axes[r][c]
                pick = ok[(ok["depth"] == depth) & (ok["residual"] == residual)]
                if pick.empty:
                    ax.set_axis_off()
                    continue
                first = pick.sort_values("seed").iloc[0]
                s = slices[slices["trial_id"] == first["trial_id"]].sort_values("step")
                if len(s) != SLICE_POINTS**2:
                    ax.set_axis_off()
                    continue
                z = np.log10(s["value"].to_numpy().reshape(SLICE_POINTS, SLICE_POINTS))
                cs = ax.contourf(grid, grid, z.T, levels=25, cmap="viridis")
                fig.colorbar(cs, ax=ax, label="log10 train MSE")
                ax.set_title(
                    f"{'residual' if residual else 'plain'}, depth {depth}\nroughness {first['roughness']:.3f}",
                    fontsize=10,
                )
                ax.set(xlabel="alpha (direction 1)", ylabel="beta (direction 2)")
                ax.set_aspect("equal")
        fig.tight_layout()
        figures["slices"] = fig

    fig, axes = plots.figure(ncols=3, width=4.2, height=3.6)
    for k, (value, label) in enumerate(
        (
            ("test_rel_mse", "test MSE / var(y)"),
            ("train_rel_mse", "train MSE / var(y)"),
            ("roughness", "slice roughness"),
        )
    ):
        table = depth_table(results, value)
        for residual, g in table.groupby("residual"):
            name = "residual" if residual else "plain"
            rows = ok[ok["residual"] == residual]
            # every seed as a faint point, the medians (what the checks rank) as the line
            line = axes[k].plot(g["depth"], g["median"], marker="o", label=f"{name}, rho {_rho(g):+.2f}")[0]
            axes[k].scatter(rows["depth"], rows[value], s=10, alpha=0.35, color=line.get_color())
        if value != "roughness":
            axes[k].set_yscale("log")
        axes[k].set_xscale("log", base=2)
        axes[k].set(xlabel="depth (hidden layers)", ylabel=f"{label}, median over seeds")
        axes[k].legend(fontsize=8, title="Spearman rho with depth", title_fontsize=7)
    gain = ", ".join(f"{g:g}" for g in sorted(ok["init_gain"].unique())) if "init_gain" in ok else "?"
    fig.suptitle(f"init gain {gain} (LeCun-normal x gain)", fontsize=10)
    fig.tight_layout()
    figures["depth"] = fig
    return figures
