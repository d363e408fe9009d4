"""Patterns before noise: do networks fit learnable structure first and memorise noisy labels later?

Question
  A network that can fit random labels (Zhang, Bengio, Hardt, Recht & Vinyals 2017, ICLR,
  "Understanding deep learning requires rethinking generalization") still learns the
  structure of real data first: "DNNs learn simple patterns first, before memorizing"
  (Arpit et al. 2017, ICML, "A closer look at memorization in deep networks"). Early in
  training a mislabelled example is predicted with its true class, and is fitted with its
  given label only later (Liu, Niles-Weed, Razavian & Fernandez-Granda 2020, NeurIPS,
  "Early-learning regularization prevents memorization of noisy labels", Fig. 1). The
  linear anchor: gradient descent on least squares learns each eigendirection of the input
  covariance at a rate proportional to its eigenvalue (Saxe, McClelland & Ganguli 2014,
  ICLR): large-variance structure first, small-variance detail last.

Hypotheses, in words (each ``Hypothesis.source`` gives the paper, place and tolerance)
  a. noisy_predicted_true_first: at the logged step where the mislabelled training points are
     most often predicted with their true class, fewer than chance (1/C) of them are
     predicted with their given label, and more than half with their true one.
  b. clean_before_noisy: the clean training points reach 90% accuracy before the
     mislabelled ones do (ratio of the two times > 1).
  c. early_stopping_gap: the best test accuracy over the first half of training exceeds the
     mean test accuracy over the last tenth by more than three binomial standard errors of
     the test set.
  d. fit_time_grows_with_q: the step at which the whole training set is fitted (100% train
     accuracy on the given labels) rises with the label-noise fraction q over the swept range
     (q from 0 to 0.6 in the paper preset): per-seed Spearman rho between q and fit time,
     averaged over seeds, >= 0.8.
  e. weight_decay_delays_memorisation: weight decay raises the log time to memorise the
     mislabelled points (90% given-label accuracy) by more than it moves the log best test
     accuracy.
  f. linear_modes_by_eigenvalue: in the linear anchor the time for the residual along
     eigendirection k to fall to 1/e scales as 1/lambda_k (log-log slope in [0.9, 1.1]) with
     prefactor lr * lambda_k * t_k in [0.9, 1.1].
  Every interval is a 95% cluster bootstrap over seeds (``physai.evidence``).

Set-up (CPU scale)
  MLP part: C = 4 Gaussian classes in d = 20 (class means drawn per seed, pairwise distance
  ``sep`` = 6 noise standard deviations: nearly separable, so q = 0 is a clean task),
  n = 1000 training points, 2000 test points. A fraction q of the training labels is redrawn
  uniformly over the C classes (Zhang et al.'s convention), so only q (C - 1) / C of them
  actually change; "mislabelled" means changed (the fraction is stored per trial as
  ``changed_fraction``), "clean" the rest. Students: one-hidden-layer ReLU MLPs of width 256,
  cross-entropy, AdamW on minibatches of 100 (lr 1e-3; decoupled weight decay ``wd``, 0 or
  2), 4000 steps; accuracies logged every 40 steps on the clean and the mislabelled training
  points (against given and true labels), on the whole training set and on the test set.
  Linear part: least squares y = X w* (no noise, n = 4000, d = 8) with Gaussian inputs of
  diagonal covariance lambda_k spread geometrically over a factor ``lin_ratio`` = 16,
  gradient descent from zero at lr = ``lin_lr`` / lambda_max (lin_lr = 0.02), the residual
  (w* - w)_k / w*_k along every axis logged every 4 steps. Seeds vary the data, the
  initialisation and the minibatches.

Run
  physai demo memorisation                     # 3 q x 2 seeds, weight decay at q = 0.3
  physai verify memorisation --preset paper    # 4 q x 6 seeds, weight decay at q = 0.4
  physai verify memorisation --preset tiny     # seconds; for tests only
  Expected runtime on 2 CPU cores: demo ~0.5 min, paper ~2-4 min (more on busy cores or with an
  empty JAX compilation cache).

Known limitations
  Times are read at logged steps (every 40), so a time is known to within one log interval,
  and the clean points usually pass 90% at the first logged step. A subset never fitted
  within the run gets the time "one log interval after the end" (censored); for (b) and (e)
  this can only shrink the measured delay, for (d) several censored q would tie and lower
  rho. Minibatches matter for (d): in full-batch Adam runs of this task the time to fit
  every label stopped rising beyond a small q (why is not tested here), so the claim is
  tested in the papers' minibatch regime only. Small
  scale: one hidden layer and synthetic Gaussian classes, not CIFAR-10 and convolutional
  networks as in the papers.
"""

from __future__ import annotations

from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pandas as pd

import physai
from experiments.memorisation.checks import HYPOTHESES, spectrum
from physai import Experiment, Preset, Results, ShardResult, chain, product
from physai import train as trainer
from physai.domains import NON_NEGATIVE, POSITIVE_INT, Domain
from physai.models.mlp import MLP

# ----------------------------------------------------------------------------- run


@dataclass(frozen=True)
class Static(physai.Static):
    part: str
    d: int
    n: int
    n_test: int
    classes: int
    width: int
    batch: int
    steps: int
    log_every: int
    lin_d: int
    lin_n: int
    lin_steps: int


def gaussian_classes(key, n: int, n_test: int, d: int, classes: int, sep, q):
    """C Gaussian classes (unit noise, means at pairwise distance ~``sep``); a fraction q of
    the training labels redrawn uniformly over all C classes (so q (C-1)/C change)."""
    k_mu, k_y, k_x, k_yt, k_xt, k_r, k_new = jax.random.split(key, 7)
    mu = jax.random.normal(k_mu, (classes, d)) * sep / jnp.sqrt(2.0 * d)
    y = jax.random.randint(k_y, (n,), 0, classes)
    y_test = jax.random.randint(k_yt, (n_test,), 0, classes)
    x = mu[y] + jax.random.normal(k_x, (n, d))
    x_test = mu[y_test] + jax.random.normal(k_xt, (n_test, d))
    redrawn = jax.random.uniform(k_r, (n,)) < q
    given = jnp.where(redrawn, jax.random.randint(k_new, (n,), 0, classes), y)
    return {"x_train": x, "y_train": given, "y_true": y, "changed": given != y, "x_test": x_test, "y_test": y_test}


def make_task(st: Static) -> trainer.Task:
    model = MLP(width=st.width, depth=1, out=st.classes, activation="relu")

    def data(key, hp):
        return gaussian_classes(key, st.n, st.n_test, st.d, st.classes, hp["sep"], hp["q"])

    def loss(params, batch, hp):
        logits = model.apply({"params": params}, batch["x_train"])
        return optax.softmax_cross_entropy_with_integer_labels(logits, batch["y_train"]).mean()

    def subset_mean(hit, mask):
        count = mask.sum()
        return jnp.where(count > 0, (hit * mask).sum() / jnp.maximum(count, 1), jnp.nan)

    def metrics(params, data, hp):
        pred = jnp.argmax(model.apply({"params": params}, data["x_train"]), axis=-1)
        pred_test = jnp.argmax(model.apply({"params": params}, data["x_test"]), axis=-1)
        given, true, changed = pred == data["y_train"], pred == data["y_true"], data["changed"]
        return {
            "train_acc": given.mean(),
            "train_clean_acc": subset_mean(given, ~changed),
            "train_noisy_acc": subset_mean(given, changed),
            "train_noisy_true_acc": subset_mean(true, changed),
            "test_acc": (pred_test == data["y_test"]).mean(),
        }

    return trainer.Task(
        data=data,
        init=lambda key, hp: model.init(key, jnp.zeros((1, st.d)))["params"],
        loss=loss,
        metrics=metrics,
        optimizer=lambda hp: optax.adamw(hp["lr"], weight_decay=hp["wd"]),
        probe=lambda key, params, data, hp: {"changed_fraction": data["changed"].mean()},
    )


def run_linear(shard) -> ShardResult:
    """Gradient descent on noiseless least squares from zero, per seed; the residual along each
    eigendirection of the input covariance is logged (``split = linear``, ``residual_k``)."""
    st, rows, frames = shard.static, [], []
    for t in shard.trials:
        p = t.params
        lam = spectrum(st.lin_d, p["lin_ratio"])
        rng = np.random.default_rng([int(p["seed"]), 1])
        x = rng.standard_normal((st.lin_n, st.lin_d)) * np.sqrt(lam)
        cov = x.T @ x / st.lin_n  # the empirical covariance the descent actually sees
        step = np.eye(st.lin_d) - (float(p["lin_lr"]) / lam.max()) * cov
        residual, every = np.ones(st.lin_d), int(p["lin_log_every"])  # (w* - w)_k / w*_k, w* = 1, w = 0
        logged = [residual]
        for i in range(1, st.lin_steps + 1):
            residual = step @ residual
            if i % every == 0:
                logged.append(residual)
        logged = np.abs(np.array(logged))
        steps = np.arange(len(logged)) * every
        frames += [
            pd.DataFrame(
                {
                    "trial_id": t.trial_id,
                    "step": steps,
                    "split": "linear",
                    "metric": f"residual_{k}",
                    "value": logged[:, k],
                }
            )
            for k in range(st.lin_d)
        ]
        rows.append({"final_residual_max": float(logged[-1].max()), "status": "ok"})
    return ShardResult(rows, pd.concat(frames, ignore_index=True))


def run(shard) -> ShardResult:
    st = shard.static
    if st.part == "linear":
        return run_linear(shard)
    return trainer.run_shard(
        make_task(st),
        shard,
        ("seed", "q", "wd", "lr", "sep"),
        steps=st.steps,
        log_every=st.log_every,
        batch_size=st.batch,
    )


# ----------------------------------------------------------------------------- presets

SETTINGS = {
    "d": 20, "n": 1000, "n_test": 2000, "classes": 4, "sep": 6.0, "width": 256, "lr": 1e-3, "batch": 100,
    "steps": 4000, "log_every": 40,
    "lin_d": 8, "lin_n": 4000, "lin_ratio": 16.0, "lin_lr": 0.02, "lin_steps": 1600, "lin_log_every": 4,
}  # fmt: skip
WD = 2.0  # decoupled weight decay of the regularised runs (AdamW: params shrink by lr * wd per step)


def _grid(qs, seeds, wd_q=0.4):
    return chain(
        product(part=["mlp"], q=list(qs), wd=[0.0], seed=list(seeds)),
        product(part=["mlp"], q=[wd_q], wd=[WD], seed=list(seeds)),
        product(part=["linear"], seed=list(seeds)),
    )


PRESETS = {
    "tiny": Preset(
        _grid([0.2, 0.4, 0.6], [0, 1]),
        {
            **SETTINGS,
            "n": 100,
            "n_test": 200,
            "width": 64,
            "lr": 1e-2,
            "batch": 20,
            "steps": 400,
            "log_every": 20,
            "lin_steps": 400,
        },
        "seconds; for tests (no claim that the phenomenon shows)",
    ),
    "demo": Preset(_grid([0.0, 0.3, 0.6], range(2), wd_q=0.3), {**SETTINGS, "steps": 3000}, "3 q x 2 seeds"),
    "paper": Preset(_grid([0.0, 0.2, 0.4, 0.6], range(6)), SETTINGS, "4 q x 6 seeds, weight decay at q = 0.4"),
}

DOMAINS = {
    "part": Domain(choices=("mlp", "linear")),
    "q": Domain(low=0, high=1),
    "sep": NON_NEGATIVE,
    "lin_d": Domain(low=3, integer=True),
    "lin_n": POSITIVE_INT,
    "lin_ratio": Domain(low=1, low_open=True),
    "lin_lr": Domain(low=0, high=1, low_open=True),
    "lin_steps": POSITIVE_INT,
    "lin_log_every": POSITIVE_INT,
}


def plot(results: Results) -> dict:
    from experiments.memorisation.plots import plot_all

    return plot_all(results)


EXPERIMENT = Experiment(
    name="memorisation",
    question="Do networks fit learnable structure first and memorise noisy labels later?",
    hypotheses=HYPOTHESES,
    presets=PRESETS,
    run=run,
    plot=plot,
    static=Static,
    max_shard_size=64,
    cost=lambda st, n_trials: n_trials * (0.02 if st.part == "linear" else 1.0),
    doc=__doc__,
    domains=DOMAINS,
)
