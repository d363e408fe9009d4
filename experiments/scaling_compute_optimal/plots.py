"""Figures: IsoFLOP curves with the frontier, loss vs compute with the extrapolated law."""

from __future__ import annotations

import numpy as np

from analysis.fits import FitError, compute_optimal_exponent
from physai import Results

from .checks import extrapolation_summary
from .isoflop import extrapolation_split, frontier, isoflop_table, smoothed_curves


def plot(results: Results) -> dict:
    """IsoFLOP curves with the frontier; loss vs N at the end of training; frontier fit."""
    from analysis import plots

    smooth = smoothed_curves(results)
    if smooth.empty:
        return {}
    iso = isoflop_table(smooth)
    if iso.empty:
        return {}
    front = frontier(iso)
    figs = {}
    fig, axes = plots.figure(ncols=2, width=5.5, height=4.2)
    import matplotlib as mpl

    budgets = sorted(iso["compute"].unique())
    cmap = mpl.colormaps["viridis"]
    for i, budget in enumerate(budgets):
        curve = iso[iso["compute"] == budget].sort_values("n_params")
        axes[0].plot(curve["n_params"], curve["loss"], "o-", ms=3, lw=1, color=cmap(i / max(1, len(budgets) - 1)))
    interior = front[front["is_interior"].astype(bool)] if len(front) else front
    axes[0].plot(interior["n_opt"], interior["loss_opt"], "r*", ms=9, label="IsoFLOP minima")
    sm = mpl.cm.ScalarMappable(norm=mpl.colors.LogNorm(budgets[0], budgets[-1]), cmap=cmap)
    fig.colorbar(sm, ax=axes[0], label="compute C = 6 N D (FLOPs)")
    plots.loglog(axes[0])
    axes[0].set(xlabel="parameters N", ylabel="test MSE (smoothed, median over seeds)", title="IsoFLOP curves")
    axes[0].legend(fontsize=7)
    ax = axes[1]
    if interior.empty:  # nothing to put on log axes (e.g. the tiny preset)
        ax.text(0.5, 0.5, "no interior IsoFLOP minimum", ha="center", transform=ax.transAxes)
    else:
        ax.plot(interior["compute"], interior["n_opt"], "r*", ms=9, label="N*(C)")
        plots.loglog(ax)
    if len(interior) >= 3:
        b, low, high = compute_optimal_exponent(interior["compute"], interior["n_opt"])
        xs = np.geomspace(interior["compute"].min(), interior["compute"].max(), 20)
        c0 = np.exp(np.mean(np.log(interior["n_opt"]) - b * np.log(interior["compute"])))
        ax.plot(xs, c0 * xs**b, "k--", lw=1, label=f"fit: b = {b:.2f} [{low:.2f}, {high:.2f}]")
    if not interior.empty:
        ax.legend(fontsize=7)
    ax.set(xlabel="compute C (FLOPs)", ylabel="compute-optimal parameters N*", title="Compute-optimal frontier")
    fig.tight_layout()
    figs["isoflop"] = fig

    fig, ax = plots.figure(width=6, height=4.4)
    for width, g in smooth.groupby("width"):
        ax.plot(g["compute"], g["loss"], lw=1, alpha=0.7, label=f"width {width}")
    try:
        out = extrapolation_summary(results)
    except FitError:
        out = None
    if out is not None:
        fit, err, _, _ = out
        fit_pts, held = extrapolation_split(iso)
        ax.plot(fit_pts["compute"], fit_pts["loss"], "ko", ms=4, label="best run per budget (fit)")
        ax.plot(held["compute"], held["loss"], "rs", ms=5, label="held out")
        xs = np.geomspace(fit_pts["compute"].min(), held["compute"].max(), 50)
        ax.plot(
            xs,
            fit.predict(xs),
            "k--",
            lw=1,
            label=f"L*(C) ∝ C^-{fit.alpha:.2f} (worst held-out error {100 * err:.0f}%)",
        )
        ax.axvline(fit_pts["compute"].max(), color="grey", ls=":", lw=1)
    plots.loglog(ax)
    ax.set(
        xlabel="compute C = 6 N D (FLOPs)",
        ylabel="test MSE",
        title="Loss vs compute per width; law fitted on the lower 2/3",
    )
    ax.legend(fontsize=6, ncol=2)
    fig.tight_layout()
    figs["loss_vs_compute"] = fig
    return figs
