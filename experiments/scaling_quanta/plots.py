"""The quanta experiment's figures."""

from __future__ import annotations

import numpy as np

from analysis.stats import loglog_slope
from physai import Results

from .checks import loss_vs_params, truncated_zipf_exponent, unlearned_loss_fit, with_unlearned_mass


def plot(results: Results) -> dict:
    """Figures: mean loss vs parameters (log-log, fit and truncated-Zipf prediction in legend);
    tasks learned vs parameters; loss vs unlearned frequency mass; per-task accuracy curves."""
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
        counts = df.groupby("n_params")["n_learned"].median().sort_index().to_numpy(float)
        pred = truncated_zipf_exponent(med["n_params"], counts[0], counts[-1], int(df["n_tasks"].iloc[0]), alpha)
        for e, ls, what in ((pred, "--", "truncated Zipf"), (alpha, ":", "infinite Zipf")):
            if np.isfinite(e):
                c_pred = np.exp(np.mean(np.log(med["test_loss"]) + e * np.log(med["n_params"])))
                ax.plot(n, c_pred * n**-e, color="C3", ls=ls, label=f"{what}: N^-{e:.2f}")
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

    fig, ax = plots.figure(width=4.6, height=3.6)
    sns.scatterplot(df, x="n_params", y="n_learned", ax=ax, color="grey", alpha=0.5, label="runs")
    counts = df.groupby("n_params")["n_learned"].median()
    ax.plot(counts.index, counts.to_numpy(), "o", color="C0", label="median over seeds")
    top = counts.index.max()
    ax.plot(counts.index, counts[top] * counts.index / top, color="C3", ls="--", label="n ∝ N (through the widest)")
    ax.set(xscale="log", yscale="log", xlabel="parameters N", ylabel="tasks learned (final acc >= 0.9)")
    ax.legend(fontsize=8)
    fig.tight_layout()
    figures["tasks_learned_vs_params"] = fig

    mass = with_unlearned_mass(results)
    if "unlearned_mass" in mass.columns:
        a, b = unlearned_loss_fit(mass)
        fig, ax = plots.figure(width=4.6, height=3.6)
        sns.scatterplot(mass, x="unlearned_mass", y="test_loss", hue="width", palette="magma", ax=ax)
        m = np.linspace(0, mass["unlearned_mass"].max(), 50)
        ax.plot(m, np.log(2) * m, color="C3", ls="--", label="ln 2 × M (learned tasks at 0)")
        if np.isfinite(a):
            ax.plot(m, a * m + b * (1 - m), color="C0", label=f"fit a M + b (1 - M): a = {a:.3f}, b = {b:.3f}")
        ax.set(xlabel="frequency mass M of the unlearned tasks", ylabel="final test loss")
        ax.legend(fontsize=7)
        fig.tight_layout()
        figures["loss_vs_unlearned_mass"] = fig

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
