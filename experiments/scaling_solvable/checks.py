"""Scaling_solvable: the checks, one part per curve present (each combination of ``CURVE_AXES``),
each decided by the 95% seed-bootstrap interval of its statistic."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from analysis.stats import loglog_slope
from physai import Results, Verdict, all_of
from physai.evidence import bootstrap_verdict, slim

from .theory import WINDOW_TOL, fit_window, theory_curve

EXPONENT_TOL = 0.10  # fitted exponent within +-0.10 of alpha (a convention, see the sources)
THEORY_MIN = 16  # theory checks compare sizes >= 16 (O(1/size) corrections <= ~6%)
THEORY_TOL = 0.10  # measured / theory within +-10% (a convention, see the sources)

# Axes a curve is drawn for: one part of each verdict per combination present.
CURVE_AXES = ("M", "alpha", "noise_var", "ridge")


def curves(results: Results, part: str) -> list[tuple[str, pd.DataFrame]]:
    """``[(name, trials)]`` of one part (``features``/``data``), one per combination of ``CURVE_AXES``
    values, sorted; the name lists alpha and every axis with several values (``M=500 alpha=0.5``)."""
    ok = results.ok
    if ok.empty or "part" not in ok.columns:
        return []
    sub = ok[ok["part"] == part]
    axes = [a for a in CURVE_AXES if a in sub.columns]
    shown = [a for a in axes if a == "alpha" or ok[a].nunique() > 1]
    groups = sub.groupby(axes, sort=True)
    return [(" ".join(f"{a}={v:g}" for a, v in zip(axes, key) if a in shown), df) for key, df in groups]


def fitted_slope(size: np.ndarray, excess: np.ndarray, window: tuple[float, float]) -> float:
    """Least-squares log-log slope of the excess loss over ``window`` (NaN with < 3 sizes)."""
    keep = (size >= window[0]) & (size <= window[1]) & (excess > 0)
    x, y = np.log(size[keep]), np.log(excess[keep])
    if np.unique(x).size < 3:
        return math.nan
    x = x - x.mean()
    return float(np.dot(x, y - y.mean()) / np.dot(x, x))


def exponent(df: pd.DataFrame) -> tuple[float, float, float, tuple[float, float]]:
    """``(slope, low, high, window)``: one curve's log-log slope over its theory window with the t
    interval over the points (a description; verdicts use the seed bootstrap); NaNs with < 3 sizes."""
    if df.empty:
        return (math.nan, math.nan, math.nan, (math.nan, math.nan))
    window = fit_window(int(df["M"].iloc[0]), float(df["alpha"].iloc[0]))
    fit = df[(df["size"] >= window[0]) & (df["size"] <= window[1]) & (df["excess_loss"] > 0)]
    if fit["size"].nunique() < 3:
        return (math.nan, math.nan, math.nan, window)
    return (*loglog_slope(fit["size"], fit["excess_loss"]), window)


def check_features_exponent(results: Results) -> Verdict:
    """-slope of excess loss vs N within +-EXPONENT_TOL of alpha over the theory's power-law window,
    every curve present (decided by the seed-bootstrap interval)."""
    parts = []
    for name, df in curves(results, "features"):
        alpha = float(df["alpha"].iloc[0])
        slope, low, high, window = exponent(df)
        # Seeds redraw W: the cluster bootstrap over seeds gives the interval. Closed-form
        # losses, no training: no convergence caveat; no optimum: no edge.
        parts.append(
            bootstrap_verdict(
                slim(df, "size", "excess_loss"),
                lambda t, w=window: -fitted_slope(t["size"].to_numpy(float), t["excess_loss"].to_numpy(float), w),
                alpha - EXPONENT_TOL,
                alpha + EXPONENT_TOL,
                "-slope",
                f"{name}: N in [{window[0]:.0f}, {window[1]:.0f}], slope {slope:.3f} "
                f"(t interval over points [{low:.3f}, {high:.3f}])",
                name,
            )
        )
    if not parts:
        return Verdict("inconclusive", math.nan, f"alpha +- {EXPONENT_TOL:g}", "no features trials")
    return all_of(
        parts,
        "fitted -d log L_excess / d log N over the sizes where the finite-M theory's own local exponent "
        f"is within {WINDOW_TOL:g} of alpha, 95% seed-bootstrap interval within alpha +- {EXPONENT_TOL:g}: "
        + "; ".join(p.explanation for p in parts),
    )


def theory_sizes(part: str, size: np.ndarray, M: int) -> np.ndarray:
    """Sizes a theory check compares: >= THEORY_MIN; features below M (beyond, the floor is exact by
    construction); data outside (M/2, 2M), where the ridgeless variance diverges at P = M."""
    keep = size >= THEORY_MIN
    if part == "features":
        return keep & (size < M)
    return keep & ((size <= M / 2) | (size >= 2 * M))


def theory_deviation(table: pd.DataFrame, part: str, M: int, theory: dict) -> float:
    """Max over the compared sizes of |log(seed-mean excess loss / theory[size])| (NaN without sizes)."""
    size, excess = table["size"].to_numpy(float), table["excess_loss"].to_numpy(float)
    compared = np.unique(size[theory_sizes(part, size, M)])
    if not compared.size:
        return math.nan
    means = np.array([excess[size == s].mean() for s in compared])
    expected = np.array([theory[s] for s in compared])
    return float(np.max(np.abs(np.log(means / expected))))


def _theory_check(part: str):
    def check(results: Results) -> Verdict:
        parts = []
        for name, df in curves(results, part):
            M, alpha = int(df["M"].iloc[0]), float(df["alpha"].iloc[0])
            noise_var, ridge = float(df["noise_var"].iloc[0]), float(df["ridge"].iloc[0])
            size = np.unique(df["size"].to_numpy(float))
            size = size[theory_sizes(part, size, M)]
            # The theory is computed once per curve; the bootstrap resamples only the seeds.
            theory = dict(zip(size, theory_curve(part, size, M, alpha, noise_var, ridge)))
            parts.append(
                bootstrap_verdict(
                    slim(df, "size", "excess_loss"),
                    lambda t, M=M, th=theory: theory_deviation(t, part, M, th),
                    0.0,
                    math.log(1 + THEORY_TOL),
                    "max |log(L_excess / theory)|",
                    hypothesis=name,
                )
            )
        if not parts:
            return Verdict("inconclusive", math.nan, f"within {THEORY_TOL:.0%}", f"no {part} trials")
        return all_of(
            parts,
            f"seed-mean excess loss within {THEORY_TOL:.0%} of the finite-size theory at every compared size "
            "(95% seed-bootstrap interval of the largest |log ratio|)",
        )

    check.__name__ = f"check_{part}_theory"
    check.__doc__ = f"The {part} curve against the finite-size theory, every curve present."
    return check


check_features_theory = _theory_check("features")
check_data_theory = _theory_check("data")
