"""Figures: per d, Lip vs p/(nd) (plain and smoothest, lower and upper estimates, the bound and
the data floor); R = Lip_min / sqrt(nd/p) against p/(nd) for every d; the fit-vs-Lipschitz fronts."""

from __future__ import annotations

import numpy as np

from physai import Results

from .runner import FIT_TOL
from .summaries import ds_of, floor_by_d, lower_column, ratio_curves

RESIDUAL_FLOOR = 1e-3  # plain models fit to ~1e-6; clipping keeps the fronts readable


def plot(results: Results) -> dict:
    """Figures ``lipschitz_vs_p``, ``ratio_vs_d``, ``fronts``."""
    from analysis import plots

    ok = results.ok
    figures = {}
    if ok.empty or "d" not in ok.columns:
        return figures
    col = lower_column(ok)
    ds = ds_of(ok)
    floors = floor_by_d(ok)
    curves = ratio_curves(ok)
    r = np.geomspace(ok["p_over_nd"].min(), ok["p_over_nd"].max(), 50)

    fig, axes = plots.figure(ncols=len(ds), width=3.4, height=3.8, sharey=True, squeeze=False)
    for ax, d in zip(axes[0], ds, strict=True):
        at = ok[ok["d"] == d]
        plain = at[(at["penalty"] == 0) & at["interpolates"].astype(bool)]
        med = plain.groupby("p_over_nd")[[col, "lip_upper"]].median()
        ax.plot(med.index, med[col], marker="o", ms=3, label=f"plain: {col} (lower)")
        ax.plot(med.index, med["lip_upper"], marker="s", ms=3, ls=":", label="plain: spectral product (upper)")
        if d in curves:
            c = curves[d]
            x = c["ratio"]
            ax.plot(x, c["R"] * c["bound"], marker="o", ms=4, label=f"smoothest interpolator: {col}")
            ax.plot(x, c["RU"] * c["bound"], marker="^", ms=3, ls=":", label="smoothest: spectral product")
        plots.theory_curve(ax, r, 1 / np.sqrt(r), "sqrt(nd/p)")
        if d in floors:
            ax.axhline(floors[d], color="grey", ls="--", lw=1, label="data floor")
        plots.loglog(ax)
        ax.set(xlabel="p / (n d) (grid target)", title=f"d = {d}")
    axes[0][0].set_ylabel("Lipschitz estimate")
    axes[0][0].legend(fontsize=6)
    figures["lipschitz_vs_p"] = fig

    fig, ax = plots.figure(width=5.2, height=4.0)
    for d, c in curves.items():
        ax.plot(c["ratio"], c["R"], marker="o", ms=4, label=f"d = {d}")
    ax.axhline(1.0, color="grey", ls=":", lw=1, label="constant 1")
    plots.loglog(ax)
    ax.set(xlabel="p / (n d) (grid target)", ylabel=f"Lip_min / sqrt(nd/p) ({col})", title="the law's constant, per d")
    ax.legend(fontsize=7)
    figures["ratio_vs_d"] = fig

    d_main = ds[len(ds) // 2]
    sub = ok[ok["d"] == d_main]
    fronts = sub.groupby(["ratio", "penalty"], as_index=False)[["max_residual", col]].median()
    fig, ax = plots.figure(width=6.0, height=4.4)
    import seaborn as sns

    colours = sns.color_palette("viridis", fronts["ratio"].nunique())
    for colour, (ratio, front) in zip(colours, fronts.groupby("ratio")):
        front = front.sort_values("penalty")
        ax.plot(
            np.maximum(front["max_residual"], RESIDUAL_FLOOR), front[col], marker="o", ms=3.5, color=colour,
            label=f"p/(nd) = {ratio:g}",
        )  # fmt: skip
    ax.axvline(FIT_TOL, color="grey", ls=":", lw=1, label=f"fit tolerance {FIT_TOL:g}")
    plots.loglog(ax)
    ax.set(
        xlabel=f"max_i |f(x_i) - y_i| (clipped at {RESIDUAL_FLOOR:g})",
        ylabel=col,
        title=f"fit-vs-Lipschitz fronts, penalty 0 to {sub['penalty'].max():g} (d = {d_main})",
    )
    ax.title.set_fontsize(10)
    ax.legend(fontsize=7)
    figures["fronts"] = fig
    return figures
