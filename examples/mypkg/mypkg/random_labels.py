"""Random labels: can a network that generalises also memorise labels that carry no signal?

Question
  Zhang, Bengio, Hardt, Recht & Vinyals 2017 (ICLR), Fig. 1a and Table 1: networks that
  generalise on real labels also reach zero training error on randomly permuted labels,
  while their test error falls to chance. Capacity alone cannot explain generalisation.

Hypotheses (each decided by the bootstrap interval of a median over seeds, widest student)
  a. memorises_random_labels: train MSE on permuted labels <= 0.05 of the label variance.
  b. random_labels_do_not_generalise: test MSE / var <= 0.5 with real labels, >= 1 (chance:
     predicting the mean) with permuted ones.

Set-up
  n = 200 Gaussian inputs (d = 8) labelled by a random tanh teacher; permuting the training
  labels (``shuffle=1``) destroys the input-label relation but keeps their distribution.
  Two-layer ReLU students (widths masked to one compiled width), full-batch Adam.

Run
  physai run mypkg.random_labels --preset demo      # by module path (importable package)
  physai verify random_labels --preset demo         # by its entry-point name
  physai verify random_labels --preset tiny         # seconds
Expected runtime on 2 CPU cores: tiny ~5 s, demo ~20 s, paper ~3 min.
"""

from __future__ import annotations

from dataclasses import dataclass

import jax
import jax.numpy as jnp

import physai
from analysis.stats import median_ci
from physai import (
    Experiment,
    Hypothesis,
    Preset,
    Results,
    Source,
    all_of,
    curricula,
    product,
    tasks,
    verdict_from_interval,
)
from physai import train as trainer
from physai.domains import Domain

MEMORISED = 0.05  # train MSE / var(y): "fits the labels"
GENERALISES = 0.5  # test MSE / var(y) with real labels
CHANCE = 1.0  # test MSE / var(y) of predicting the mean


@dataclass(frozen=True)
class Static(physai.Static):
    """What fixes the compiled program: data sizes, the compiled width, the budget."""

    n: int
    n_test: int
    d: int
    max_width: int
    steps: int


def make_task(st: Static) -> trainer.Task:
    def data(key, hp):
        k_data, k_perm = jax.random.split(key)
        dat = curricula.teacher_student(k_data, st.n, st.n_test, st.d, teacher_width=8)
        permuted = jax.random.permutation(k_perm, dat["y_train"])
        return {**dat, "y_train": jnp.where(hp["shuffle"] > 0, permuted, dat["y_train"])}

    return tasks.masked_mlp_regression(data, st.d, st.max_width, metrics=("train_rel_mse", "test_rel_mse"))


def run(shard) -> physai.ShardResult:
    st = shard.static
    return trainer.run_shard(
        make_task(st), shard, ("seed", "width", "lr", "shuffle"), steps=st.steps, log_every=st.steps // 10
    )


def _median(results: Results, metric: str, shuffle: int, low: float, high: float, name: str = ""):
    """The median over seeds at the widest student, decided by its bootstrap interval."""
    ok = results.ok
    at_widest = ok[(ok["shuffle"] == shuffle) & (ok["width"] == ok["width"].max())][metric]
    median, lo, hi = median_ci(at_widest)
    what = f"median over seeds of {metric}"
    return verdict_from_interval(median, (lo, hi), low, high, len(at_widest), what, hypothesis=name)


def check_memorises(results: Results):
    return _median(results, "train_rel_mse", 1, 0.0, MEMORISED)


def check_generalisation_gap(results: Results):
    real = _median(results, "test_rel_mse", 0, 0.0, GENERALISES, "real labels")
    return all_of([real, _median(results, "test_rel_mse", 1, CHANCE, float("inf"), "permuted labels")])


ZHANG = "Zhang, Bengio, Hardt, Recht, Vinyals 2017, ICLR"
HYPOTHESES = (
    Hypothesis("memorises_random_labels", "An over-parameterised student fits permuted labels (<= 0.05 var).",
               "Zhang et al. 2017, Fig. 1a", check_memorises,
               source=Source(ZHANG, "Fig. 1a", "training error reaches zero on random labels",
                             "a convention of this example: 0.05 of the label variance allows for a finite budget")),
    Hypothesis("random_labels_do_not_generalise",
               "Real labels generalise (test MSE <= 0.5 var); permuted ones do not (>= chance, 1).",
               "Zhang et al. 2017, Table 1", check_generalisation_gap,
               source=Source(ZHANG, "Table 1", "test accuracy on random labels is at chance",
                             "chance is exactly 1 (predicting the mean); 0.5 is a convention of this example")),
)  # fmt: skip

SETTINGS = {"n": 200, "n_test": 1000, "d": 8, "max_width": 512, "steps": 3000, "lr": 3e-3}

PRESETS = {
    "tiny": Preset(product(width=[512], shuffle=[0, 1], seed=[0]), {**SETTINGS, "steps": 300}, "seconds; for tests"),
    "demo": Preset(product(width=[32, 512], shuffle=[0, 1], seed=range(5)), SETTINGS, "2 widths x 2 x 5 seeds"),
    "paper": Preset(
        product(width=[16, 64, 256, 512], shuffle=[0, 1], seed=range(8)),
        {**SETTINGS, "steps": 6000},
        "4 widths x real/permuted labels x 8 seeds",
    ),
}


def plot(results: Results) -> dict:
    from analysis import plots

    fig, axes = plots.figure(ncols=2, width=4.6)
    ok = results.ok.assign(labels=lambda t: t["shuffle"].map({0: "real", 1: "permuted"}))
    for ax, metric in zip(axes, ("train_rel_mse", "test_rel_mse")):
        for labels, g in ok.groupby("labels"):
            med = g.groupby("width")[metric].median()
            ax.plot(med.index, med.to_numpy(), marker="o", label=f"{labels} labels")
        ax.set(xscale="log", yscale="log", xlabel="student width", ylabel=metric.replace("_", " "))
        ax.legend(fontsize=8)
    axes[1].axhline(CHANCE, color="grey", ls="--", lw=1)
    fig.tight_layout()
    return {"random_labels": fig}


EXPERIMENT = Experiment(
    name="random_labels",
    question="Can a network that generalises also memorise labels that carry no signal?",
    hypotheses=HYPOTHESES, presets=PRESETS, run=run, plot=plot, static=Static, doc=__doc__,
    domains={"shuffle": Domain(choices=(0, 1))},  # width, lr, n, ...: physai.domains.COMMON
)  # fmt: skip
