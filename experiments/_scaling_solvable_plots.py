"""Figures of the scaling_solvable experiment: log-log loss against N and against P with the
fitted power laws, the floor and the latent dimension (kept apart so the experiment's module
stays short)."""

from __future__ import annotations

import math

import numpy as np

from analysis.stats import aggregate
from experiments.scaling_solvable import FIT_MAX_OVER_M, FIT_MIN, exponent
from physai import Results


def plot(results: Results) -> dict:
    """Log-log loss vs N and vs P for each alpha, fitted power laws, floor and M marked.

    Args: results: stored tables. Returns: ``{"loss_vs_size": figure}`` (empty without trials).
    """
    from analysis import plots

    ok = results.ok
    if ok.empty:
        return {}
    fig, axes = plots.figure(ncols=2, width=5.4, height=4.2, sharey=True)
    for ax, part, symbol in zip(axes, ("features", "data"), ("N (random features)", "P (samples)")):
        sub = ok[ok["part"] == part]
        if sub.empty:
            continue
        M, noise_var = int(sub["M"].iloc[0]), float(sub["noise_var"].iloc[0])
        for alpha in sorted(sub["alpha"].unique()):
            df = sub[np.isclose(sub["alpha"], alpha)]
            med = aggregate(df, "size", "loss", n_resamples=200)
            (line,) = ax.plot(
                med["size"],
                med["median"],
                "o",
                ms=4,
                label=f"alpha = {alpha:g} (median of {df['seed'].nunique()} seeds)",
            )
            slope, low, high = exponent(df)
            if not math.isnan(slope):
                fit = df[(df["size"] >= FIT_MIN) & (df["size"] <= M * FIT_MAX_OVER_M)]
                xs = np.geomspace(FIT_MIN, M * 2, 50)
                c = np.exp(np.median(np.log(fit["excess_loss"]) - slope * np.log(fit["size"])))
                ax.plot(
                    xs,
                    noise_var + c * xs**slope,
                    "--",
                    color=line.get_color(),
                    lw=1,
                    label=f"fit: exponent {slope:.2f} [{low:.2f}, {high:.2f}] (theory -{alpha:g})",
                )
        ax.axhline(noise_var, color="grey", ls="-.", lw=1, label="floor sigma^2")
        plots.mark_threshold(ax, M, f"latent dimension M = {M}")
        plots.loglog(ax)
        ax.set(xlabel=symbol, title=("P -> infinity" if part == "features" else "N -> infinity, near-ridgeless"))
        ax.legend(fontsize=6.5)
    axes[0].set_ylabel("test loss (expected over teacher and noise)")
    fig.suptitle("Solvable model: power-law spectrum, linear random features")
    fig.tight_layout()
    return {"loss_vs_size": fig}
