"""Edge of stability: the figure of sharpness and training loss against the GD step, one
colour per step size."""

from __future__ import annotations

import numpy as np

from physai import Results

from .window import CONVERGED_FRACTION

# Okabe-Ito colours, in an order whose neighbours differ in hue and lightness (the
# colour-blind palette's orange and vermillion side by side are hard to tell apart).
COLOURS = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#F0E442")
CONTROL_COLOUR = "0.25"


def plot(results: Results) -> dict:
    """Sharpness vs step with the 2/eta lines, training loss below it with the loss floor
    that ends the edge window; one colour per eta, the control in grey."""
    from analysis import plots

    ok = results.ok
    if ok.empty or results.curves.empty:
        return {}
    curves = results.curves.merge(ok[["trial_id", "lr", "seed", "role"]], on="trial_id")
    fig, axes = plots.figure(nrows=2, width=7.0, height=3.4, sharex=True)
    control = set(ok.loc[ok["role"] == "control", "lr"]) if "role" in ok else set()
    eos_lrs = [lr for lr in sorted(ok["lr"].unique()) if lr not in control]
    palette = {lr: COLOURS[k % len(COLOURS)] for k, lr in enumerate(eos_lrs)}
    palette.update({lr: CONTROL_COLOUR for lr in control})
    floors = []
    for lr in sorted(ok["lr"].unique()):
        color = palette[lr]
        name = f"eta = {lr:g}" + (" (control)" if lr in control else "")
        for k, (_, c) in enumerate(curves[np.isclose(curves["lr"], lr)].groupby("seed")):
            label = name if k == 0 else None  # one legend entry per eta
            s = c[c["metric"] == "sharpness"].sort_values("step")
            axes[0].plot(s["step"], s["value"], color=color, lw=1, alpha=0.85, label=label)
            lo = c[(c["metric"] == "loss") & (c["split"] == "train")].sort_values("step")
            axes[1].plot(lo["step"], lo["value"], color=color, lw=1, alpha=0.85, label=label)
            if len(lo):
                floors.append(CONVERGED_FRACTION * float(lo["value"].iloc[0]))
        axes[0].axhline(2 / lr, color=color, ls="--", lw=1)
    if floors:
        axes[1].axhline(float(np.median(floors)), color="0.5", ls=":", lw=1, label="loss floor (end of edge window)")
    axes[0].set_yscale("log")
    axes[0].set(
        ylabel="sharpness (top Hessian eigenvalue)",
        title="Full-batch GD, tanh MLP: sharpness rises to 2/eta (dashed) and hovers",
    )
    axes[0].legend(fontsize=8)
    plots.loglog(axes[1], x=False)
    axes[1].set(xlabel="GD step", ylabel="train loss (0.5 MSE)")
    axes[1].legend(fontsize=8, ncols=2)
    fig.tight_layout()
    return {"sharpness_vs_step": fig}
