"""Figures of ``data_quality``: Hebbian error curves against the closed form, the noisy/clean
data multiplier against 1/(1-2q)^2 (perceptron and MLP), the pruning curves (keep easy vs keep
hard) and the MLP's test-error curves."""

from __future__ import annotations

import numpy as np
import pandas as pd

from physai import Results


def _mean_and_range(rows: pd.DataFrame, by: str, value: str) -> pd.DataFrame:
    """Mean over seeds with the 2.5 and 97.5 percentiles of the seeds (the spread, not an interval)."""
    g = rows.groupby(by, sort=True)[value]
    return pd.DataFrame({"mean": g.mean(), "low": g.quantile(0.025), "high": g.quantile(0.975)})


def figures(results: Results) -> dict:
    """Returns: ``{"data_quality": Figure}`` with four panels (those whose part was run)."""
    from analysis import plots
    from experiments import data_quality as dq

    df = results.ok
    if df.empty or "part" not in df.columns:
        return {}
    noise, prune, net = (df[df["part"] == p] for p in ("noise", "prune", "mlp"))
    net = net.assign(alpha=net["n"] / net["d"], test_error=net["stopped_test_error"]) if not net.empty else net
    fig, axes = plots.figure(ncols=4, width=4.6, height=4.0)
    if not noise.empty:
        qs = sorted(noise["q"].unique())
        grid = np.geomspace(noise["alpha"].min(), noise["alpha"].max(), 200)
        for i, q in enumerate(qs):
            s = _mean_and_range(noise[noise["q"] == q], "alpha", "test_error")
            plots.band(axes[0], s.index, s["mean"], s["low"], s["high"], label=f"q = {q:g}", color=f"C{i}")
            plots.theory_curve(axes[0], grid, dq.hebbian_error(grid, q), label="closed form" if i == 0 else None)
        plots.loglog(axes[0])
        axes[0].set(xlabel="alpha = n / N", ylabel="test error", title="Hebbian student, labels flipped at rate q")
        axes[0].legend(fontsize=8)
        noisy = [q for q in qs if q > 0]
        if noisy and 0.0 in qs:
            measured = [dq.multiplier(noise, q) for q in noisy]
            axes[1].plot(noisy, measured, "o", label="Hebbian perceptron")
            mlp_qs = sorted(q for q in net["q"].unique() if q > 0) if not net.empty else []
            if mlp_qs and (net["q"] == 0).any():
                axes[1].plot(mlp_qs, [dq.multiplier(net, q) for q in mlp_qs], "s", label="trained MLP")
            qq = np.linspace(0, max(noisy) * 1.05, 100)
            plots.theory_curve(axes[1], qq, dq.multiplier_theory(qq), label="1 / (1 - 2q)^2")
            axes[1].set_yscale("log")
            axes[1].legend(fontsize=8)
        axes[1].set(
            xlabel="label-flip rate q", ylabel="noisy examples needed / clean", title="Data multiplier of clean labels"
        )
    if not prune.empty:
        for keep, color in (("easy", "C0"), ("hard", "C3")):
            s = _mean_and_range(prune[prune["keep"] == keep], "alpha_total", "test_error")
            plots.band(axes[2], s.index, s["mean"], s["low"], s["high"], label=f"keep {keep}", color=color)
        plots.loglog(axes[2])
        f = ", ".join(f"{v:g}" for v in sorted(prune["f"].unique()))
        axes[2].set(
            xlabel="pool size alpha_total = P / N",
            ylabel="test error (max-margin student)",
            title=f"Pruning to a fraction f = {f} by probe margin",
        )
        axes[2].legend(fontsize=8)
    if not net.empty:
        for i, q in enumerate(sorted(net["q"].unique())):
            s = _mean_and_range(net[net["q"] == q], "n", "test_error")
            plots.band(axes[3], s.index, s["mean"], s["low"], s["high"], label=f"q = {q:g}", color=f"C{i}")
        plots.loglog(axes[3])
        axes[3].set(
            xlabel="training examples n", ylabel="test error (clean teacher)", title="Trained MLP, early-stopped"
        )
        axes[3].legend(fontsize=8)
    fig.tight_layout()
    return {"data_quality": fig}
