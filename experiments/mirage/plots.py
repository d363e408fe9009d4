"""Figures of the mirage experiment: the same models under a smooth metric (per-token loss,
token Hamming distance) and a nonlinear one (exact match), and exact match collapsed by the
shift log(L)/a (kept apart so the experiment's module stays short)."""

from __future__ import annotations

import numpy as np

from experiments.mirage.checks import _loglog_fit, _medians, lengths_in, shifted_curves
from physai import Results


def plot(results: Results) -> dict:
    """Per-token loss; token Hamming distance; exact match on linear and log axes (dotted: the
    product of per-position accuracies); exact match against log N shifted by log(L)/a."""
    from analysis import plots

    ok = results.ok
    if ok.empty or ok["n_params"].nunique() < 3:
        return {}
    lengths = lengths_in(ok)
    fig, axes = plots.figure(ncols=5, width=3.6, height=3.6)
    n, loss = _medians(ok, ["test_token_loss"])
    axes[0].plot(n, loss[:, 0], "o-", label="median over seeds")
    _, slope, intercept = _loglog_fit(n, loss[:, 0])
    plots.theory_curve(axes[0], n, np.exp(intercept) * n**slope, f"power law, slope {slope:.2f}")
    plots.loglog(axes[0])
    axes[0].set(xlabel="parameters", ylabel="per-token test cross-entropy", title="smooth: per-token loss")
    axes[0].legend(fontsize=7)

    distance = [f"test_token_distance_L{L}" for L in lengths]
    have_distance = all(c in ok.columns for c in distance)
    a, u, em = shifted_curves(ok, lengths)
    _, product = _medians(ok, [f"token_product_L{L}" for L in lengths]) if "token_product_L1" in ok else (n, None)
    _, dist = _medians(ok, distance) if have_distance else (n, None)
    floor = 1 / float(ok["n_test"].max()) if "n_test" in ok.columns else None
    for j, L in enumerate(lengths):
        (line,) = axes[2].plot(n, em[:, j], "o-", label=f"L = {L}")
        color = line.get_color()
        axes[3].plot(n, np.where(em[:, j] > 0, em[:, j], np.nan), "o-", color=color)
        if product is not None:
            axes[2].plot(n, product[:, j], ":", color=color)
            axes[3].plot(n, product[:, j], ":", color=color)
        if dist is not None:
            axes[1].plot(n, dist[:, j], "o-", color=color, label=f"L = {L}")
        if a > 0:
            axes[4].plot(u[:, j], em[:, j], "o-", color=color, label=f"L = {L}")
    axes[1].set(xscale="log", yscale="log", xlabel="parameters", ylabel="wrong tokens of the first L (mean)")
    axes[1].set_title("smooth: token Hamming distance")
    axes[2].set(xscale="log", xlabel="parameters", ylabel="exact match", title="nonlinear: exact match")
    axes[3].set(xscale="log", yscale="log", xlabel="parameters", ylabel="exact match (log)")
    axes[3].set_title("exact match, log axis (dotted: prod. of token acc.)", fontsize=8)
    if floor is not None:
        axes[3].axhline(floor, color="grey", lw=0.8, ls="--", label="1 / test answers")
        axes[3].set_ylim(bottom=floor / 3)  # below one right answer nothing is measured
        axes[3].legend(fontsize=7)
    axes[4].set(xlabel=f"log10 N - log10(L) / a   (a = {a:.2f})", ylabel="exact match")
    axes[4].set_title("collapsed by the shift log(L)/a")
    axes[2].legend(fontsize=7)
    fig.suptitle("Mirage: the same models under smooth and nonlinear metrics")
    fig.tight_layout()
    return {"metrics_side_by_side": fig}
