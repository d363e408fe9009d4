"""Mirage: the curriculum, every check on hand-made tables that must pass and must fail."""

import jax
import numpy as np
import pandas as pd

from experiments.mirage import checks as mg
from physai import Results
from physai.curricula.tokens import multitoken_teacher
from tests.falsification import falsifies


def _results(rows) -> Results:
    trials = pd.DataFrame(rows)
    trials["status"] = "ok"
    return Results(trials, pd.DataFrame(), pd.DataFrame(), "mirage", "test")


def test_multitoken_teacher_shapes_and_determinism():
    a = multitoken_teacher(jax.random.key(0), 6, 5, 3, 8, 100, 20)
    b = multitoken_teacher(jax.random.key(0), 6, 5, 3, 8, 100, 20)
    assert a["y_train"].shape == (100, 5) and a["x_test"].shape == (20, 6)
    assert np.array_equal(np.asarray(a["y_train"]), np.asarray(b["y_train"]))
    y = np.asarray(a["y_train"])
    assert y.min() >= 0 and y.max() <= 2 and len(np.unique(y)) == 3


SIZES = np.array([100, 300, 1000, 3000, 10000, 30000])
SEEDS = 5
N_TEST = 2**15


def _rows(alpha=0.5, c=3.0, correlated=0.0, loss_noise=None, seeds=SEEDS, sizes=SIZES, lengths=mg.LENGTHS, em=None):
    """Per-token hazard -log p = c N^-alpha (capped) with seed-to-seed noise; exact match p^L
    (+ a correlation bonus, or ``em(n, L, p)``) with binomial noise on ``N_TEST`` answers."""
    rng = np.random.default_rng(0)
    rows = []
    for n in sizes:
        for seed in range(seeds):
            p = np.exp(-min(1.2, c * n**-alpha * np.exp(0.05 * rng.standard_normal())))
            row = {"n_params": int(n), "seed": seed, "n_test": N_TEST, "test_token_acc": p}
            row["test_token_loss"] = 2 * (1 - p) * (loss_noise(n) if loss_noise else 1.0)
            for L in lengths:
                mean = em(n, L, p) if em else min(1.0, p**L + correlated * (1 - p**L) * (L > 1))
                row[f"token_product_L{L}"] = p**L
                row[f"test_exact_match_L{L}"] = rng.binomial(N_TEST, mean) / N_TEST
            rows.append(row)
    return rows


def _step(n, centre):
    """A jump in log10 N at ``centre``: an ability that is absent, then present."""
    return 1 / (1 + np.exp(-(np.log10(n) - centre) / 0.1))


@falsifies("mirage", "per_token_loss_power_law")
def test_power_law_check_passes_and_fails():
    assert mg.check_loss_power_law(_results(_rows(c=0.5))).status == "supported"
    wobbly = lambda n: 3.0 if n in (300, 3000) else 1.0
    assert mg.check_loss_power_law(_results(_rows(c=0.5, loss_noise=wobbly))).status == "refuted"


def test_power_law_check_is_inconclusive_when_it_rests_on_runs_that_had_not_converged():
    rows = _rows(c=0.5)
    for row in rows:  # the two largest sizes unconverged: the four others alone still fit the law
        row["converged"] = row["n_params"] < 10000
    verdict = mg.check_loss_power_law(_results(rows))
    assert verdict.status == "supported" and "converged runs alone" in verdict.explanation
    for row in rows:  # the three largest: the three sizes left cannot decide it
        row["converged"] = row["n_params"] < 3000
    verdict = mg.check_loss_power_law(_results(rows))
    assert verdict.status == "inconclusive" and "not converged" in verdict.explanation


@falsifies("mirage", "exact_match_collapses_under_shift")
def test_collapse_check_passes_for_p_to_the_L_and_fails_for_a_genuine_jump():
    res = _results(_rows())
    a, _, _ = mg.shifted_curves(res.ok, mg.LENGTHS)
    assert abs(a - 0.5) < 0.02  # the exponent of the hazard is read back
    assert mg.check_collapse(res).status == "supported"
    # Genuinely emergent: the smooth per-token accuracy is unchanged, but every answer of
    # two or more tokens jumps at one model size whatever its length.
    jump = lambda n, L, p: p if L == 1 else _step(n, 3.0) * p
    assert mg.check_collapse(_results(_rows(em=jump))).status == "refuted"


@falsifies("mirage", "exact_match_rise_moves_up_the_window")
def test_rise_share_check_passes_for_p_to_the_L_and_fails_when_long_answers_rise_first():
    res = _results(_rows())
    shares = mg.rise_shares(res.ok, list(mg.LENGTHS))
    assert (np.diff(shares) > 0).all()  # (1 - r1^L) / (1 - r2^L) grows with L
    assert mg.check_rise_moves_up(res).status == "supported"
    # Longer answers jump *earlier* in N: the rise moves down the window as L grows.
    early = lambda n, L, p: _step(n, 4.0 - 0.3 * np.log2(L))
    assert mg.check_rise_moves_up(_results(_rows(em=early))).status == "refuted"


@falsifies("mirage", "exact_match_is_product_of_token_accuracies")
def test_product_check_passes_and_fails():
    assert mg.check_product(_results(_rows())).status == "supported"
    assert mg.check_product(_results(_rows(correlated=0.3))).status == "refuted"


@falsifies("mirage", "exact_match_resolved_below_onset")
def test_resolution_check_passes_for_p_to_the_L_and_fails_for_a_threshold():
    res = _results(_rows())
    assert mg.sub_onset_cells(res.ok, list(mg.LENGTHS)).sum() >= 3
    assert mg.check_resolved(res).status == "supported"
    # A true threshold: below 10% exact match the answers are never right, whatever p^L says.
    threshold = lambda n, L, p: p**L if p**L >= 0.1 else 0.0
    assert mg.check_resolved(_results(_rows(em=threshold))).status == "refuted"
    # Strongly correlated token errors (a hard input spoils every token): far above p^L.
    assert mg.check_resolved(_results(_rows(correlated=0.05))).status == "refuted"


def test_resolution_check_is_inconclusive_without_a_resolvable_cell():
    rows = _rows()
    for row in rows:
        row["n_test"] = 16  # no cell predicts 20 right answers
    assert mg.check_resolved(_results(rows)).status == "inconclusive"


def test_checks_compute_a_verdict_for_sizes_and_lengths_no_preset_contains():
    # Model sizes of widths in no preset, and n_tokens = 4 (lengths 1, 2, 4 only): every
    # check reads the sizes and lengths present and computes a finite measurement.
    rows = _rows(c=10.0, sizes=np.array([150, 450, 1400, 4200, 13000, 40000]), lengths=(1, 2, 4))
    res = _results(rows)
    assert mg.lengths_in(res.ok) == [1, 2, 4]
    checks = (mg.check_loss_power_law, mg.check_collapse, mg.check_rise_moves_up, mg.check_product)
    for check in checks:
        verdict = check(res)
        assert np.isfinite(verdict.measured) and verdict.interval is not None, check.__name__
        assert np.isfinite(verdict.interval).all() and verdict.n == SEEDS, check.__name__
    for check in (*checks[1:], mg.check_resolved):  # the resolution check has two parts (all_of)
        assert check(res).status == "supported", check.__name__
