"""data_quality, the perceptron parts: the Hebbian student under label noise (closed form and
data multiplier) and margin-based pruning with a max-margin student (the experiment's docstring,
``experiments/data_quality/__init__.py``, states the hypotheses)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import scipy.optimize

from physai import Results, Verdict, all_of
from physai.evidence import bootstrap_verdict, slim

ERROR_BAND = (0.95, 1.05)  # measured / closed-form Hebbian error, per q
MULTIPLIER_BAND = (0.9, 1.1)  # measured / theoretical data multiplier, per q > 0
LEVELS = 9  # target errors at which the noisy and clean curves are compared


# ----------------------------------------------------------------------------- theory


def hebbian_overlap(alpha, q):
    """Closed-form teacher-student overlap of the Hebbian student (``N -> infinity``, fixed alpha).

    Derivation: with ``h = B . x ~ N(0, 1)`` and ``y = sign(h)`` flipped with probability
    ``q``, ``E[y h] = (1 - 2q) E|h| = (1 - 2q) sqrt(2/pi)``. The component of ``w = sum y x``
    along ``B`` is ``n (1 - 2q) sqrt(2/pi) + O(sqrt n)``; each of the ``N - 1`` orthogonal
    components is a sum of ``n`` independent ``N(0, 1)`` terms (``y`` depends on ``h``
    only), so ``|w_perp|^2 = n (N - 1) (1 + O(N^-1/2))``. Hence
    ``R = c sqrt(alpha) / sqrt(1 + alpha c^2)`` with ``c = (1 - 2q) sqrt(2/pi)``.

    Args:
      alpha: examples per dimension ``n / N`` (array-like).
      q: label-flip probability (array-like, < 1/2).

    Returns:
      ``R`` (array).
    """
    c2 = 2.0 * (1.0 - 2.0 * np.asarray(q, float)) ** 2 / math.pi
    a = np.asarray(alpha, float)
    return np.sqrt(a * c2) / np.sqrt(1.0 + a * c2)


def hebbian_error(alpha, q):
    """Closed-form test error ``arccos(R) / pi`` of the Hebbian student."""
    return np.arccos(np.clip(hebbian_overlap(alpha, q), -1, 1)) / math.pi


def multiplier_theory(q):
    """Clean-equivalent worth of a noisy example, inverted: ``1 / (1 - 2q)^2`` noisy per clean."""
    return 1.0 / (1.0 - 2.0 * np.asarray(q, float)) ** 2


def max_margin(z: np.ndarray) -> np.ndarray:
    """The max-margin perceptron through the origin: ``argmin |w|`` subject to ``z w >= 1``.

    Solved exactly as a least-distance program (Lawson & Hanson 1974, ch. 23): with
    ``E = [z^T; 1^T]`` and ``f = (0, ..., 0, 1)``, the non-negative least-squares solution
    ``u`` gives the residual ``r = E u - f`` and ``w = -r[:N] / r[N]``.

    Args:
      z: ``(k, N)`` rows ``y_i x_i`` (linearly separable: teacher labels).

    Returns:
      ``w`` (``N``,); its direction is the optimal-stability student.
    """
    k, n_dim = z.shape
    e = np.vstack([z.T, np.ones((1, k))])
    f = np.zeros(n_dim + 1)
    f[-1] = 1.0
    u, _ = scipy.optimize.nnls(e, f, maxiter=50 * max(k, n_dim))
    r = e @ u - f
    return -r[:-1] / r[-1]


# ----------------------------------------------------------------------------- run


def _streams(seed: int, n_dim: int):
    """A seed's teacher (unit vector) and its input and flip-draw generators (separate streams,
    so the first n examples are the same whatever the largest n drawn)."""
    teacher = np.random.default_rng([int(seed), 0]).standard_normal(n_dim)
    return (
        teacher / np.linalg.norm(teacher),
        np.random.default_rng([int(seed), 1]),
        np.random.default_rng([int(seed), 2]),
    )


def _error(w: np.ndarray, teacher: np.ndarray) -> tuple[float, float]:
    norm = float(np.linalg.norm(w))
    r = float(w @ teacher) / norm if norm > 0 else 0.0
    return r, float(np.arccos(np.clip(r, -1, 1)) / math.pi)


def run_noise(trial, n_dim: int) -> dict:
    """The Hebbian student on the first ``n = round(alpha N)`` examples of the seed's stream."""
    p = trial.params
    teacher, xs, flips = _streams(p["seed"], n_dim)
    n = max(1, int(round(p["alpha"] * n_dim)))
    x = xs.standard_normal((n, n_dim))
    y = np.where(x @ teacher >= 0, 1.0, -1.0)
    y = np.where(flips.random(n) < p["q"], -y, y)
    r, err = _error(y @ x, teacher)
    return {
        "n_examples": n,
        "overlap": r,
        "test_error": err,
        "theory_error": float(hebbian_error(n / n_dim, p["q"])),
    }


def run_prune(trial, n_dim: int) -> dict:
    """Prune the seed's pool of ``round(alpha_total N)`` clean examples to a fraction ``f`` by
    ``|probe . x|`` (keep the largest: easy; the smallest: hard); max-margin student."""
    p = trial.params
    teacher, xs, side = _streams(p["seed"], n_dim)
    other = side.standard_normal(n_dim)
    other -= (other @ teacher) * teacher
    angle = math.radians(p["probe_angle"])
    probe = math.cos(angle) * teacher + math.sin(angle) * other / np.linalg.norm(other)
    pool = max(1, int(round(p["alpha_total"] * n_dim)))
    x = xs.standard_normal((pool, n_dim))
    y = np.where(x @ teacher >= 0, 1.0, -1.0)
    order = np.argsort(np.abs(x @ probe), kind="stable")
    kept = max(1, int(round(p["f"] * pool)))
    idx = order[-kept:] if p["keep"] == "easy" else order[:kept]
    w = max_margin(y[idx, None] * x[idx])
    r, err = _error(w, teacher)
    return {"n_examples": kept, "alpha_prune": kept / n_dim, "overlap": r, "test_error": err}


# ----------------------------------------------------------------------------- checks


def part_rows(df: pd.DataFrame, name: str) -> pd.DataFrame:
    return df[df["part"] == name] if "part" in df.columns else df.iloc[:0]


def _group_means(keys: np.ndarray, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Sorted distinct keys and the mean of ``values`` per key, in numpy (a bootstrap recomputes
    it on every resample)."""
    distinct, idx = np.unique(keys, return_inverse=True)
    return distinct, np.bincount(idx, values) / np.bincount(idx)


def _mean_error_ratio(table: pd.DataFrame) -> float:
    """Mean over alpha of (mean error over seeds / closed form): each alpha weighs the same."""
    alpha = table["alpha"].to_numpy(float)
    _, measured = _group_means(alpha, table["test_error"].to_numpy(float))
    _, theory = _group_means(alpha, table["theory_error"].to_numpy(float))  # one value per alpha
    return float(np.mean(measured / theory))


def check_error_theory(results: Results) -> Verdict:
    """Per q present: mean error / closed-form error, averaged over the swept alpha, by its
    95% seed-bootstrap interval (whole seeds resampled), inside [0.95, 1.05]. A closed form
    and an exact solver: no convergence or grid-edge caveat."""
    df = part_rows(results.ok, "noise")
    if df.empty:
        return Verdict("inconclusive", math.nan, str(ERROR_BAND), "no Hebbian trials")
    parts = [
        bootstrap_verdict(
            slim(df[df["q"] == q], "alpha", "test_error", "theory_error"),
            _mean_error_ratio,
            *ERROR_BAND,
            "mean error / closed form",
            hypothesis=f"q = {q:g}",
        )
        for q in sorted(df["q"].unique())
    ]
    return all_of(
        parts,
        f"Hebbian test error averaged over {df['seed'].nunique()} seeds / arccos(R)/pi with the closed-form R, "
        f"averaged over {df['alpha'].nunique()} values of alpha, for each q; 95% seed-bootstrap intervals.",
    )


def _needed(alphas: np.ndarray, errors: np.ndarray, levels: np.ndarray) -> np.ndarray:
    """log alpha at which a (decreasing) error curve reaches each level, by linear
    interpolation in log alpha; the curve is made monotone by its running minimum first
    (a seed-mean curve can tick up by noise where it is flat)."""
    order = np.argsort(alphas)
    a, e = np.log(alphas[order]), np.minimum.accumulate(errors[order])
    # np.interp needs increasing x: read the curve from its low-error end
    return np.interp(levels, e[::-1], a[::-1], left=np.nan, right=np.nan)


def multiplier(table: pd.DataFrame, q: float) -> float:
    """Measured noisy/clean data multiplier at label-flip rate ``q``: the seed-mean error curves
    of ``q`` and of ``q = 0``, compared at ``LEVELS`` errors evenly spaced inside the range both
    reach; the geometric mean over levels of alpha_noisy / alpha_clean.

    Args:
      table: rows ``q, alpha, error`` (and ``seed``) of both curves.
      q: the noisy curve's flip rate.

    Returns:
      The multiplier (NaN when the two curves share no error range).
    """
    qs, alpha, err = (table[c].to_numpy(float) for c in ("q", "alpha", "test_error"))
    curves = {}
    for value in (0.0, q):
        rows = qs == value
        if not rows.any():
            return math.nan
        curves[value] = _group_means(alpha[rows], err[rows])
    lo = max(curves[0.0][1].min(), curves[q][1].min())
    hi = min(curves[0.0][1].max(), curves[q][1].max())
    if not hi > lo:
        return math.nan
    levels = np.linspace(lo, hi, LEVELS + 2)[1:-1]  # strictly inside: no extrapolation
    log_ratio = _needed(*curves[q], levels) - _needed(*curves[0.0], levels)
    return float(np.exp(np.nanmean(log_ratio))) if np.isfinite(log_ratio).any() else math.nan


def check_multiplier(results: Results) -> Verdict:
    """Per q > 0 present: measured multiplier / (1/(1-2q)^2), by its 95% seed-bootstrap
    interval (whole seeds resampled, both curves recomputed), inside [0.9, 1.1]."""
    df = part_rows(results.ok, "noise")
    qs = sorted(q for q in df["q"].unique() if q > 0) if not df.empty else []
    if not qs or not (df["q"] == 0).any():
        return Verdict("inconclusive", math.nan, str(MULTIPLIER_BAND), "needs clean (q = 0) and noisy curves")
    parts = []
    for q in qs:
        rows = slim(df[df["q"].isin([0.0, q])], "q", "alpha", "test_error")
        theory = float(multiplier_theory(q))
        parts.append(
            bootstrap_verdict(
                rows,
                lambda t, q=q, theory=theory: multiplier(t, q) / theory,
                *MULTIPLIER_BAND,
                "multiplier / 1/(1-2q)^2",
                hypothesis=f"q = {q:g} (theory {theory:.3g})",
            )
        )
    return all_of(
        parts,
        "Noisy examples needed / clean examples needed for equal Hebbian test error (seed-mean curves, "
        f"interpolated in log alpha at {LEVELS} error levels), over 1/(1-2q)^2; 95% seed-bootstrap intervals.",
    )


def _hard_minus_easy(table: pd.DataFrame) -> float:
    """Mean over seeds of error(keep hard) - error(keep easy), paired by seed (same pool)."""
    seed, err = table["seed"].to_numpy(), table["test_error"].to_numpy(float)
    hard = table["keep"].to_numpy() == "hard"
    seeds, idx = np.unique(seed, return_inverse=True)
    sums = [np.bincount(idx[m], err[m], minlength=len(seeds)) for m in (hard, ~hard)]
    counts = [np.bincount(idx[m], minlength=len(seeds)) for m in (hard, ~hard)]
    paired = (counts[0] > 0) & (counts[1] > 0)  # a seed with both strategies
    if not paired.any():
        return math.nan
    diff = sums[0][paired] / counts[0][paired] - sums[1][paired] / counts[1][paired]
    return float(diff.mean())


def check_pruning_crossover(results: Results) -> Verdict:
    """error(keep hard) - error(keep easy), paired by seed: its 95% seed-bootstrap interval
    above 0 at the smallest alpha_total present and below 0 at the largest."""
    df = part_rows(results.ok, "prune")
    totals = sorted(df["alpha_total"].unique()) if not df.empty else []
    if len(totals) < 2:
        return Verdict("inconclusive", math.nan, "", "needs at least two pool sizes alpha_total")
    small, large = totals[0], totals[-1]
    parts = [
        bootstrap_verdict(
            slim(df[df["alpha_total"] == small], "keep", "test_error"),
            _hard_minus_easy,
            0.0,
            math.inf,
            "error(hard) - error(easy)",
            hypothesis=f"scarce: alpha_total = {small:g} keeps easy",
            strict=True,
        ),
        bootstrap_verdict(
            slim(df[df["alpha_total"] == large], "keep", "test_error"),
            _hard_minus_easy,
            -math.inf,
            0.0,
            "error(hard) - error(easy)",
            hypothesis=f"abundant: alpha_total = {large:g} keeps hard",
            strict=True,
        ),
    ]
    f = sorted(df["f"].unique())
    return all_of(
        parts,
        f"Max-margin student on the fraction f = {', '.join(f'{v:g}' for v in f)} of a pool kept by probe margin; "
        "test error of keeping the hardest minus keeping the easiest, paired by seed; 95% seed-bootstrap intervals.",
    )
