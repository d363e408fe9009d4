"""Repeated sampling and voting from one model: the pass@k estimator, the power law of coverage
from the tail of the per-problem success probabilities, and majority voting against its exact
closed form (hypotheses 1-4 of the package docstring)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import scipy.stats
from scipy.special import gammaln

from physai import Hypothesis, Results, Source, Verdict, all_of
from physai.evidence import bootstrap_verdict, slim

K_LO = 16  # lower end of the power-law window: well past k ~ 1/p for the typical solvable problem
VOTE_REPEATS = 10
VOTE_PROBLEMS = 1000
VOTES = (1, 3, 5, 9, 17, 33, 65)

# ----------------------------------------------------------------------------- model and closed forms


def train_softmax(rng, classes, dim, n_train, sep, steps=300, lr=0.5, decay=1e-2):
    """A Gaussian mixture (class means of norm ~sep) and a linear softmax classifier fitted by
    full-batch gradient descent with weight decay (finite logits: every p_i > 0)."""
    means = sep * rng.standard_normal((classes, dim)) / math.sqrt(dim)
    y = rng.integers(classes, size=n_train)
    x = means[y] + rng.standard_normal((n_train, dim))
    w, b = np.zeros((dim, classes)), np.zeros(classes)
    onehot = np.eye(classes)[y]
    for _ in range(steps):
        z = x @ w + b
        q = np.exp(z - z.max(1, keepdims=True))
        q /= q.sum(1, keepdims=True)
        g = (q - onehot) / n_train
        w -= lr * (x.T @ g + decay * w)
        b -= lr * g.sum(0)
    return means, w, b


def answer_distribution(logits: np.ndarray, temperature: float) -> np.ndarray:
    z = logits / temperature
    q = np.exp(z - z.max(1, keepdims=True))
    return q / q.sum(1, keepdims=True)


def failure_estimate(n: int, c: np.ndarray, k: int) -> np.ndarray:
    """The unbiased estimator of pass@k failure (Chen et al. 2021): C(n - c, k) / C(n, k)."""
    c = np.asarray(c)
    ok = n - c >= k
    m = np.where(ok, n - c, k)
    log = gammaln(m + 1) - gammaln(m - k + 1) - gammaln(n + 1) + gammaln(n - k + 1)
    return np.where(ok, np.exp(log), 0.0)


def vote_exact(q: np.ndarray, y: np.ndarray, m: int) -> np.ndarray:
    """Per problem, the exact probability that the right answer wins a plurality vote of ``m``
    draws from ``q`` (ties split uniformly): sum over j = count of the right answer of
    P(count = j) E[1/(1 + ties); every other count <= j], by a dynamic programme over the other
    answers on the multinomial generating function prod_c q_c^x_c / x_c!."""
    n_prob, classes = q.shape
    p = q[np.arange(n_prob), y]
    others = np.stack([np.delete(q[i], y[i]) for i in range(n_prob)])  # (problems, classes - 1)
    xs = np.arange(m + 1)
    log_fact = gammaln(xs + 1)
    total = np.zeros(n_prob)
    for j in range(0 if m == 0 else 1, m + 1):
        rest = m - j
        f = np.zeros((n_prob, rest + 1, classes))  # [problem, votes used, ties with j]
        f[:, 0, 0] = 1.0
        for c in range(classes - 1):
            with np.errstate(divide="ignore"):
                lq = np.log(others[:, c])
            w = np.exp(lq[:, None] * xs[None, : j + 1] - log_fact[None, : j + 1])  # q^x / x!
            g = np.zeros_like(f)
            for x in range(min(j, rest) + 1):
                tie = int(x == j)
                g[:, x:, tie:] += f[:, : rest + 1 - x, : classes - tie] * w[:, x, None, None]
            f = g
        weight = np.exp(log_fact[m] - log_fact[j] + j * np.log(np.maximum(p, 1e-300)))
        total += weight * (f[:, rest, :] / (1 + np.arange(classes))[None, :]).sum(1)
    return total


def vote_measured(rng, q: np.ndarray, y: np.ndarray, m: int, repeats: int) -> float:
    counts = rng.multinomial(m, q, size=(repeats, *q.shape[:1]))
    winner = np.argmax(counts + 0.5 * rng.random(counts.shape), axis=-1)  # random tie-break
    return float(np.mean(winner == y[None, :]))


def k_grid(n: int) -> list[int]:
    return sorted({int(round(v)) for v in np.logspace(0, math.log10(n), 25)})


# ----------------------------------------------------------------------------- run


def measure(prm, curve) -> dict:
    """The sampling part of one trial: its row entries; curves go through ``curve(step, metric, value)``."""
    n, classes = int(prm["n_samples"]), int(prm["classes"])
    rng = np.random.default_rng([int(prm["seed"]), 20240731])
    means, w, b = train_softmax(rng, classes, int(prm["dim"]), int(prm["n_train"]), float(prm["separation"]))
    y = rng.integers(classes, size=int(prm["problems"]))
    x = means[y] + rng.standard_normal((len(y), means.shape[1]))
    q = answer_distribution(x @ w + b, float(prm["temperature"]))
    p = q[np.arange(len(y)), y]
    c = rng.binomial(n, p)
    easy = q.argmax(1) == y
    row = {
        "accuracy_greedy": float(easy.mean()),
        "mean_p": float(p.mean()),
        "fraction_c0": float(np.mean(c == 0)),
    }
    ks = k_grid(n)
    # the estimator's exact Monte-Carlo variance given p: sum over c of Binomial(n, p_i) pmf
    second = scipy.stats.binom.pmf(np.arange(n + 1)[None, :], n, p[:, None]) @ np.stack(
        [failure_estimate(n, np.arange(n + 1), k) ** 2 for k in ks], axis=1
    )
    for j, k in enumerate(ks):
        var = np.maximum(second[:, j] - (1 - p) ** (2 * k), 0.0)
        curve(k, "fail_hat", float(failure_estimate(n, c, k).mean()))
        curve(k, "fail_var", float(var.sum() / len(p) ** 2))
        curve(k, "fail_exact", float(np.mean((1 - p) ** k)))
        curve(k, "tail_cdf", float(np.mean(p < 1 / k)))
    # the voting set: VOTE_PROBLEMS problems drawn (with replacement) from the hard ones (right
    # answer not the mode) and the easy ones in the proportion hard_fraction : 1 - hard_fraction
    n_hard = int(round(float(prm["hard_fraction"]) * VOTE_PROBLEMS))
    hard, easy_idx = np.flatnonzero(~easy), np.flatnonzero(easy)
    if (n_hard and not len(hard)) or (n_hard < VOTE_PROBLEMS and not len(easy_idx)):
        return row
    pick = np.concatenate(
        [rng.choice(hard, n_hard) if n_hard else [], rng.choice(easy_idx, VOTE_PROBLEMS - n_hard)]
    ).astype(int)
    for m in VOTES:
        curve(m, "vote_measured", vote_measured(rng, q[pick], y[pick], m, VOTE_REPEATS))
        curve(m, "vote_exact", float(vote_exact(q[pick], y[pick], m).mean()))
    return row


# ----------------------------------------------------------------------------- checks


def per_seed(results: Results, metrics: list[str]) -> pd.DataFrame:
    """One row per (trial, step): seed, temperature, hard_fraction, n_samples and the asked metrics."""
    ok, c = results.ok, results.curves
    cols = ["trial_id", "seed", "temperature", "hard_fraction", "n_samples"]
    if ok.empty or c.empty:
        return pd.DataFrame(columns=[*cols, "step", *metrics])
    c = c[c["metric"].isin(metrics) & c["trial_id"].isin(ok["trial_id"])]
    wide = c.pivot_table(index=["trial_id", "step"], columns="metric", values="value").reset_index()
    return wide.merge(ok[cols], on="trial_id")


def _ratio(a: str, b: str):
    return lambda t: float(t[a].to_numpy(float).mean() / t[b].to_numpy(float).mean())


def _per_step_parts(table, a, b, band, what, label) -> list[Verdict]:
    parts = []
    keys = ["temperature", "hard_fraction"] if label == "m" else ["temperature"]
    for key, rows in table.groupby([*keys, "step"]):
        if rows[b].mean() > 0:
            name = ", ".join(f"{k} = {v:g}" for k, v in zip([*keys, label], key))
            parts.append(bootstrap_verdict(slim(rows, a, b), _ratio(a, b), *band, what, hypothesis=name))
    return parts


def _nonempty(parts: list[Verdict], what: str) -> list[Verdict]:
    """The parts, or one inconclusive part saying what was missing (no grid value measured it)."""
    if not parts:
        return [Verdict("inconclusive", math.nan, "", f"no {what}")]
    return parts


def resolvable(table: pd.DataFrame) -> pd.DataFrame:
    """The rows at k where the estimator's own Monte-Carlo error can resolve FAIL_BAND. With h =
    1.96 x the exact standard deviation of the summed estimate (from ``fail_var``, the variance
    given the p_i), a true law puts the estimate within h of 1 and its interval within 2h of 1
    (95%), so the interval fits the band only if 2h <= the band's half-width times the summed
    expectation. At larger k a handful of problems carry all the failure: no part is tested."""
    keys = [table["temperature"], table["step"]]
    sd = np.sqrt(table["fail_var"].groupby(keys).transform("sum"))
    total = table["fail_exact"].groupby(keys).transform("sum")
    return table[2 * 1.96 * sd <= (FAIL_BAND[1] - 1) * total]


def check_failure_exponential(results: Results) -> Verdict:
    """sum_i failure-estimate_i(k) / sum_i (1 - p_i)^k at every k (with enough expected failures
    to resolve the band, see ``resolvable``) and temperature present, by seed bootstrap, within
    FAIL_BAND."""
    table = resolvable(per_seed(results, ["fail_hat", "fail_exact", "fail_var"]))
    parts = _per_step_parts(table, "fail_hat", "fail_exact", FAIL_BAND, "estimated/exact failure", "k")
    return all_of(_nonempty(parts, "k with a positive failure"), "unbiased pass@k failure vs sum of (1 - p_i)^k")


def slopes(rows: pd.DataFrame) -> tuple[float, float]:
    """(b_fit, b_tail) of one trial: minus the log-log slopes of -log(1 - fail_hat) and of the
    tail P(p_i < 1/k) over k in [K_LO, n/4]."""
    n = float(rows["n_samples"].iloc[0])
    w = rows[(rows["step"] >= K_LO) & (rows["step"] <= n / 4)]
    if len(w) < 3:
        return math.nan, math.nan
    lk = np.log(w["step"].to_numpy(float))
    neglog = -np.log1p(-w["fail_hat"].to_numpy(float))
    tail = w["tail_cdf"].to_numpy(float)
    if np.any(neglog <= 0) or np.any(tail <= 0):
        return math.nan, math.nan
    return -np.polyfit(lk, np.log(neglog), 1)[0], -np.polyfit(lk, np.log(tail), 1)[0]


def exponents(table: pd.DataFrame) -> pd.DataFrame:
    out = [(s, *slopes(rows)) for s, rows in table.groupby("seed")]
    return pd.DataFrame(out, columns=["seed", "b_fit", "b_tail"])


def check_power_law(results: Results) -> Verdict:
    """Mean b_fit / mean b_tail over seeds within EXPONENT_BAND, one part per temperature."""
    table = per_seed(results, ["fail_hat", "tail_cdf"])
    parts = []
    for temp, rows in table.groupby("temperature"):
        e = exponents(rows).dropna()
        v = bootstrap_verdict(
            e, _ratio("b_fit", "b_tail"), *EXPONENT_BAND, "b_fit / b_tail", hypothesis=f"T = {temp:g}"
        )
        parts.append(v)
    return all_of(_nonempty(parts, "temperature with a power-law window"), "pass@k exponent vs tail exponent of p_i")


def check_voting_closed_form(results: Results) -> Verdict:
    table = per_seed(results, ["vote_measured", "vote_exact"])
    parts = _per_step_parts(table, "vote_measured", "vote_exact", VOTE_BAND, "measured/exact vote accuracy", "m")
    return all_of(_nonempty(parts, "vote count"), "sampled plurality votes vs the exact multinomial plurality")


def hump(t: pd.DataFrame, column: str = "vote_measured") -> float:
    """min(rise, fall) of the seed-mean voting curve: max - first and max - last (0 if monotone)."""
    curve = t.groupby("step")[column].mean().sort_index().to_numpy()
    if len(curve) < 3:
        return math.nan
    return float(min(curve.max() - curve[0], curve.max() - curve[-1]))


def check_non_monotone(results: Results) -> Verdict:
    table = per_seed(results, ["vote_measured"])
    parts = [
        bootstrap_verdict(
            slim(rows, "step", "vote_measured"),
            hump,
            0.0,
            math.inf,
            "min(rise, fall)",
            hypothesis=f"T = {temp:g}, hard fraction {hard:g}",
            strict=True,
        )
        for (temp, hard), rows in table.groupby(["temperature", "hard_fraction"])
    ]
    return all_of(_nonempty(parts, "voting curve"), "voting accuracy rises then falls with the number of votes")


FAIL_BAND = (0.95, 1.05)
EXPONENT_BAND = (0.8, 1.25)
VOTE_BAND = (0.97, 1.03)

SAMPLING_HYPOTHESES = (
    Hypothesis(
        "failure_exponential",
        "Control: per problem pass@k failure is (1 - p_i)^k and the unbiased estimator recovers it: summed "
        "estimated failure / sum_i (1 - p_i)^k within [0.95, 1.05] (95% seed interval) at every k where the "
        "estimator's exact Monte-Carlo error can resolve that band",
        "Chen et al. 2021 (Codex), Sec. 2.1; Brown et al. 2024, Sec. 2",
        check_failure_exponential,
        source=Source(
            paper="Chen et al. 2021, 'Evaluating Large Language Models Trained on Code', arXiv:2107.03374; "
            "Brown et al. 2024, 'Large Language Monkeys', arXiv:2407.21787",
            where="Chen et al. 2021, Sec. 2.1 and Appendix A (the estimator); Brown et al. 2024, Sec. 2",
            statement="E[C(n - c, k)/C(n, k)] = (1 - p)^k exactly for c ~ Binomial(n, p), k <= n",
            tolerance="an exact expectation, so only Monte-Carlo error remains; the band is +-5% and the "
            "k tested are those where twice 1.96 exact Monte-Carlo standard deviations of the summed "
            "estimator (its variance given the p_i, computed in run) fit in the half-band, so a true law's "
            "interval lies inside the band; larger k are not tested. "
            "A control: p_i are the sampler's own.",
        ),
    ),
    Hypothesis(
        "power_law_exponent",
        "-log mean pass@k ~ k^-b with b the exponent of P(p_i < x) ~ x^b near 0: b_fit / b_tail over k in "
        "[16, n/4] within [0.8, 1.25] (95% seed interval)",
        "Schaeffer et al. 2025, Sec. 3 (Eq. 4-6) and Fig. 3",
        check_power_law,
        source=Source(
            paper="Schaeffer et al. 2025, 'How Do Large Language Monkeys Get Their Power (Laws)?', arXiv:2502.17578",
            where="Sec. 3: a density p^(b-1) near 0 gives -log pass_D@k ~ Gamma(b+1) C k^-b",
            statement="the aggregate power-law exponent equals the left-tail exponent of the per-problem "
            "success distribution",
            tolerance="the law is asymptotic and a softmax model's tail is only locally a power law: the "
            "kernel (1 - p)^k averages the local exponent over a factor ~e in p around 1/k, and -log pass "
            "equals the failure only to first order; a 20% mismatch of slopes is allowed for both (this "
            "project's convention, set before measuring).",
        ),
    ),
    Hypothesis(
        "voting_closed_form",
        "Control: measured majority-vote accuracy / exact plurality probability averaged over problems within "
        "[0.97, 1.03] at every m (95% seed interval)",
        "Chen et al. 2024, Sec. 3 (Vote accuracy of one query)",
        check_voting_closed_form,
        source=Source(
            paper="Chen et al. 2024, 'Are More LLM Calls All You Need? Towards Scaling Laws of Compound "
            "Inference Systems', arXiv:2403.02419",
            where="Sec. 3 and Thm 1 (vote accuracy as the probability that the right answer is the plurality)",
            statement="voting accuracy is the mean over problems of P(right answer wins the plurality of m "
            "draws); no fitted constant",
            tolerance="exact given q, so only Monte-Carlo error of the sampled votes (10 repeats x problems "
            "per seed, well under 1%); 3% band. A control: both sides use the same q.",
        ),
    ),
    Hypothesis(
        "voting_non_monotone",
        "On a mixture of easy and hard problems voting accuracy rises then falls with m: min(max - acc(1), "
        "max - acc(m_max)) > 0 (95% seed interval)",
        "Chen et al. 2024, Thm 2 and Fig. 1",
        check_non_monotone,
        source=Source(
            paper="Chen et al. 2024, 'Are More LLM Calls All You Need?', arXiv:2403.02419",
            where="Thm 2 and Fig. 1 (non-monotone Vote performance)",
            statement="per problem vote accuracy -> 1 if the right answer is the mode, -> 0 otherwise; with "
            "both kinds present the aggregate can rise then fall (qualitative)",
            tolerance="qualitative: only the sign of the hump is claimed, decided by its 95% seed interval",
        ),
    ),
)
