"""Figures of ``experiments.memorisation``: accuracy curves per q (as Arpit et al. 2017 and Liu et
al. 2020 draw them), time to fit vs q, and the linear anchor's residuals against theory."""

from __future__ import annotations

import numpy as np

CURVES = {
    ("train", "clean_acc"): ("clean train (given label)", "C0", "-"),
    ("train", "noisy_acc"): ("mislabelled train (given label)", "C3", "-"),
    ("train", "noisy_true_acc"): ("mislabelled train (true label)", "C3", "--"),
    ("test", "acc"): ("test", "k", "-"),
}


def plot_all(results) -> dict:
    """Returns: ``{"memorisation": figure}``: one accuracy panel per q (wd = 0, median over seeds),
    the time to fit the training set vs q, and the linear residuals against exp(-lr lambda t)."""
    from analysis import plots
    from experiments.memorisation import checks as mem

    t, c = results.trials, results.curves
    if t.empty or c is None or c.empty:
        return {}
    if "part" not in t.columns:
        return {}
    mlp = t[(t["part"] == "mlp") & (t["wd"] == 0)] if "wd" in t.columns else t.iloc[:0]
    qs = sorted(set(mlp["q"])) if len(mlp) else []
    fig, axes = plots.figure(ncols=len(qs) + 2, width=4.2, height=3.6)
    for ax, q in zip(axes, qs):
        ids = mlp.loc[mlp["q"] == q, "trial_id"]
        sub = c[c["trial_id"].isin(ids)]
        for (split, metric), (label, color, ls) in CURVES.items():
            g = sub[(sub["split"] == split) & (sub["metric"] == metric)]
            if g.empty or g["value"].isna().all():
                continue
            med = g.groupby("step")["value"].median()
            ax.plot(med.index, med.to_numpy(), color=color, ls=ls, label=label)
        classes = int(mlp["classes"].iloc[0])
        ax.axhline(1.0 / classes, color="grey", ls=":", lw=1, label=f"chance 1/{classes}")
        ax.set(xlabel="step", ylabel="accuracy", title=f"q = {q:g} (median over seeds)", ylim=(-0.02, 1.02))
    if qs:
        axes[len(qs) - 1].legend(fontsize=7)  # the largest q: every curve is drawn there
    table = mem.trial_table(results)
    ax = axes[len(qs)]
    base = table[table["wd"] == 0]
    if len(base):
        ax.scatter(base["q"], base["t_fit"], alpha=0.5, label="seeds")
        med = base.groupby("q")["t_fit"].median()
        ax.plot(med.index, med.to_numpy(), marker="o", color="k", label="median")
        reg = table[table["wd"] > 0]
        if len(reg):
            ax.scatter(
                reg["q"], reg["t_noisy"], marker="x", color="C2", label="t_noisy with weight decay (end + 1 log: never)"
            )
            both = base[base["q"].isin(set(reg["q"]))]
            ax.scatter(both["q"], both["t_noisy"], marker="+", color="C3", label="t_noisy without")
        ax.legend(fontsize=7)
    ax.set(xlabel="label-noise fraction q", ylabel="step", title="Time to fit every training label")
    ax = axes[len(qs) + 1]
    lin = t[t["part"] == "linear"]
    if len(lin):
        first = lin.iloc[0]
        lam = mem.spectrum(int(first["lin_d"]), float(first["lin_ratio"]))
        lr = float(first["lin_lr"]) / lam.max()
        g = c[(c["trial_id"] == first["trial_id"]) & (c["split"] == "linear")]
        for k, lam_k in enumerate(lam):
            r = g[g["metric"] == f"residual_{k}"].sort_values("step")
            ax.plot(lr * lam_k * r["step"], r["value"], lw=1, alpha=0.7, color=f"C{k % 10}")
        x = np.linspace(0, 3, 100)
        plots.theory_curve(ax, x, np.exp(-x), label="exp(-lr lambda_k t)")
        ax.set_yscale("log")
        ax.set(xlim=(0, 3), ylim=(1e-2, 1.2), xlabel="lr lambda_k t", ylabel="residual along direction k",
               title="Linear anchor: modes collapse")  # fmt: skip
        ax.legend(fontsize=7)
    fig.tight_layout()
    return {"memorisation": fig}
