"""From stored runs to IsoFLOP grids, their minima and the parametric law, per seed resample.

``Pipeline`` turns the tables into per-trial log losses once; a resample of whole
seeds (``physai.evidence.bootstrap_verdict``) then redoes everything downstream on
its trials: medians over its seeds per (budget, model size, learning rate), the lowest
of them over learning rates (the tuned run of each cell), IsoFLOP minima, their
exponent, and the fit of L(N, D) = E + A/N^a + B/D^b. Correlated minima (one seed's
runs feed every budget) are thus never treated as independent points.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import pandas as pd

from analysis import lawfit
from analysis.fits import FitError
from physai import Results

from .task import FLOPS_PER_PARAM_EXAMPLE

SMOOTH_FACTOR = 1.15  # a constant-lr checkpoint is the mean log loss over logged steps in [D/1.15, 1.15 D]
MIN_WIDTHS_PER_BUDGET = 5  # an IsoFLOP curve needs this many widths to judge its shape
MIN_MINIMA = 3  # interior IsoFLOP minima needed for an exponent
U_MARGIN = 1.10  # both ends of a U must be >= 10% above its minimum
HUBER_DELTA = 1e-3  # Huber threshold on log residuals (Hoffmann et al. 2022, Approach 3)
FIT_FRACTION = 2 / 3  # the law is fitted on the budgets in the lower 2/3 of log C


class Pipeline:
    """The analysis of one results table, for the full data and for seed resamples.

    ``table`` has one row per usable trial: ``seed``, ``kind`` (0 cosine, 1 constant)
    and ``i`` (the trial's row in its kind's arrays). Budgets and model sizes are
    read from the results (every nominal ``budget`` of a cosine run, every width).
    """

    def __init__(self, results: Results):
        self.ok = False
        self.table = pd.DataFrame(columns=["seed", "kind", "i"], dtype=float)
        self._starts: dict[str, np.ndarray] = {}
        trials = results.ok
        need = {"cosine", "budget", "n_params", "seed", "lr", "test_mse", "examples"}
        if trials.empty or not need <= set(trials.columns):
            return
        is_cosine = trials["cosine"].astype(bool)
        cos = trials[is_cosine & (trials["test_mse"] > 0)]
        const = trials[~is_cosine]
        if cos.empty:
            return
        self.budgets = np.sort(cos["budget"].unique().astype(float))
        self.sizes = np.sort(pd.concat([cos["n_params"], const["n_params"]]).unique().astype(float))
        b_of = {b: j for j, b in enumerate(self.budgets)}
        w_of = {n: j for j, n in enumerate(self.sizes)}
        self.cos_b = cos["budget"].map(b_of).to_numpy(int)
        self.cos_w = cos["n_params"].astype(float).map(w_of).to_numpy(int)
        self.cos_log = np.log(cos["test_mse"].to_numpy(float))
        # a cell's loss is that of its best learning rate (medians over seeds first)
        self.lrs = np.sort(pd.concat([cos["lr"], const["lr"]]).unique().astype(float))
        lr_of = {lr: j for j, lr in enumerate(self.lrs)}
        self.cos_lr = cos["lr"].astype(float).map(lr_of).to_numpy(int)
        self.const_lr = const["lr"].astype(float).map(lr_of).to_numpy(int)
        # Examples actually seen by each (budget, size) cell (steps are rounded by <= 3%).
        self.examples = np.full((self.budgets.size, self.sizes.size), np.nan)
        self.examples[self.cos_b, self.cos_w] = cos["examples"].to_numpy(float)
        self.const_w, self.const_log = self._constant_checkpoints(const, results.curves, w_of)
        rows = [(s, 0, i) for i, s in enumerate(cos["seed"])] + [(s, 1, i) for i, s in enumerate(const["seed"])]
        self.table = pd.DataFrame(rows, columns=["seed", "kind", "i"])
        self.n_const = len(const)
        log_c = np.log(self.budgets)
        self.fit_budgets = log_c <= log_c.min() + FIT_FRACTION * (log_c.max() - log_c.min()) + 1e-9
        self.ok = True

    def _constant_checkpoints(self, const, curves, w_of):
        """Each constant-lr run's log loss at every budget it reaches (NaN beyond it)."""
        out = np.full((len(const), self.budgets.size), np.nan)
        if const.empty or curves.empty:
            return np.zeros(0, int), out[:0]
        c = curves[(curves["split"] == "test") & (curves["metric"] == "mse") & (curves["step"] > 0)]
        by_trial = dict(tuple(c.groupby("trial_id")))
        for r, (_, trial) in enumerate(const.iterrows()):
            g = by_trial.get(trial["trial_id"])
            if g is None:
                continue
            steps, log_loss = g["step"].to_numpy(float), np.log(g["value"].to_numpy(float))
            per_step = FLOPS_PER_PARAM_EXAMPLE * float(trial["n_params"]) * float(trial["batch"])
            for j, budget in enumerate(self.budgets):
                d = budget / per_step  # the step at which this run has spent C
                window = (steps >= d / SMOOTH_FACTOR) & (steps <= d * SMOOTH_FACTOR)
                if d <= steps.max() * SMOOTH_FACTOR and window.any():
                    out[r, j] = log_loss[window].mean()
        return const["n_params"].astype(float).map(w_of).to_numpy(int), out

    # ---------------------------------------------------------------- grids
    def per_rate(self, table: pd.DataFrame, kind: int) -> np.ndarray:
        """Returns: ``[learning rate, budget, size]`` median log loss over the seeds of ``table``'s
        trials of ``kind`` (NaN: no run)."""
        out = np.full((self.lrs.size, self.budgets.size, self.sizes.size), np.nan)
        idx = table.loc[table["kind"] == kind, "i"].to_numpy(int)
        if kind == 0 and idx.size:
            frame = pd.DataFrame(
                {"lr": self.cos_lr[idx], "b": self.cos_b[idx], "w": self.cos_w[idx], "v": self.cos_log[idx]}
            )
            med = frame.groupby(["lr", "b", "w"])["v"].median()
            out[tuple(np.array(med.index.to_list()).T)] = med.to_numpy()
        elif kind == 1:
            for lr, w in {(self.const_lr[i], self.const_w[i]) for i in idx}:
                mine = idx[(self.const_lr[idx] == lr) & (self.const_w[idx] == w)]
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", RuntimeWarning)  # a budget no run reaches: NaN
                    out[lr, :, w] = np.nanmedian(self.const_log[mine], axis=0)
        return out

    def grid(self, table: pd.DataFrame, kind: int) -> np.ndarray:
        """Returns: ``[budget, size]`` log loss of each cell's best learning rate: the lowest over
        rates of the median over ``table``'s seeds (NaN: no run)."""
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # a cell without runs: NaN
            return np.nanmin(self.per_rate(table, kind), axis=0)

    def rates(self, kind: int) -> np.ndarray:
        """Returns: the learning rates swept for the runs of ``kind`` (sorted)."""
        return self.lrs[np.unique(self.cos_lr if kind == 0 else self.const_lr)]

    def best_rates(self, kind: int) -> np.ndarray:
        """Returns: the learning rate of each cell's lowest median loss over every seed, for the
        cells that have one (to check that the tuned optimum lies inside the swept rates)."""
        losses = self.per_rate(self.table, kind)
        have = np.isfinite(losses).any(axis=0)
        return self.lrs[np.argmin(np.where(np.isfinite(losses), losses, np.inf), axis=0)[have]]

    def full_budgets(self, grid: np.ndarray) -> np.ndarray:
        """Returns: indices of the budgets whose curve has >= MIN_WIDTHS_PER_BUDGET sizes."""
        return np.flatnonzero(np.isfinite(grid).sum(axis=1) >= MIN_WIDTHS_PER_BUDGET)

    def middle_budgets(self, grid: np.ndarray) -> np.ndarray:
        """Returns: the middle third (by rank) of ``full_budgets``."""
        full = self.full_budgets(grid)
        k = full.size
        return full[k // 3 : k - k // 3] if k >= 3 else full

    # ---------------------------------------------------------------- statistics
    def u_fraction(self, grid: np.ndarray) -> float:
        """Fraction of the middle budgets whose curve has an interior minimum, both ends >= U_MARGIN x it."""
        middle = self.middle_budgets(grid)
        if not middle.size:
            return math.nan
        shaped = []
        for b in middle:
            losses = grid[b][np.isfinite(grid[b])]
            argmin = int(np.argmin(losses))
            ends = min(losses[0], losses[-1]) - losses[argmin]
            shaped.append(0 < argmin < losses.size - 1 and np.exp(ends) >= U_MARGIN)
        return float(np.mean(shaped))

    def minima(self, grid: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Returns: (budgets, n_opt) of the interior IsoFLOP minima (parabola in log N through the
        minimum and up to two neighbours each side, as ``analysis.fits.isoflop_minima``)."""
        budgets, n_opt = [], []
        for b in self.full_budgets(grid):
            have = np.isfinite(grid[b])
            sizes, losses = self.sizes[have], np.exp(grid[b][have])
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
        """beta of N_opt ∝ C^beta: least-squares log-log slope of the interior minima (NaN below MIN_MINIMA)."""
        budgets, n_opt = self.minima(grid)
        if budgets.size < MIN_MINIMA:
            return math.nan
        x = np.log(budgets) - np.log(budgets).mean()
        return float(x @ np.log(n_opt) / (x @ x))

    def law(self, grid: np.ndarray, budgets: np.ndarray | None = None, key: str = "all") -> np.ndarray | None:
        """theta = [log E, log A, log B, a, b] of L = E + A/N^a + B/D^b fitted (Huber on log loss,
        L-BFGS-B from the Hoffmann et al. grid: ``analysis.lawfit``) to the cells of ``budgets``.

        The first fit of each ``key`` (the full data) prunes the start grid; later fits
        (resamples) start from its optimum and best grid points, as the library's own
        bootstrap refits do. Returns None when it cannot be fitted.
        """
        keep = np.isfinite(grid) & np.isfinite(self.examples)
        if budgets is not None:
            keep &= budgets[:, None]
        if keep.sum() < 6:
            return None
        sizes = np.broadcast_to(self.sizes, grid.shape)
        features = np.column_stack([np.log(sizes[keep]), np.log(self.examples[keep])])
        try:
            if key not in self._starts:
                theta, _, starts = lawfit._fit_log_space(features, grid[keep], HUBER_DELTA)
                self._starts[key] = np.vstack([theta, starts[:2]])
            else:
                theta, _ = lawfit._minimise_from(self._starts[key], features, grid[keep], HUBER_DELTA)
        except FitError:
            return None
        return theta

    @staticmethod
    def law_exponent(theta: np.ndarray | None) -> float:
        """Returns: b / (a + b), the N_opt exponent of the law under C = 6 N D (Hoffmann et al. Sec. 3.3)."""
        if theta is None or theta[3] + theta[4] <= 0:
            return math.nan
        return float(theta[4] / (theta[3] + theta[4]))

    def predict(self, theta: np.ndarray) -> np.ndarray:
        """Returns: ``[budget, size]`` log loss the law predicts for every cell's (N, D)."""
        with np.errstate(all="ignore"):
            return np.log(
                np.exp(theta[0])
                + np.exp(theta[1]) * self.sizes[None, :] ** -theta[3]
                + np.exp(theta[2]) * self.examples ** -theta[4]
            )

    def agreement(self, grid: np.ndarray) -> float:
        """IsoFLOP exponent (Approach 2) minus the law's b / (a + b) (Approach 3), same runs."""
        return self.exponent(grid) - self.law_exponent(self.law(grid))

    def extrapolation(self, grid: np.ndarray) -> float:
        """Worst relative error, on every run of the held-out largest budgets, of the law fitted
        on the budgets in the lower FIT_FRACTION of log C."""
        if self.fit_budgets.all() or not self.fit_budgets.any():
            return math.nan
        theta = self.law(grid, self.fit_budgets, key="split")
        if theta is None:
            return math.nan
        held = ~self.fit_budgets[:, None] & np.isfinite(grid) & np.isfinite(self.examples)
        if not held.any():
            return math.nan
        return float(np.max(np.abs(np.expm1(self.predict(theta)[held] - grid[held]))))

    def statistic(self, measure):
        """Returns: table -> measure(table), memoised on the multiset of trials drawn (the
        pipeline reads only which trials a resample holds, not their seed labels)."""
        memo = {}

        def of(table: pd.DataFrame) -> float:
            key = tuple(np.sort(table["kind"].to_numpy() * 1e7 + table["i"].to_numpy()))
            if key not in memo:
                memo[key] = measure(table)
            return memo[key]

        return of


def smoothed_curves(results: Results) -> pd.DataFrame:
    """Median-over-seeds test-MSE curve of every width's longest run (its constant-lr run when
    there is one) at its best peak rate, for figures and sanity checks.

    Returns:
      Columns ``width, n_params, schedule, step, examples, compute, loss``.
    """
    columns = ["width", "n_params", "cosine", "step", "examples", "compute", "loss"]
    trials, curves = results.ok, results.curves
    if trials.empty or curves.empty or "steps" not in trials.columns:
        return pd.DataFrame(columns=columns)
    c = curves[(curves["split"] == "test") & (curves["metric"] == "mse")]
    rows = []
    for width, g in trials.groupby("width"):
        longest = g[g["steps"] == g["steps"].max()]
        longest = longest[longest["cosine"].astype(bool) != (~longest["cosine"].astype(bool)).any()]
        if "lr" in longest.columns:  # the rate whose runs end lowest (median over seeds)
            longest = longest[longest["lr"] == longest.groupby("lr")["test_mse"].median().idxmin()]
        mine = c[c["trial_id"].isin(longest["trial_id"])]
        first = longest.iloc[0]
        per_example = FLOPS_PER_PARAM_EXAMPLE * float(first["n_params"])
        for step, v in mine.groupby("step")["value"]:
            examples = float(step) * float(first["batch"])
            rows.append(
                (
                    int(width),
                    int(first["n_params"]),
                    bool(first["cosine"]),
                    float(step),
                    examples,
                    per_example * examples,
                    float(np.exp(np.median(np.log(v)))),
                )
            )
    return pd.DataFrame(rows, columns=columns)
