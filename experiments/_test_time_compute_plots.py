"""Figures of test_time_compute: coverage vs k (Brown et al. 2024, Fig. 2), -log pass@k vs k on
log-log axes with the tail-exponent line (Schaeffer et al. 2025, Fig. 3), and the voting curve
against its exact closed form (Chen et al. 2024, Fig. 1)."""

from __future__ import annotations

import numpy as np

from experiments.test_time_compute import K_LO, exponents, per_seed
from physai import Results


def plot(results: Results) -> dict:
    from analysis import plots

    passk = per_seed(results, ["fail_hat", "fail_exact", "tail_cdf"])
    votes = per_seed(results, ["vote_measured", "vote_exact"])
    if passk.empty:
        return {}
    fig, axes = plots.figure(ncols=3, width=4.2, height=3.6)
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
    for ax in axes:
        ax.legend(fontsize=7)
    return {"test_time_compute": fig}
