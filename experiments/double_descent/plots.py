"""Figures of the double-descent group: one function per part (each part's ``plot`` calls it)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from analysis import plots
from experiments.double_descent import median_table
from experiments.double_descent.mlp import INTERP_REL_MSE, _anchor_noise, _rows, _summary
from experiments.double_descent.theory import expected_coef_norm2, finite_n_risk, gaussian_equivalent_risk, hastie_risk
from physai import Results

# ----------------------------------------------------------------------------- linear


def _mean_sem(df: pd.DataFrame, by: str, value: str) -> pd.DataFrame:
    g = df.groupby(by)[value]
    return pd.DataFrame({"mean": g.mean(), "sem": g.std(ddof=1) / np.sqrt(g.count())}).reset_index()


def linear(results: Results) -> dict:
    """Mean min-norm risk (+- s.e.) vs gamma against the exact finite-n expectation and its
    limit; beside it the coefficient norm against its exact expectation."""
    lin = results.ok
    if lin.empty:
        return {}
    n = int(lin["n"].iloc[0])
    r2, s2 = float(lin["signal"].iloc[0]) ** 2, float(lin["noise"].iloc[0]) ** 2
    panels = [("risk", "excess test risk E||b - beta||^2", finite_n_risk)]
    if "coef_norm" in lin:  # tables written before the column existed have no norm
        lin = lin.assign(coef_norm2=lin["coef_norm"] ** 2)
        panels.append(("coef_norm2", "squared coefficient norm ||b||^2", expected_coef_norm2))
    fig, axes = plots.figure(ncols=len(panels), width=5.6, height=4.2, squeeze=False)
    g = np.geomspace(lin["p_over_n"].min(), lin["p_over_n"].max(), 600)
    p_line = np.unique(np.round(g * n))
    for ax, (column, label, law) in zip(axes[0], panels):
        stats = _mean_sem(lin, "p_over_n", column)
        near = ~np.isfinite(law(np.round(stats["p_over_n"] * n), n, r2, s2))  # infinite expectation
        away = stats[~near]
        ax.errorbar(
            away["p_over_n"],
            away["mean"],
            yerr=away["sem"],
            fmt="o",
            ms=4,
            capsize=2,
            label=f"min-norm least squares (mean +- s.e., {lin['seed'].nunique()} seeds)",
        )
        exact = law(p_line, n, r2, s2)
        plots.theory_curve(ax, np.where(np.isfinite(exact), p_line / n, np.nan), exact, "exact finite-n expectation")
        if column == "risk":
            gl = g[np.abs(g - 1) > 0.01]
            ax.plot(gl, hastie_risk(gl, r2, s2), color="grey", ls=":", lw=1.2, label="n -> inf limit (Hastie Thm 1)")
        plots.mark_threshold(ax, 1.0, "p = n")
        plots.loglog(ax)
        if len(away):  # at p = n the expectation is infinite: keep the axis on the rest, say so in text
            ax.set_ylim(0.5 * away["mean"].min(), 30 * away["mean"].max())
        if near.any() and len(away):
            text = "; ".join(
                f"p/n = {x:.3g}: mean {m:.3g}" for x, m in zip(stats.loc[near, "p_over_n"], stats.loc[near, "mean"])
            )
            ax.text(0.5, 0.97, f"off scale: {text}", transform=ax.transAxes, fontsize=7, ha="center", va="top")
        ax.set(xlabel="gamma = p / n", ylabel=label)
        ax.legend(fontsize=7, loc="lower right")
    fig.suptitle(
        f"Min-norm linear regression (n = {n}, sigma = {lin['noise'].iloc[0]:g}, r = {lin['signal'].iloc[0]:g})"
    )
    fig.tight_layout()
    return {"linear_theory": fig}


# ----------------------------------------------------------------------------- random features


def _rf_curve(results: Results, noise: float, ridge: float) -> pd.DataFrame:
    """Median test MSE over seeds per p (with bootstrap CI), for the figure."""
    df = results.ok
    if not df.empty:
        df = df[np.isclose(df["noise"], noise) & np.isclose(df["ridge"], ridge)]
    if df.empty:
        return pd.DataFrame(columns=["p", "p_over_n", "median", "low", "high", "n"])
    med = median_table(df, "p", "test_mse")
    med["p_over_n"] = med["p"] / df["n"].iloc[0]
    return med.sort_values("p").reset_index(drop=True)


def _theory_points(rf: pd.DataFrame, noise: float) -> pd.DataFrame:
    """The Gaussian-equivalent expectation at each p in [n/2, n - 2] with a measured s^2."""
    rows = rf[np.isclose(rf["noise"], noise) & (rf["ridge"] == 0)]
    if "approx_mse" not in rows or rows["approx_mse"].isna().all():
        return pd.DataFrame(columns=["p_over_n", "expected"])
    n = int(rows["n"].iloc[0])
    s2 = rows.groupby("p")["approx_mse"].mean().dropna()
    s2 = s2[(s2.index >= n / 2) & (s2.index <= n - 2)]
    expected = gaussian_equivalent_risk(s2.index.to_numpy(float), n, s2.to_numpy(), noise**2)
    return pd.DataFrame({"p_over_n": s2.index / n, "expected": expected})


def random_features(results: Results) -> dict:
    """Top: median test MSE vs p / n, with and without ridge, one panel per label-noise level,
    with the finite-n expectation just below p = n (mean over seeds, which it predicts, beside
    it). Bottom: the read-out's norm ||a||, which Belkin et al. plot beside the risk."""
    rf = results.ok
    if rf.empty:
        return {}
    noises = sorted(rf["noise"].unique())
    fig, axes = plots.figure(ncols=len(noises), nrows=2, width=5.2, height=3.6, squeeze=False, sharex=True)
    for col, noise in enumerate(noises):
        ax, ax_norm = axes[0][col], axes[1][col]
        for ridge in sorted(rf["ridge"].unique()):
            med = _rf_curve(results, noise, ridge)
            label = "min-norm (ridge 0)" if ridge == 0 else f"ridge {ridge:g}"
            plots.band(ax, med["p_over_n"], med["median"], med["low"], med["high"], label)
            rows = rf[np.isclose(rf["noise"], noise) & np.isclose(rf["ridge"], ridge)]
            norm = median_table(rows, "p", "coef_norm").sort_values("p")
            plots.band(ax_norm, norm["p"] / rows["n"].iloc[0], norm["median"], norm["low"], norm["high"], label)
        theory = _theory_points(rf, noise)
        if len(theory):
            rows = rf[np.isclose(rf["noise"], noise) & (rf["ridge"] == 0)]
            n = int(rows["n"].iloc[0])
            mean = rows.groupby("p")["test_mse"].mean()
            mean = mean[np.isin(mean.index / n, theory["p_over_n"])]
            ax.plot(mean.index / n, mean.to_numpy(), "x", color="black", ms=6, label="min-norm mean over seeds")
            plots.theory_curve(
                ax, theory["p_over_n"], theory["expected"], "finite-n law (Gaussian-equivalent)", marker="o", mfc="none"
            )
        for a_ in (ax, ax_norm):
            plots.mark_threshold(a_, 1.0, "p = n")
            plots.loglog(a_)
        ax.set(title=f"label noise {noise:g}")
        ax_norm.set(xlabel="p / n (random features per sample)")
    axes[0][0].set_ylabel("test MSE (median, 95% CI)")
    axes[1][0].set_ylabel("read-out norm ||a|| (median)")
    axes[0][0].legend(fontsize=7)
    fig.suptitle(
        f"ReLU random features (n = {int(rf['n'].iloc[0])}, "
        f"d = {int(rf['rf_d'].iloc[0])}, {rf['seed'].nunique()} seeds)"
    )
    return {"random_features": fig}


# ----------------------------------------------------------------------------- mlp


def _mlp_curves(results: Results, noise: float):
    """Median test and train curves over seeds per width (with bootstrap CI), for the figure."""
    df = results.ok
    if not df.empty:
        df = df[np.isclose(df["noise"], noise)]
    if df.empty or df["width"].nunique() < 3:
        return None
    test = median_table(df, "width", "test_mse").set_index("width")
    train = median_table(df, "width", "train_rel_mse").set_index("width")
    return pd.DataFrame(
        {
            "test": test["median"],
            "train_rel": train["median"],
            "test_low": test["low"],
            "test_high": test["high"],
            "seeds": test["n"],
        }
    ).sort_index()


def mlp(results: Results) -> dict:
    """Median test and train error vs hidden width, per label-noise level."""
    mlp = results.ok
    if mlp.empty:
        return {}
    fig, axes = plots.figure(ncols=2, width=5.5, height=4.2)
    for noise in sorted(mlp["noise"].unique()):
        curve = _mlp_curves(results, noise)
        if curve is None:
            continue
        train = median_table(mlp[np.isclose(mlp["noise"], noise)], "width", "train_rel_mse").set_index("width")
        plots.band(axes[0], curve.index, curve["test"], curve["test_low"], curve["test_high"], f"label noise {noise:g}")
        plots.band(axes[1], train.index, train["median"], train["low"], train["high"], f"label noise {noise:g}")
    axes[1].axhline(INTERP_REL_MSE, color="grey", ls="-.", lw=1, label=f"fits: train MSE < {INTERP_REL_MSE:g} var(y)")
    noisy = _rows(mlp, _anchor_noise(mlp))
    if noisy is not None:
        s = _summary(noisy)
        if not math.isnan(s["threshold"]):
            for ax in axes:
                plots.mark_threshold(ax, s["threshold"], f"interpolation threshold (width {s['threshold']})")
    n, d = int(mlp["n"].iloc[0]), int(mlp["mlp_d"].iloc[0])
    for ax in axes:
        plots.loglog(ax)
        ax.set_xlabel("hidden width")
        ax.legend(fontsize=7)
    axes[0].set(
        ylabel="test MSE vs clean teacher (median, 95% CI)", title=f"2-layer MLPs, full-batch Adam (n = {n}, d = {d})"
    )
    axes[1].set(ylabel="train MSE / var(y_train)", title="training error")
    top = axes[0].secondary_xaxis("top", functions=(lambda w: (w * (d + 2) + 1) / n, lambda r: (r * n - 1) / (d + 2)))
    top.set_xlabel("parameters / n")
    fig.tight_layout()
    return {"mlp_width": fig}
