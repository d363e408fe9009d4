"""The checks of ``residual_landscape``: each hypothesis's measurement on the results and its verdict."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from analysis.stats import spearman
from physai import Results, Verdict, all_of
from physai.evidence import bootstrap_verdict, slim, unless_converged

MIN_RHO = 0.5  # a trend over depth: Spearman rho of the per-depth medians with depth
MIN_ROUGHNESS = 0.05
ROUGHNESS_RATIO = 3.0
# Smooth slices give roughness ~1e-17 (rounding); the ratio's denominator is floored here so
# the ratio stays a readable number. Below this a slice is smooth for every purpose here.
ROUGHNESS_FLOOR = 1e-3


def _values(results: Results, value: str) -> pd.DataFrame:
    """The columns a check resamples: ``seed, residual, depth, status, v`` (``v`` is
    ``value``, +inf for a run that did not finish ok)."""
    t = results.trials
    if t.empty or value not in t.columns:
        return pd.DataFrame(columns=["seed", "residual", "depth", "status", "v"])
    out = t[["seed", "residual", "depth", "status"]].copy()
    out["v"] = t[value].where(t["status"] == "ok", math.inf).to_numpy(float)
    return out


def _medians(table: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Returns: the depths present and the median ``v`` over seeds at each (a diverged run, +inf,
    becomes the largest float: it ranks as the worst loss and stays a number)."""
    d, v = table["depth"].to_numpy(), table["v"].to_numpy(float)
    depths = np.unique(d)
    medians = np.array([np.median(v[d == x]) for x in depths])
    return depths, np.nan_to_num(medians, nan=math.nan, posinf=np.finfo(float).max)


def depth_trend(table: pd.DataFrame) -> float:
    """Spearman rho between depth and the median ``v`` over seeds at each depth, over *all*
    depths of the table (+1: ``v`` rises at every depth step, -1: falls at every step). With two
    depths it is the sign of the change, which is what Spearman's rho of two points is; NaN with
    fewer than two depths or when the medians are all equal."""
    depths, medians = _medians(table)
    if depths.size == 2:
        step = medians[1] - medians[0]
        return float(np.sign(step)) if step != 0 else math.nan
    return spearman(depths, medians)


def _max_median(table: pd.DataFrame) -> float:
    """Returns: the largest median ``v`` over seeds across depths."""
    _, medians = _medians(table)
    return float(medians.max()) if medians.size else math.nan


def _depths_text(rows: pd.DataFrame) -> str:
    return ",".join(str(int(d)) for d in sorted(rows["depth"].unique()))


def _trends(results: Results, value: str, what: str) -> Verdict:
    # Wrapped with unless_converged: the hypothesis compares end-state losses across depths.
    table = _values(results, value)
    parts = []
    for residual, expected in ((False, (MIN_RHO, 1.0)), (True, (-1.0, MIN_RHO))):
        rows = table[table["residual"] == residual]
        name = "residual" if residual else "plain"
        if rows["depth"].nunique() < 2:
            parts.append(Verdict("inconclusive", math.nan, "", "needs two depths", name))
            continue

        def decide(kept: pd.DataFrame, expected=expected, name=name) -> Verdict:
            return bootstrap_verdict(
                slim(kept, "depth", "v"),
                depth_trend,
                *expected,
                "Spearman rho",
                hypothesis=f"{name} rho(depth {_depths_text(kept)})",
            )

        ok = results.trials.loc[rows.index]
        ok = ok[ok["status"] == "ok"]

        def recheck(converged: pd.DataFrame, rows=rows, ok=ok, decide=decide) -> Verdict:
            # the same trend without the ok runs that had not converged (diverged runs stay: inf)
            return decide(rows.drop(index=ok.index.difference(converged.index)))

        parts.append(unless_converged(decide(rows), ok, recheck=recheck))
    caveats = "".join(f"; {v.hypothesis}: {v.explanation}" for v in parts if v.explanation)
    return all_of(
        parts,
        f"Spearman rho between depth and the median {what} over seeds, over every depth of the "
        f"results; 95% seed-bootstrap interval; plain nets must rise (rho >= {MIN_RHO:g}), residual "
        f"nets must not (rho <= {MIN_RHO:g}); needs every run it uses to have converged{caveats}.",
    )


def check_plain_test_loss_degrades(results: Results) -> Verdict:
    """Plain: test loss rises with depth (rho >= MIN_RHO); residual: it does not (rho <= MIN_RHO)."""
    return _trends(results, "test_rel_mse", "test MSE / var(y)")


def check_plain_trainability_degrades(results: Results) -> Verdict:
    """Plain: final train loss rises with depth (rho >= MIN_RHO); residual: it does not."""
    return _trends(results, "train_rel_mse", "final train MSE / var(y)")


def _plain_roughness(table: pd.DataFrame) -> float:
    v = table["v"].to_numpy(float)[~table["residual"].to_numpy(bool)]
    return float(np.median(v)) if v.size else math.nan


def _roughness_ratio(table: pd.DataFrame) -> float:
    res = table["v"].to_numpy(float)[table["residual"].to_numpy(bool)]
    return _plain_roughness(table) / max(float(np.median(res)), ROUGHNESS_FLOOR) if res.size else math.nan


def check_plain_rougher(results: Results) -> Verdict:
    """Plain roughness rises with depth and is >= MIN_ROUGHNESS and >= ROUGHNESS_RATIO x residual
    at the deepest depth; residual roughness stays <= MIN_ROUGHNESS at every depth."""
    # Not wrapped with unless_converged: the claim is about the shape of the landscape, not an
    # end-state loss, and the excess variation is 0 for a line that only falls or forms one
    # valley, so a slice around a point still descending does not read as rough.
    table = _values(results, "roughness")
    if table.empty:
        return Verdict("inconclusive", math.nan, "", "no slices")
    plain = table[~table["residual"].astype(bool)]
    residual = table[table["residual"].astype(bool)]
    deepest = int(table["depth"].max())
    at = table.loc[table["depth"] == deepest, ["seed", "residual", "v"]]
    if at["residual"].nunique() < 2 or plain["depth"].nunique() < 2:
        return Verdict("inconclusive", math.nan, "", "needs plain and residual nets, two depths and the deepest")
    return all_of(
        [
            bootstrap_verdict(
                slim(plain, "depth", "v"),
                depth_trend,
                MIN_RHO,
                1.0,
                "Spearman rho",
                hypothesis=f"plain roughness rho(depth {_depths_text(plain)})",
            ),
            bootstrap_verdict(
                at, _plain_roughness, MIN_ROUGHNESS, math.inf, "median", hypothesis=f"plain roughness (depth {deepest})"
            ),
            bootstrap_verdict(
                at, _roughness_ratio, ROUGHNESS_RATIO, math.inf, "ratio of medians", hypothesis="plain/residual"
            ),
            bootstrap_verdict(
                slim(residual, "depth", "v"),
                _max_median,
                0.0,
                MIN_ROUGHNESS,
                "largest median over depths",
                hypothesis="residual roughness",
            ),
        ],
        "Excess variation of the 2D log-loss slice, median over seeds per depth, 95% seed-bootstrap "
        f"intervals (residual roughness floored at {ROUGHNESS_FLOOR:g} in the ratio).",
    )
