"""Figures of ``data_quality``: Hebbian error curves against the closed form, the noisy/clean
data multiplier against 1/(1-2q)^2 (perceptron and MLP), the pruning curves (keep easy vs keep
hard), the MLP's test-error curves over n and over its parameter count (clean vs noisy, the
parameter multiplier marked) and the parameter multiplier against the perceptron's data law."""

from __future__ import annotations

import numpy as np
import pandas as pd

from physai import Results


def _mean_and_range(rows: pd.DataFrame, by: str, value: str) -> pd.DataFrame:
    """Mean over seeds with the 2.5 and 97.5 percentiles of the seeds (the spread, not an interval)."""
    g = rows.groupby(by, sort=True)[value]
    return pd.DataFrame({"mean": g.mean(), "low": g.quantile(0.025), "high": g.quantile(0.975)})


def figures(results: Results) -> dict:
    """Returns: ``{"data_quality": Figure}`` with six panels (those whose part was run)."""
    from analysis import plots
    from experiments import data_quality as dq

    df = results.ok
    if df.empty or "part" not in df.columns:
        return {}
    noise, prune, net, cap = (df[df["part"] == p] for p in ("noise", "prune", "mlp", "capacity"))
    net = net.assign(alpha=net["n"] / net["d"], test_error=net["stopped_test_error"]) if not net.empty else net
    fig, axes = plots.figure(ncols=3, nrows=2, width=4.8, height=4.0)
    axes = axes.ravel()
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
    if not cap.empty:
        _capacity_panels(axes[4], axes[5], cap.assign(test_error=cap["stopped_test_error"]))
    fig.tight_layout()
    return {"data_quality": fig}


def _capacity_panels(curves_ax, multiplier_ax, cap: pd.DataFrame) -> None:
    """Early-stopped test error against parameters, clean and noisy, each noisy curve's parameter
    multiplier drawn as an arrow at the middle of the error range it shares with the clean curve
    (or its lower bound written at its end); and the multipliers against q beside 1/(1-2q)^2."""
    from analysis import plots
    from experiments.data_quality import capacity, perceptron

    qs = sorted(cap["q"].unique())
    means = {}
    for i, q in enumerate(qs):
        s = _mean_and_range(cap[cap["q"] == q], "n_params", "test_error")
        means[q] = s["mean"]
        plots.band(curves_ax, s.index, s["mean"], s["low"], s["high"], label=f"q = {q:g}", color=f"C{i}")
    bound = cap["n_params"].max() / cap["n_params"].min()
    noisy = [q for q in qs if q > 0]
    measured = {q: capacity.parameter_multiplier(cap, q) for q in noisy} if 0.0 in qs else {}
    for i, q in enumerate(qs):
        if q not in measured or not np.isfinite(measured[q]):
            continue
        clean, curve = means[0.0], means[q]
        if measured[q] >= bound:  # censored: no noisy width reached the clean curve
            curves_ax.annotate(
                f"> x{bound:.3g}", (curve.index[-1], curve.iloc[-1]), fontsize=8, color=f"C{i}", va="bottom", ha="right"
            )
            continue
        level = (max(clean.min(), curve.min()) + min(clean.max(), curve.max())) / 2
        ends = [
            np.exp(perceptron._needed(c.index.to_numpy(float), c.to_numpy(), np.array([level]))[0])
            for c in (clean, curve)
        ]
        curves_ax.annotate(
            "", xy=(ends[1], level), xytext=(ends[0], level), arrowprops={"arrowstyle": "->", "color": f"C{i}"}
        )
        curves_ax.annotate(f"x{measured[q]:.3g}", (ends[1], level), fontsize=8, color=f"C{i}", va="bottom")
    plots.loglog(curves_ax)
    d, k, n = (int(cap[c].iloc[0]) for c in ("capacity_d", "teacher_units", "n_pool"))
    curves_ax.set(
        xlabel="student parameters",
        ylabel="test error (clean teacher)",
        title=f"MLP on a {k}-unit teacher (d = {d}), n = {n}",
    )
    curves_ax.legend(fontsize=8)
    if measured:
        finite = {q: m for q, m in measured.items() if np.isfinite(m)}
        exact = [q for q, m in finite.items() if m < bound]
        lower = [q for q, m in finite.items() if m >= bound]
        multiplier_ax.plot(exact, [finite[q] for q in exact], "s", color="C1", label="MLP, parameters (fixed n)")
        if lower:
            multiplier_ax.plot(lower, [bound] * len(lower), "^", color="C1", label="lower bound (beyond the sweep)")
        qq = np.linspace(0, max(noisy) * 1.05, 100)
        plots.theory_curve(
            multiplier_ax, qq, perceptron.multiplier_theory(qq), label="perceptron data law 1 / (1 - 2q)^2"
        )
        multiplier_ax.axhline(1.0, color="grey", linewidth=0.8)
        multiplier_ax.set_yscale("log")
        multiplier_ax.legend(fontsize=8)
    multiplier_ax.set(
        xlabel="label-flip rate q",
        ylabel="noisy parameters needed / clean",
        title="Parameter multiplier of clean labels",
    )
