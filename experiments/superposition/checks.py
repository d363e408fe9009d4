"""The checks of ``superposition``: represented-feature counts, feature dimensionalities, the 2-in-1 phases."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from analysis.stats import spearman
from experiments.superposition.model import REPRESENTED, analytic_phase, phase_of
from physai import Results, Verdict, all_of
from physai.evidence import bootstrap_verdict, slim, unless_converged

DENSE_BAND = 0.5  # mean count within half a feature of m: every seed (on average) at exactly m
SPARSE_FACTOR = 2.0  # at 1 - S <= SPARSE_DENSITY, at least twice as many features as dimensions
SPARSE_DENSITY = 0.01
MAX_RHO = -0.8  # the count falls as the density rises (Spearman over the densities present)
FRACTIONS = (1.0, 3 / 4, 2 / 3, 1 / 2, 2 / 5, 1 / 3)
FRACTION_TOL = 0.03  # under half the closest pair's gap (2/5 - 1/3 = 1/15): the windows do not touch
CHANCE = FRACTION_TOL + 2 * FRACTION_TOL * (len(FRACTIONS) - 1)  # window coverage of [0, 1]: 0.33
MIN_ON_FRACTIONS = 0.6
PHASE_MARGIN = 0.1  # relative loss gap below which a point counts as on the boundary (excluded)
MIN_AGREEMENT = 0.9
CONVERGED = "eval_converged"  # see ``run``: judged on the fixed evaluation set, not the online objective


def _part(results: Results, part: str) -> pd.DataFrame:
    df = results.ok
    return df[df["part"] == part] if "part" in df.columns else df.iloc[:0]


def _features(results: Results, part: str) -> pd.DataFrame:
    """One row per (trial, feature): seed, density, norm, dim (from the curves' ``feature`` rows)."""
    trials = _part(results, part)
    c = results.curves
    if trials.empty or c.empty:
        return pd.DataFrame(columns=["seed", "density", "trial_id", "feature", "norm", "dim"])
    c = c[(c["split"] == "feature") & c["trial_id"].isin(trials["trial_id"])]
    wide = c.pivot_table(index=["trial_id", "step"], columns="metric", values="value").reset_index()
    wide = wide.rename(columns={"step": "feature"})
    return wide.merge(trials[["trial_id", "seed", "density", "m"]], on="trial_id")


def _mean_count(t: pd.DataFrame) -> float:
    return float(np.mean(t["n_represented"].to_numpy(float)))


def _schemes(t: pd.DataFrame) -> pd.DataFrame:
    """The count runs with a ``scheme`` label: m and the importance profile (one part each)."""
    label = [
        f"m = {m}, I_i = {d:g}^i" + (f" x {r:g} (i > 0)" if r != 1 else "")
        for m, d, r in zip(t["m"], t["decay"], t["ratio"])
    ]
    return t.assign(scheme=label)


def check_dense(results: Results) -> Verdict:
    """Dense features (S = 0): the mean count of represented features over seeds lies within
    ``DENSE_BAND`` of m (95% seed-bootstrap interval), for every m and importance profile present."""
    t = _part(results, "count")
    dense = _schemes(t[t["density"] == 1.0])
    if dense.empty:
        return Verdict("inconclusive", math.nan, "[m - 0.5, m + 0.5]", "no run with dense features (1 - S = 1)")
    parts = []
    for scheme, rows in dense.groupby("scheme"):
        m = int(rows["m"].iloc[0])
        v = bootstrap_verdict(
            slim(rows, "n_represented"), _mean_count, m - DENSE_BAND, m + DENSE_BAND, "mean count", hypothesis=scheme
        )
        parts.append(unless_converged(v, rows, CONVERGED))
    return all_of(parts, f"features with ||W_i|| > {REPRESENTED} at 1 - S = 1, mean over seeds, against m")


def _rho(table: pd.DataFrame) -> float:
    """Spearman correlation of the mean count with the density (numpy: recomputed on every resample)."""
    levels, idx = np.unique(table["density"].to_numpy(float), return_inverse=True)
    mean = np.bincount(idx, table["n_represented"].to_numpy(float)) / np.bincount(idx)
    return spearman(levels, mean)


def check_sparse(results: Results) -> Verdict:
    """Sparse features: at each density <= ``SPARSE_DENSITY`` present the mean count is >= 2 m;
    over all densities present (3 or more), the Spearman correlation of the mean count with the
    density is <= -0.8; one part per m and importance profile."""
    t = _schemes(_part(results, "count"))
    if not (t["density"] <= SPARSE_DENSITY).any():
        return Verdict("inconclusive", math.nan, ">= 2 m", f"no run with 1 - S <= {SPARSE_DENSITY}")
    parts = []
    for scheme, runs in t.groupby("scheme"):
        m = int(runs["m"].iloc[0])

        def enough(rows, m=m, where=""):
            return bootstrap_verdict(
                slim(rows, "n_represented"), _mean_count, SPARSE_FACTOR * m, math.inf, "mean count", hypothesis=where
            )

        for density, rows in runs[runs["density"] <= SPARSE_DENSITY].groupby("density"):
            v = enough(rows, where=f"{scheme}, 1 - S = {density:g}")
            parts.append(unless_converged(v, rows, CONVERGED, recheck=enough))
        if runs["density"].nunique() >= 3:
            v = bootstrap_verdict(
                slim(runs, "density", "n_represented"),
                _rho,
                -1.0,
                MAX_RHO,
                "Spearman rho",
                hypothesis=f"{scheme}: count falls with density",
            )
            parts.append(v)
    return all_of(parts, "represented features (||W_i|| > 0.5) at high sparsity, mean over seeds, against 2 m")


def _on_fraction(table: pd.DataFrame) -> float:
    d = table["dim"].to_numpy(float)
    near = np.abs(d[:, None] - np.asarray(FRACTIONS)[None, :]) <= FRACTION_TOL
    return float(np.mean(near.any(axis=1))) if len(d) else math.nan


def check_geometry(results: Results) -> Verdict:
    """Equal importance: the fraction of represented features whose dimensionality D_i lies
    within ``FRACTION_TOL`` of 1, 3/4, 2/3, 1/2, 2/5 or 1/3, pooled over the sparse densities
    (1 - S < 1) present, has a 95% seed-bootstrap interval >= ``MIN_ON_FRACTIONS``."""
    t = _part(results, "geometry")
    t = t[(t["decay"] == 1.0) & (t["ratio"] == 1.0)]  # the claim is about equal importance
    # a model with all n features represented is a packed frame (every D_i near m / n), whose
    # value is set by n / m, not by the polytopes the claim is about: left out
    packed = t.loc[t["n_represented"] >= t["n"], "trial_id"]
    f = _features(results, "geometry")
    f = f[f["trial_id"].isin(t["trial_id"])]
    f = f[(f["density"] < 1.0) & (f["norm"] > REPRESENTED)]
    if f.empty:
        return Verdict("inconclusive", math.nan, f">= {MIN_ON_FRACTIONS}", "no represented feature at 1 - S < 1")
    if f["trial_id"].isin(packed).all():  # measured, but not what the claim is about
        return Verdict(
            "inconclusive",
            _on_fraction(f),
            f">= {MIN_ON_FRACTIONS}",
            "every run at 1 - S < 1 has all n features represented (a packed frame): no polytope regime swept",
            statistic="fraction on the fractions",
        )
    f = f[~f["trial_id"].isin(packed)]
    v = bootstrap_verdict(
        slim(f, "dim"),
        _on_fraction,
        MIN_ON_FRACTIONS,
        1.0,
        "fraction on the fractions",
        f"{len(f)} represented features over {f['density'].nunique()} densities; windows of +-{FRACTION_TOL} "
        f"cover {CHANCE:.2f} of [0, 1]",
    )
    return unless_converged(v, t, CONVERGED)


def phase_table(results: Results) -> pd.DataFrame:
    """The 2-in-1 runs with their trained phase, the analytic phase and its loss margin."""
    t = _part(results, "phase")
    if t.empty:
        return t.assign(trained=[], analytic=[], margin=[], agree=[])
    t = t.assign(ratio=t["ratio"] * t["decay"])  # importances 1 and decay * ratio (model.importance)
    points = t[["ratio", "density"]].drop_duplicates()
    theory = {(r, d): analytic_phase(float(r), float(d)) for r, d in points.itertuples(index=False)}
    analytic = [theory[(r, d)] for r, d in zip(t["ratio"], t["density"])]
    trained = [phase_of(a, b) for a, b in zip(t["norm_first"], t["norm_extra"])]
    return t.assign(
        trained=trained,
        analytic=[a[0] for a in analytic],
        margin=[a[1] for a in analytic],
        agree=[tr == a[0] for tr, a in zip(trained, analytic)],
        point=[f"{r:g}/{d:g}" for r, d in zip(t["ratio"], t["density"])],
    )


def _best_seed_agreement(table: pd.DataFrame) -> float:
    """Per point, the seed with the lowest exact loss (the paper keeps the best of several seeds);
    the fraction of points where its phase is the analytic one."""
    best = table.sort_values("exact_loss", kind="stable").drop_duplicates("point")
    return float(best["agree"].mean()) if len(best) else math.nan


def check_phase(results: Results) -> Verdict:
    """2 features in 1 dimension: agreement of the trained phase (best seed per point) with the
    analytic phase over the (ratio, density) points more than ``PHASE_MARGIN`` from the boundary."""
    t = phase_table(results)
    if t.empty:
        return Verdict("inconclusive", math.nan, f">= {MIN_AGREEMENT}", "no 2-in-1 runs")
    away = t[t["margin"] >= PHASE_MARGIN]
    if away.empty:
        return Verdict("inconclusive", math.nan, f">= {MIN_AGREEMENT}", "every point lies on the boundary")
    phases = ", ".join(f"{k}: {v}" for k, v in away.drop_duplicates("point")["analytic"].value_counts().items())
    v = bootstrap_verdict(
        slim(away, "point", "exact_loss", "agree"),
        _best_seed_agreement,
        MIN_AGREEMENT,
        1.0,
        "agreement",
        f"{away['point'].nunique()} of {t['point'].nunique()} points away from the boundary ({phases})",
    )
    return unless_converged(
        v,
        away,
        CONVERGED,
        recheck=lambda r: bootstrap_verdict(
            slim(r, "point", "exact_loss", "agree"), _best_seed_agreement, MIN_AGREEMENT, 1.0, "agreement"
        ),
    )
