"""The compute trade: a small model sampled k times against a large model sampled once, at equal
inference FLOPs, with a verifier (coverage) and without one (majority vote); hypotheses 5-7 of the
package docstring.

Two one-hidden-layer tanh MLPs of widths ``width_small`` < ``width_large`` are trained on the same
data for the same number of full-batch Adam steps. A forward pass costs ``2 x params`` FLOPs
(one multiply and one add per weight), so one large-model sample buys ``r = floor(F_large /
F_small)`` small-model samples; a budget of ``B`` large-model samples buys ``B r`` small ones
(rounding down: never more compute than the large model's).
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from experiments.test_time_compute.sampling import answer_distribution, failure_estimate, k_grid, vote_measured
from physai import Hypothesis, Results, Source, Verdict, all_of
from physai.evidence import bootstrap_verdict, slim

BUDGETS = (1, 2, 4, 8, 16)  # inference budgets in units of one large-model sample
TRADE_REPEATS = 10  # fresh vote draws per problem and budget

# ----------------------------------------------------------------------------- task and models


def mlp_flops(dim: int, width: int, classes: int) -> int:
    """Inference FLOPs of one sample: 2 x the parameter count of a dim-width-classes MLP."""
    return 2 * (dim * width + width + width * classes + classes)


def sample_task(rng, centers: np.ndarray, classes: int, n: int) -> tuple[np.ndarray, np.ndarray]:
    """``n`` points of a Gaussian mixture with ``len(centers)`` unit-variance clusters, cluster j
    labelled ``j mod classes``: several clusters per answer make the boundary non-linear, so a wider
    network fits it better, and overlapping clusters give a spread of per-problem difficulty."""
    j = rng.integers(len(centers), size=n)
    return centers[j] + rng.standard_normal((n, centers.shape[1])), j % classes


def train_mlp(rng, data_seed, centers, classes: int, width: int, steps: int, batch: int, lr=0.01, decay=1e-4):
    """Adam on the cross-entropy of a tanh MLP, each step on a fresh batch of the task (online, as a
    language model sees most of its data once: no finite pool to memorise, so the wider network is
    the better model, not an overfitted one). ``data_seed`` fixes the stream: both widths see the
    same batches. Weight decay keeps every p_i > 0. The step size decays linearly to 0 over the
    second half, so the end point is not a snapshot of minibatch noise. Returns the final
    parameters and those at 3/4 of the steps (for the convergence flag)."""
    data = np.random.default_rng(data_seed)
    d = centers.shape[1]
    params = [
        rng.standard_normal((d, width)) / math.sqrt(d),
        np.zeros(width),
        rng.standard_normal((width, classes)) / math.sqrt(width),
        np.zeros(classes),
    ]
    m1 = [np.zeros_like(p) for p in params]
    m2 = [np.zeros_like(p) for p in params]
    snapshot = params
    for t in range(1, steps + 1):
        if t == (3 * steps) // 4 + 1:
            snapshot = list(params)
        x, y = sample_task(data, centers, classes, batch)
        onehot, n = np.eye(classes)[y], batch
        w1, b1, w2, b2 = params
        h = np.tanh(x @ w1 + b1)
        gz = (answer_distribution(h @ w2 + b2, 1.0) - onehot) / n
        gh = gz @ w2.T * (1 - h**2)
        grads = [x.T @ gh + decay * w1, gh.sum(0), h.T @ gz + decay * w2, gz.sum(0)]
        for i, g in enumerate(grads):
            m1[i] = 0.9 * m1[i] + 0.1 * g
            m2[i] = 0.999 * m2[i] + 0.001 * g * g
            step = lr * min(1.0, 2 * (1 - (t - 1) / steps))
            params[i] = params[i] - step * (m1[i] / (1 - 0.9**t)) / (np.sqrt(m2[i] / (1 - 0.999**t)) + 1e-8)
    return params, snapshot


def mlp_answers(params, x, temperature: float) -> np.ndarray:
    w1, b1, w2, b2 = params
    return answer_distribution(np.tanh(x @ w1 + b1) @ w2 + b2, temperature)


# ----------------------------------------------------------------------------- run


def measure(prm, curve) -> dict:
    """The compute-trade part of one trial: its row entries; curves at step = budget B (in large-
    model samples) and, for the figure, coverage at step = k samples of each model."""
    seed, classes, dim = int(prm["seed"]), int(prm["trade_classes"]), int(prm["trade_dim"])
    rng = np.random.default_rng([seed, 20240731, 2])  # its own stream: the sampling part is unchanged
    centers = float(prm["trade_separation"]) * rng.standard_normal((classes * int(prm["trade_clusters"]), dim))
    centers /= math.sqrt(dim)
    xt, yt = sample_task(rng, centers, classes, int(prm["trade_problems"]))
    widths = {"small": int(prm["width_small"]), "large": int(prm["width_large"])}
    flops = {s: mlp_flops(dim, w, classes) for s, w in widths.items()}
    r = max(flops["large"] // flops["small"], 1)
    row = {"flops_small": flops["small"], "flops_large": flops["large"], "sample_ratio": r}
    q, p = {}, {}
    for size, w in widths.items():
        init = np.random.default_rng([seed, 20240731, 3, w])
        params, snapshot = train_mlp(
            init, [seed, 20240731, 4], centers, classes, w, int(prm["trade_steps"]), int(prm["trade_batch"])
        )
        # test cross-entropy at the end, and how much it fell over the last quarter of training: the
        # models are compared at equal training (as released model families are), not at convergence
        loss = [float(-np.mean(np.log(mlp_answers(ps, xt, 1.0)[np.arange(len(yt)), yt]))) for ps in (params, snapshot)]
        row[f"test_loss_{size}"] = loss[0]
        row[f"test_loss_drop_{size}"] = loss[1] - loss[0]
        q[size] = mlp_answers(params, xt, float(prm["temperature"]))
        p[size] = q[size][np.arange(len(yt)), yt]
        row[f"pass1_{size}"] = float(p[size].mean())
        row[f"plurality_{size}"] = float(np.mean(q[size].argmax(1) == yt))  # the vote's m -> infinity limit
    per_sample = {"small": r, "large": 1}  # samples of each model that one large-model sample's FLOPs buy
    for size in ("small", "large"):
        n = per_sample[size] * max(BUDGETS)
        c = rng.binomial(n, p[size])  # right answers out of n samples, per problem
        for budget in BUDGETS:
            k = per_sample[size] * budget
            curve(budget, f"trade_cov_{size}", 1 - float(failure_estimate(n, c, k).mean()))
            curve(budget, f"trade_cov_exact_{size}", float(np.mean(1 - (1 - p[size]) ** k)))
            curve(budget, f"trade_vote_{size}", vote_measured(rng, q[size], yt, k, TRADE_REPEATS))
        for k in k_grid(n):
            curve(k, f"cov_k_{size}", 1 - float(failure_estimate(n, c, k).mean()))
            curve(k, f"cov_k_exact_{size}", float(np.mean(1 - (1 - p[size]) ** k)))
    return row


# ----------------------------------------------------------------------------- checks

KEYS = ["temperature", "width_small", "width_large"]


def trade_table(results: Results, metrics: list[str]) -> pd.DataFrame:
    """One row per (trial, budget): seed, the grid keys and the asked metrics."""
    ok, c = results.ok, results.curves
    cols = ["trial_id", "seed", *KEYS]
    if ok.empty or c.empty or not set(KEYS) <= set(ok.columns):
        return pd.DataFrame(columns=[*cols, "step", *metrics])
    c = c[c["metric"].isin(metrics) & c["trial_id"].isin(ok["trial_id"])]
    if c.empty:
        return pd.DataFrame(columns=[*cols, "step", *metrics])
    wide = c.pivot_table(index=["trial_id", "step"], columns="metric", values="value").reset_index()
    return wide.merge(ok[cols], on="trial_id").dropna(subset=metrics)


def _label(key, budget=None) -> str:
    text = f"T = {key[0]:g}, widths {key[1]:g} vs {key[2]:g}"
    return text if budget is None else f"{text}, budget {budget:g}"


def _difference(a: str, b: str):
    return lambda t: float(t[a].to_numpy(float).mean() - t[b].to_numpy(float).mean())


def _nonempty(parts: list[Verdict], what: str) -> list[Verdict]:
    return parts or [Verdict("inconclusive", math.nan, "", f"no {what}")]


def _per_budget(table, a, b, low, high, what) -> list[Verdict]:
    return [
        bootstrap_verdict(
            slim(rows, a, b), _difference(a, b), low, high, what, hypothesis=_label(key[:3], key[3]), strict=True
        )
        for key, rows in table.groupby([*KEYS, "step"])
    ]


def check_verifier_trade(results: Results) -> Verdict:
    """Small-model coverage with B r samples minus large-model coverage with B, > 0 at every budget."""
    table = trade_table(results, ["trade_cov_small", "trade_cov_large"])
    parts = _per_budget(table, "trade_cov_small", "trade_cov_large", 0.0, math.inf, "coverage small - large")
    return all_of(_nonempty(parts, "budget"), "with a verifier, k small samples beat the large model at equal FLOPs")


def check_vote_trade(results: Results) -> Verdict:
    """Small-model majority vote over B r samples minus the large model's vote over B, < 0 at every budget."""
    table = trade_table(results, ["trade_vote_small", "trade_vote_large"])
    parts = _per_budget(table, "trade_vote_small", "trade_vote_large", -math.inf, 0.0, "vote accuracy small - large")
    return all_of(_nonempty(parts, "budget"), "without a verifier, the large model wins at equal FLOPs")


def gains(table: pd.DataFrame) -> pd.DataFrame:
    """Per seed, the small model's coverage gain minus its vote gain from the least to the most
    budget present."""
    out = []
    for seed, rows in table.groupby("seed"):
        rows = rows.sort_values("step")
        if len(rows) < 2:
            continue
        first, last = rows.iloc[0], rows.iloc[-1]
        cov = last["trade_cov_small"] - first["trade_cov_small"]
        vote = last["trade_vote_small"] - first["trade_vote_small"]
        out.append((seed, cov - vote))
    return pd.DataFrame(out, columns=["seed", "excess"])


def check_vote_plateau(results: Results) -> Verdict:
    """Coverage gain minus vote gain of the small model over the budgets present, > 0."""
    table = trade_table(results, ["trade_cov_small", "trade_vote_small"])
    parts = []
    for key, rows in table.groupby(KEYS):
        g = gains(rows)
        parts.append(
            bootstrap_verdict(
                g,
                lambda t: float(t["excess"].mean()),
                0.0,
                math.inf,
                "coverage gain - vote gain",
                hypothesis=_label(key),
                strict=True,
            )
        )
    return all_of(_nonempty(parts, "pair of budgets"), "coverage keeps growing with budget while the vote plateaus")


TRADE_HYPOTHESES = (
    Hypothesis(
        "verifier_trade",
        "With a verifier, at equal inference FLOPs (a budget of B large-model samples buys B r small-model "
        "samples, r = floor(FLOPs_large / FLOPs_small)), the small model's coverage exceeds the large model's "
        "at every budget B on the grid: small - large > 0 (95% seed interval)",
        "Brown et al. 2024, Sec. 2.3 and Fig. 4",
        check_verifier_trade,
        source=Source(
            paper="Brown et al. 2024, 'Large Language Monkeys: Scaling Inference Compute with Repeated "
            "Sampling', arXiv:2407.21787",
            where="Sec. 2.3 and Fig. 4 (coverage against inference FLOPs, Llama-3-8B vs 70B)",
            statement="at a fixed FLOPs budget, sampling a smaller model more often can give more coverage "
            "than sampling a larger one (qualitative; task-dependent in the paper)",
            tolerance="qualitative: only the sign is claimed, at each budget, decided by the 95% seed "
            "interval of the difference in coverage (strictly above 0)",
        ),
    ),
    Hypothesis(
        "vote_plateau",
        "Without a verifier the small model's majority vote plateaus while its coverage keeps growing: from "
        "the least to the most budget on the grid, coverage gain - vote gain > 0 (95% seed interval)",
        "Brown et al. 2024, Sec. 4 and Fig. 7; Chen et al. 2024, Thm 1",
        check_vote_plateau,
        source=Source(
            paper="Brown et al. 2024, arXiv:2407.21787; Chen et al. 2024, 'Are More LLM Calls All You "
            "Need?', arXiv:2403.02419",
            where="Brown et al. Sec. 4 and Fig. 7 (majority voting and reward models plateau while coverage "
            "grows); Chen et al. Sec. 3 (a problem's vote accuracy tends to 1 or 0 as votes are added)",
            statement="voting accuracy saturates at the fraction of problems whose right answer is the "
            "model's most likely answer, coverage at the fraction with any mass on it (qualitative)",
            tolerance="qualitative: only the sign of the difference of the two gains, decided by its 95% "
            "seed interval (strictly above 0)",
        ),
    ),
    Hypothesis(
        "vote_trade",
        "Without a verifier the trade reverses: at every budget B on the grid, the small model's majority vote "
        "over B r samples is below the large model's vote over B samples (pass@1 at B = 1): small - large < 0 "
        "(95% seed interval)",
        "Chen et al. 2024, Sec. 3; Brown et al. 2024, Sec. 4",
        check_vote_trade,
        source=Source(
            paper="Chen et al. 2024, arXiv:2403.02419; Brown et al. 2024, arXiv:2407.21787",
            where="Chen et al. Sec. 3 (vote accuracy -> the plurality accuracy); Brown et al. Sec. 4 (without "
            "a verifier repeated sampling's gains do not carry over)",
            statement="a vote can at most reach its model's plurality (greedy) accuracy, so the small model's "
            "extra samples cannot make up for a weaker mode; this project's reading of the two papers for a "
            "pair of models (qualitative)",
            tolerance="qualitative: only the sign at each budget, decided by the 95% seed interval of the "
            "difference in vote accuracy (strictly below 0)",
        ),
    ),
)
