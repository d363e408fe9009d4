"""Seed-bootstrap verdicts and their caveats decide as a reviewer expects."""

import math

import numpy as np
import pandas as pd

from physai.evidence import bootstrap_over, bootstrap_verdict, slim, unless_converged, unless_interior
from physai.experiment import Verdict


def _table(effect, seeds=8, noise=0.1, rng_seed=0):
    rng = np.random.default_rng(rng_seed)
    rows = [{"seed": s, "x": x, "y": effect * x + noise * rng.normal()} for s in range(seeds) for x in (1.0, 2.0, 3.0)]
    return pd.DataFrame(rows)


def _slope(table):
    return float(np.polyfit(table["x"], table["y"], 1)[0])


def test_interval_covers_the_estimate_and_shrinks_with_more_seeds():
    few = bootstrap_over(_table(1.0, seeds=4), _slope)
    many = bootstrap_over(_table(1.0, seeds=32), _slope)
    for estimate, (lo, hi), _ in (few, many):
        assert lo <= estimate <= hi
    assert many[1][1] - many[1][0] < few[1][1] - few[1][0]
    assert few[2] == 4 and many[2] == 32


def test_same_table_same_interval():
    assert bootstrap_over(_table(1.0), _slope) == bootstrap_over(_table(1.0), _slope)


def test_resampled_units_stay_paired():
    # Each seed contributes a pair whose difference is exactly 1: any resample keeps it 1.
    table = pd.DataFrame([{"seed": s, "arm": a, "y": s + a} for s in range(6) for a in (0, 1)])

    def paired_gap(t):
        wide = t.pivot_table(index="seed", columns="arm", values="y")
        return float((wide[1] - wide[0]).median())

    estimate, (lo, hi), n = bootstrap_over(table, paired_gap)
    assert estimate == lo == hi == 1.0 and n == 6


def test_verdict_supported_refuted_or_straddling():
    assert bootstrap_verdict(_table(1.0), _slope, 0.5, 1.5, "slope").status == "supported"
    assert bootstrap_verdict(_table(0.0), _slope, 0.5, 1.5, "slope").status == "refuted"
    straddle = bootstrap_verdict(_table(1.0, seeds=3, noise=1.0), _slope, 1.0, math.inf, "slope")
    assert straddle.status == "inconclusive" and "straddles" in straddle.explanation
    one = bootstrap_verdict(_table(1.0, seeds=1), _slope, 0.5, 1.5, "slope")
    assert one.status == "inconclusive" and one.n == 1


def test_unconverged_runs_or_an_edge_optimum_make_a_verdict_inconclusive():
    verdict = Verdict("supported", 1.0, ">= 0")
    table = pd.DataFrame({"converged": [True, True, False]})
    assert unless_converged(verdict, table).status == "inconclusive"
    assert "1 of 3" in unless_converged(verdict, table).explanation
    assert unless_converged(verdict, table.iloc[:2]).status == "supported"
    assert unless_converged(verdict, pd.DataFrame({"x": [1]})).status == "supported"
    assert unless_interior(verdict, [1, 2, 4, 8], 4, "width").status == "supported"
    assert unless_interior(verdict, [1, 2, 4, 8], 8, "width").status == "inconclusive"
    assert unless_interior(verdict, [1, 2, 4, 8], 1, "width").status == "inconclusive"


def test_a_verdict_that_does_not_rest_on_the_unconverged_runs_stands():
    rng = np.random.default_rng(1)
    table = pd.DataFrame({"seed": np.arange(12), "y": 2.0 + 0.1 * rng.normal(size=12), "converged": True})
    table.loc[[3, 7], "converged"] = False

    def check(rows):
        return bootstrap_verdict(rows, lambda t: float(t["y"].median()), 1.0, 3.0, "median")

    verdict = check(table)
    kept = unless_converged(verdict, table, recheck=check)
    assert kept.status == "supported" and "2 of 12 runs had not converged" in kept.explanation
    # The unconverged runs decide it: without them the claim is not supported.
    table.loc[table["converged"], "y"] = 5.0
    table.loc[~table["converged"], "y"] = 2.0
    verdict = check(table.assign(y=2.0))
    assert unless_converged(verdict, table, recheck=check).status == "inconclusive"


def test_a_refutation_about_an_interior_optimum_stands_at_the_edge():
    refuted = Verdict("refuted", 3.0, "[0.5, 2]", "peak outside the window")
    supported = Verdict("supported", 1.0, "[0.5, 2]", "peak inside the window")
    assert unless_interior(refuted, [1, 2, 3], 3, "p", refutation_stands=True).status == "refuted"
    assert unless_interior(refuted, [1, 2, 3], 3, "p").status == "inconclusive"
    assert unless_interior(supported, [1, 2, 3], 3, "p", refutation_stands=True).status == "inconclusive"


def test_slim_keeps_the_unit_and_the_named_columns_once():
    table = pd.DataFrame({"seed": [0, 1], "a": [1.0, 2.0], "b": [3.0, 4.0]})
    assert list(slim(table, "b", "seed", "b").columns) == ["seed", "b"]
