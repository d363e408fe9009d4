"""Figures of the sparse_parity experiment: test accuracy and the hidden-progress measure
against the step for each (k, n), and the scaling of the time to solve with n (log-log, one
line per k, with the fitted growth exponents), kept apart so the experiment's module stays short."""

from __future__ import annotations

import numpy as np

from experiments.sparse_parity import BAND, RISE, _growth_exponent
from physai import Results


def plot(results: Results) -> dict:
    """Figures: test accuracy vs step per (k, n); relevant movement ratio vs step; steps to solve vs n.

    Args: results: stored tables. Returns: ``{name: figure}`` (empty without curves).
    """
    import seaborn as sns

    from analysis import plots

    curves = results.curves
    if curves.empty:
        return {}
    df = curves.merge(results.ok[["trial_id", "k", "n_bits", "seed"]], on="trial_id")
    figures = {}
    for metric, label, name in (
        ("acc", "test accuracy", "accuracy"),
        ("relevant_amplification", "relevant amplification A(t)", "hidden_progress"),
    ):
        sub = df[df["metric"] == metric]
        ks = sorted(sub["k"].unique())
        fig, axes = plots.figure(ncols=len(ks), width=4.8, height=3.6, squeeze=False)
        for ax, k in zip(axes[0], ks):
            sns.lineplot(
                sub[sub["k"] == k],
                x="step",
                y="value",
                hue="n_bits",
                units="seed",
                estimator=None,
                ax=ax,
                lw=1,
                palette="viridis",
            )
            ax.set(xscale="log", ylabel=label, title=f"k = {k}")
            if metric != "acc":
                ax.set_yscale("symlog", linthresh=1e-3)
            if metric == "acc":
                ax.axhspan(0.5 - BAND, 0.5 + BAND, color="grey", alpha=0.2)  # the plateau of hidden_progress
                for level in RISE:  # the 10-90% rise of abrupt_learning
                    ax.axhline(level, color="grey", lw=0.8, ls=":")
        fig.suptitle("Sparse parity, width-1000 ReLU net, SGD lr 0.1, batch 32, hinge loss")
        fig.tight_layout()
        figures[name] = fig
    figures["time_to_solve"] = _scaling(results.ok)
    return figures


def _scaling(ok) -> object:
    """Median steps to solve vs n, log-log, one line per k, each with its fitted exponent e (t ~ n^e)."""
    from analysis import plots

    fig, ax = plots.figure(width=5.0, height=4.0)
    for k, g in ok.groupby("k"):
        t = g["steps_to_solve"].to_numpy(float)
        t = np.where(np.isnan(t), np.inf, t)
        n = g["n_bits"].to_numpy(float)
        ns = np.unique(n)
        med = np.array([np.median(t[n == m]) for m in ns])
        e = _growth_exponent(t, n)
        (line,) = ax.plot(ns, med, "o-", label=f"k = {k}: e = {e:.2f}" if e == e else f"k = {k}")
        ax.scatter(n, t, s=8, alpha=0.4, color=line.get_color())
    ax.set(xscale="log", yscale="log", xlabel="n (input bits)", ylabel="steps to solve (test acc >= 0.99)")
    ax.set_title("Time to learn grows like n^e, e larger for larger k")
    ax.legend()
    fig.tight_layout()
    return fig
