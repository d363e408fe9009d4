"""The quanta experiment's figures."""

from __future__ import annotations

import numpy as np

from analysis.stats import loglog_slope
from physai import Results

from .checks import loss_vs_params


def plot(results: Results) -> dict:
    """Figures: mean loss vs parameters (log-log, fit in legend); per-task accuracy curves."""
    import matplotlib as mpl
    import seaborn as sns

    from analysis import plots

    df = results.ok
    figures = {}
    if df.empty:
        return figures
    alpha = float(df["alpha"].iloc[0])
    med = loss_vs_params(df)
    fig, ax = plots.figure(width=5, height=3.8)
    sns.scatterplot(df, x="n_params", y="test_loss", ax=ax, color="grey", alpha=0.5, label="runs")
    ax.plot(med["n_params"], med["test_loss"], "o", color="C0", label="median over seeds")
    if len(med) >= 3:
        slope, lo, hi = loglog_slope(med["n_params"], med["test_loss"])
        n = np.geomspace(med["n_params"].min(), med["n_params"].max(), 50)
        c = np.exp(np.mean(np.log(med["test_loss"]) - slope * np.log(med["n_params"])))
        ax.plot(n, c * n**slope, color="C0", label=f"fit: N^-{-slope:.2f} [{-hi:.2f}, {-lo:.2f}]")
        # The prediction's prefactor is free: anchor it at the data's log-mean.
        c_pred = np.exp(np.mean(np.log(med["test_loss"]) + alpha * np.log(med["n_params"])))
        ax.plot(n, c_pred * n**-alpha, color="C3", ls="--", label=f"prediction N^-{alpha:g}")
    ax.set(
        xscale="log",
        yscale="log",
        xlabel="parameters N",
        ylabel="frequency-weighted test loss",
        title="Multitask sparse parity",
    )
    ax.legend(fontsize=8)
    fig.tight_layout()
    figures["loss_vs_params"] = fig

    curves = results.curves
    if not curves.empty:
        acc = curves[(curves["split"] == "test") & curves["metric"].str.startswith("acc_task_")]
        acc = acc.assign(task=acc["metric"].str[len("acc_task_") :].astype(int))
        acc = acc.merge(df[["trial_id", "width", "seed"]], on="trial_id")
        acc = acc[acc["seed"] == acc["seed"].min()]
        widths = sorted(acc["width"].unique())
        shown = widths[-3:]
        fig, axes = plots.figure(ncols=len(shown), width=4.2, height=3.4, squeeze=False)
        for ax, w in zip(axes[0], shown):
            sns.lineplot(
                acc[acc["width"] == w], x="step", y="value", hue="task", palette="viridis", ax=ax, lw=1, legend=False
            )
            ax.set(ylabel="test accuracy" if ax is axes[0][0] else "", title=f"width {w}", ylim=(0.4, 1.02))
        n_tasks = int(acc["task"].max()) + 1
        sm = mpl.cm.ScalarMappable(cmap="viridis", norm=mpl.colors.Normalize(1, n_tasks))
        fig.colorbar(sm, ax=axes[0].tolist(), label="frequency rank")
        fig.suptitle("Per-task accuracy, coloured by frequency rank (1 = most frequent)", y=1.04)
        figures["task_curves"] = fig
        loss = curves[(curves["split"] == "test") & (curves["metric"] == "loss")]
        loss = loss.merge(df[["trial_id", "width", "seed"]], on="trial_id")
        fig, ax = plots.figure(width=5, height=3.6)
        sns.lineplot(loss, x="step", y="value", hue="width", units="seed", estimator=None, palette="magma", ax=ax, lw=1)
        ax.set(yscale="log", ylabel="frequency-weighted test loss", title="Mean loss vs step")
        fig.tight_layout()
        figures["mean_loss_curves"] = fig
    return figures
