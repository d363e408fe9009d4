"""Figures: IsoFLOP curves of both schedules with their minima and the fitted law; the frontiers."""

from __future__ import annotations

import numpy as np

from physai import Results

from .isoflop import Pipeline


def plot(results: Results) -> dict:
    """IsoFLOP curves (cosine runs with the fitted law; constant-lr checkpoints); N_opt vs C."""
    from analysis import plots

    p = Pipeline(results)
    if not p.ok:
        return {}
    import matplotlib as mpl

    cmap = mpl.colormaps["viridis"]
    grids = {"cosine": p.grid(p.table, 0), "constant": p.grid(p.table, 1)}
    theta = p.law(grids["cosine"])
    fig, axes = plots.figure(ncols=3, width=5.0, height=4.2)
    for ax, (name, grid) in zip(axes[:2], grids.items()):
        for b, budget in enumerate(p.budgets):
            color = cmap(b / max(1, p.budgets.size - 1))
            have = np.isfinite(grid[b])
            if not have.any():
                continue
            ax.plot(p.sizes[have], np.exp(grid[b][have]), "o-", color=color, ms=4, label=f"C = {budget:.2g}")
            if name == "cosine" and theta is not None:
                fine = np.geomspace(p.sizes.min(), p.sizes.max(), 60)
                d = budget / (6 * fine)
                law = np.exp(theta[0]) + np.exp(theta[1]) * fine ** -theta[3] + np.exp(theta[2]) * d ** -theta[4]
                ax.plot(fine, law, "--", color=color, lw=1)
        budgets, n_opt = p.minima(grid)
        if budgets.size:
            best = [np.nanmin(np.exp(grid[list(p.budgets).index(c)])) for c in budgets]
            ax.plot(n_opt, best, "k*", ms=9, label="interior minima")
        _log_axes(ax)
        ax.set(xlabel="parameters N", ylabel="test MSE")
        ax.set_title(
            f"{name} lr, best rate per cell" + ("; dashed: fitted law" if name == "cosine" else " (checkpoints)")
        )
    axes[0].legend(fontsize=7)
    ax = axes[2]
    for (name, grid), marker in zip(grids.items(), ("o", "s")):
        budgets, n_opt = p.minima(grid)
        if budgets.size >= 2:
            slope, icept = np.polyfit(np.log(budgets), np.log(n_opt), 1)
            ax.plot(budgets, n_opt, marker, label=f"{name}: C^{slope:.2f}")
            ax.plot(budgets, np.exp(icept) * budgets**slope, "-", lw=1)
    if theta is not None:
        ax.plot([], [], " ", label=f"law b/(a+b) = {p.law_exponent(theta):.2f}")
    if not _log_axes(ax):
        ax.text(0.5, 0.5, "fewer than two budgets\nwith an interior minimum", ha="center", transform=ax.transAxes)
    ax.set(xlabel="compute C = 6ND", ylabel="N_opt", title="compute-optimal size")
    ax.legend(fontsize=8)
    return {"isoflop": fig}


def _log_axes(ax) -> bool:
    """Log scales where the panel has data; an empty panel (too few sizes for a minimum, as
    with ``--set width=6,16,48``) keeps linear ones, which matplotlib can draw. Returns: data?"""
    ax.relim()
    lim = ax.dataLim
    if not (np.all(np.isfinite(lim.bounds)) and lim.x0 > 0 and lim.y0 > 0):
        return False
    ax.set(xscale="log", yscale="log")
    return True
