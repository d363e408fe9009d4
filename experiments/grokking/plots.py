"""Grokking: figures of accuracy curves and progress measures."""

from __future__ import annotations

from physai import Results

from .task import TEST_ACC


def _t_grok(ok, fraction: float, decayed: bool) -> float:
    """Median steps to grok over the runs of one fraction (wd > 0 or wd = 0) that grokked; NaN if none."""
    runs = ok[(ok["train_fraction"] == fraction) & ((ok["weight_decay"] > 0) == decayed) & ok["grokked"].astype(bool)]
    return float(runs["steps_to_grok"].median()) if len(runs) else float("nan")


def plot(results: Results) -> dict:
    """Figures: accuracy curves per fraction and weight decay; test accuracy, weight norm and Fourier Gini vs step,
    each with the median step to grok (t_grok) marked and one legend per figure (outside the panels)."""
    import seaborn as sns
    from matplotlib.lines import Line2D

    from analysis import plots

    figures = {}
    curves = results.curves
    if curves.empty:
        return figures
    ok = results.ok
    df = curves.merge(ok[["trial_id", "train_fraction", "weight_decay", "seed"]], on="trial_id")
    fracs = sorted(ok["train_fraction"].unique())
    decays = sorted(ok["weight_decay"].unique())
    wd_colour = dict(zip(decays, sns.color_palette("colorblind", len(decays))))
    split_style = {"train": "--", "test": "-"}

    # accuracy: one panel per fraction, colour = weight decay, line style = split
    acc = df[df["metric"] == "acc"]
    fig, axes = plots.figure(ncols=len(fracs), width=4.2, height=3.6, squeeze=False, sharey=True)
    for ax, frac in zip(axes[0], fracs):
        for (wd, split, _), run in acc[acc["train_fraction"] == frac].groupby(["weight_decay", "split", "trial_id"]):
            ax.plot(run["step"], run["value"], color=wd_colour[wd], ls=split_style.get(split, ":"), lw=1)
        for wd in decays:
            t = _t_grok(ok, frac, wd > 0)
            if t == t:
                ax.axvline(t, color=wd_colour[wd], lw=0.8, ls=":")
        ax.set_xscale("symlog", linthresh=100)
        ax.set_xlim(left=0)
        ax.axhline(TEST_ACC, color="grey", lw=0.8, ls=":")
        ax.set(title=f"train fraction {frac:g}", xlabel="step", ylabel="accuracy")
    handles = [Line2D([], [], color=wd_colour[wd], label=f"weight decay {wd:g}") for wd in decays]
    handles += [Line2D([], [], color="k", ls=ls, label=f"{split} accuracy") for split, ls in split_style.items()]
    handles.append(Line2D([], [], color="k", ls=":", lw=0.8, label="t_grok (median, test >= 95%)"))
    fig.legend(handles=handles, loc="lower center", ncol=len(handles), frameon=False, fontsize="small")
    fig.suptitle(f"Grokking (a + b) mod {int(ok['p'].iloc[0])}: embedding + MLP, full-batch AdamW")
    fig.tight_layout(rect=(0, 0.08, 1, 1))
    figures["accuracy"] = fig

    # progress measures: colour = fraction; wd > 0 solid, wd = 0 dashed (weight norm only: the control)
    frac_colour = dict(zip(fracs, sns.color_palette("viridis", len(fracs))))
    fig, axes = plots.figure(ncols=3, width=4.2, height=3.6)
    panels = [
        ("acc", "test accuracy"),
        ("weight_norm", "total weight norm"),
        ("fourier_gini", "embedding Fourier Gini"),
    ]
    for ax, (metric, label) in zip(axes, panels):
        sub = df[(df["metric"] == metric) & ((metric != "acc") | (df["split"] == "test"))]
        if metric != "weight_norm":
            sub = sub[sub["weight_decay"] > 0]
        for (frac, wd, _), run in sub.groupby(["train_fraction", "weight_decay", "trial_id"]):
            ax.plot(run["step"], run["value"], color=frac_colour[frac], ls="-" if wd > 0 else "--", lw=1)
        for frac in fracs:
            t = _t_grok(ok, frac, True)
            if t == t:
                ax.axvline(t, color=frac_colour[frac], lw=0.8, ls=":")
        ax.set(xlabel="step", ylabel=label, title=label)
    handles = [Line2D([], [], color=frac_colour[f], label=f"train fraction {f:g}") for f in fracs]
    handles += [
        Line2D([], [], color="k", label="weight decay > 0"),
        Line2D([], [], color="k", ls="--", label="weight decay 0 (norm only)"),
        Line2D([], [], color="k", ls=":", lw=0.8, label="t_grok (median, wd > 0)"),
    ]
    fig.legend(handles=handles, loc="lower center", ncol=min(len(handles), 6), frameon=False, fontsize="small")
    fig.tight_layout(rect=(0, 0.1, 1, 1))
    figures["progress_measures"] = fig
    return figures
