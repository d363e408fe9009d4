"""Figures of the loss-predicts-capability experiment, drawn like Du et al. (2024) Fig. 1:
benchmark accuracy against pre-training loss (lower loss to the right), one colour per model
size, one marker per data size; the control mixture beside it; then the same models against
training compute and against parameters (kept apart so the experiment's module stays short)."""

from __future__ import annotations

import numpy as np

from physai import Results

MARKERS = "os^Dvp*hX"


def _data_bins(steps: np.ndarray, n: int = 5) -> list[float]:
    """Up to n logged steps spread over the run (geometric: early training changes fastest)."""
    steps = np.unique(steps[steps > 0])
    if len(steps) <= n:
        return list(steps)
    idx = np.unique(np.round(np.geomspace(1, len(steps), n)).astype(int) - 1)
    return list(steps[idx])


def _plain_log_ticks(axis, ticker) -> None:
    """Plain numbers at 1-2-5 positions on a log axis (the default labels crowd a short range)."""
    axis.set_major_locator(ticker.LogLocator(subs=(1.0, 2.0, 5.0)))
    axis.set_major_formatter(ticker.FuncFormatter(lambda x, _: f"{x:.3g}" if x < 1000 else f"{x:.0f}"))
    axis.set_minor_formatter(ticker.NullFormatter())


def plot(results: Results) -> dict:
    """Accuracy vs loss per mixture, accuracy vs compute, accuracy vs parameters."""
    import matplotlib as mpl
    from matplotlib import ticker

    from analysis import plots
    from experiments.loss_predicts_capability import CHANCE, points

    pts = points(results)
    if pts.empty:
        return {}
    med = pts.groupby(["bench_rank", "width", "step"])[["loss", "capability", "compute", "n_params"]].median()
    med = med.reset_index()
    ranks = sorted(med["bench_rank"].unique())
    widths = sorted(med["width"].unique())
    colors = mpl.colormaps["viridis"](np.linspace(0.1, 0.9, len(widths)))
    marked = _data_bins(med["step"].to_numpy())
    samples = int(pts["batch_size"].iloc[0])

    fig, axes = plots.figure(ncols=len(ranks) + 2, width=4.2, height=3.8)
    axes = np.atleast_1d(axes)
    for ax, r in zip(axes, ranks):
        if r != ranks[0]:  # the first mixture's curves, for comparison
            ref = med[med["bench_rank"] == ranks[0]].sort_values("step")
            for _, g in ref.groupby("width"):
                ax.plot(g["loss"], g["capability"], color="grey", lw=0.8, alpha=0.5)
        for color, w in zip(colors, widths):
            g = med[(med["bench_rank"] == r) & (med["width"] == w)].sort_values("step")
            ax.plot(g["loss"], g["capability"], "-", color=color, lw=1.2, label=f"width {w}")
            for marker, s in zip(MARKERS, marked):
                at = g[g["step"] == s]
                ax.plot(at["loss"], at["capability"], marker, color=color, ms=6, mec="black", mew=0.5)
        ax.axhline(CHANCE, color="black", ls="--", lw=0.8)
        ax.set(xscale="log", xlabel="pre-training loss (nats, reversed)", ylabel="benchmark accuracy")
        ax.invert_xaxis()
        _plain_log_ticks(ax.xaxis, ticker)
        ax.set_title(f"benchmark at frequency ranks {r}.." + (" (control)" if r != ranks[0] else ""), fontsize=9)
    for marker, s in zip(MARKERS, marked):
        axes[0].plot([], [], marker, color="grey", mec="black", mew=0.5, label=f"{int(s) * samples:.2g} samples")
    axes[0].legend(fontsize=6, ncol=2, loc="upper left")

    base = med[med["bench_rank"] == ranks[0]]
    ax = axes[len(ranks)]
    for color, w in zip(colors, widths):
        g = base[(base["width"] == w) & (base["step"] > 0)].sort_values("step")
        ax.plot(g["compute"], g["capability"], "o-", color=color, ms=2, label=f"width {w}")
    ax.axhline(CHANCE, color="black", ls="--", lw=0.8)
    ax.set(xscale="log", xlabel="compute (parameters x samples)", ylabel="benchmark accuracy")
    ax.set_title("same models against compute", fontsize=9)

    ax = axes[len(ranks) + 1]
    for marker, s in zip(MARKERS, marked):
        g = base[base["step"] == s].sort_values("n_params")
        ax.plot(g["n_params"], g["capability"], marker + "-", color="grey", ms=5, label=f"{int(s) * samples:.2g}")
    ax.axhline(CHANCE, color="black", ls="--", lw=0.8)
    ax.set(xscale="log", xlabel="parameters", ylabel="benchmark accuracy")
    _plain_log_ticks(ax.xaxis, ticker)
    ax.set_title("against parameters, per data size", fontsize=9)
    ax.legend(fontsize=6, title="samples", title_fontsize=6)
    fig.suptitle("Benchmark accuracy against pre-training loss, compute and parameters (median over seeds)")
    fig.tight_layout()
    return {"capability_vs_loss": fig}
