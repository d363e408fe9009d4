"""Grokking: figures of accuracy curves and progress measures."""

from __future__ import annotations

from physai import Results

from .task import TEST_ACC


def plot(results: Results) -> dict:
    """Figures: accuracy curves per fraction and weight decay; norm and Fourier Gini vs step."""
    import seaborn as sns

    from analysis import plots

    figures = {}
    curves = results.curves
    if curves.empty:
        return figures
    keys = ["trial_id", "train_fraction", "weight_decay", "seed"]
    df = curves.merge(results.ok[keys], on="trial_id")
    acc = df[df["metric"] == "acc"]
    fracs = sorted(acc["train_fraction"].unique())
    fig, axes = plots.figure(ncols=len(fracs), width=4.2, height=3.6, squeeze=False, sharey=True)
    for ax, frac in zip(axes[0], fracs):
        sub = acc[acc["train_fraction"] == frac]
        decays = sorted(acc["weight_decay"].unique())
        colours = dict(zip(decays, sns.color_palette("colorblind", len(decays))))
        sns.lineplot(
            sub,
            x="step",
            y="value",
            hue="weight_decay",
            style="split",
            units="seed",
            estimator=None,
            ax=ax,
            lw=1,
            palette=colours,
        )
        ax.set_xscale("symlog", linthresh=100)
        ax.set_xlim(left=0)
        ax.axhline(TEST_ACC, color="grey", lw=0.8, ls=":")
        ax.set(title=f"train fraction {frac:g}", ylabel="accuracy")
    fig.suptitle(f"Grokking (a + b) mod {int(results.ok['p'].iloc[0])}: embedding + MLP, full-batch AdamW")
    fig.tight_layout()
    figures["accuracy"] = fig

    decayed = df[df["weight_decay"] > 0]
    fig, axes = plots.figure(ncols=3, width=4.2, height=3.6)
    for ax, metric, label in zip(
        axes, ["acc", "weight_norm", "fourier_gini"], ["test accuracy", "total weight norm", "embedding Fourier Gini"]
    ):
        sub = decayed[(decayed["metric"] == metric) & ((metric != "acc") | (decayed["split"] == "test"))]
        sns.lineplot(
            sub, x="step", y="value", hue="train_fraction", units="seed", estimator=None, ax=ax, lw=1, palette="viridis"
        )
        ax.set(ylabel=label, title=label + " (wd > 0)")
    fig.tight_layout()
    figures["progress_measures"] = fig
    return figures
