"""data_quality: the closed forms, the max-margin solver, and every check on hand-made tables
that must pass and must fail (no training runs; the tiny preset runs in test_experiments)."""

import math

import numpy as np
import pandas as pd
import pytest

from experiments import data_quality as dq
from physai import Results, Trial
from tests.falsification import falsifies

ALPHAS = [0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0]
SEEDS = 10


def _results(rows) -> Results:
    trials = pd.DataFrame(rows)
    trials["status"] = "ok"
    return Results(trials, pd.DataFrame(), pd.DataFrame(), "data_quality", "test")


def _noise_rows(error=dq.hebbian_error, qs=(0.0, 0.1, 0.2, 0.3), jitter=0.01):
    """Hebbian rows whose error is ``error(alpha, q)`` times 1 + seeded noise (centred per cell)."""
    rng = np.random.default_rng(0)
    rows = []
    for q in qs:
        for a in ALPHAS:
            z = rng.standard_normal(SEEDS)
            for seed in range(SEEDS):
                rows.append(
                    {
                        "part": "noise",
                        "q": q,
                        "alpha": a,
                        "seed": seed,
                        "test_error": float(error(a, q)) * (1 + jitter * (z[seed] - z.mean())),
                        "theory_error": float(dq.hebbian_error(a, q)),
                    }
                )
    return rows


def _prune_rows(gap_small, gap_large, totals=(1.0, 4.0, 16.0)):
    """Pruning rows: error(easy) = 0.2 / alpha_total^0.5 and error(hard) = it + the gap, which moves
    from ``gap_small`` at the smallest pool to ``gap_large`` at the largest (log-linearly), with
    seeded noise of 0.005 per row."""
    rng = np.random.default_rng(1)
    rows = []
    for i, total in enumerate(totals):
        gap = gap_small + (gap_large - gap_small) * i / (len(totals) - 1)
        for seed in range(SEEDS):
            easy = 0.2 / math.sqrt(total) + 0.005 * rng.standard_normal()
            for keep, err in (("easy", easy), ("hard", easy + gap + 0.005 * rng.standard_normal())):
                rows.append(
                    {"part": "prune", "alpha_total": total, "keep": keep, "seed": seed, "f": 0.25, "test_error": err}
                )
    return rows


# ----------------------------------------------------------------------------- closed forms and solvers


def test_hebbian_overlap_limits_and_the_noise_identity():
    assert dq.hebbian_overlap(0.0, 0.0) == 0.0
    assert dq.hebbian_overlap(1e9, 0.0) == pytest.approx(1.0, abs=1e-8)
    assert dq.hebbian_overlap(5.0, 0.5) == 0.0  # random labels carry no signal
    assert dq.hebbian_error(0.0, 0.1) == pytest.approx(0.5)
    for q in (0.1, 0.2, 0.3):  # the multiplier: R(alpha, q) = R(alpha (1 - 2q)^2, 0)
        for a in (0.5, 3.0, 40.0):
            assert dq.hebbian_overlap(a, q) == pytest.approx(dq.hebbian_overlap(a * (1 - 2 * q) ** 2, 0.0))
    assert dq.multiplier_theory(0.0) == 1.0
    assert dq.multiplier_theory(0.25) == pytest.approx(4.0)


def test_run_noise_matches_the_closed_form_in_monte_carlo():
    n_dim, a, q = 400, 2.0, 0.2
    errors = [dq.run_noise(Trial(str(s), {"seed": s, "alpha": a, "q": q}), n_dim)["test_error"] for s in range(20)]
    assert np.mean(errors) == pytest.approx(float(dq.hebbian_error(a, q)), rel=0.03)


def test_max_margin_solves_small_programs_exactly():
    assert dq.max_margin(np.eye(2)) == pytest.approx([1.0, 1.0])  # w1 >= 1, w2 >= 1
    assert dq.max_margin(np.array([[1.0, 0.0], [1.0, 1.0]])) == pytest.approx([1.0, 0.0], abs=1e-9)
    rng = np.random.default_rng(0)
    teacher = rng.standard_normal(30)
    x = rng.standard_normal((80, 30))
    z = np.sign(x @ teacher)[:, None] * x
    w = dq.max_margin(z)
    margins = z @ w
    assert margins.min() == pytest.approx(1.0, abs=1e-8)  # feasible, and the margin is tight
    # optimal: no feasible direction shorter; a random feasible rescaling of the teacher is longer
    t = teacher / (z @ teacher).min()
    assert np.linalg.norm(w) <= np.linalg.norm(t) + 1e-9


def test_run_prune_keeps_the_requested_examples():
    params = {"seed": 0, "alpha_total": 2.0, "f": 0.25, "probe_angle": 0.0}
    easy = dq.run_prune(Trial("e", {**params, "keep": "easy"}), 40)
    hard = dq.run_prune(Trial("h", {**params, "keep": "hard"}), 40)
    assert easy["n_examples"] == hard["n_examples"] == 20
    assert 0 <= easy["test_error"] <= 0.5 and 0 <= hard["test_error"] <= 0.5


# ----------------------------------------------------------------------------- falsification


@falsifies("data_quality", "hebbian_error_matches_theory")
def test_error_check_passes_on_theory_and_fails_on_a_wrong_law():
    assert dq.check_error_theory(_results(_noise_rows())).status == "supported"

    def linear_noise(a, q):  # a (1 - 2q) factor on alpha in place of its square
        return dq.hebbian_error(a * (1 - 2 * q) / (1 - 2 * q) ** 2, q)

    assert dq.check_error_theory(_results(_noise_rows(linear_noise))).status == "refuted"

    def wrong_constant(a, q):  # 2/pi in place of sqrt(2/pi) inside R: a different learning curve
        return dq.hebbian_error(a * 2 / math.pi, q)

    assert dq.check_error_theory(_results(_noise_rows(wrong_constant))).status == "refuted"


@falsifies("data_quality", "noise_multiplier_matches_theory")
def test_multiplier_check_passes_on_theory_and_fails_when_noise_is_free_or_costs_1_over_1_minus_2q():
    assert dq.check_multiplier(_results(_noise_rows())).status == "supported"
    # negative control: noisy labels cost nothing (every q has the clean curve): multiplier 1
    free = _results(_noise_rows(lambda a, q: dq.hebbian_error(a, 0.0)))
    assert dq.multiplier(free.trials, 0.2) == pytest.approx(1.0)
    assert dq.check_multiplier(free).status == "refuted"
    # a noisy example worth (1 - 2q) clean ones, not (1 - 2q)^2
    linear = _results(_noise_rows(lambda a, q: dq.hebbian_error(a * (1 - 2 * q), 0.0)))
    assert dq.check_multiplier(linear).status == "refuted"
    # without a clean curve there is nothing to compare with
    no_clean = _results([r for r in _noise_rows() if r["q"] > 0])
    assert dq.check_multiplier(no_clean).status == "inconclusive"


@falsifies("data_quality", "pruning_crossover")
def test_pruning_check_needs_the_crossover():
    assert dq.check_pruning_crossover(_results(_prune_rows(0.2, -0.02))).status == "supported"
    # no crossover: keeping easy examples wins at every pool size
    assert dq.check_pruning_crossover(_results(_prune_rows(0.2, 0.05))).status != "supported"
    # the opposite crossover: hard wins when scarce, easy when abundant
    assert dq.check_pruning_crossover(_results(_prune_rows(-0.05, 0.05))).status == "refuted"
    # a single pool size cannot show a crossover
    one = [r for r in _prune_rows(0.2, -0.02) if r["alpha_total"] == 1.0]
    assert dq.check_pruning_crossover(_results(one)).status == "inconclusive"


def test_checks_follow_the_grid_not_the_presets():
    rows = _noise_rows(qs=(0.0, 0.15))  # a flip rate no preset contains
    v = dq.check_multiplier(_results(rows))
    assert "q = 0.15" in v.measured and v.status == "supported"
    v = dq.check_pruning_crossover(_results(_prune_rows(0.2, -0.02, totals=(0.7, 3.0, 11.0))))
    assert "alpha_total = 0.7" in v.measured and "alpha_total = 11" in v.measured


def _mlp_rows(worth, converged=True, qs=(0.0, 0.1, 0.2, 0.3)):
    """MLP rows: the early-stopped test error is the clean Hebbian curve at n (1 - worth(q)) / d,
    with seeded noise; an unconverged run is one stopped at its last step (still improving)."""
    rng = np.random.default_rng(2)
    rows = []
    for q in qs:
        for n in (40, 80, 160, 320, 640, 1280):
            z = rng.standard_normal(6)
            for seed in range(6):
                err = float(dq.hebbian_error(n / 20 * worth(q), 0.0)) * (1 + 0.01 * (z[seed] - z.mean()))
                rows.append(
                    {
                        "part": "mlp",
                        "q": q,
                        "n": n,
                        "d": 20,
                        "seed": seed,
                        "steps": 1000,
                        "stopped_step": 500 if converged else 1000,
                        "stopped_test_error": err,
                        "test_error": 0.4,  # at the end of training: memorised, not read by the check
                    }
                )
    return rows


@falsifies("data_quality", "mlp_noise_costs_data")
def test_mlp_check_needs_a_cost_that_grows_with_q():
    check = dq.mlp.check_mlp_multiplier
    assert check(_results(_mlp_rows(lambda q: (1 - 2 * q) ** 2))).status == "supported"
    # negative control: noisy labels cost nothing
    assert check(_results(_mlp_rows(lambda q: 1.0))).status != "supported"
    # a cost that shrinks with q (q = 0.3 cheaper than q = 0.1, all above 1): the growth part fails
    assert (
        check(_results(_mlp_rows(lambda q: 0.5 if q == 0.1 else 0.8 if q == 0.2 else 1.0 if q == 0 else 0.9))).status
        != "supported"
    )
    # runs that had not converged: the verdict cannot rest on them
    assert check(_results(_mlp_rows(lambda q: (1 - 2 * q) ** 2, converged=False))).status == "inconclusive"
    # two noisy q: the growth part is the log ratio of their multipliers
    two = check(_results(_mlp_rows(lambda q: (1 - 2 * q) ** 2, qs=(0.0, 0.1, 0.3))))
    assert two.status == "supported" and "log(multiplier ratio" in two.measured


# ----------------------------------------------------------------------------- the parameter multiplier

WIDTHS = (2, 4, 8, 16, 32, 64, 128)


def _capacity_rows(worth, floor=lambda q: 0.0, converged=True, qs=(0.0, 0.1, 0.2, 0.3)):
    """Capacity rows: the early-stopped test error of a width-w student on labels flipped at rate q
    is ``floor(q)`` plus the clean power law ``0.4 P^-1/4`` at ``P worth(q)`` parameters (so the
    noisy curve needs ``1 / worth(q)`` times the parameters), with seeded noise of 1% per seed."""
    rng = np.random.default_rng(3)
    rows = []
    for q in qs:
        for w in WIDTHS:
            params = 12 * w + 1  # d = 10: 10 w + w + w + 1
            z = rng.standard_normal(6)
            for seed in range(6):
                err = floor(q) + 0.4 * (params * worth(q)) ** -0.25 * (1 + 0.01 * (z[seed] - z.mean()))
                rows.append(
                    {
                        "part": "capacity",
                        "q": q,
                        "width": w,
                        "n_params": params,
                        "n_pool": 1280,
                        "seed": seed,
                        "capacity_steps": 2000,
                        "stopped_step": 1000 if converged else 2000,
                        "stopped_test_error": err,
                    }
                )
    return rows


def test_parameter_multiplier_reads_the_shift_and_bounds_what_it_cannot_reach():
    table = pd.DataFrame(_capacity_rows(lambda q: (1 - 2 * q) ** 2)).assign(
        test_error=lambda t: t["stopped_test_error"]
    )
    for q in (0.1, 0.2, 0.3):  # a power law shifted in log P: the shift is read off exactly
        assert dq.capacity.parameter_multiplier(table, q) == pytest.approx(1 / (1 - 2 * q) ** 2, rel=0.02)
    # a noisy floor above the clean curve's worst error: only the sweep's bound, 1537 / 25
    high = pd.DataFrame(_capacity_rows(lambda q: 1.0, floor=lambda q: 0.2 * (q > 0))).assign(
        test_error=lambda t: t["stopped_test_error"]
    )
    assert dq.capacity.parameter_multiplier(high, 0.2) == pytest.approx(1537 / 25)
    assert math.isnan(dq.capacity.parameter_multiplier(table[table["q"] > 0], 0.2))  # no clean curve


def test_teacher_labels_are_signs_of_the_two_layer_teacher():
    import jax.numpy as jnp

    weights = jnp.array([[1.0, 0.0], [0.0, 1.0]])  # + relu(x1) - relu(x2)
    x = jnp.array([[1.0, 0.5], [0.5, 1.0], [-1.0, -1.0], [-1.0, 2.0]])
    assert np.asarray(dq.capacity.teacher_labels(weights, x)).tolist() == [1.0, -1.0, 1.0, -1.0]


@falsifies("data_quality", "mlp_noise_costs_parameters")
def test_parameter_check_needs_a_parameter_cost_that_grows_with_q():
    check = dq.capacity.check_parameter_multiplier
    assert check(_results(_capacity_rows(lambda q: (1 - 2 * q) ** 2))).status == "supported"
    # negative control: a noisy model of the clean model's size does as well (multiplier 1)
    assert check(_results(_capacity_rows(lambda q: 1.0))).status != "supported"
    # noisy labels save parameters (multiplier below 1): refuted
    assert check(_results(_capacity_rows(lambda q: 1 + q))).status == "refuted"
    # a cost that shrinks with q: the growth part fails
    assert check(_results(_capacity_rows(lambda q: {0.0: 1.0, 0.1: 0.2, 0.2: 0.3, 0.3: 0.5}[q]))).status != "supported"
    # runs that had not converged: the verdict cannot rest on them
    assert check(_results(_capacity_rows(lambda q: (1 - 2 * q) ** 2, converged=False))).status == "inconclusive"


def test_parameter_check_counts_a_multiplier_beyond_the_sweep_as_its_lower_bound():
    check = dq.capacity.check_parameter_multiplier
    # q = 0.1 costs 4x; at q = 0.2 and 0.3 a floor keeps every noisy width above the clean curve
    rows = _capacity_rows(lambda q: 0.25 if q == 0.1 else 1.0, floor=lambda q: 0.2 * (q >= 0.2))
    v = check(_results(rows))
    assert v.status == "supported" and "bounded below" in v.explanation
    # every noisy curve beyond the sweep: each exceeds 1, but growth with q cannot be ranked
    flat = check(_results(_capacity_rows(lambda q: 1.0, floor=lambda q: 0.2 * (q > 0))))
    assert flat.status == "inconclusive"
    # the check follows the grid: a flip rate no preset contains, two q (log ratio)
    two = check(_results(_capacity_rows(lambda q: (1 - 2 * q) ** 2, qs=(0.0, 0.15, 0.3))))
    assert two.status == "supported" and "q = 0.15" in two.measured and "log(multiplier ratio" in two.measured
