"""Figures: Lip vs p with the bound, the collapse against p/(nd) and p/n, the fit-vs-Lipschitz
fronts of the penalty sweep, and the PGD flip radius vs p."""

from __future__ import annotations

import math

import numpy as np

from physai import Results

from .runner import FIT_TOL
from .summaries import anchor_d, l_star, lip_column, medians, n_of, plain_runs, smoothest, swept_ds

RESIDUAL_FLOOR = 1e-3  # plain models fit to ~1e-6; clipping keeps the fronts readable


def plt_colours(k: int):
    """Args: k: number of lines. Returns: k colours of a sequential palette (small p dark)."""
    import seaborn as sns

    return sns.color_palette("viridis", k)


def plot(results: Results) -> dict:
    """Figures: Lip vs p with the bound; collapse against p/(nd); fronts; flip radius vs p."""
    from analysis import plots

    ok = results.ok
    figures = {}
    if ok.empty or "d" not in ok.columns:
        return figures
    n = n_of(results)
    d_main = anchor_d(results)

    # Lip_est vs p, plain and smoothest, with the bound and the spectral upper bound.
    fig, ax = plots.figure(width=6.2, height=4.6)
    plain = plain_runs(results, d_main)
    fit = plain[plain["interpolates"].astype(bool)]
    col = lip_column(results)
    med = medians(fit, col)
    if len(med):
        plots.band(
            ax, med["p"], med["median"], med["low"], med["high"], f"plain Adam interpolators: {col} (lower bound)"
        )
        if col != "lip_est":
            sampled = medians(fit, "lip_est")
            ax.plot(
                sampled["p"], sampled["median"], marker=".", ms=3, ls="--", lw=1, label="plain: sampled max lip_est"
            )
        up = medians(fit, "lip_upper")
        ax.plot(up["p"], up["median"], marker="s", ms=3, ls=":", label="spectral-norm upper bound")
    nofit = plain[~plain["interpolates"].astype(bool)]
    if len(nofit):
        ax.scatter(
            nofit["p"],
            nofit[col],
            marker="x",
            color="grey",
            s=18,
            label=f"plain, not interpolating (max res > {FIT_TOL:g})",
        )
    if d_main in swept_ds(results):
        sm = smoothest(results, d_main, band=True)
        if len(sm):
            plots.band(
                ax, sm["p"], sm["median"], sm["low"], sm["high"], f"smoothest interpolator (penalty sweep), {col}"
            )
    pgrid = np.geomspace(ok["p"].min(), ok["p"].max(), 50)
    plots.theory_curve(ax, pgrid, np.sqrt(n * d_main / pgrid), "sqrt(nd/p) (Bubeck & Sellke)")
    plots.mark_threshold(ax, n, "p = n")
    ax.axvline(n * d_main, color="grey", ls="-.", lw=1, label="p = nd")
    plots.loglog(ax)
    ax.set(
        xlabel="parameters p", ylabel="Lipschitz constant", title=f"Random +-1 labels, N(0, I/d), n = {n}, d = {d_main}"
    )
    ax.legend(fontsize=6.5, loc="lower left")
    figures["lipschitz_vs_p"] = fig

    if swept_ds(results):
        fig, axes = plots.figure(ncols=2, width=5.2, height=4.2, sharey=True)
        for d in swept_ds(results):
            sm = smoothest(results, d)
            if len(sm):
                axes[0].plot(sm["p"] / (n * d), sm["median"], marker="o", ms=4, label=f"d = {d}")
                axes[1].plot(sm["p"] / n, sm["median"], marker="o", ms=4, label=f"d = {d}")
        r = np.geomspace(ok["p_over_nd"].min(), ok["p_over_nd"].max(), 50)
        plots.theory_curve(axes[0], r, 1 / np.sqrt(r), "sqrt(nd/p)")
        level = l_star(results)
        if not math.isnan(level):
            axes[0].axhline(level, color="grey", ls=":", lw=1, label=f"L* = {level:.2f}")
        from matplotlib.ticker import NullFormatter

        for ax in axes:
            plots.loglog(ax)
            ax.xaxis.set_minor_formatter(NullFormatter())
            if ax.get_legend_handles_labels()[0]:
                ax.legend(fontsize=7)
        axes[0].set(
            xlabel="p / (n d)", ylabel=f"Lip_min ({col}, median over seeds)", title="against p/(nd): the law's variable"
        )
        axes[1].set(xlabel="p / n", title="against p/n: the alternative")
        fig.tight_layout()
        figures["collapse"] = fig

        # One front per p: median over seeds at each penalty, joined in penalty order.
        sub = ok[ok["d"] == d_main]
        fronts = sub.groupby(["p", "penalty"], as_index=False)[["max_residual", col]].median()
        fig, ax = plots.figure(width=6.0, height=4.4)
        colours = plt_colours(fronts["p"].nunique())
        for colour, (p, front) in zip(colours, fronts.groupby("p")):
            front = front.sort_values("penalty")
            ax.plot(
                np.maximum(front["max_residual"], RESIDUAL_FLOOR),
                front[col],
                marker="o",
                ms=3.5,
                color=colour,
                label=f"p = {int(p)}",
            )
        ax.axvline(FIT_TOL, color="grey", ls=":", lw=1, label=f"fit tolerance {FIT_TOL:g}")
        plots.loglog(ax)
        ax.set(
            xlabel=f"max_i |f(x_i) - y_i| (fit; clipped at {RESIDUAL_FLOOR:g})",
            ylabel=col,
            title=f"fit-vs-Lipschitz fronts, penalty 0 (left) to {sub['penalty'].max():g} (d = {d_main})",
        )
        ax.title.set_fontsize(10)
        ax.legend(fontsize=7)
        figures["fronts"] = fig

    fig, ax = plots.figure(width=5.5, height=4.0)
    fl = medians(fit, "flip_radius")
    if len(fl):
        plots.band(ax, fl["p"], fl["median"], fl["low"], fl["high"], "plain interpolators")
        plots.loglog(ax)
        ax.legend(fontsize=7)
    ax.set(xlabel="parameters p", ylabel="median L2 PGD flip radius", title=f"adversarial view (d = {d_main})")
    figures["flip_radius"] = fig
    return figures
