"""Figure of the sharp_flat experiment: test loss against sharpness per run, and sharpness
against batch size, with full-batch GD's stability cap 2/lr drawn (kept apart so the
experiment's module stays short)."""

from __future__ import annotations

from analysis.stats import spearman
from physai import Results


def plot(results: Results) -> dict:
    """Test loss against sharpness, one point per run, coloured by batch and shaped by lr;
    sharpness against batch per lr; the 2/lr line of each lr on both panels."""
    import seaborn as sns
    from matplotlib.ticker import LogLocator, NullFormatter, ScalarFormatter

    from analysis import plots

    ok = results.ok
    if ok.empty or "sharpness" not in ok.columns:
        return {}
    fig, axes = plots.figure(ncols=2, width=5.2, height=4.0)
    data = ok.assign(batch=ok["batch"].astype(int).astype(str), lr=ok["lr"].map("{:g}".format))
    batches = sorted(data["batch"].unique(), key=int)
    sns.scatterplot(
        data=data, x="sharpness", y="test_loss", hue="batch", hue_order=batches, style="lr", s=60, ax=axes[0]
    )
    axes[0].set_xscale("log")
    # Rank correlation within each lr, no interval: the verdict carries the seed-bootstrap ones.
    rhos = ", ".join(
        f"lr={lr:g}: {spearman(g['sharpness'], g['test_loss']):.2f}" for lr, g in ok.groupby("lr") if len(g) >= 3
    )
    axes[0].set(
        xlabel="sharpness (top Hessian eigenvalue, train loss)",
        ylabel="test loss",
        title=f"Spearman rho within each lr: {rhos}",
    )
    lrs = sorted(ok["lr"].unique())
    lr_palette = dict(zip([f"{lr:g}" for lr in lrs], sns.color_palette("dark", n_colors=len(lrs))))
    sns.pointplot(
        data=data,
        x="batch",
        y="sharpness",
        hue="lr",
        palette=lr_palette,
        ax=axes[1],
        estimator="median",
        errorbar=None,
        native_scale=False,
        order=batches,
    )
    for lr in lrs:  # full-batch GD cannot stay sharper than 2/lr (edge of stability)
        color = lr_palette[f"{lr:g}"]
        axes[0].axvline(2 / lr, color=color, ls="--", lw=1)
        axes[1].axhline(2 / lr, color=color, ls="--", lw=1, label=f"2/lr, lr = {lr:g}")
    axes[1].set_yscale("log")
    axes[1].set_ylim(top=1.3 * 2 / min(lrs))
    axes[1].legend(fontsize=8, title="lr", title_fontsize=8)
    axes[1].set(
        xlabel="batch size (largest = full batch, GD)",
        ylabel="sharpness (median over seeds)",
        title="Sharpness by batch; dashed: GD's cap 2/lr",
    )
    for axis in (axes[0].xaxis, axes[1].yaxis):  # plain numbers on the log axes
        axis.set_major_locator(LogLocator(subs=(1.0, 2.0, 5.0)))
        axis.set_major_formatter(ScalarFormatter())
        axis.set_minor_formatter(NullFormatter())
    axes[0].set_xlim(right=max(axes[0].get_xlim()[1], 1.1 * 2 / min(lrs)))
    fig.tight_layout()
    return {"sharpness_vs_test_loss": fig}
