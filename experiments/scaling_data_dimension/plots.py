"""Figures: loss vs parameters per d and per architecture, exponent vs d against 4/d."""

from __future__ import annotations

import math

import numpy as np

from physai import Results

from .checks import COMPARE_D, SLOPE_LAW, SLOPE_TOL, _dims, _median_curve, _select, dimension_slope, exponent


def plot(results: Results) -> dict:
    """Loss vs N per d (fits in the legend), architectures at d = 4, exponent vs d."""
    from analysis import plots

    ok = results.ok
    if ok.empty:
        return {}
    figs = {}
    dims = _dims(results, "relu1")
    compare_d = (_dims(results, "relu1", "relu2") or _dims(results, "bottleneck") or [COMPARE_D])[0]
    fig, axes = plots.figure(ncols=2, width=5.4, height=4.2)
    for d in dims:
        df = _select(results, "relu1", d)
        if df.empty:
            continue
        med = _median_curve(df)
        a, lo, hi = exponent(df)
        (line,) = axes[0].plot(med["n_params"], med["median"], "o", ms=4, label=f"d = {d}")
        if not math.isnan(a):
            xs = np.geomspace(med["n_params"].min(), med["n_params"].max(), 20)
            c = np.exp(np.mean(np.log(df["test_mse"]) + a * np.log(df["n_params"])))
            axes[0].plot(
                xs,
                c * xs**-a,
                "--",
                color=line.get_color(),
                lw=1,
                label=f"fit alpha = {a:.2f} [{lo:.2f}, {hi:.2f}] (4/d = {4 / d:.2f})",
            )
    plots.loglog(axes[0])
    axes[0].set(xlabel="parameters N", ylabel="test MSE", title="ReLU students, intrinsic dimension d")
    axes[0].legend(fontsize=6.5)
    for arch, label in (("relu1", "ReLU depth 1"), ("relu2", "ReLU depth 2"), ("bottleneck", "bottleneck (sick)")):
        df = _select(results, arch, compare_d)
        if df.empty:
            continue
        med = _median_curve(df)
        a, lo, hi = exponent(df)
        axes[1].plot(med["n_params"], med["median"], "o-", ms=4, label=f"{label}: alpha = {a:.2f} [{lo:.2f}, {hi:.2f}]")
    plots.loglog(axes[1])
    axes[1].set(xlabel="parameters N", title=f"architectures at d = {compare_d}")
    axes[1].legend(fontsize=6.5)
    from matplotlib.ticker import NullFormatter

    for ax in axes:  # minor tick labels of a short log axis overlap
        ax.xaxis.set_minor_formatter(NullFormatter())
    fig.tight_layout()
    figs["loss_vs_params"] = fig

    rows = [(d, *exponent(_select(results, "relu1", d))) for d in dims]
    rows = [r for r in rows if not math.isnan(r[1])]
    if rows:
        fig, ax = plots.figure(width=4.8, height=3.8)
        ds = np.array([r[0] for r in rows], float)
        a = np.array([r[1] for r in rows])
        ax.errorbar(
            ds,
            a,
            yerr=[a - np.array([r[2] for r in rows]), np.array([r[3] for r in rows]) - a],
            fmt="o",
            capsize=3,
            label="fitted alpha (95% interval)",
        )
        grid = np.linspace(1.5, 10, 100)
        plots.theory_curve(ax, grid, 4 / grid, "4/d (Sharma & Kaplan)")
        slope = dimension_slope(_select(results, "relu1"))
        if not math.isnan(slope):  # the fitted log alpha vs log d line through the points' centre
            centre = np.exp(np.mean(np.log(a)) - slope * np.mean(np.log(ds)))
            ax.plot(grid, centre * grid**slope, "--", lw=1, label=f"fit: alpha ∝ d^{slope:.2f} (law d^{SLOPE_LAW:g})")
            for edge in (SLOPE_LAW - SLOPE_TOL, SLOPE_LAW + SLOPE_TOL):
                c = np.exp(np.mean(np.log(a)) - edge * np.mean(np.log(ds)))
                ax.plot(grid, c * grid**edge, ":", color="grey", lw=0.8)
            ax.plot([], [], ":", color="grey", lw=0.8, label=f"slopes {SLOPE_LAW:g} +- {SLOPE_TOL:g}")
        ax.set(xscale="log", yscale="log")
        ax.set_xticks(ds, [f"{d:g}" for d in ds])
        ax.set_yticks([0.25, 0.5, 1, 2, 4], ["0.25", "0.5", "1", "2", "4"])
        ax.minorticks_off()
        ax.set(xlabel="intrinsic dimension d", ylabel="exponent alpha", title="Exponent vs dimension")
        ax.legend(fontsize=7)
        fig.tight_layout()
        figs["exponent_vs_dimension"] = fig
    return figs
