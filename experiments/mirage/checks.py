"""The checks of ``mirage``: each hypothesis's measurement on the results and its verdict."""

from __future__ import annotations

import math
from itertools import combinations

import numpy as np
import pandas as pd

import physai
from analysis.stats import spearman
from physai import Results, Verdict
from physai.evidence import bootstrap_verdict, slim, unless_converged

LENGTHS = (1, 2, 4, 8, 16, 32)
MIN_R2 = 0.95
MAX_GAP = 0.05
MAX_COLLAPSE_GAP = 0.1
MIN_SHARE_RHO = 0.8
ONSET_LEVEL = 0.1
MIN_HITS = 20
MAX_LOG2_RATIO = 1.0
MIN_RIGHT = 10


def lengths_in(table: pd.DataFrame) -> list[int]:
    """The answer lengths L whose exact match the table holds."""
    return [L for L in LENGTHS if f"test_exact_match_L{L}" in table.columns]


def _em(lengths) -> list[str]:
    return [f"test_exact_match_L{L}" for L in lengths]


def _product(lengths) -> list[str]:
    return [f"token_product_L{L}" for L in lengths]


def _medians(table: pd.DataFrame, columns: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """Median over seeds of ``columns`` per model size: ``(n_params, (sizes, len(columns)))``."""
    sizes, group, counts = np.unique(table["n_params"].to_numpy(float), return_inverse=True, return_counts=True)
    values = np.column_stack([table[c].to_numpy(float) for c in columns])
    if (counts == counts[0]).all():  # as many rows per size (every seed has every size): one sort
        order = np.argsort(group, kind="stable")
        return sizes, np.median(values[order].reshape(len(sizes), counts[0], len(columns)), axis=1)
    return sizes, np.array([np.median(values[group == g], axis=0) for g in range(len(sizes))])


def _loglog_fit(x: np.ndarray, y: np.ndarray) -> tuple[float, float, float]:
    """``(R^2, slope, intercept)`` of the least-squares line through ``(log x, log y)``."""
    lx, ly = np.log(x), np.log(y)
    slope, intercept = np.polyfit(lx, ly, 1)
    r2 = 1 - np.sum((ly - (slope * lx + intercept)) ** 2) / np.sum((ly - ly.mean()) ** 2)
    return float(r2), float(slope), float(intercept)


def loss_power_law_fit(table: pd.DataFrame) -> tuple[float, float]:
    """``(R^2, slope)`` of the log-log line through the median per-token loss per model size."""
    n, loss = _medians(table, ["test_token_loss"])
    return _loglog_fit(n, loss[:, 0])[:2] if len(n) >= 4 else (math.nan, math.nan)


def check_loss_power_law(results: Results) -> Verdict:
    """R^2 of log(median per-token loss) vs log(params) >= 0.95, decided by its seed-bootstrap interval."""
    ok = results.ok

    def decide(ok: pd.DataFrame) -> Verdict:
        if ok.empty or "test_token_loss" not in ok.columns or ok["n_params"].nunique() < 4:
            return Verdict("inconclusive", float("nan"), f">= {MIN_R2:g}", "need >= 4 model sizes")
        r2, slope = loss_power_law_fit(ok)
        decades = math.log10(ok["n_params"].max() / ok["n_params"].min())
        return bootstrap_verdict(
            slim(ok, "n_params", "test_token_loss"),
            lambda t: loss_power_law_fit(t)[0],
            MIN_R2,
            1.0,
            "R^2",
            f"log-log fit of median per-token loss over {decades:.2g} decades of parameters: slope {slope:.3f}",
        )

    # A power law in N describes end-state losses compared across widths: runs still moving
    # at the end of the budget would bend it for a reason other than model size, unless the
    # settled runs alone give the same verdict.
    return unless_converged(decide(ok), ok, recheck=decide)


def hazard_exponent(n: np.ndarray, token_acc: np.ndarray) -> float:
    """``a`` of the log-log fit ``-log p = c N^-a`` (NaN when some p is 0 or 1)."""
    hazard = -np.log(np.asarray(token_acc, float))
    if len(n) < 3 or not (np.isfinite(hazard).all() and (hazard > 0).all()):
        return math.nan
    return -_loglog_fit(np.asarray(n, float), hazard)[1]


def shifted_curves(table: pd.DataFrame, lengths: list[int]) -> tuple[float, np.ndarray, np.ndarray]:
    """``(a, u, em)``: the fitted exponent, ``u[:, j] = log10 N - log10(L_j) / a`` and the
    median exact match ``em[:, j]``, one row per model size."""
    n, med = _medians(table, ["test_token_acc", *_em(lengths)])
    a = hazard_exponent(n, med[:, 0])
    u = np.log10(n)[:, None] - np.log10(np.asarray(lengths, float))[None, :] / a
    return a, u, med[:, 1:]


def collapse_gap(table: pd.DataFrame, lengths: list[int]) -> float:
    """Largest |difference| between two shifted exact-match curves where both are measured
    (each interpolated linearly in the shifted log N at the other's points); NaN without overlap."""
    a, u, em = shifted_curves(table, lengths)
    if not a > 0:
        return math.nan
    gaps = []
    for i, j in combinations(range(len(lengths)), 2):
        lo, hi = max(u[0, i], u[0, j]), min(u[-1, i], u[-1, j])
        points = np.concatenate([u[:, i], u[:, j]])
        points = points[(points >= lo) & (points <= hi)]
        if hi > lo:
            gaps.append(np.abs(np.interp(points, u[:, i], em[:, i]) - np.interp(points, u[:, j], em[:, j])).max())
    return float(max(gaps)) if gaps else math.nan


def check_collapse(results: Results) -> Verdict:
    """Largest gap between exact-match curves shifted by log(L)/a <= 0.1, by its bootstrap interval."""
    ok = results.ok
    lengths = lengths_in(ok)
    if len(lengths) < 2 or "test_token_acc" not in ok.columns or ok["n_params"].nunique() < 3:
        return Verdict("inconclusive", float("nan"), f"<= {MAX_COLLAPSE_GAP:g}", "need >= 2 lengths, >= 3 sizes")
    a, u, em = shifted_curves(ok, lengths)
    unshifted = np.ptp(em, axis=1).max()
    # Not wrapped in unless_converged: p^L is a transform of the same outputs, whatever
    # the training state, and the exponent is read off those outputs.
    return bootstrap_verdict(
        slim(ok, "n_params", "test_token_acc", *_em(lengths)),
        lambda t: collapse_gap(t, lengths),
        0.0,
        MAX_COLLAPSE_GAP,
        "largest gap",
        f"exact match of L = {', '.join(map(str, lengths))} against log10 N - log10(L) / a with a = {a:.3f} "
        f"fitted to the per-token hazard -log p; before the shift the curves differ by up to {unshifted:.2f}",
    )


def rise_shares(table: pd.DataFrame, lengths: list[int]) -> np.ndarray:
    """Per L: the share of the rise of median exact match over the window of sizes that lies in
    its upper half in log N (the middle read by linear interpolation); NaN without a rise."""
    n, em = _medians(table, _em(lengths))
    logn = np.log10(n)
    middle = np.array([np.interp((logn[0] + logn[-1]) / 2, logn, em[:, j]) for j in range(len(lengths))])
    rise = em[-1] - em[0]
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(rise > 0, (em[-1] - middle) / rise, np.nan)


def check_rise_moves_up(results: Results) -> Verdict:
    """Spearman(L, share of the rise in the upper half of the window) >= 0.8, by its bootstrap interval."""
    ok = results.ok
    lengths = lengths_in(ok)
    if len(lengths) < 3 or ok["n_params"].nunique() < 3:
        return Verdict("inconclusive", float("nan"), f">= {MIN_SHARE_RHO:g}", "need >= 3 lengths, >= 3 sizes")
    shares = rise_shares(ok, lengths)
    text = ", ".join(f"L={L}: {s:.2f}" for L, s in zip(lengths, shares))
    return bootstrap_verdict(
        slim(ok, "n_params", *_em(lengths)),
        lambda t: spearman(lengths, rise_shares(t, lengths)),
        MIN_SHARE_RHO,
        1.0,
        "Spearman rho",
        f"share of exact match's rise in the upper half of the window of sizes ({text})",
    )


def _em_and_product(table: pd.DataFrame, lengths: list[int]) -> tuple[np.ndarray, np.ndarray]:
    """Median exact match and median product of per-position accuracies, each ``(sizes, lengths)``."""
    _, med = _medians(table, _em(lengths) + _product(lengths))
    return med[:, : len(lengths)], med[:, len(lengths) :]


def product_gaps(table: pd.DataFrame, lengths: list[int]) -> np.ndarray:
    """Median exact match minus median product of per-position accuracies: ``(sizes, lengths)``."""
    em, prod = _em_and_product(table, lengths)
    return em - prod


def check_product(results: Results) -> Verdict:
    """max over (width, L) of |median EM - median product of per-position accuracies| <= 0.05,
    decided by its seed-bootstrap interval."""
    ok = results.ok
    lengths = [L for L in lengths_in(ok) if f"token_product_L{L}" in ok.columns]
    if not lengths:
        return Verdict("inconclusive", float("nan"), f"<= {MAX_GAP:g}", "no exact-match columns")
    gaps = product_gaps(ok, lengths)
    i, j = np.unravel_index(np.argmax(np.abs(gaps)), gaps.shape)
    n = sorted(ok["n_params"].unique())[i]
    # Not wrapped in unless_converged: the identity compares two metrics of the same outputs.
    return bootstrap_verdict(
        slim(ok, "n_params", *_em(lengths), *_product(lengths)),
        lambda t: float(np.abs(product_gaps(t, lengths)).max()),
        0.0,
        MAX_GAP,
        "largest |gap|",
        f"largest |exact match - product of per-position accuracies| is "
        f"{gaps[i, j]:+.3f} at L = {lengths[j]}, {n:.0f} parameters (positive: "
        f"token errors are positively correlated across positions)",
    )


def sub_onset_cells(table: pd.DataFrame, lengths: list[int]) -> np.ndarray:
    """``(sizes, lengths)`` mask: median exact match below ``ONSET_LEVEL`` while the median
    product of per-position accuracies predicts at least ``MIN_HITS`` right test answers."""
    em, prod = _em_and_product(table, lengths)
    return (em < ONSET_LEVEL) & (prod * float(table["n_test"].min()) >= MIN_HITS)


def log2_ratios(table: pd.DataFrame, lengths: list[int], cells: np.ndarray) -> np.ndarray:
    """log2(median exact match / median product) in ``cells`` (an exact match of 0 counts as
    half a test answer, so a zero is finite and far below)."""
    em, prod = _em_and_product(table, lengths)
    return np.log2(np.maximum(em, 0.5 / float(table["n_test"].min())) / prod)[cells]


def check_resolved(results: Results) -> Verdict:
    """Below the apparent onset, max |log2(exact match / product)| <= 1, by its bootstrap interval."""
    ok = results.ok
    lengths = [L for L in lengths_in(ok) if f"token_product_L{L}" in ok.columns]
    if not lengths or "n_test" not in ok.columns:
        return Verdict("inconclusive", float("nan"), f"<= {MAX_LOG2_RATIO:g}", "no exact-match columns")
    cells = sub_onset_cells(ok, lengths)
    if not cells.any():
        reason = f"no cell with exact match < {ONSET_LEVEL:g} and >= {MIN_HITS} predicted right answers"
        return Verdict("inconclusive", float("nan"), f"<= {MAX_LOG2_RATIO:g}", reason)
    ratios = log2_ratios(ok, lengths, cells)
    n, _ = _medians(ok, ["n_test"])
    where = ", ".join(f"L={lengths[j]} at {n[i]:.0f}" for i, j in zip(*np.nonzero(cells)))
    table = slim(ok, "n_params", "n_test", *_em(lengths), *_product(lengths))
    fewest = lambda t: float(_medians(t, _em(lengths))[1][cells].min() * t["n_test"].min())
    worst = lambda t: float(np.abs(log2_ratios(t, lengths, cells)).max())
    return physai.all_of(
        [
            bootstrap_verdict(table, fewest, MIN_RIGHT, math.inf, "fewest right answers", hypothesis="above_zero"),
            bootstrap_verdict(table, worst, 0.0, MAX_LOG2_RATIO, "largest |log2 ratio|", hypothesis="matches_product"),
        ],
        f"{cells.sum()} cells with exact match < {ONSET_LEVEL:g} ({where} parameters); exact match / product "
        f"of per-position accuracies from {2 ** ratios.min():.2f} to {2 ** ratios.max():.2f}",
    )
