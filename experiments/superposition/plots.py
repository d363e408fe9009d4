"""Figures of ``superposition``, drawn like the paper's: W^T W and b per density, D_i against
1/(1-S) with the fraction lines, and the 2-in-1 phase diagram over the analytic phases."""

from __future__ import annotations

import numpy as np
from matplotlib.patches import Rectangle

from experiments.superposition import checks
from experiments.superposition.model import PHASES
from physai import Results

PHASE_COLOURS = {"not represented": "#bbbbbb", "superposition": "#4c72b0", "dedicated": "#dd8452"}


def _best_per_density(trials, part: str, loss: str):
    t = trials[trials["part"] == part]
    return t.sort_values(loss, kind="stable").drop_duplicates("density").sort_values("density", ascending=False)


def gram_figure(results: Results):
    """W^T W (red positive, blue negative) and the bias, one column per density (best seed)."""
    from analysis import plots

    best = _best_per_density(results.ok, "count", "test_loss")
    c = results.curves
    if best.empty:
        return None
    fig, axes = plots.figure(ncols=len(best), nrows=2, width=2.2, height=2.4, squeeze=False)
    for k, (_, row) in enumerate(best.iterrows()):
        n = int(row["n"])
        mine = c[c["trial_id"] == row["trial_id"]]
        gram = mine[(mine["split"] == "gram")].sort_values("step")["value"].to_numpy()
        bias = mine[(mine["split"] == "feature") & (mine["metric"] == "bias")].sort_values("step")["value"]
        if len(gram) == n * n:
            axes[0, k].imshow(gram.reshape(n, n), cmap="RdBu_r", vmin=-1, vmax=1)
        axes[0, k].set_title(f"1-S = {row['density']:g}\n{int(row['n_represented'])} represented", fontsize=9)
        axes[0, k].set_xticks([])
        axes[0, k].set_yticks([])
        axes[1, k].barh(np.arange(len(bias)), bias.to_numpy(), color="#c44e52")
        axes[1, k].invert_yaxis()
        axes[1, k].set_xlim(-1, 1)
        axes[1, k].set_yticks([])
    axes[0, 0].set_ylabel("W^T W")
    axes[1, 0].set_ylabel("b")
    fig.suptitle(f"n = {int(best['n'].iloc[0])} features in m = {int(best['m'].iloc[0])} dimensions, I_i = 0.7^i")
    fig.tight_layout()
    return fig


def dimensionality_figure(results: Results):
    """D_i of every represented feature against 1/(1-S), the fraction lines, and D* per trial."""
    from analysis import plots

    f = checks._features(results, "geometry")
    t = results.ok[results.ok["part"] == "geometry"]
    if f.empty:
        return None
    f = f[f["norm"] > checks.REPRESENTED]
    fig, ax = plots.figure(width=6.5, height=4.2)
    rng = np.random.default_rng(0)  # fixed jitter: the same figure each time
    x = 1 / f["density"].to_numpy(float) * np.exp(rng.normal(0, 0.04, len(f)))
    ax.scatter(x, f["dim"], s=8, alpha=0.5, label="D_i (represented features)")
    ax.plot(1 / t["density"], t["dims_per_feature"], "k.", markersize=9, label="D* = m / ||W||_F^2")
    for frac in checks.FRACTIONS:
        ax.axhline(frac, color="grey", lw=0.8, ls="--")
        ax.axhspan(frac - checks.FRACTION_TOL, frac + checks.FRACTION_TOL, color="grey", alpha=0.12)
        ax.text(1.01, frac, f"{frac:.3g}", fontsize=8, va="center", transform=ax.get_yaxis_transform())
    plots.loglog(ax, x=True, y=False)
    ax.set_xlabel("1 / (1 - S)")
    ax.set_ylabel("dimensions per feature")
    ax.set_ylim(0, 1.1)
    ax.legend(fontsize=8, loc="upper right")
    ax.set_title(f"n = {int(t['n'].iloc[0])}, m = {int(t['m'].iloc[0])}, equal importance")
    fig.tight_layout()
    return fig


def phase_figure(results: Results):
    """The analytic phase per (ratio, density) point as cells (hatched: within the margin of the
    boundary), the best seed's trained phase as a marker inside."""
    from analysis import plots

    t = checks.phase_table(results)
    if t.empty:
        return None
    best = t.sort_values("exact_loss", kind="stable").drop_duplicates("point")
    ratios, dens = sorted(best["ratio"].unique()), sorted(best["density"].unique())
    fig, ax = plots.figure(width=6.0, height=4.5)
    for _, row in best.iterrows():
        i, j = ratios.index(row["ratio"]), dens.index(row["density"])
        near = row["margin"] < checks.PHASE_MARGIN
        ax.add_patch(
            Rectangle(
                (i - 0.5, j - 0.5),
                1,
                1,
                facecolor=PHASE_COLOURS[row["analytic"]],
                alpha=0.5,
                hatch="//" if near else None,
                lw=0,
            )
        )
        ax.plot(i, j, "o", color=PHASE_COLOURS[row["trained"]], markeredgecolor="k", markersize=10)
    ax.set_xlim(-0.5, len(ratios) - 0.5)
    ax.set_ylim(-0.5, len(dens) - 0.5)
    ax.set_xticks(range(len(ratios)), [f"{r:.2g}" for r in ratios])
    ax.set_yticks(range(len(dens)), [f"{d:g}" for d in dens])
    ax.set_xlabel("relative importance of the extra feature")
    ax.set_ylabel("feature density 1 - S")
    handles = [ax.plot([], [], "s", color=PHASE_COLOURS[p], label=p)[0] for p in PHASES]
    ax.legend(
        handles=handles,
        fontsize=8,
        loc="upper left",
        bbox_to_anchor=(1, 1),
        title="cell: analytic\ndot: trained",
        title_fontsize=8,
    )
    ax.set_title("2 features in 1 dimension (hatched: near the boundary)")
    fig.tight_layout()
    return fig


def plot(results: Results) -> dict:
    figs = {
        "gram": gram_figure(results),
        "dimensionality": dimensionality_figure(results),
        "phase_diagram": phase_figure(results),
    }
    return {k: v for k, v in figs.items() if v is not None}
