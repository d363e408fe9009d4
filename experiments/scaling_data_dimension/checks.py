"""The checks: exponent vs intrinsic dimension, shared exponent of healthy students, sick plateau."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from analysis.stats import aggregate, loglog_slope
from physai import Results, Verdict, all_of, verdict_in_range

DIMENSIONS = (2, 4, 8)
TOLERANCE = 0.5  # 4/alpha within +-50% of d
ARCH_TOL = 0.1  # healthy exponents within +-0.1
OFFSET_MIN = 1.2  # healthy offsets differ by >= 20%
SICK_MAX_EXPONENT = 0.1  # a plateau: |slope| <= 0.1
SICK_GAP = 5.0  # and >= 5x the healthy loss at the largest N
COMPARE_D = 4  # architectures are compared at this intrinsic dimension


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


def _select(results: Results, arch: str, d: int) -> pd.DataFrame:
    ok = results.ok
    if ok.empty or "arch" not in ok.columns:
        return ok.iloc[0:0]
    return tune_lr(ok[(ok["arch"] == arch) & (ok["d"] == d)])


def exponent(df: pd.DataFrame) -> tuple[float, float, float]:
    """Args: df: trials of one architecture and d. Returns: ``(alpha, low, high)`` with
    alpha = -(log-log slope of test MSE vs parameters); NaNs with < 3 sizes."""
    if df.empty or df["n_params"].nunique() < 3:
        return (math.nan,) * 3
    slope, low, high = loglog_slope(df["n_params"], df["test_mse"])
    return -slope, -high, -low


def _median_curve(df: pd.DataFrame) -> pd.DataFrame:
    return aggregate(df, "n_params", "test_mse", n_resamples=200).sort_values("n_params")


def check_exponent_vs_dimension(results: Results) -> Verdict:
    """ReLU depth 1: alpha(2) > alpha(4) > alpha(8), and 4/alpha within +-50% of d."""
    alphas = {d: exponent(_select(results, "relu1", d)) for d in DIMENSIONS}
    if any(math.isnan(a[0]) for a in alphas.values()):
        return Verdict("inconclusive", math.nan, "", "needs relu1 trials for d = 2, 4, 8")
    parts = []
    for d, (a, _, _) in alphas.items():
        parts.append(
            verdict_in_range(
                4 / a if a > 0 else math.inf, d * (1 - TOLERANCE), d * (1 + TOLERANCE), hypothesis=f"4/alpha (d={d})"
            )
        )
    values = [alphas[d][0] for d in DIMENSIONS]
    falls = all(x > y for x, y in zip(values, values[1:]))
    parts.append(
        Verdict(
            "supported" if falls else "refuted",
            "; ".join(f"{v:.2f}" for v in values),
            "decreasing",
            "",
            "alpha(d=2,4,8)",
        )
    )
    text = ", ".join(
        f"d = {d}: alpha = {a:.2f} [{lo:.2f}, {hi:.2f}] (4/d = {4 / d:.2f})" for d, (a, lo, hi) in alphas.items()
    )
    return all_of(parts, f"ReLU students: {text}")


def offset_ratio(a: pd.DataFrame, b: pd.DataFrame) -> float:
    """Loss ratio a/b at the geometric middle of the overlapping parameter range.

    Args:
      a, b: trials of two architectures (``n_params``, ``test_mse``).

    Returns:
      ``L_a(N) / L_b(N)`` from log-log interpolation of the median curves; NaN without overlap.
    """
    ca, cb = _median_curve(a), _median_curve(b)
    lo = max(ca["n_params"].min(), cb["n_params"].min())
    hi = min(ca["n_params"].max(), cb["n_params"].max())
    if lo >= hi:
        return math.nan
    mid = math.sqrt(lo * hi)
    la = np.interp(np.log(mid), np.log(ca["n_params"]), np.log(ca["median"]))
    lb = np.interp(np.log(mid), np.log(cb["n_params"]), np.log(cb["median"]))
    return float(np.exp(la - lb))


def check_architecture_universal(results: Results) -> Verdict:
    """d = 4: |alpha(relu1) - alpha(relu2)| <= 0.1 and their loss ratio at equal N >= 1.2."""
    a1, a2 = _select(results, "relu1", COMPARE_D), _select(results, "relu2", COMPARE_D)
    (e1, lo1, hi1), (e2, lo2, hi2) = exponent(a1), exponent(a2)
    if math.isnan(e1) or math.isnan(e2):
        return Verdict("inconclusive", math.nan, "", f"needs relu1 and relu2 trials at d = {COMPARE_D}")
    ratio = offset_ratio(a1, a2)
    spread = max(ratio, 1 / ratio) if ratio > 0 else math.nan
    return all_of(
        [
            verdict_in_range(abs(e1 - e2), 0.0, ARCH_TOL, hypothesis="|alpha1 - alpha2|"),
            verdict_in_range(spread, OFFSET_MIN, math.inf, hypothesis="offset ratio"),
        ],
        f"d = {COMPARE_D}: ReLU depth 1 alpha = {e1:.2f} [{lo1:.2f}, {hi1:.2f}], depth 2 "
        f"alpha = {e2:.2f} [{lo2:.2f}, {hi2:.2f}]; loss ratio at equal N {ratio:.2f}",
    )


def check_sick_plateaus(results: Results) -> Verdict:
    """Bottleneck student at d = 4: exponent <= 0.1 and >= 5x the healthy loss at the largest N."""
    sick, healthy = _select(results, "bottleneck", COMPARE_D), _select(results, "relu1", COMPARE_D)
    e, lo, hi = exponent(sick)
    if math.isnan(e) or healthy.empty:
        return Verdict("inconclusive", math.nan, "", "needs bottleneck and relu1 trials at d = 4")
    cs, ch = _median_curve(sick), _median_curve(healthy)
    n_top = min(cs["n_params"].max(), ch["n_params"].max())
    ls = np.exp(np.interp(np.log(n_top), np.log(cs["n_params"]), np.log(cs["median"])))
    lh = np.exp(np.interp(np.log(n_top), np.log(ch["n_params"]), np.log(ch["median"])))
    return all_of(
        [
            verdict_in_range(e, -math.inf, SICK_MAX_EXPONENT, hypothesis="bottleneck alpha"),
            verdict_in_range(ls / lh, SICK_GAP, math.inf, hypothesis="loss / healthy"),
        ],
        f"bottleneck alpha = {e:.2f} [{lo:.2f}, {hi:.2f}]; at N = {n_top:.0f} its loss "
        f"{ls:.3g} vs {lh:.3g} for the healthy ReLU student",
    )
