"""Verdicts decided by intervals: supported inside, refuted outside, inconclusive when straddling."""

import math

from physai import Hypothesis, Verdict, all_of, verdict_from_interval
from physai.experiment import Results


def test_an_interval_inside_supports_outside_refutes_and_straddling_is_inconclusive():
    v = verdict_from_interval(0.95, (0.91, 0.99), 0.9, 1.0, n=5, statistic="Spearman rho")
    assert v.status == "supported" and v.interval == (0.91, 0.99) and v.n == 5
    assert v.measured_text() == "Spearman rho 0.95 [0.91, 0.99] (n = 5)"
    assert verdict_from_interval(0.5, (0.4, 0.6), 0.9, 1.0, 5, "rho").status == "refuted"
    assert verdict_from_interval(1.5, (1.2, 1.8), -math.inf, 1.0, 5, "ratio").status == "refuted"
    edge = verdict_from_interval(0.952, (0.93, 0.97), 0.95, 1.0, 3, "R^2")  # a point estimate would pass
    assert edge.status == "inconclusive" and "straddles the bound 0.95" in edge.explanation
    assert "more independent units" in edge.explanation
    assert verdict_from_interval(0.95, (math.nan, math.nan), 0.9, 1.0, 1, "rho").status == "inconclusive"
    assert verdict_from_interval(math.nan, (0.9, 1.0), 0.9, 1.0, 0, "rho").status == "inconclusive"


def test_a_strict_range_excludes_its_bounds():
    # an ordering claim ("ratio > 1"): an interval touching 1 neither supports nor refutes it
    touching = verdict_from_interval(1.2, (1.0, 1.4), 1.0, math.inf, 5, "ratio", strict=True)
    assert touching.status == "inconclusive" and touching.expected == "> 1" and "bound 1" in touching.explanation
    assert verdict_from_interval(1.2, (1.0, 1.4), 1.0, math.inf, 5, "ratio").status == "supported"
    assert verdict_from_interval(1.2, (1.01, 1.4), 1.0, math.inf, 5, "ratio", strict=True).status == "supported"
    assert verdict_from_interval(0.9, (0.8, 1.0), 1.0, math.inf, 5, "ratio", strict=True).status == "refuted"
    assert verdict_from_interval(0.5, (0.2, 0.9), 0.0, 1.0, 5, "ratio", strict=True).expected == "(0, 1)"


def test_intervals_survive_evaluation_and_compound_verdicts():
    part = verdict_from_interval(2.0, (1.5, 2.5), 1.2, math.inf, 4, "median ratio", hypothesis="a")
    both = all_of([part, Verdict("supported", 0.3, "<= 1", hypothesis="b")])
    assert both.status == "supported" and "a: median ratio 2 [1.5, 2.5] (n = 4)" in both.measured
    h = Hypothesis("h", "claim", "anchor", lambda r: part)
    import pandas as pd

    evaluated = h.evaluate(Results(pd.DataFrame({"x": [1]}), pd.DataFrame(), pd.DataFrame()))
    assert evaluated.hypothesis == "h" and evaluated.interval == (1.5, 2.5) and evaluated.n == 4


def test_all_of_says_why_a_part_is_not_supported_once():
    part = Verdict("inconclusive", 1.0, ">= 0", "the interval straddles 0", "a")
    ok = Verdict("supported", 2.0, ">= 0", "fine", "b")
    combined = all_of([part, ok], "two parts")
    assert combined.explanation == "two parts (a: the interval straddles 0)"
    assert all_of([part, ok], "two parts; the interval straddles 0").explanation.count("straddles") == 1
