"""Figures of test_time_compute: coverage vs k (Brown et al. 2024, Fig. 2), -log pass@k vs k on
log-log axes with the tail-exponent line (Schaeffer et al. 2025, Fig. 3), the voting curve
against its exact closed form (Chen et al. 2024, Fig. 1), and coverage and votes of a small and a
large model against inference FLOPs (Brown et al. 2024, Fig. 4)."""

from __future__ import annotations

import numpy as np

from experiments.test_time_compute.compute_trade import trade_table
from experiments.test_time_compute.sampling import K_LO, exponents, per_seed
from physai import Results


def plot(results: Results) -> dict:
    from analysis import plots

    passk = per_seed(results, ["fail_hat", "fail_exact", "tail_cdf"])
    votes = per_seed(results, ["vote_measured", "vote_exact"])
    if passk.empty:
        return {}
    fig, axes = plots.figure(ncols=4, width=4.2, height=3.6)
    for temp, rows in passk.groupby("temperature"):
        g = rows.groupby("step").mean(numeric_only=True)
        k = g.index.to_numpy(float)
        (line,) = axes[0].plot(k, 1 - g["fail_hat"], "o", ms=3, label=f"T = {temp:g}, estimator")
        axes[0].plot(k, 1 - g["fail_exact"], "-", color=line.get_color(), lw=1, label="1 - mean (1 - p_i)^k")
        neglog = -np.log1p(-g["fail_hat"].to_numpy())
        axes[1].plot(k, neglog, "o", ms=3, color=line.get_color(), label=f"T = {temp:g}: -log pass@k")
        e = exponents(rows).dropna()
        n = float(rows["n_samples"].iloc[0])
        window = (k >= K_LO) & (k <= n / 4)
        if len(e) and window.any():
            b = float(e["b_tail"].mean())
            k0 = k[window][0]
            y0 = neglog[window][0]
            kw = k[window]
            plots.theory_curve(axes[1], kw, y0 * (kw / k0) ** -b, f"slope -b_tail = {-b:.2f}")
    axes[0].set_xscale("log")
    axes[0].set(xlabel="samples k", ylabel="coverage pass@k", title="repeated sampling")
    plots.loglog(axes[1])
    axes[1].set(xlabel="samples k", ylabel="-log pass@k", title="power law from the tail of p_i")
    for (temp, hard), rows in votes.groupby(["temperature", votes.get("hard_fraction", votes["temperature"])]):
        g = rows.groupby("step").mean(numeric_only=True)
        (line,) = axes[2].plot(g.index, g["vote_measured"], "o", label=f"T = {temp:g}, hard fraction {hard:g}")
        plots.theory_curve(axes[2], g.index, g["vote_exact"], "exact plurality probability")
    axes[2].set_xscale("log")
    axes[2].set(xlabel="votes m", ylabel="majority-vote accuracy", title="voting on a mixed set")
    _trade(results, axes[3])
    for ax in axes:
        ax.legend(fontsize=7)
    axes[3].legend(fontsize=6, loc="center left", bbox_to_anchor=(1.02, 0.5))  # outside: the curves fill the panel
    fig.tight_layout()  # room for each panel's y label
    return {"test_time_compute": fig}


def _trade(results: Results, ax) -> None:
    """Coverage (dots: estimator; line: exact mean of 1 - (1 - p_i)^k) and majority vote (squares)
    of both models against inference FLOPs = samples x FLOPs per sample; dotted: each model's
    plurality accuracy, the vote's limit."""
    ok = results.ok
    if ok.empty or "flops_small" not in ok.columns:
        return
    for g, (key, trials) in enumerate(ok.groupby(["temperature", "width_small", "width_large"])):
        colors = {"small": f"C{2 * g}", "large": f"C{2 * g + 1}"}
        sub = Results(trials, results.curves, results.shards)
        widths = {"small": key[1], "large": key[2]}
        for size in ("small", "large"):
            flops = float(trials[f"flops_{size}"].iloc[0])
            per = float(trials["sample_ratio"].iloc[0]) if size == "small" else 1.0
            cov = trade_table(sub, [f"cov_k_{size}", f"cov_k_exact_{size}"]).groupby("step").mean(numeric_only=True)
            budget = trade_table(sub, [f"trade_vote_{size}"]).groupby("step").mean(numeric_only=True)
            if cov.empty:
                continue
            label = f"T = {key[0]:g}, width {widths[size]:g} ({flops:g} FLOPs/sample)"
            x = cov.index.to_numpy(float) * flops
            ax.plot(x, cov[f"cov_k_{size}"], "o", ms=3, color=colors[size], label=f"{label}: coverage")
            ax.plot(x, cov[f"cov_k_exact_{size}"], "-", lw=1, color=colors[size])
            xb = budget.index.to_numpy(float) * per * flops
            ax.plot(xb, budget[f"trade_vote_{size}"], "s--", ms=3, color=colors[size], label="majority vote")
            ax.axhline(float(trials[f"plurality_{size}"].mean()), ls=":", lw=1, color=colors[size])
    ax.set_xscale("log")
    ax.set(xlabel="inference FLOPs per problem", ylabel="coverage / vote accuracy", title="small vs large model")
