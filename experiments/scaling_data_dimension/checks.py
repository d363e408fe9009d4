"""The checks: exponent vs intrinsic dimension, shared exponent of healthy students, and two
controls of the set-up (the inputs' measured intrinsic dimension, the bottleneck's plateau)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from analysis.stats import aggregate, loglog_slope
from physai import Results, Verdict, all_of
from physai.evidence import bootstrap_verdict, slim, unless_converged

DIMENSIONS = (2, 4, 8)  # the presets' intrinsic dimensions (the checks use whatever d the table has)
SLOPE_LAW = -1.0  # alpha = 4/d: d log alpha / d log d = -1
SLOPE_TOL = 0.25  # the fitted slope within +-0.25 of -1 (a convention, see the source)
ARCH_TOL = 0.1  # healthy exponents' difference inside [-0.1, 0.1] (half of 4/4 - 4/5)
DIM_TOL = 0.15  # two-NN estimate of d within +-15% of the nominal d (control)
OFFSET_MIN = 1.2  # healthy offsets differ by >= 20%
SICK_MAX_EXPONENT = 0.1  # a plateau: |slope| <= 0.1
SICK_GAP = 5.0  # and >= 5x the healthy loss at the largest N
COMPARE_D = 4  # the presets compare architectures at this d (the checks use the d the table has)


def tune_lr(df: pd.DataFrame) -> pd.DataFrame:
    """One run per (arch, d, size, seed): the learning rate with the lowest validation MSE.

    Scaling-law practice (Kaplan et al. 2020, Hoffmann et al. 2022) tunes the learning
    rate per model size, so that a size's loss is the best its architecture reaches in
    the budget, not an artefact of one shared rate that suits some sizes better than
    others. The choice uses the validation half of the fresh points, the exponents the
    test half. Tables without ``val_mse`` or ``lr`` (one rate) are returned as they are.

    Args:
      df: trials (``arch``, ``d``, ``n_params``, ``seed``, ``lr``, ``val_mse``, ...).

    Returns:
      The selected rows.
    """
    keys = ["arch", "d", "n_params", "seed"]
    if df.empty or not {"val_mse", "lr", *keys} <= set(df.columns):
        return df
    ranked = df[np.isfinite(df["val_mse"])].sort_values("val_mse", kind="stable")
    return ranked.drop_duplicates(keys).sort_index()


def _select(results: Results, arch: str, d: int | None = None) -> pd.DataFrame:
    """Args: results; arch; d (None: every d). Returns: the tuned ok trials of that student."""
    ok = results.ok
    if ok.empty or "arch" not in ok.columns:
        return ok.iloc[0:0]
    rows = ok[ok["arch"] == arch]
    return tune_lr(rows if d is None else rows[rows["d"] == d])


COLUMNS = ("arch", "d", "n_params", "test_mse")  # what the bootstrap statistics read


def _dims(results: Results, *archs: str) -> list[int]:
    """Returns: the intrinsic dimensions at which every one of ``archs`` has ok trials."""
    ok = results.ok
    if ok.empty or not {"arch", "d"} <= set(ok.columns):
        return []
    sets = [set(ok.loc[ok["arch"] == a, "d"]) for a in archs]
    return sorted(int(d) for d in set.intersection(*sets))


def exponent(df: pd.DataFrame) -> tuple[float, float, float]:
    """Args: df: trials of one architecture and d. Returns: ``(alpha, low, high)`` with
    alpha = -(log-log slope of test MSE vs parameters) and its t interval over all rows
    (a description for plots and texts; the verdicts use the seed bootstrap); NaNs with
    < 3 sizes."""
    if df.empty or df["n_params"].nunique() < 3:
        return (math.nan,) * 3
    slope, low, high = loglog_slope(df["n_params"], df["test_mse"])
    return -slope, -high, -low


def _alpha(df: pd.DataFrame) -> float:
    """alpha = -(least-squares slope of log test MSE on log parameters); NaN with < 3 sizes."""
    return _alpha_of(df["n_params"].to_numpy(float), df["test_mse"].to_numpy(float))


def _alpha_of(n_params: np.ndarray, loss: np.ndarray) -> float:
    """alpha from arrays of sizes and losses (see ``_alpha``)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        x, y = np.log(n_params), np.log(loss)
    keep = np.isfinite(x) & np.isfinite(y)
    x, y = x[keep], y[keep]
    if np.unique(x).size < 3:
        return math.nan
    x = x - x.mean()
    return float(-(x @ (y - y.mean())) / (x @ x))


def _median_curve(df: pd.DataFrame) -> pd.DataFrame:
    """Median test MSE per size with its interval (for the figures)."""
    return aggregate(df, "n_params", "test_mse", n_resamples=200).sort_values("n_params")


def _median_losses(df: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Returns: (sorted sizes, median test MSE over the rows at each size)."""
    n, loss = df["n_params"].to_numpy(float), df["test_mse"].to_numpy(float)
    sizes = np.unique(n)
    return sizes, np.array([np.median(loss[n == size]) for size in sizes])


def _loss_at(curve: tuple[np.ndarray, np.ndarray], n: float) -> float:
    sizes, losses = curve
    return float(np.exp(np.interp(np.log(n), np.log(sizes), np.log(losses))))


def dimension_slope(t: pd.DataFrame) -> float:
    """Least-squares slope of log alpha on log d over the d's in ``t`` (ReLU depth-1 rows; one alpha
    per d from the log-log fit of test MSE on parameters); NaN with < 2 d's or an alpha <= 0."""
    d_col, x, y = t["d"].to_numpy(float), t["n_params"].to_numpy(float), t["test_mse"].to_numpy(float)
    dims = np.unique(d_col)
    alphas = np.array([_alpha_of(x[d_col == d], y[d_col == d]) for d in dims])
    if dims.size < 2 or not np.all(alphas > 0):
        return math.nan
    u, v = np.log(dims) - np.log(dims).mean(), np.log(alphas)
    return float(u @ (v - v.mean()) / (u @ u))


def check_exponent_vs_dimension(results: Results) -> Verdict:
    """ReLU depth 1, the d's in the table: slope of log alpha on log d within SLOPE_TOL of -1.

    Decided by the 95% seed-bootstrap interval (each d's log-log fit redone on every resample).
    The per-d exponents against 4/d are reported, not tested. It rests on the runs' final
    losses, so it is inconclusive when any run it uses had not converged.
    """
    relu1 = _select(results, "relu1")
    dims = _dims(results, "relu1")
    if len(dims) < 2:
        return Verdict("inconclusive", math.nan, "", "needs relu1 trials at two or more d")
    text = ", ".join(f"d = {d}: alpha = {_alpha(relu1[relu1['d'] == d]):.2f} (4/d = {4 / d:.2f})" for d in dims)

    def decide(relu1: pd.DataFrame) -> Verdict:
        return bootstrap_verdict(
            slim(relu1, *COLUMNS),
            dimension_slope,
            SLOPE_LAW - SLOPE_TOL,
            SLOPE_LAW + SLOPE_TOL,
            "d log alpha / d log d",
            f"ReLU depth 1 over d = {', '.join(map(str, dims))}, 95% seed-bootstrap interval; {text}",
        )

    return unless_converged(decide(relu1), relu1, recheck=decide)


def dimension_estimate(t: pd.DataFrame) -> float:
    """Mean two-NN estimate of the inputs' intrinsic dimension over the rows (NaN without any)."""
    values = t["two_nn_d"].to_numpy(float)
    values = values[np.isfinite(values)]
    return float(values.mean()) if values.size else math.nan


def check_intrinsic_dimension(results: Results) -> Verdict:
    """Control: for every d in the table, the two-NN estimate of the inputs' dimension within
    +-DIM_TOL of d (95% seed-bootstrap interval of the mean over seeds)."""
    ok = results.ok
    if ok.empty or not {"d", "two_nn_d"} <= set(ok.columns):
        return Verdict("inconclusive", math.nan, f"d +- {DIM_TOL:.0%}", "needs the two_nn_d column")
    parts = []
    for d in sorted(int(v) for v in ok["d"].unique()):
        # One estimate per (d, seed): the inputs do not depend on the student.
        rows = ok[ok["d"] == d].drop_duplicates("seed")
        parts.append(
            bootstrap_verdict(
                slim(rows, "two_nn_d"),
                dimension_estimate,
                d * (1 - DIM_TOL),
                d * (1 + DIM_TOL),
                "two-NN d",
                hypothesis=f"d={d}",
            )
        )
    return all_of(parts, "two-NN (Facco et al. 2017) estimate of the inputs' intrinsic dimension, per d swept")


def offset_ratio(a: pd.DataFrame, b: pd.DataFrame) -> float:
    """Loss ratio a/b at the geometric middle of the overlapping parameter range.

    Args:
      a, b: trials of two architectures (``n_params``, ``test_mse``).

    Returns:
      ``L_a(N) / L_b(N)`` from log-log interpolation of the median-over-seeds curves; NaN without overlap.
    """
    if a.empty or b.empty:
        return math.nan
    ca, cb = _median_losses(a), _median_losses(b)
    lo, hi = max(ca[0][0], cb[0][0]), min(ca[0][-1], cb[0][-1])
    if lo >= hi:
        return math.nan
    mid = math.sqrt(lo * hi)
    return _loss_at(ca, mid) / _loss_at(cb, mid)


def check_architecture_universal(results: Results) -> Verdict:
    """Every d with relu1 and relu2 trials: alpha(relu1) - alpha(relu2) inside [-0.1, 0.1] (an
    equivalence test: the whole interval must lie inside) and loss ratio at equal N >= 1.2.

    Both parts are decided by 95% seed-bootstrap intervals (fits and median curves
    redone per resample, paired by seed); inconclusive when a run it uses had not converged.
    """
    dims = _dims(results, "relu1", "relu2")
    if not dims:
        return Verdict("inconclusive", math.nan, "", "needs relu1 and relu2 trials at a common d")

    def gap(t: pd.DataFrame) -> float:
        arch, x, y = t["arch"].to_numpy(), t["n_params"].to_numpy(float), t["test_mse"].to_numpy(float)
        one, two = arch == "relu1", arch == "relu2"
        return _alpha_of(x[one], y[one]) - _alpha_of(x[two], y[two])

    def spread(t: pd.DataFrame) -> float:
        arch = t["arch"].to_numpy()
        ratio = offset_ratio(t[arch == "relu1"], t[arch == "relu2"])
        return max(ratio, 1 / ratio) if ratio > 0 else math.nan

    def decide(rows: pd.DataFrame) -> Verdict:
        parts = []
        for d in dims:
            both = slim(rows[rows["d"] == d], *COLUMNS)
            parts.append(
                bootstrap_verdict(
                    both, gap, -ARCH_TOL, ARCH_TOL, "alpha1 - alpha2", hypothesis=f"alpha1 - alpha2 (d={d})"
                )
            )
            parts.append(
                bootstrap_verdict(
                    both, spread, OFFSET_MIN, math.inf, "loss ratio at equal N", hypothesis=f"offset ratio (d={d})"
                )
            )
        return all_of(parts, "; ".join(texts))

    texts, used = [], []
    for d in dims:
        both = pd.concat([_select(results, "relu1", d), _select(results, "relu2", d)], ignore_index=True)
        used.append(both)
        a1, a2 = both[both["arch"] == "relu1"], both[both["arch"] == "relu2"]
        texts.append(
            f"d = {d}: ReLU depth 1 alpha = {_alpha(a1):.2f}, depth 2 alpha = {_alpha(a2):.2f}; "
            f"loss ratio at equal N {offset_ratio(a1, a2):.2f}"
        )
    rows = pd.concat(used, ignore_index=True)
    return unless_converged(decide(rows), rows, recheck=decide)


def check_sick_plateaus(results: Results) -> Verdict:
    """Control of the set-up, every d with bottleneck and relu1 trials: bottleneck exponent <= 0.1
    and >= 5x the healthy loss at the largest N.

    Both parts are decided by 95% seed-bootstrap intervals. The plateau rests on the
    bottleneck runs' end state: inconclusive when one had not converged. The healthy
    runs only bound the gap from above when they had not converged (their loss would
    fall further), so they make a refuted gap inconclusive, not a supported one.
    """
    dims = _dims(results, "bottleneck", "relu1")
    if not dims:
        return Verdict("inconclusive", math.nan, "", "needs bottleneck and relu1 trials at a common d")

    def gap(t: pd.DataFrame) -> float:
        arch = t["arch"].to_numpy()
        cs, ch = _median_losses(t[arch == "bottleneck"]), _median_losses(t[arch == "relu1"])
        if not len(cs[0]) or not len(ch[0]):
            return math.nan
        n_top = min(cs[0][-1], ch[0][-1])
        return _loss_at(cs, n_top) / _loss_at(ch, n_top)

    def loss_ratio(d: int, sick: pd.DataFrame, healthy: pd.DataFrame) -> Verdict:
        return bootstrap_verdict(
            slim(pd.concat([sick, healthy], ignore_index=True), *COLUMNS),
            gap,
            SICK_GAP,
            math.inf,
            "loss ratio at the largest common N",
            hypothesis=f"loss / healthy (d={d})",
        )

    healthy_at = {d: _select(results, "relu1", d) for d in dims}

    def decide(sick_all: pd.DataFrame) -> Verdict:
        parts = []
        for d in dims:
            sick, healthy = sick_all[sick_all["d"] == d], healthy_at[d]
            parts.append(
                bootstrap_verdict(
                    slim(sick, *COLUMNS),
                    _alpha,
                    -math.inf,
                    SICK_MAX_EXPONENT,
                    "alpha",
                    hypothesis=f"bottleneck alpha (d={d})",
                )
            )
            ratio = loss_ratio(d, sick, healthy)
            if ratio.status == "refuted":
                ratio = unless_converged(ratio, healthy, recheck=lambda h, d=d, sick=sick: loss_ratio(d, sick, h))
            parts.append(ratio)
        return all_of(parts, "; ".join(texts))

    texts, sick_rows = [], []
    for d in dims:
        sick, healthy = _select(results, "bottleneck", d), healthy_at[d]
        sick_rows.append(sick)
        cs, ch = _median_losses(sick), _median_losses(healthy)
        n_top = min(cs[0][-1], ch[0][-1])
        texts.append(
            f"d = {d}: bottleneck alpha = {_alpha(sick):.2f}; at N = {n_top:.0f} its loss "
            f"{_loss_at(cs, n_top):.3g} vs {_loss_at(ch, n_top):.3g} for the healthy ReLU student"
        )
    rows = pd.concat(sick_rows, ignore_index=True)
    return unless_converged(decide(rows), rows, recheck=decide)
