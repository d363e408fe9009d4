"""Mirage: the curriculum, every check on hand-made tables that must pass and must fail."""

import jax
import numpy as np
import pandas as pd

from experiments import mirage as mg
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


def _rows(alpha=0.5, c=3.0, correlated=0.0, loss_noise=None, seeds=SEEDS, sizes=SIZES, lengths=mg.LENGTHS):
    """Per-token error c N^-alpha (capped) with seed-to-seed noise; exact match p^L (+ a
    correlation bonus) with binomial-sized noise on 4096 test answers."""
    rng = np.random.default_rng(0)
    rows = []
    for n in sizes:
        for seed in range(seeds):
            err = min(0.7, c * n**-alpha * np.exp(0.05 * rng.standard_normal()))
            p = 1 - err
            row = {
                "n_params": int(n),
                "seed": seed,
                "test_token_loss": 2 * err * (loss_noise(n) if loss_noise else 1.0),
            }
            for L in lengths:
                em = min(1.0, p**L + correlated * (1 - p**L) * (L > 1))
                row[f"token_product_L{L}"] = p**L
                row[f"test_exact_match_L{L}"] = float(np.clip(em + 0.005 * rng.standard_normal(), 0, 1))
            rows.append(row)
    return rows


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


@falsifies("mirage", "exact_match_onset_shifts_with_L")
def test_onset_shift_check_passes_and_fails():
    # c = 6: every length's exact match crosses 0.5 inside the range of sizes.
    assert mg.check_onset_shifts(_results(_rows(c=6.0))).status == "supported"
    # Negative control: the second token is right whenever the first is, so 2-token answers
    # need no larger model than 1-token ones. Exact match of the first L tokens is nested in
    # that of fewer tokens, so on consistent data the onset can never come earlier for longer
    # answers: the claim fails by not moving, which this table shows.
    rows = _rows(c=6.0)
    for row in rows:
        row["test_exact_match_L2"] = row["test_exact_match_L1"]
    assert mg.check_onset_shifts(_results(rows)).status == "refuted"


@falsifies("mirage", "exact_match_is_product_of_token_accuracies")
def test_product_check_passes_and_fails():
    assert mg.check_product(_results(_rows())).status == "supported"
    assert mg.check_product(_results(_rows(correlated=0.3))).status == "refuted"


@falsifies("mirage", "exact_match_sharpens_with_L")
def test_sharpening_check_reads_the_rise_width():
    tr = mg.em_transitions(_results(_rows()))
    assert list(tr["L"]) == list(mg.LENGTHS) and np.isfinite(tr["width_decades"]).all()

    # Hand-made curves per seed: widths that shrink with L pass, widths that grow fail.
    def table(centres_widths):
        rng = np.random.default_rng(0)
        rows = []
        for n in SIZES:
            for seed in range(SEEDS):
                row = {"n_params": int(n), "seed": seed, "test_token_loss": 1.0}
                for L, (centre, width) in zip(mg.LENGTHS, centres_widths):
                    logistic = 1 / (1 + np.exp(-(np.log10(n) - centre) / width))
                    row[f"test_exact_match_L{L}"] = float(np.clip(logistic + 0.005 * rng.standard_normal(), 0, 1))
                rows.append(row)
        return _results(rows)

    sharp = table([(3.0, 0.6), (3.2, 0.4), (3.4, 0.25), (3.6, 0.15)])
    blunt = table([(3.0, 0.15), (3.2, 0.25), (3.4, 0.4), (3.6, 0.6)])
    assert mg.check_sharpens(sharp).status == "supported"
    assert mg.check_sharpens(blunt).status == "refuted"


def test_checks_compute_a_verdict_for_sizes_and_lengths_no_preset_contains():
    # Model sizes of widths in no preset, and n_tokens = 4 (lengths 1, 2, 4 only): every
    # check reads the sizes and lengths present and computes a finite measurement.
    rows = _rows(c=6.0, sizes=np.array([150, 450, 1400, 4200, 13000, 40000]), lengths=(1, 2, 4))
    res = _results(rows)
    assert list(mg.em_transitions(res)["L"]) == [1, 2, 4]
    for check in (mg.check_loss_power_law, mg.check_sharpens, mg.check_onset_shifts, mg.check_product):
        verdict = check(res)
        assert np.isfinite(verdict.measured) and verdict.interval is not None, check.__name__
        assert np.isfinite(verdict.interval).all() and verdict.n == SEEDS, check.__name__
    assert mg.check_onset_shifts(res).status == "supported"
    assert mg.check_product(res).status == "supported"


def test_sharpening_keeps_a_length_whose_exact_match_never_reaches_one_half():
    # c = 15: 8-token exact match rises but stays below 0.5 at the largest size; its rise
    # width is still measured (only the onset check needs the 0.5 crossing).
    res = _results(_rows(c=15.0))
    assert np.isnan(mg.em_transitions(res)["n_at_half"].iloc[-1])
    verdict = mg.check_sharpens(res)
    assert np.isfinite(verdict.measured) and "L=8" in verdict.explanation
    assert mg.check_onset_shifts(res).status == "inconclusive"
