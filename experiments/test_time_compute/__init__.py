"""Test-time compute: how do repeated sampling (pass@k) and majority voting scale with samples,
and when do many samples of a small model beat one sample of a large one?

Question
  A model that answers a problem correctly with probability ``p_i`` per sample can be sampled
  many times. With a verifier the problem counts as solved if any of ``k`` samples is right
  (pass@k, coverage); without one the answers are put to a vote. How do coverage and voting
  accuracy grow with the number of samples, and what sets their shape? At equal inference FLOPs,
  where does a small model sampled k times win against a large model sampled once?

Hypotheses, in words
  1. ``failure_exponential`` (control): per problem, pass@k failure is ``(1 - p_i)^k``,
     exponential in ``k``, and the unbiased estimator ``1 - C(n - c, k)/C(n, k)`` of Chen et al.
     2021 (``c`` right out of ``n`` samples) recovers it: summed over problems, estimated
     failure / ``sum_i (1 - p_i)^k`` has a 95% seed interval within [0.95, 1.05] at every k
     where the estimator's exact Monte-Carlo error (its variance given the p_i) can resolve that band.
     A control: the ``p_i`` are the sampler's own probabilities, so this checks the estimator,
     the sampler and the code, not the model.
  2. ``power_law_exponent`` (Schaeffer et al. 2025): averaged over problems, ``-log pass@k``
     falls as ``k^-b`` where ``b`` is the exponent of the distribution of ``p_i`` near zero
     (``P(p_i < x) ~ x^b``). Measured: ``b_fit``, the log-log slope of ``-log pass@k`` (from the
     unbiased estimator) over ``k`` in [``K_LO``, n/4], and ``b_tail``, the log-log slope of
     the empirical ``P(p_i < 1/k)`` over the same ``k``; ``b_fit / b_tail`` has a 95% seed
     interval within [0.8, 1.25].
  3. ``voting_closed_form`` (Chen et al. 2024): majority-vote accuracy with ``m`` votes is the
     problem-average of the exact probability that the right answer is the plurality of ``m``
     multinomial draws from the problem's answer distribution (ties split uniformly), with no
     fitted constant; measured / closed form has a 95% seed interval within [0.97, 1.03] at
     every ``m``. A control of the same kind as 1 (same distributions on both sides).
  4. ``voting_non_monotone`` (Chen et al. 2024, Thm 2 and Fig. 1): on a mixture of easy
     problems (right answer is the mode) and hard ones (it is not), voting accuracy rises and
     then falls with ``m``: ``min(max_m acc - acc(1), max_m acc - acc(m_max))`` has a 95% seed
     interval above 0.
  5. ``verifier_trade`` (Brown et al. 2024, Sec. 2.3 and Fig. 4): with a verifier, at equal
     inference FLOPs, the small model's coverage with ``B r`` samples exceeds the large model's
     with ``B`` (``r = floor(FLOPs_large / FLOPs_small)``) at every budget ``B`` in ``BUDGETS``:
     the difference has a 95% seed interval above 0.
  6. ``vote_plateau`` (Brown et al. 2024, Sec. 4 and Fig. 7; Chen et al. 2024): without a
     verifier the small model's majority vote plateaus while its coverage keeps growing: from the
     least to the most budget, coverage gain minus vote gain has a 95% seed interval above 0.
  7. ``vote_trade`` (Chen et al. 2024; Brown et al. 2024, Sec. 4): without a verifier the trade
     reverses: the small model's vote over ``B r`` samples is below the large model's vote over
     ``B`` (its pass@1 at ``B = 1``) at every budget: the difference has a 95% seed interval
     below 0. A vote tends to its model's plurality (greedy) accuracy, which extra samples of a
     weaker model cannot raise.

Set-up
  Hypotheses 1-4 (``sampling.py``): a toy "language model", a linear softmax classifier
  (``classes`` answers) trained by full-batch gradient descent on a Gaussian mixture to moderate
  accuracy. Each test point is a problem; its answer distribution is
  ``softmax(logits / temperature)``; ``p_i`` is the mass on the right answer. ``n_samples``
  answers per problem give ``c_i``; votes are fresh multinomial draws (``VOTE_REPEATS`` repeats
  per ``m``).
  Hypotheses 5-7 (``compute_trade.py``): a Gaussian mixture with ``trade_clusters`` clusters per
  answer (``trade_classes`` answers, so a random guess rarely hits) in ``trade_dim`` dimensions;
  two one-hidden-layer tanh MLPs of widths ``width_small`` < ``width_large`` are trained with Adam
  on the same stream of fresh batches (``trade_batch`` points, ``trade_steps`` steps; online, as a
  language model sees most of its data once, so the wider network is the better model rather than
  an overfitted one) and sampled at the same temperature on ``trade_problems`` new problems. One
  sample costs ``2 x params`` inference FLOPs; budgets are counted in large-model samples
  (``BUDGETS``). Coverage is the unbiased estimator from ``r max(BUDGETS)`` (small) and
  ``max(BUDGETS)`` (large) samples per problem; votes are fresh draws (``TRADE_REPEATS``
  repeats). Trials: temperature x seed (and the width pair).

Run
  physai demo test_time_compute
  physai verify test_time_compute --preset paper
  Expected runtime on 2 CPU cores: tiny ~20 s, demo ~1 min, paper ~2 min (most of it the exact
  voting closed form, a dynamic programme of ~m^2 steps per vote count m, and training the
  compute-trade MLPs).

Presets
  tiny:  T = 1, hard fraction 0.5, 3 seeds, 3000 problems, 256 samples each; widths 3 vs 32
         trained 300 steps, 500 problems.
  demo:  T = 1, hard fraction 0.5, 5 seeds, 2000 problems, 1000 samples each; widths 3 vs 32
         trained as in paper.
  paper: T = 1, hard fraction 0.5, 12 seeds, 2000 problems, 1000 samples each; votes
         m in ``VOTES`` on ``VOTE_PROBLEMS`` problems per seed; widths 3 vs 32 (r = 8) trained
         8000 steps of 256 fresh points, 2000 problems, budgets 1-16 large-model samples.

Figure
  Coverage pass@k against k (log x; Brown et al. 2024, Fig. 2) with the exact average of
  1 - (1 - p_i)^k; -log pass@k against k on log-log axes with the line of slope -b_tail
  predicted from the p_i (Schaeffer et al. 2025, Fig. 3); majority-vote accuracy against m
  with the exact plurality probability (Chen et al. 2024, Fig. 1); coverage and majority vote
  of both MLPs against inference FLOPs (Brown et al. 2024, Fig. 4), with the exact coverage and
  each model's plurality accuracy (the vote's limit) drawn.

Known limitations
  The ``p_i`` of a softmax classifier are not an exact power law near 0 (their log is roughly
  Gaussian over problems), so hypothesis 2 is tested as a local match of two slopes over the
  same window, not as one global exponent.
  Hypothesis 1 tests only the k at which the estimator's exact Monte-Carlo error resolves its
  band (``resolvable``): at the largest k a handful of problems per seed carry all the failure
  and no band of a few percent could be decided.
  Hypothesis 4 is Chen et al.'s "can": the hump needs hard problems whose right answer is a close
  runner-up. At lower temperatures the hard problems' right answers are far from the mode and the
  closed form itself predicts a monotone curve on the same mixture, so a grid with such a
  temperature makes that part refuted or inconclusive, as it should.
  Hypotheses 5-7 are about one task and one pair of widths. Brown et al. found the sign of the
  trade task-dependent (on CodeContests the larger model was the cheaper one): it turns on
  whether the small model's failures are near misses (some mass on the right answer, recovered by
  sampling) or confident errors (p_i ~ 0). A small model with many answers at p_i ~ 0, or a large
  budget where coverage is set by the hardest problems' tails, can reverse hypothesis 5; the
  figure shows where the curves run. The two models are compared at equal training (same batches,
  same steps), not at convergence: the large model's test loss is still falling slowly at the end
  (``test_loss_drop_large``, its fall over the last quarter), and longer training raises its
  pass@1, which narrows the trade most at the smallest budget. FLOPs count the forward pass only
  (no prompt/decoding asymmetry as in a language model) and one answer is one token.
"""

from __future__ import annotations

import pandas as pd

from experiments.test_time_compute import compute_trade, sampling
from experiments.test_time_compute.compute_trade import (
    BUDGETS,
    TRADE_HYPOTHESES,
    check_verifier_trade,
    check_vote_plateau,
    check_vote_trade,
    mlp_flops,
    trade_table,
)
from experiments.test_time_compute.sampling import (
    EXPONENT_BAND,
    FAIL_BAND,
    K_LO,
    SAMPLING_HYPOTHESES,
    VOTE_BAND,
    VOTE_PROBLEMS,
    VOTE_REPEATS,
    VOTES,
    answer_distribution,
    check_failure_exponential,
    check_non_monotone,
    check_power_law,
    check_voting_closed_form,
    exponents,
    failure_estimate,
    hump,
    k_grid,
    per_seed,
    resolvable,
    slopes,
    train_softmax,
    vote_exact,
    vote_measured,
)
from physai import Experiment, Preset, Results, ShardResult, product
from physai.domains import POSITIVE, POSITIVE_INT, Domain

__all__ = [
    "BUDGETS",
    "EXPERIMENT",
    "EXPONENT_BAND",
    "FAIL_BAND",
    "HYPOTHESES",
    "K_LO",
    "VOTES",
    "VOTE_BAND",
    "VOTE_PROBLEMS",
    "VOTE_REPEATS",
    "answer_distribution",
    "check_failure_exponential",
    "check_non_monotone",
    "check_power_law",
    "check_verifier_trade",
    "check_vote_plateau",
    "check_vote_trade",
    "check_voting_closed_form",
    "exponents",
    "failure_estimate",
    "hump",
    "k_grid",
    "mlp_flops",
    "per_seed",
    "resolvable",
    "slopes",
    "trade_table",
    "train_softmax",
    "vote_exact",
    "vote_measured",
]

HYPOTHESES = SAMPLING_HYPOTHESES + TRADE_HYPOTHESES


def run(shard) -> ShardResult:
    rows, curves = [], []
    for trial in shard.trials:

        def curve(step, metric, value, tid=trial.trial_id):
            curves.append({"trial_id": tid, "step": int(step), "split": "test", "metric": metric, "value": value})

        rows.append({**sampling.measure(trial.params, curve), **compute_trade.measure(trial.params, curve)})
    return ShardResult(rows, pd.DataFrame(curves))


# ----------------------------------------------------------------------------- presets


def _grid(temperatures, seeds, n=1000, problems=2000, trade_batch=256, trade_steps=8000, trade_problems=2000):
    return product(
        temperature=temperatures,
        hard_fraction=[0.5],
        seed=list(seeds),
        n_samples=[n],
        problems=[problems],
        classes=[5],
        dim=[20],
        n_train=[100],
        separation=[2.5],
        width_small=[3],
        width_large=[32],
        trade_classes=[20],
        trade_clusters=[2],
        trade_dim=[8],
        trade_separation=[4.0],
        trade_batch=[trade_batch],
        trade_steps=[trade_steps],
        trade_problems=[trade_problems],
    )


PRESETS = {
    "tiny": Preset(
        _grid([1.0], range(3), n=256, problems=3000, trade_steps=300, trade_problems=500),
        {},
        "seconds-long smoke test (no verdict expected)",
    ),
    "demo": Preset(_grid([1.0], range(5)), {}, "T = 1 x 5 seeds, 2000 problems, 1000 samples; widths 3 vs 32"),
    "paper": Preset(_grid([1.0], range(12)), {}, "T = 1 x 12 seeds, 2000 problems, 1000 samples; widths 3 vs 32"),
}


def plot(results: Results) -> dict:
    from experiments.test_time_compute.plots import plot as _plot

    return _plot(results)


DOMAINS = {
    "temperature": POSITIVE,
    "separation": POSITIVE,
    "hard_fraction": Domain(low=0, high=1),
    "n_samples": POSITIVE_INT,
    "problems": POSITIVE_INT,
    "dim": POSITIVE_INT,
    "width_small": POSITIVE_INT,
    "width_large": POSITIVE_INT,
    "trade_classes": POSITIVE_INT,
    "trade_clusters": POSITIVE_INT,
    "trade_dim": POSITIVE_INT,
    "trade_separation": POSITIVE,
    "trade_batch": POSITIVE_INT,
    "trade_steps": POSITIVE_INT,
    "trade_problems": POSITIVE_INT,
}

EXPERIMENT = Experiment(
    name="test_time_compute",
    question="How do coverage (pass@k) and majority voting scale with the number of samples, does the "
    "per-problem difficulty distribution predict it, and at equal inference FLOPs when do k samples of a "
    "small model beat one of a large model (Brown et al. 2024; Schaeffer et al. 2025; Chen et al. 2024)?",
    hypotheses=HYPOTHESES,
    presets=PRESETS,
    run=run,
    plot=plot,
    static=None,
    max_shard_size=4,
    domains=DOMAINS,
    doc=__doc__,
)
