"""Induction heads: does in-context learning appear in an abrupt phase change, with induction heads?

Question
  A two-layer attention-only transformer trained on sequences that repeat a random
  prefix learns to continue the repeat: it finds the previous occurrence of the
  current token and copies the token that followed it (an "induction head", which
  needs a previous-token head in layer 1 composed with a layer-2 head; Elhage et al.
  2021, "A Mathematical Framework for Transformer Circuits"). Olsson et al. 2022
  ("In-context Learning and Induction Heads", Transformer Circuits) report that
  induction heads form in a sudden phase change, visible as a bump in the training
  loss, in the same narrow window where the in-context learning score jumps; a
  one-layer attention-only model (a skip-trigram model) cannot form them.

Hypotheses, in words
  a. abrupt_drop: the loss on repeated tokens of the two-layer model falls from the
     context baseline (defined in c) to its final value abruptly: the 10% -> 90% window
     of the drop spans at most a quarter of training.
  b. induction_score_jumps: the largest layer-2 induction score (mean attention from a
     repeated token to the token after its previous occurrences) rises by at least 0.3
     within the phase-change window: the loss drop's midpoint +- 5% of training.
  c. one_layer_stays_high: the one-layer control's loss on repeated tokens stays at or
     above 80% of the loss of the best predictor that sees only which tokens are in the
     context (uniform over the distinct tokens seen so far), while the two-layer model
     ends below 30% of it. A control that had not stopped improving (the trainer's
     convergence criterion) cannot support this: the part must hold on the converged
     one-layer runs alone.
  d. icl_score_jumps: the in-context learning score (loss at the last position minus
     loss at an early position, Olsson et al.'s definition) of the two-layer model
     falls by at least 1 nat within the same window (the drop's midpoint +- 5% of
     training).
  Each statistic is a median over seeds with a 95% seed-bootstrap interval; a two-layer
  seed whose loss never drops counts as a window of all of training and as no rise.

Sources
  Olsson et al. 2022 and Elhage et al. 2021 state the phenomena (a)-(d) qualitatively;
  the windows and thresholds are this project's conventions, each argued in its
  hypothesis's ``source`` (see also Reddy 2024, ICLR, and Singh et al. 2023, NeurIPS,
  for abrupt induction-head formation in small in-context classification models).

Set-up (CPU scale; the model and the run in ``task.py``, the checks in ``checks.py``)
  Sequences of ``seq_len`` = 32 tokens from a vocabulary of 64: a random prefix of
  length p, drawn uniformly from [p_min, seq_len / 2] = [6, 16] per sequence, repeated
  until the sequence is full. The period varies, so no fixed positional offset solves
  it (a fixed offset would let a one-layer model cheat with a positional head). A token
  is "repeated" when it could be predicted by induction: target position t >= p + 1.
  Models: attention-only transformers (1 or 2 layers, 2 heads, d_model 64, learned
  positional embeddings, no layer norm, no MLP), Adam (lr 5e-3, chosen by a pilot so
  the phase change falls well inside training), a fresh batch of 32 sequences every
  step for 1200 steps, next-token cross-entropy on every position. Metrics are measured
  every 20 steps on a fixed held-out batch of 256 sequences. The induction score is
  Olsson et al.'s prefix-matching score on these repeated sequences, for the last
  layer's heads (the largest over heads); seeds vary the data stream and the init.

Run
  physai verify induction_heads --preset tiny     # seconds; for tests only
  physai demo induction_heads                     # 2 depths x 3 seeds
  physai verify induction_heads --preset paper    # 2 depths x 8 seeds
  Expected runtime on 2 CPU cores: demo ~1 min, paper ~2-3 min (more with an empty
  JAX compilation cache or busy cores).

Known limitations
  Olsson et al.'s models are much larger and trained on natural text; here the task
  is synthetic and the only in-context structure is the repeat. The phase change's
  step varies several-fold between seeds; a seed whose change comes after the last
  step counts against (a), (b) and (d), so a shorter run can refute them. The window
  of (b) and (d) is a few logging intervals wide; a coarser log would blur it. The
  transience of in-context learning under long training (Singh et al. 2023) is not
  tested.
"""

from __future__ import annotations

from physai import Experiment, Hypothesis, Preset, Source, product
from physai.domains import POSITIVE_INT, Domain

from .checks import (
    check_abrupt_drop,
    check_icl_score_jumps,
    check_induction_score_jumps,
    check_one_layer_stays_high,
    seed_table,
)
from .plots import plot
from .task import Static, induction_scores, make_task, repeated_sequences, run, run_events

__all__ = [
    "EXPERIMENT",
    "Static",
    "induction_scores",
    "make_task",
    "repeated_sequences",
    "run",
    "run_events",
    "seed_table",
]

_OLSSON = "Olsson et al. 2022, 'In-context Learning and Induction Heads', Transformer Circuits Thread"
_ELHAGE = "Elhage et al. 2021, 'A Mathematical Framework for Transformer Circuits', Transformer Circuits Thread"

HYPOTHESES = (
    Hypothesis(
        "abrupt_drop",
        "The two-layer model's loss on repeated tokens falls from the context baseline to its final value "
        "abruptly: the 10% -> 90% window of the drop spans <= 25% of training (median over seeds).",
        "Olsson et al. 2022: induction heads form in a phase change, a narrow window of training",
        check_abrupt_drop,
        source=Source(
            paper=_OLSSON,
            where="Argument 1 (phase change): the loss curve's bump and the per-token loss figures",
            statement="qualitative: small attention-only and full models with two or more layers undergo a "
            "'phase change' early in training, within a narrow window of training tokens, in which the loss "
            "on tokens predictable from earlier context falls abruptly; the paper gives no window fraction.",
            tolerance="a convention of this project: a quarter of training separates an abrupt drop from a "
            "gradual one (a loss falling at a steady rate, or exponentially with a time constant of a fifth "
            "of training or more, spans >= 40% of training between its 90% and 10% levels). The drop is "
            "measured from the context baseline (a predictor that only knows which tokens are in the "
            "context, reached without induction) so the earlier fall from ln(vocab) to it is not counted.",
        ),
    ),
    Hypothesis(
        "induction_score_jumps",
        "In the same window (the loss drop's midpoint +- 5% of training), the largest last-layer induction "
        "score (attention from a repeated token to the token after its previous occurrences) rises by >= 0.3.",
        "Olsson et al. 2022: induction heads (prefix-matching attention) form during the phase change",
        check_induction_score_jumps,
        source=Source(
            paper=_OLSSON,
            where="Argument 1; definition of induction heads via the prefix-matching score on repeated random tokens",
            statement="qualitative: the prefix-matching score of the induction heads jumps from near zero "
            "during the phase change and not outside it.",
            tolerance="a convention of this project: uniform causal attention puts about 0.1 of its mass on "
            "the induction targets at these lengths; a rise of 0.3 inside a tenth of training is a head "
            "moving a third of its attention onto them. +-5% of training is three logging "
            "intervals on each side of the midpoint (logging resolution, not a fitted width).",
        ),
    ),
    Hypothesis(
        "one_layer_stays_high",
        "A one-layer attention-only control ends with a repeated-token loss >= 80% of the context baseline "
        "(it cannot form induction heads), while the two-layer model ends below 30% of it.",
        "Elhage et al. 2021: one-layer attention-only models are bigram and skip-trigram models; induction "
        "needs K-composition across two layers",
        check_one_layer_stays_high,
        source=Source(
            paper=f"{_ELHAGE}; {_OLSSON}",
            where="Elhage et al.: 'One-layer attention-only transformers' and 'Induction heads' (K-composition); "
            "Olsson et al.: one-layer models show no phase change",
            statement="qualitative: a one-layer attention-only transformer can raise the probability of tokens "
            "already in the context (skip-trigrams) but cannot look up what followed the previous occurrence "
            "of the current token.",
            tolerance="a convention of this project: the context baseline is the loss of the best predictor "
            "that knows which tokens are in the context but not their order; a model without induction may "
            "beat it a little by using positions within the variable period, hence 80%, not 100%; the "
            "two-layer model's < 30% is the same line that defines a run as having formed induction.",
        ),
    ),
    Hypothesis(
        "icl_score_jumps",
        "In the same window (the loss drop's midpoint +- 5% of training), the in-context learning score "
        "(loss at the last position minus loss at an early one) falls by >= 1 nat.",
        "Olsson et al. 2022: the in-context learning score improves abruptly during the phase change",
        check_icl_score_jumps,
        source=Source(
            paper=_OLSSON,
            where="Argument 1: the in-context learning score (loss of the 500th token minus the average loss of "
            "the 50th) against training tokens",
            statement="qualitative: almost all of the in-context learning score's improvement happens in the "
            "phase-change window, at the same point as the induction heads form.",
            tolerance="a convention of this project: the context baseline already lowers the late loss by "
            "about 2 nats below ln(vocab) without induction; induction brings it near zero, so the phase "
            "change has roughly 2 nats to give. 1 nat inside a tenth of training is half of that; a score "
            "falling at a steady rate of 2-4 nats over all of training gains only 0.2-0.4 nats there.",
        ),
    ),
)

# ----------------------------------------------------------------------------- presets

SETTINGS = {
    "vocab": 64,
    "seq_len": 32,
    "p_min": 6,
    "d_model": 64,
    "n_heads": 2,
    "batch": 32,
    "eval_batch": 256,
    "steps": 1200,
    "log_every": 20,
}

PRESETS = {
    "tiny": Preset(
        product(layers=[1, 2], lr=[5e-3], seed=[0, 1]),
        {
            **SETTINGS,
            "seq_len": 16,
            "p_min": 4,
            "d_model": 16,
            "batch": 8,
            "eval_batch": 32,
            "steps": 60,
            "log_every": 10,
        },
        "seconds; for tests",
    ),
    "demo": Preset(product(layers=[1, 2], lr=[5e-3], seed=[0, 1, 2]), SETTINGS, "2 depths x 3 seeds"),
    "paper": Preset(product(layers=[1, 2], lr=[5e-3], seed=list(range(8))), SETTINGS, "2 depths x 8 seeds"),
}


# Allowed values of this experiment's own parameters (physai.domains.COMMON has the shared ones).
DOMAINS = {
    "layers": POSITIVE_INT,
    "vocab": Domain(low=2, integer=True),
    "seq_len": Domain(low=4, integer=True),
    "p_min": POSITIVE_INT,
    "d_model": POSITIVE_INT,
    "n_heads": POSITIVE_INT,
    "eval_batch": POSITIVE_INT,
}


def _cost(static, n_trials: int) -> float:
    return n_trials * static.steps * static.layers


EXPERIMENT = Experiment(
    name="induction_heads",
    question="Does a two-layer attention-only transformer learn to continue repeated sequences in an abrupt "
    "phase change, in which an induction head forms and in-context learning appears?",
    hypotheses=HYPOTHESES,
    presets=PRESETS,
    run=run,
    plot=plot,
    static=Static,
    max_shard_size=64,
    cost=_cost,
    domains=DOMAINS,
    doc=__doc__,
)
