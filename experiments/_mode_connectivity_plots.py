"""Figure of the mode_connectivity experiment: train loss and test error along the straight line
and the trained Bezier curve of every pair (Garipov et al. 2018, Fig. 2), and the barriers per
pair (kept apart so the experiment's module stays short)."""

from __future__ import annotations

import numpy as np

from physai import Results


def plot(results: Results, path_points: int, max_ratio: float) -> dict:
    """Train loss and test error along the straight line and the Bezier curve for every
    pair (as Garipov et al.'s Fig. 2); train-loss barriers per pair."""
    from analysis import plots

    ok = results.ok
    if ok.empty or results.curves.empty:
        return {}
    fig, axes = plots.figure(ncols=3, width=5.0, height=4.0)
    c = results.curves[results.curves["trial_id"].isin(ok["trial_id"])]
    t_grid = np.linspace(0, 1, path_points)
    for ax, measure, split in ((axes[0], "loss", "train"), (axes[1], "error", "test")):
        for path, label, color in (("linear", "straight line", "C3"), ("bezier", "trained Bezier curve", "C0")):
            part = c[(c["metric"] == f"{path}_path_{measure}") & (c["split"] == split)]
            for k, (_, g) in enumerate(part.groupby("trial_id")):
                g = g.sort_values("step")
                ax.plot(
                    t_grid[g["step"].to_numpy()],
                    g["value"],
                    color=color,
                    lw=1,
                    alpha=0.6,
                    label=label if k == 0 else None,
                )
    if "classes" in ok.columns:
        chance = 1.0 - 1.0 / float(ok["classes"].iloc[0])
        axes[1].axhline(chance, color="grey", ls=":", lw=1, label="chance (uniform guess)")
    axes[0].set_yscale("log")
    axes[0].set(
        xlabel="t (position along the path)",
        ylabel="train cross-entropy",
        title=f"Train loss: {len(ok)} pairs of independent solutions",
    )
    axes[1].set(xlabel="t (position along the path)", ylabel="test error (0-1)", title="Test error along the paths")
    for ax in axes[:2]:
        ax.legend(fontsize=8)
    axes[2].scatter(ok["linear_barrier"], ok["bezier_barrier"], color="C0")
    lim = np.array([0.0, float(ok["linear_barrier"].max()) * 1.1])
    axes[2].plot(lim, max_ratio * lim, color="black", ls="--", lw=1, label=f"Bezier = {max_ratio:g} x linear")
    axes[2].set(xlabel="linear barrier (train loss)", ylabel="Bezier barrier (train loss)", title="Barriers per pair")
    axes[2].legend(fontsize=8)
    fig.tight_layout()
    return {"paths": fig}
