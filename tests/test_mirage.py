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


def _rows(alpha=0.5, c=3.0, correlated=0.0, loss_noise=None, seeds=3):
    """Per-token error c N^-alpha (capped); exact match p^L (+ a correlation bonus)."""
    rows = []
    for n in SIZES:
        err = min(0.7, c * n**-alpha)
        p = 1 - err
        for seed in range(seeds):
            row = {
                "n_params": int(n),
                "seed": seed,
                "test_token_loss": 2 * err * (loss_noise(n) if loss_noise else 1.0),
            }
            for L in mg.LENGTHS:
                row[f"token_product_L{L}"] = p**L
                row[f"test_exact_match_L{L}"] = min(1.0, p**L + correlated * (1 - p**L) * (L > 1))
            rows.append(row)
    return rows


@falsifies("mirage", "per_token_loss_power_law")
def test_power_law_check_passes_and_fails():
    assert mg.check_loss_power_law(_results(_rows(c=0.5))).status == "supported"
    wobbly = lambda n: 3.0 if n in (300, 3000) else 1.0
    assert mg.check_loss_power_law(_results(_rows(c=0.5, loss_noise=wobbly))).status == "refuted"


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

    # Hand-made medians: widths that shrink with L pass, widths that grow fail.
    def table(centres_widths):
        rows = []
        for n in SIZES:
            row = {"n_params": int(n), "seed": 0, "test_token_loss": 1.0}
            for L, (centre, width) in zip(mg.LENGTHS, centres_widths):
                row[f"test_exact_match_L{L}"] = 1 / (1 + np.exp(-(np.log10(n) - centre) / width))
            rows.append(row)
        return _results(rows)

    sharp = table([(3.0, 0.6), (3.2, 0.4), (3.4, 0.25), (3.6, 0.15)])
    blunt = table([(3.0, 0.15), (3.2, 0.25), (3.4, 0.4), (3.6, 0.6)])
    assert mg.check_sharpens(sharp).status == "supported"
    assert mg.check_sharpens(blunt).status == "refuted"
