"""Scaling_solvable: the figure of log-log loss against N and against P, every curve present (each
M and alpha), with the finite-size theory, the power law fitted over the theory's window, the floor
and the latent dimensions."""

from __future__ import annotations

import math

import numpy as np

from analysis.stats import aggregate
from physai import Results

from .checks import curves, exponent
from .theory import theory_curve


def _seeds(df) -> str:
    """Seeds per size as ``n`` or ``lo-hi`` (the paper preset adds seeds at small sizes)."""
    counts = df.groupby("size")["seed"].nunique()
    return f"{counts.min()}" if counts.min() == counts.max() else f"{counts.min()}-{counts.max()}"


def plot(results: Results) -> dict:
    """Log-log loss vs N and vs P for each curve: medians, theory, fitted law, floor and M marked.

    Args: results: stored tables. Returns: ``{"loss_vs_size": figure}`` (empty without trials).
    """
    from analysis import plots

    ok = results.ok
    if ok.empty:
        return {}
    fig, axes = plots.figure(ncols=2, width=5.4, height=4.2, sharey=True)
    for ax, part, symbol in zip(axes, ("features", "data"), ("N (random features)", "P (samples)")):
        latent, floors = set(), set()
        for name, df in curves(results, part):
            M, alpha = int(df["M"].iloc[0]), float(df["alpha"].iloc[0])
            noise_var, ridge = float(df["noise_var"].iloc[0]), float(df["ridge"].iloc[0])
            latent.add(M)
            floors.add(noise_var)
            med = aggregate(df, "size", "loss", n_resamples=200)
            (line,) = ax.plot(
                med["size"], med["median"], "o", ms=4, label=f"{name} (median over seeds, {_seeds(df)} per size)"
            )
            xs = np.unique(np.geomspace(df["size"].min(), df["size"].max(), 80).astype(int))
            if part == "data":  # the ridgeless variance diverges at P = M: draw the theory around it
                xs = xs[np.abs(np.log(xs / M)) > 0.05]
            theory = noise_var + theory_curve(part, xs.astype(float), M, alpha, noise_var, ridge)
            if part == "features":
                theory[xs >= M] = noise_var  # the span is complete: exactly the floor
            ax.plot(xs, theory, "-", color=line.get_color(), lw=1, alpha=0.8, label=f"{name}: finite-size theory")
            slope, low, high, window = exponent(df)
            if part == "features" and not math.isnan(slope):
                fit = df[(df["size"] >= window[0]) & (df["size"] <= window[1])]
                c = np.exp(np.median(np.log(fit["excess_loss"]) - slope * np.log(fit["size"])))
                span = np.geomspace(window[0], window[1], 20)
                ax.plot(
                    span,
                    noise_var + c * span**slope,
                    "--",
                    color=line.get_color(),
                    lw=2,
                    label=f"fit on theory window: {slope:.2f} [{low:.2f}, {high:.2f}] (law -{alpha:g})",
                )
        for noise_var in sorted(floors):
            ax.axhline(noise_var, color="grey", ls="-.", lw=1, label=f"floor sigma^2 = {noise_var:g}")
        for M in sorted(latent):
            plots.mark_threshold(ax, M, f"latent dimension M = {M}")
        plots.loglog(ax)
        ax.set(xlabel=symbol, title=("P -> infinity" if part == "features" else "N -> infinity, near-ridgeless"))
        ax.legend(fontsize=6)
    axes[0].set_ylabel("test loss (expected over teacher and noise)")
    fig.suptitle("Solvable model: power-law spectrum, linear random features")
    fig.tight_layout()
    return {"loss_vs_size": fig}
