"""The checks: U-shaped IsoFLOP curves, the frontier exponent, the extrapolated compute law.

Every verdict is decided by the 95% seed-bootstrap interval of its statistic: whole
seeds are resampled and the whole pipeline (medians over seeds, smoothing, IsoFLOP
interpolation, minima, the compute-law fit) is redone on each resample. No
convergence caveat: the hypotheses are about losses at fixed compute budgets, read
from checkpoints along constant-lr runs, not about the runs' end states.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from analysis import lawfit
from analysis.fits import FitError, extrapolation_error, fit_power_law
from physai import Results, Verdict
from physai.evidence import bootstrap_verdict

from .isoflop import (
    MIN_WIDTHS_PER_BUDGET,
    N_BUDGETS,
    SKIP_LOGS,
    SMOOTH_FACTOR,
    U_MARGIN,
    extrapolation_split,
    isoflop_table,
    smoothed_curves,
)
from .task import FLOPS_PER_PARAM_EXAMPLE

HUBER_DELTA = 1e-3  # fit_power_law's default Huber threshold on log residuals
EXTRAPOLATION_TOL = 0.20  # held-out largest runs within 20% (a convention of this project)


def _iso(results: Results) -> pd.DataFrame:
    return isoflop_table(smoothed_curves(results))


class _Sampled:
    """The IsoFLOP pipeline as arrays, for bootstrap resamples of whole seeds.

    ``smoothed_curves`` and ``isoflop_table`` are linear in the per-step median of
    log loss: each width's curve is smoothed by a fixed window average and
    interpolated at the budgets by fixed weights. Those weights are built once here
    (they depend only on the logged steps, not on the losses), so a resample only
    redoes the medians over its seeds, the two products, and everything downstream
    (U shapes, minima, the compute law). ``table`` has one row per trial: ``seed``,
    ``w`` (width index) and ``r`` (the trial's row in its width's loss matrix).
    """

    def __init__(self, results: Results):
        ok, curves = results.ok, results.curves
        self.table = pd.DataFrame(columns=["seed", "w", "r"], dtype=float)
        self.ok = False
        self._starts = None
        if ok.empty or curves.empty or "seed" not in ok.columns:
            return
        c = curves[(curves["split"] == "test") & (curves["metric"] == "mse") & (curves["step"] > 0)]
        c = c.merge(ok[["trial_id", "width", "n_params", "batch", "seed"]], on="trial_id")
        if c.empty:
            return
        self.logs, self.weights, self.n_params, rows, ranges = [], [], [], [], []
        groups = list(c.groupby(["width", "n_params", "batch"]))
        groups.sort(key=lambda item: item[0][1])  # by parameters
        for (_width, n_params, batch), g in groups:
            steps = np.sort(g["step"].unique())[SKIP_LOGS:].astype(float)
            if steps.size < 2:
                continue
            wide = g.pivot_table(index="trial_id", columns="step", values="value", aggfunc="first")
            wide = wide.reindex(columns=steps)
            seeds = g.drop_duplicates("trial_id").set_index("trial_id").loc[wide.index, "seed"]
            window = (steps[None, :] >= steps[:, None] / SMOOTH_FACTOR) & (
                steps[None, :] <= steps[:, None] * SMOOTH_FACTOR
            )
            smooth = window / window.sum(axis=1, keepdims=True)
            log_compute = np.log(FLOPS_PER_PARAM_EXAMPLE * n_params * steps * batch)
            self.logs.append(np.log(wide.to_numpy(float)))
            self.weights.append((smooth, log_compute))
            self.n_params.append(float(n_params))
            rows += [(float(s), float(len(self.logs) - 1), float(i)) for i, s in enumerate(seeds)]
            ranges.append((log_compute[0], log_compute[-1]))
        if not self.logs:
            return
        lo, hi = min(r[0] for r in ranges), min(r[1] for r in ranges)
        self.budgets = np.geomspace(np.exp(lo), np.exp(hi), N_BUDGETS)
        log_b = np.log(self.budgets)
        # covered[b, w]: budget b lies in width w's logged compute range (as in isoflop_table)
        self.covered = np.array([[r[0] <= x <= r[1] for r in ranges] for x in log_b])
        self.maps = []
        for (smooth, log_compute), cover in zip(self.weights, self.covered.T):
            eye = np.eye(log_compute.size)
            interp = np.array([np.interp(x, log_compute, eye[j]) for j in range(log_compute.size) for x in log_b])
            interp = interp.reshape(log_compute.size, log_b.size).T
            self.maps.append(np.where(cover[:, None], interp @ smooth, np.nan))
        self.n_params = np.array(self.n_params)
        self.table = pd.DataFrame(rows, columns=["seed", "w", "r"])
        counts = self.covered.sum(axis=1)
        full = np.flatnonzero(counts >= MIN_WIDTHS_PER_BUDGET)
        k = full.size
        self.full = full
        self.middle = full[k // 3 : k - k // 3] if k >= 3 else full
        self.ok = True

    def log_losses(self, table: pd.DataFrame) -> np.ndarray:
        """Returns: ``[budget, width]`` log loss of the median curves of ``table``'s trials (NaN: not covered)."""
        w_col, r_col = table["w"].to_numpy(int), table["r"].to_numpy(int)
        out = np.full((self.budgets.size, len(self.maps)), np.nan)
        for w, (logs, mapping) in enumerate(zip(self.logs, self.maps)):
            mine = r_col[w_col == w]
            if mine.size:
                out[:, w] = mapping @ np.median(logs[mine], axis=0)
        return out

    def u_fraction(self, grid: np.ndarray) -> float:
        """Fraction of the middle budgets whose curve is U-shaped (as ``u_shape_summary``)."""
        if not self.middle.size:
            return math.nan
        shaped = []
        for b in self.middle:
            losses = grid[b][self.covered[b]]
            argmin = int(np.argmin(losses))
            ends = min(losses[0], losses[-1]) - losses[argmin]
            shaped.append(0 < argmin < losses.size - 1 and np.exp(ends) >= U_MARGIN)
        return float(np.mean(shaped))

    def minima(self, grid: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Returns: (budgets, n_opt) of the interior IsoFLOP minima (as ``isoflop_minima``, window 2)."""
        budgets, n_opt = [], []
        for b in self.full:
            sizes, losses = self.n_params[self.covered[b]], np.exp(grid[b][self.covered[b]])
            argmin = int(np.argmin(losses))
            if not 0 < argmin < sizes.size - 1:
                continue
            lo, hi = max(argmin - 2, 0), min(argmin + 3, sizes.size)
            log_sizes = np.log(sizes[lo:hi])
            curvature, slope, _ = np.polyfit(log_sizes, losses[lo:hi], deg=2)
            best = sizes[argmin]
            if curvature > 0:
                best = float(np.exp(np.clip(-slope / (2 * curvature), log_sizes[0], log_sizes[-1])))
            budgets.append(self.budgets[b])
            n_opt.append(best)
        return np.array(budgets), np.array(n_opt)

    def exponent(self, grid: np.ndarray) -> float:
        """b of N*(C) ∝ C^b: least-squares log-log slope of the interior minima (NaN with < 3)."""
        budgets, n_opt = self.minima(grid)
        if budgets.size < 3:
            return math.nan
        x = np.log(budgets) - np.log(budgets).mean()
        return float(x @ np.log(n_opt) / (x @ x))

    def extrapolation(self, grid: np.ndarray) -> float:
        """Worst relative error of the lower-two-thirds compute law on the held-out budgets."""
        best = np.exp(np.nanmin(grid, axis=1))
        log_c = np.log(self.budgets)
        fit_pts = log_c <= log_c.min() + 2 / 3 * (log_c.max() - log_c.min()) + 1e-9
        if fit_pts.sum() < 4 or fit_pts.all():
            return math.nan
        return self._law_error(self.budgets[fit_pts], best[fit_pts], self.budgets[~fit_pts], best[~fit_pts])

    def _law_error(self, c_fit, l_fit, c_held, l_held) -> float:
        """Worst held-out relative error of L = E + A C^-g fitted as ``fit_power_law`` does.

        The first call (the full table) runs ``fit_power_law``; later calls (resamples)
        start L-BFGS only from its optimum and the best grid points, as the library's own
        bootstrap refits do (a resample's optimum lies near the full-data one).
        """
        features, target = np.log(c_fit)[:, None], np.log(l_fit)
        if not (np.all(np.isfinite(target)) and np.all(np.isfinite(l_held))):
            return math.nan
        try:
            if self._starts is None:
                theta, _, starts = lawfit._fit_log_space(features, target, HUBER_DELTA)
                self._starts = np.vstack([theta, starts[:2]])
            else:
                theta, _ = lawfit._minimise_from(self._starts, features, target, HUBER_DELTA)
        except FitError:
            return math.nan
        predicted = np.exp(theta[0]) + np.exp(theta[1]) * c_held ** -theta[2]
        return float(np.max(np.abs(predicted - l_held) / l_held))

    def statistic(self, measure):
        """Returns: table -> measure(log_losses(table)), memoised on the multiset of trials drawn
        (the pipeline reads only which trials a resample holds, not their seed labels)."""
        memo = {}

        def of(table: pd.DataFrame) -> float:
            key = tuple(np.sort(table["w"].to_numpy() * 1e6 + table["r"].to_numpy()))
            if key not in memo:
                memo[key] = measure(self.log_losses(table))
            return memo[key]

        return of


def check_u_shape(results: Results) -> Verdict:
    """Fraction of middle budgets whose IsoFLOP curve is U-shaped, expected 1 (95% seed-bootstrap interval).

    No grid-edge caveat: an interior minimum is what the hypothesis asserts, so a
    minimum at the edge counts against it. No convergence caveat (fixed-budget losses).
    """
    s = _Sampled(results)
    if not s.ok or not s.middle.size:
        return Verdict("inconclusive", math.nan, "[1, 1]", "no budget has enough widths")
    grid = s.log_losses(s.table)
    ends = [(np.exp(grid[b][s.covered[b]][[0, -1]] - np.min(grid[b][s.covered[b]])), s.budgets[b]) for b in s.middle]
    (left, right), budget = min(ends, key=lambda e: e[0].min())
    frac = s.u_fraction(grid)
    return bootstrap_verdict(
        s.table,
        s.statistic(s.u_fraction),
        1.0,
        1.0,
        "fraction of middle budgets U-shaped",
        f"{round(frac * s.middle.size)}/{s.middle.size} middle budgets have an interior minimum with both "
        f"ends >= {U_MARGIN:g}x it (weakest: ends {left:.2f}x / {right:.2f}x at C = {budget:.3g})",
    )


def check_exponent(results: Results) -> Verdict:
    """b of N*(C) ∝ C^b from the interior IsoFLOP minima: its 95% seed-bootstrap interval inside (0, 1).

    Budgets whose minimum sits at the smallest or largest width are left out of the
    fit (their optimum may lie outside the grid); the explanation counts them. No
    convergence caveat (fixed-budget losses).
    """
    s = _Sampled(results)
    if not s.ok:
        return Verdict("inconclusive", math.nan, "[0, 1]", "no logged test curves")
    budgets, _ = s.minima(s.log_losses(s.table))
    if budgets.size < 3:
        return Verdict("inconclusive", math.nan, "[0, 1]", f"{budgets.size} interior IsoFLOP minima (need >= 3)")
    return bootstrap_verdict(
        s.table,
        s.statistic(s.exponent),
        0.0,
        1.0,
        "slope",
        f"N*(C) ∝ C^b: log-log slope of {budgets.size} interior IsoFLOP minima ({s.full.size - budgets.size} of "
        f"{s.full.size} budgets with >= {MIN_WIDTHS_PER_BUDGET} widths had their minimum at a grid edge "
        "and were left out)",
    )


def extrapolation_summary(results: Results):
    """Returns: (PowerLawFit of L*(C), worst held-out relative error, n fit, n held out) or None."""
    iso = _iso(results)
    if iso.empty:
        return None
    fit_pts, held = extrapolation_split(iso)
    if len(held) == 0 or len(fit_pts) < 4:
        return None
    fit = fit_power_law(fit_pts["compute"], fit_pts["loss"])
    err = extrapolation_error(fit.predict, held["compute"].to_numpy(), held["loss"])
    return fit, err, len(fit_pts), len(held)


def check_extrapolation(results: Results) -> Verdict:
    """Worst relative error of the lower-two-thirds law L*(C) on the top third, <= 0.2 (95% seed-bootstrap interval).

    No convergence caveat: the envelope is the best loss reached at each budget,
    whether or not a run had converged there.
    """
    s = _Sampled(results)
    if not s.ok:
        return Verdict("inconclusive", math.nan, f"<= {EXTRAPOLATION_TOL}", "no logged test curves")
    grid = s.log_losses(s.table)
    log_c = np.log(s.budgets)
    fit_pts = log_c <= log_c.min() + 2 / 3 * (log_c.max() - log_c.min()) + 1e-9
    if fit_pts.sum() < 4 or fit_pts.all():
        return Verdict("inconclusive", math.nan, f"<= {EXTRAPOLATION_TOL}", "too few budgets")
    try:
        fit = fit_power_law(s.budgets[fit_pts], np.exp(np.nanmin(grid, axis=1))[fit_pts])
    except FitError as error:
        return Verdict("inconclusive", math.nan, f"<= {EXTRAPOLATION_TOL}", str(error))
    return bootstrap_verdict(
        s.table,
        s.statistic(s.extrapolation),
        0.0,
        EXTRAPOLATION_TOL,
        "worst relative error",
        f"L*(C) = {fit.E:.3g} + {fit.A:.3g} C^-{fit.alpha:.3f} fitted on {int(fit_pts.sum())} budgets "
        f"(lower 2/3 of log C), worst relative error on the {int((~fit_pts).sum())} largest budgets",
    )
