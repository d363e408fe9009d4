"""The checks: U-shaped IsoFLOP curves, Approach 2 vs Approach 3, the law's extrapolation,
and the bias of reading IsoFLOPs off constant-learning-rate checkpoints.

Every verdict is decided by the 95% seed-bootstrap interval of its statistic: whole
seeds are resampled and the whole pipeline (medians over seeds, IsoFLOP minima,
their exponent, the fit of L(N, D)) is redone on each resample (``isoflop.Pipeline``).
Each (N, C) cell's loss is that of its best learning rate, so every verdict is
inconclusive when some cell's best rate lies at an edge of the swept rates (its tuned
loss may lie beyond the grid). No convergence caveat: the hypotheses are about the
loss reached at fixed compute.
"""

from __future__ import annotations

import math

import numpy as np

from physai import Results, Verdict
from physai.evidence import bootstrap_verdict, unless_interior

from .isoflop import FIT_FRACTION, MIN_MINIMA, MIN_WIDTHS_PER_BUDGET, U_MARGIN, Pipeline

AGREEMENT_TOL = 0.10  # |Approach 2 - Approach 3| on the exponent (Hoffmann et al. differ by <= 0.04)
EXTRAPOLATION_TOL = 0.20  # held-out largest runs within 20% (a convention of this project)
COSINE, CONSTANT = 0, 1


def _cosine(p: Pipeline):
    return lambda table: p.grid(table, COSINE)


def _unless_tuned(verdict: Verdict, p: Pipeline, kinds=(COSINE,)) -> Verdict:
    """The verdict, made inconclusive when some cell's best learning rate (over every seed)
    lies at an edge of the swept rates: that cell's loss is then not its tuned loss."""
    for kind in kinds:
        best, swept = p.best_rates(kind), p.rates(kind)
        edge = best[(best == swept[0]) | (best == swept[-1])] if swept.size else best
        if edge.size:
            what = f"learning rates in {edge.size} of {best.size} {('cosine', 'constant-lr')[kind]} cells"
            return unless_interior(verdict, swept, float(edge[0]), what)
    return verdict


def check_u_shape(results: Results) -> Verdict:
    """Fraction of middle budgets whose cosine IsoFLOP curve is U-shaped, expected 1 (95% interval).

    No grid-edge caveat: an interior minimum is what the hypothesis asserts, so a
    minimum at the edge counts against it.
    """
    p = Pipeline(results)
    grid = p.grid(p.table, COSINE) if p.ok else None
    if grid is None or not p.middle_budgets(grid).size:
        return Verdict("inconclusive", math.nan, "[1, 1]", f"no budget has >= {MIN_WIDTHS_PER_BUDGET} widths")
    middle = p.middle_budgets(grid)
    frac = p.u_fraction(grid)
    verdict = bootstrap_verdict(
        p.table,
        p.statistic(lambda t: p.u_fraction(p.grid(t, COSINE))),
        1.0,
        1.0,
        "fraction of middle budgets U-shaped",
        f"{round(frac * middle.size)}/{middle.size} middle budgets (one cosine run per size, decayed to its "
        f"own end) have an interior minimum with both ends >= {U_MARGIN:g}x it",
    )
    return _unless_tuned(verdict, p, (COSINE,))


def check_agreement(results: Results) -> Verdict:
    """beta_IsoFLOP - b/(a+b) of the fitted law, within +-AGREEMENT_TOL (95% seed-bootstrap interval).

    Budgets whose minimum sits at the smallest or largest size are left out of the
    IsoFLOP exponent (their optimum may lie outside the grid); the explanation counts them.
    """
    p = Pipeline(results)
    if not p.ok:
        return Verdict("inconclusive", math.nan, f"|.| <= {AGREEMENT_TOL}", "no cosine runs")
    grid = p.grid(p.table, COSINE)
    budgets, _ = p.minima(grid)
    theta = p.law(grid)
    if budgets.size < MIN_MINIMA or theta is None:
        return Verdict(
            "inconclusive",
            math.nan,
            f"|.| <= {AGREEMENT_TOL}",
            f"{budgets.size} interior IsoFLOP minima (need >= {MIN_MINIMA}) or no law fitted",
        )
    full = p.full_budgets(grid).size
    verdict = bootstrap_verdict(
        p.table,
        p.statistic(lambda t: p.agreement(p.grid(t, COSINE))),
        -AGREEMENT_TOL,
        AGREEMENT_TOL,
        "exponent difference",
        f"Approach 2: N_opt ∝ C^{p.exponent(grid):.3f} from {budgets.size} interior IsoFLOP minima "
        f"({full - budgets.size} of {full} budgets had their minimum at a grid edge); Approach 3: "
        f"L = {np.exp(theta[0]):.3g} + {np.exp(theta[1]):.3g}/N^{theta[3]:.3f} + {np.exp(theta[2]):.3g}/D^"
        f"{theta[4]:.3f}, b/(a+b) = {p.law_exponent(theta):.3f}",
    )
    return _unless_tuned(verdict, p, (COSINE,))


def check_extrapolation(results: Results) -> Verdict:
    """Worst relative error of the law fitted on the small budgets on the held-out largest runs, <= 0.2."""
    p = Pipeline(results)
    if not p.ok or p.fit_budgets.all():
        return Verdict("inconclusive", math.nan, f"<= {EXTRAPOLATION_TOL}", "too few budgets to hold any out")
    grid = p.grid(p.table, COSINE)
    theta = p.law(grid, p.fit_budgets, key="split")
    if theta is None:
        return Verdict("inconclusive", math.nan, f"<= {EXTRAPOLATION_TOL}", "the law could not be fitted")
    held = int((~p.fit_budgets).sum())
    verdict = bootstrap_verdict(
        p.table,
        p.statistic(lambda t: p.extrapolation(p.grid(t, COSINE))),
        0.0,
        EXTRAPOLATION_TOL,
        "worst relative error",
        f"L = {np.exp(theta[0]):.3g} + {np.exp(theta[1]):.3g}/N^{theta[3]:.3f} + {np.exp(theta[2]):.3g}/D^"
        f"{theta[4]:.3f} fitted on the {int(p.fit_budgets.sum())} budgets in the lower "
        f"{FIT_FRACTION:.2g} of log C; worst relative error over every run of the {held} largest budgets",
    )
    return _unless_tuned(verdict, p, (COSINE,))


def check_schedule_bias(results: Results) -> Verdict:
    """beta from constant-lr checkpoints minus beta from per-run cosine runs, > 0 (95% interval)."""
    p = Pipeline(results)
    if not p.ok or not p.n_const:
        return Verdict("inconclusive", math.nan, "> 0", "no constant-lr runs")
    grid_const, grid_cos = p.grid(p.table, CONSTANT), p.grid(p.table, COSINE)
    b_const, b_cos = p.exponent(grid_const), p.exponent(grid_cos)
    n_const, n_cos = p.minima(grid_const)[0].size, p.minima(grid_cos)[0].size
    if math.isnan(b_const) or math.isnan(b_cos):
        return Verdict(
            "inconclusive",
            math.nan,
            "> 0",
            f"interior IsoFLOP minima: {n_const} (constant lr), {n_cos} (cosine); need >= {MIN_MINIMA} each",
        )
    verdict = bootstrap_verdict(
        p.table,
        p.statistic(lambda t: p.exponent(p.grid(t, CONSTANT)) - p.exponent(p.grid(t, COSINE))),
        0.0,
        math.inf,
        "exponent difference",
        f"N_opt ∝ C^{b_const:.3f} read off constant-lr checkpoints ({n_const} interior minima) vs "
        f"C^{b_cos:.3f} from one cosine run per (N, C) ({n_cos} interior minima)",
    )
    return _unless_tuned(verdict, p, (COSINE, CONSTANT))
