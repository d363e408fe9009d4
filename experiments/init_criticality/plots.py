"""Figures of ``init_criticality``: the measured depth laws with the theory drawn beside them."""

from __future__ import annotations

import numpy as np

from analysis import plots
from experiments.init_criticality import trainability
from experiments.init_criticality.ensemble import critical, kurtosis, layer_table, tanh_kernel


def plot(results) -> dict:
    """ln E[z^2] vs depth per C_W (ReLU); l K vs l (tanh); n Var ln|z|^2 vs (l-1) (ReLU);
    excess kurtosis vs depth per width (ReLU and tanh at criticality)."""
    figures = phase_diagram(results)
    table = layer_table(results)
    if table.empty:
        return figures
    relu = table[(table["activation"] == "relu") & (table["cb"] == 0)]
    if not relu.empty:
        fig, ax = plots.figure()
        means = relu.groupby(["cw", "layer"])["m2"].mean().reset_index()
        for i, (cw, g) in enumerate(means.groupby("cw")):
            ax.plot(g["layer"], np.log(g["m2"]), marker="o", ms=3, label=f"C_W = {cw:g}")
            first = np.log(g["m2"].iloc[0])  # the law fixes the slope; the first layer fixes the offset
            theory = first + (g["layer"] - g["layer"].iloc[0]) * np.log(cw / 2)
            plots.theory_curve(ax, g["layer"], theory, label="slope ln(C_W/2)" if i == 0 else None)
        ax.set(xlabel="layer l", ylabel="ln E[z^2]", title="ReLU, C_b = 0: growth C_W/2 per layer")
        ax.legend(fontsize=8)
        figures["relu_depth"] = fig
    tanh = critical(table, "tanh")
    if not tanh.empty:
        fig, ax = plots.figure()
        means = tanh.groupby(["width", "layer"])["m2"].mean().reset_index()
        for width, g in means.groupby("width"):
            ax.plot(g["layer"], g["layer"] * g["m2"], marker="o", ms=2, label=f"n = {int(width)}")
        layers = np.arange(1, int(means["layer"].max()) + 1)
        plots.theory_curve(ax, layers, layers * tanh_kernel(layers.size), label="infinite width")
        ax.axhline(0.5, color="k", lw=0.8, ls=":", label="1/2")
        ax.set(xlabel="layer l", ylabel="l K(l)", title="tanh at C_W = 1: K ~ 1/(2l)")
        ax.legend(fontsize=8)
        figures["tanh_kernel"] = fig
    crit = critical(table, "relu")
    if not crit.empty:
        fig, ax = plots.figure()
        means = crit.groupby(["width", "layer"])["logq_var"].mean().reset_index()
        for width, g in means.groupby("width"):
            ax.plot((g["layer"] - 1) / width, g["logq_var"], marker="o", ms=2, label=f"n = {int(width)}")
        x = np.linspace(0, float(((means["layer"] - 1) / means["width"]).max()), 50)
        plots.theory_curve(ax, x, 5 * x + 2 / means["width"].min(), label="(5(l-1) + 2)/n (smallest n)")
        ax.set(xlabel="(l - 1)/n", ylabel="Var ln(|z|^2/n)", title="ReLU at C_W = 2: fluctuations ~ depth/width")
        ax.legend(fontsize=8)
        figures["relu_variance"] = fig
    parts = [(a, critical(table, a)) for a in ("relu", "tanh")]
    parts = [(a, rows) for a, rows in parts if not rows.empty]
    if parts:
        fig, axes = plots.figure(ncols=len(parts))
        for ax, (activation, rows) in zip(np.atleast_1d(axes), parts):
            widths, layers, kurt = kurtosis(rows)
            for width, k in zip(widths, kurt):
                (line,) = ax.plot(layers, k, marker="o", ms=2, label=f"n = {int(width)}")
                # ReLU: exact for one input, 3 [(1 + 5/n)^(l-1) - 1]; tanh: leading order 3 V/(n K^2) = 2 l/n
                law = 3 * ((1 + 5 / width) ** (layers - 1) - 1) if activation == "relu" else 2 * layers / width
                ax.plot(layers, law, ls="--", lw=1, color=line.get_color())
            title = "ReLU (dashed: 3[(1+5/n)^(l-1) - 1])" if activation == "relu" else "tanh (dashed: 2l/n)"
            ax.set(xlabel="layer l", ylabel="excess kurtosis of z_i", title=title)
            ax.set_yscale("symlog", linthresh=0.1)
            ax.legend(fontsize=8)
        figures["kurtosis"] = fig
    return figures


def phase_diagram(results) -> dict:
    """Mean final train accuracy over (sigma_w^2, depth) with the predicted boundary 6 xi_c and
    the margin (factor 2 either side) inside which points are not scored."""
    t = results.trials
    if t.empty or "part" not in t or "train_acc" not in t or not (t["part"] == "train").any():
        return {}
    t = t[t["part"] == "train"].assign(acc=lambda d: d["train_acc"].where(d["status"] == "ok", 0.5))
    figures = {}
    for cb, rows in t.groupby("cb"):
        means = rows.groupby(["cw", "depth"])["acc"].mean().reset_index()
        fig, ax = plots.figure()
        points = ax.scatter(means["cw"], means["depth"], c=means["acc"], cmap="viridis", vmin=0.5, vmax=1, s=120)
        fig.colorbar(points, ax=ax, label="train accuracy (seed mean)")
        cws = np.linspace(min(means["cw"].min(), 1.0), max(means["cw"].max(), 4.0), 121)
        xi = np.array([trainability.correlation_depth(cw, cb) for cw in cws])
        bound = np.minimum(trainability.BOUNDARY * xi, 1e4)
        plots.theory_curve(ax, cws, bound, label="6 xi_c (Schoenholz et al. 2017)")
        for factor in (1 / trainability.MARGIN, trainability.MARGIN):
            ax.plot(cws, bound * factor, color="k", lw=0.8, ls=":")
        ax.set_yscale("log")
        ax.set_ylim(0.7 * means["depth"].min(), 1.5 * means["depth"].max())
        ax.set(xlabel="sigma_w^2", ylabel="depth L", title=f"tanh, sigma_b^2 = {cb:g}: trainability")
        ax.legend(fontsize=8)
        figures["trainability" if len(figures) == 0 else f"trainability_cb{cb:g}"] = fig
    return figures
