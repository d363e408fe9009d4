"""Induction heads: the figure (after Olsson et al. 2022's phase-change plots)."""

from __future__ import annotations

import numpy as np

from physai import Results

from .task import WINDOW_HALF

PANELS = (
    ("repeated_loss", "loss on repeated tokens (nats)"),
    ("induction_score", "largest last-layer induction score"),
    ("icl_score", "in-context learning score (nats)"),
)


def plot(results: Results) -> dict:
    """Repeated-token loss, induction score and ICL score against step, one line per seed,
    coloured by depth; the context baseline as a theory line and each two-layer run's
    phase-change window (midpoint +- 5% of training) shaded."""
    from analysis import plots

    t, c = results.trials, results.curves
    if t.empty or c is None or c.empty:
        return {}
    depth = dict(zip(t["trial_id"], t["layers"].astype(int), strict=True))
    fig, axes = plots.figure(ncols=len(PANELS), width=4.6, height=3.8)
    colours = {d: f"C{i}" for i, d in enumerate(sorted(set(depth.values())))}
    steps_total = float(c["step"].max())
    for ax, (metric, label) in zip(axes, PANELS, strict=True):
        labelled = set()
        for tid, g in c[c["metric"] == metric].groupby("trial_id"):
            d = depth.get(tid)
            if d is None:
                continue
            g = g.sort_values("step")
            name = f"{d} layer{'s' if d > 1 else ''}"
            ax.plot(g["step"], g["value"], color=colours[d], lw=1, alpha=0.7, label=None if d in labelled else name)
            labelled.add(d)
        ax.set(xlabel="step", ylabel=label)
    base = c[c["metric"] == "context_baseline"]["value"]
    if len(base):
        axes[0].axhline(float(base.mean()), color="grey", ls="--", lw=1.2, label="context baseline")
    for _, row in t[(t["layers"] >= 2) & (t["status"] == "ok")].iterrows():
        mid = row.get("midpoint", np.nan)
        if np.isfinite(mid):
            for ax in axes:
                ax.axvspan(
                    (mid - WINDOW_HALF) * steps_total, (mid + WINDOW_HALF) * steps_total, color="C1", alpha=0.08, lw=0
                )
    axes[0].legend(fontsize=8)
    axes[0].set_title("shaded: each two-layer phase change", fontsize=10)
    fig.tight_layout()
    return {"induction_heads": fig}
