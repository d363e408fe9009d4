"""Loss predicts capability: do models of any size and data budget with the same pre-training
loss have the same downstream capability, and only for the same pre-training data?

Question
  Du, Zeng, Dong & Tang (2024, NeurIPS, "Understanding emergent abilities of language models
  from the loss perspective", arXiv:2403.15796) plot downstream performance against
  pre-training loss for intermediate checkpoints of models of three sizes (Fig. 1) and find
  one curve: models with the same pre-training loss, whatever their size and number of
  training tokens, perform the same, "with a fixed data corpus, tokenization, and model
  architecture". Against model size or training compute the same points do not line up.
  Here the pre-training distribution is multitask sparse parity with Zipf task frequencies
  (the task of ``experiments.scaling_quanta``, Michaud et al. 2023), the pre-training loss
  is its frequency-weighted test cross-entropy, and the capability is the test accuracy on
  a fixed benchmark of ``bench_size`` tasks (4; chance 0.5).

Hypotheses, in words (each decided by the 95% seed-bootstrap interval of its statistic: the
seeds are resampled whole, every width and mixture of a drawn seed coming along; runs that
differ in a data or training setting, CONFIG, are never pooled: one part per configuration)
  a. ``loss_collapses_capability``: within one pre-training mixture, the median (over seeds)
     curves of benchmark accuracy against log pre-training loss, one per width and traced by
     the logged steps (the data axis), coincide: the mean absolute accuracy gap between two
     widths at equal loss (``curve_gap``), averaged over all pairs of widths, is at most half
     a benchmark task's worth of accuracy, (1 - 0.5) / (2 bench_size). One part per mixture.
  b. ``mixture_breaks_collapse``: the control. A second mixture has the same Zipf
     frequencies with the benchmark tasks moved to rarer ranks (``mixture_order``): same
     tasks, same loss law, other data. At equal loss the same width then has a different
     benchmark accuracy: the same gap between the two mixtures, averaged over widths, exceeds
     half a task. One part per mixture besides the one whose benchmark is most frequent.
  c. ``loss_beats_compute``: within a mixture, widths disagree less at equal loss than at equal
     training compute (parameters x samples seen): the ratio of the two mean gaps is < 1.
     Against parameters alone every width is one vertical line through all accuracies (it
     is trained for many steps), so the compute axis is the fair competitor.

Sources
  Du et al. 2024: abstract and Fig. 1 (performance vs pre-training loss of the
  intermediate checkpoints of 1.5B, 6B and 32B models: one curve per task, random-guess level
  marked); the abstract's "different model and data sizes" and "fixed data corpus"; the
  emergent abilities it defines (chance performance until the loss falls below a threshold)
  are the rise the benchmark shows here. The paper states no tolerance; each threshold below
  is derived from the benchmark's granularity.

Set-up (scaled to 2 CPU cores)
  16 tasks, n = 16 bits, k = 3, Zipf alpha = 0.5, subsets a random packing (no two share
  more than one bit, ``physai.curricula.parity.packed_subsets``); benchmark = tasks 3..6,
  which in the base mixture are frequency ranks 3..6 (``bench_rank = 3``) and in the control
  ranks 9..12 (``bench_rank = 9``). For a given seed both mixtures have the same subsets,
  task codes and bits; only which task carries which frequency differs, so both have the
  same loss as a function of how many tasks are learned. One-hidden-layer ReLU MLPs (the
  quanta experiment's ``make_task``) of widths 32 .. 256, Adam lr 3e-3, batch 512 from a pool
  of 2^17 samples, 5000 steps logged every 100: each logged step is one data size (51k to
  2.6M samples seen). 256 test samples per task.
  * Checkpoints, not end states: like Du et al.'s intermediate checkpoints, every logged step
    is a model, so the claims hold wherever training stopped and no convergence caveat applies.
  * Widths 32 .. 256: at width 16 the loss stays above the benchmark's threshold within the
    budget, so its curve never leaves chance and adds no comparison (the gap skips pairs that
    have not moved).
  * The compute of a checkpoint is parameters x samples seen (proportional to the training
    FLOPs of a fixed architecture); against parameters alone every width is a vertical line
    through all accuracies its training passes, so compute is the axis to compare against.

Known limitations
  In the control mixture the benchmark leaves chance only for the widest nets within the
  step budget, so its own collapse part rests on fewer moving pairs than the base mixture's.
  The benchmark is four binary tasks: its accuracy moves in steps of a task's worth, and
  "capability" here is a learned/not-learned count rather than a graded skill. Its tasks are
  part of the pre-training distribution (as a downstream skill is part of a text corpus):
  they carry 16% of the frequency in the base mixture and 5% in the control, so learning them
  lowers the loss itself. That coupling alone does not make the curves collapse (widths that
  learned other tasks first would sit apart at equal loss), and the control shows that equal
  loss does not fix the benchmark accuracy once the mixture changes.

Run
  physai verify loss_predicts_capability --preset tiny     # ~30 s (mostly compiling); tests only
  physai demo loss_predicts_capability                     # one seed, ~1 min on 2 CPU cores
  physai verify loss_predicts_capability --preset paper    # 5 seeds; ~2-3 min with --workers 2
"""

from __future__ import annotations

import dataclasses
import itertools
import math

import jax
import jax.numpy as jnp
import numpy as np
import pandas as pd

from experiments.scaling_quanta import DOMAINS as QUANTA_DOMAINS
from experiments.scaling_quanta import task as quanta
from physai import Experiment, Hypothesis, Preset, Results, ShardResult, Source, Verdict, all_of, models, product
from physai import train as trainer
from physai.curricula.parity import multitask_sparse_parity_with_subsets, packed_subsets
from physai.domains import POSITIVE_INT, Domain
from physai.evidence import bootstrap_verdict, slim

CHANCE = 0.5  # a binary label
GRID_POINTS = 64  # loss (or compute) values at which two curves are compared
# Settings that change the data or the training: runs that differ in one are never pooled
# (one part per configuration when a grid varies them).
CONFIG = ("n_tasks", "n_bits", "k", "alpha", "lr", "batch_size", "steps", "n_train", "max_overlap", "bench_first")


# ----------------------------------------------------------------------------- task


@dataclasses.dataclass(frozen=True)
class Static(quanta.Static):
    """The quanta task's static values plus where the benchmark sits in the mixture."""

    bench_first: int
    bench_size: int
    bench_rank: int


def mixture_order(n_tasks: int, first: int, size: int, rank: int) -> np.ndarray:
    """Returns ``order``: ``order[i]`` is the task (code and subset) given the i-th largest Zipf
    frequency. The benchmark tasks ``first .. first + size - 1`` are moved, as one block, to
    ranks ``rank .. rank + size - 1``; the other tasks keep their relative order. With
    ``rank == first`` it is the identity (the base mixture)."""
    if first + size > n_tasks or rank + size > n_tasks:
        raise ValueError(f"the benchmark block ({size} tasks from {first}, to rank {rank}) exceeds {n_tasks} tasks")
    bench = list(range(first, first + size))
    others = [t for t in range(n_tasks) if t not in bench]
    return np.array(others[:rank] + bench + others[rank:], dtype=np.int32)


def make_task(st: Static) -> trainer.Task:
    """The quanta experiment's task with the frequencies permuted by ``mixture_order``; logs
    the pre-training loss (``test_loss``, weighted by the mixture's own frequencies), the
    benchmark accuracy (``test_capability``) and each task's accuracy by task id."""
    base = quanta.make_task(st)
    order = mixture_order(st.n_tasks, st.bench_first, st.bench_size, st.bench_rank)
    inverse = np.argsort(order)
    # Code column j must be task j: the sample of rank i (code column i) moves to column order[i].
    columns = jnp.asarray(np.concatenate([inverse, st.n_tasks + np.arange(st.n_bits)]))
    bench_ranks = np.arange(st.bench_rank, st.bench_rank + st.bench_size)

    def data(key, hp):
        k_sub, k_rest = jax.random.split(key)  # as the quanta task: the same subsets per seed
        subsets, found = packed_subsets(k_sub, st.n_bits, st.k, st.n_tasks, st.max_overlap)
        out = multitask_sparse_parity_with_subsets(
            k_rest, subsets[order], st.n_bits, st.alpha, st.n_train, st.n_test_per_task, dtype=jnp.int8
        )
        out = {**out, "x_train": out["x_train"][:, columns], "x_test": out["x_test"][:, columns]}
        return {**out, "subsets_found": found}

    def metrics(params, d, hp):
        m = base.metrics(params, d, hp)  # per rank: the test set is rank-major
        acc = [m["test_" + quanta.acc_metric(i)] for i in range(st.n_tasks)]
        out = {"test_loss": m["test_loss"], "test_capability": jnp.mean(jnp.stack([acc[i] for i in bench_ranks]))}
        out.update({"test_" + quanta.acc_metric(int(order[i])): acc[i] for i in range(st.n_tasks)})
        return out

    return dataclasses.replace(base, data=data, metrics=metrics)


def run(shard) -> ShardResult:
    """Trains the shard's seeds at one width and mixture."""
    st = shard.static
    n_params = models.count_mlp_params(st.n_tasks + st.n_bits, st.width, 1, 2)

    def summary(i, trial, result):
        found = int(result.final["subsets_found"][i])
        if found < st.n_tasks:
            raise RuntimeError(f"the subset packing found only {found} of {st.n_tasks} subsets; raise n_bits")
        return {"n_params": n_params}

    return trainer.run_shard(
        make_task(st),
        shard,
        hparams=("seed", "lr"),
        steps=st.steps,
        log_every=st.log_every,
        batch_size=st.batch_size,
        columns=("test_loss", "test_capability"),
        extra=summary,
    )


# ----------------------------------------------------------------------------- statistics


def points(results: Results) -> pd.DataFrame:
    """One row per ok run and logged step: ``seed, width, bench_rank, n_params, step, loss,
    capability, compute`` (compute = parameters x samples seen; step 0 has none) and ``config``
    (the values of the CONFIG settings that vary in the table, as text; empty when none do)."""
    ok = results.ok
    c = results.curves
    if ok.empty or c.empty:
        return pd.DataFrame(columns=["seed", "width", "bench_rank", "n_params", "step", "loss", "capability", "config"])
    varied = [k for k in CONFIG if k in ok.columns and ok[k].nunique() > 1]
    config = [", ".join(f"{k}={v}" for k, v in zip(varied, row)) for row in ok[varied].itertuples(index=False)]
    ok = ok.assign(config=config if varied else "")
    c = c[(c["split"] == "test") & c["metric"].isin(["loss", "capability"])]
    wide = c.pivot_table(index=["trial_id", "step"], columns="metric", values="value").reset_index()
    keep = ok[["trial_id", "seed", "width", "bench_rank", "bench_size", "n_params", "batch_size", "config"]]
    out = wide.merge(keep, on="trial_id")
    return out.assign(compute=out["n_params"] * out["batch_size"] * out["step"].astype(float))


def half_task(bench_size: int) -> float:
    """Half of one benchmark task's share of the accuracy range above chance."""
    return (1 - CHANCE) / (2 * bench_size)


def curve_gap(a: tuple, b: tuple, margin: float) -> float:
    """Mean |accuracy difference| of two curves ``(x, accuracy)`` at equal x (compared on a
    geometric grid over the x range both cover, each curve linear in log x between its logged
    points, x > 0 only), counting only the grid points where the two are not both at chance or
    both at 1 (within ``margin``): a pair that agrees only because neither has moved says
    nothing. NaN when no such point exists."""
    (xa, ca), (xb, cb) = ((np.asarray(x, float), np.asarray(c, float)) for x, c in (a, b))
    (xa, ca), (xb, cb) = ((x[x > 0], c[x > 0]) for x, c in ((xa, ca), (xb, cb)))
    if len(xa) < 2 or len(xb) < 2:
        return math.nan
    lo, hi = max(xa.min(), xb.min()), min(xa.max(), xb.max())
    if not hi > lo:
        return math.nan
    grid = np.linspace(math.log(lo), math.log(hi), GRID_POINTS)
    ia, ib = np.argsort(xa), np.argsort(xb)
    fa = np.interp(grid, np.log(xa[ia]), ca[ia])
    fb = np.interp(grid, np.log(xb[ib]), cb[ib])
    moved = (np.maximum(fa, fb) >= CHANCE + margin) & (np.minimum(fa, fb) <= 1 - margin)
    return float(np.abs(fa - fb)[moved].mean()) if moved.any() else math.nan


def median_curves(table: pd.DataFrame, x: str) -> dict:
    """``{(bench_rank, width): (x, capability)}``: per logged step the median over seeds of ``x``
    and of the capability (the seeds' curves share their steps)."""
    med = table.groupby(["bench_rank", "width", "step"], sort=True)[[x, "capability"]].median()
    keys = med.index.droplevel("step").to_numpy()
    values = med.to_numpy()
    starts = np.flatnonzero(np.r_[True, keys[1:] != keys[:-1]])
    ends = np.r_[starts[1:], len(keys)]
    return {keys[i]: (values[i:j, 0], values[i:j, 1]) for i, j in zip(starts, ends)}


def mean_gap(table: pd.DataFrame, x: str, pairs: str) -> float:
    """Mean ``curve_gap`` against ``x`` over pairs of curves: ``"widths"``, every pair of widths
    within each mixture; ``"mixtures"``, each width in the table's two mixtures."""
    curves = median_curves(table, x)
    margin = half_task(int(table["bench_size"].iloc[0]))
    if pairs == "widths":
        chosen = [(p, q) for p, q in itertools.combinations(sorted(curves), 2) if p[0] == q[0]]
    else:
        chosen = [(p, q) for p, q in itertools.combinations(sorted(curves), 2) if p[1] == q[1] and p[0] != q[0]]
    gaps = [curve_gap(curves[p], curves[q], margin) for p, q in chosen]
    gaps = [g for g in gaps if np.isfinite(g)]
    return float(np.mean(gaps)) if gaps else math.nan


# ----------------------------------------------------------------------------- checks


def _per_config(results: Results):
    """``(name prefix, points of one configuration, its bench_rank values)`` per configuration."""
    pts = points(results)
    for config, t in pts.groupby("config", sort=True):
        yield (f"{config}, " if config else ""), t, sorted(t["bench_rank"].unique())


def _mixtures(results: Results):
    """``(part name, points of one mixture)`` per configuration and bench_rank."""
    for prefix, t, ranks in _per_config(results):
        for r in ranks:
            yield f"{prefix}bench_rank={r}", t[t["bench_rank"] == r]


def check_collapse(results: Results) -> Verdict:
    """Per mixture: mean width-pair accuracy gap at equal loss <= half a task, by its interval."""
    mixtures = list(_mixtures(results))
    if not mixtures or max(t["width"].nunique() for _, t in mixtures) < 2:
        return Verdict("inconclusive", math.nan, "", "needs two widths")
    parts = []
    for name, t in mixtures:
        t = slim(t, "bench_rank", "bench_size", "width", "step", "loss", "capability")
        tol = half_task(int(t["bench_size"].iloc[0]))
        parts.append(
            bootstrap_verdict(
                t,
                lambda d: mean_gap(d, "loss", "widths"),
                0.0,
                tol,
                "mean gap at equal loss",
                explanation=f"{name}: widths at equal pre-training loss",
                hypothesis=name,
            )
        )
    return all_of(parts, "benchmark accuracy is one function of pre-training loss across widths and steps")


def check_control(results: Results) -> Verdict:
    """Each other mixture vs the one whose benchmark is most frequent: gap at equal loss > half a task."""
    parts = []
    for prefix, pts, ranks in _per_config(results):
        for r in ranks[1:]:
            t = pts[pts["bench_rank"].isin([ranks[0], r])]
            t = slim(t, "bench_rank", "bench_size", "width", "step", "loss", "capability")
            tol = half_task(int(t["bench_size"].iloc[0]))
            parts.append(
                bootstrap_verdict(
                    t,
                    lambda d: mean_gap(d, "loss", "mixtures"),
                    tol,
                    math.inf,
                    "mean gap at equal loss",
                    explanation=f"mixtures with the benchmark at ranks {ranks[0]}.. and {r}.., same width",
                    hypothesis=f"{prefix}bench_rank={r}",
                    strict=True,
                )
            )
    if not parts:
        return Verdict("inconclusive", math.nan, "", "needs two mixtures (bench_rank values)")
    return all_of(parts, "at equal loss, a mixture with rarer benchmark tasks has another capability")


def gap_ratio(table: pd.DataFrame) -> float:
    """Mean width-pair gap at equal loss over that at equal compute."""
    return mean_gap(table, "loss", "widths") / mean_gap(table, "compute", "widths")


def check_loss_beats_compute(results: Results) -> Verdict:
    """Per mixture: (gap at equal loss) / (gap at equal compute) < 1, by its interval."""
    mixtures = list(_mixtures(results))
    if not mixtures or max(t["width"].nunique() for _, t in mixtures) < 2:
        return Verdict("inconclusive", math.nan, "", "needs two widths")
    cols = ("bench_rank", "bench_size", "width", "step", "loss", "compute", "capability")
    parts = [
        bootstrap_verdict(
            slim(t, *cols),
            gap_ratio,
            0.0,
            1.0,
            "gap ratio loss / compute",
            explanation=name,
            hypothesis=name,
            strict=True,
        )
        for name, t in mixtures
    ]
    return all_of(parts, "widths agree better at equal loss than at equal training compute")


# ----------------------------------------------------------------------------- hypotheses

DU = "Du, Zeng, Dong, Tang 2024, NeurIPS 2024 (arXiv:2403.15796)"
HALF_TASK = (
    "Derived from the benchmark, not from the paper: each of the bench_size = 4 benchmark tasks "
    "moves the benchmark accuracy by (1 - 0.5) / 4 = 0.125 between chance and learned, so a mean gap "
    "of half of that (0.0625) means that at equal loss two models typically differ by less than half "
    "a learned task. The test-set noise of one median point (4 x 256 samples per run, 5 seeds) is a "
    "few times smaller. Grid points where both curves sit at chance or both at 1 are left out, so the "
    "agreement of models that have not moved does not dilute the gap."
)

HYPOTHESES = (
    Hypothesis(
        "loss_collapses_capability",
        "Within one pre-training mixture, benchmark accuracy against pre-training loss is one curve "
        "across model sizes and data sizes: mean width-pair gap at equal loss <= half a benchmark task",
        "Du et al. 2024 (NeurIPS), Fig. 1 (same pre-training loss, same performance across sizes)",
        check_collapse,
        source=Source(
            paper=DU,
            where="Abstract and Fig. 1 (performance vs pre-training loss of intermediate checkpoints "
            "of 1.5B, 6B and 32B models on 12 datasets)",
            statement="Qualitative, no number: 'models with the same pre-training loss, but different model "
            "and data sizes, generate the same performance on various downstream tasks', with a fixed data "
            "corpus, tokenization and architecture.",
            tolerance=HALF_TASK,
        ),
    ),
    Hypothesis(
        "mixture_breaks_collapse",
        "Control: a mixture with the benchmark tasks at rarer ranks reaches the same loss with a "
        "different capability: mean gap between the mixtures at equal loss > half a benchmark task",
        "Du et al. 2024 (NeurIPS), abstract (the relation holds for a fixed data corpus)",
        check_control,
        source=Source(
            paper=DU,
            where="Abstract (the relation is stated for a fixed pre-training corpus, tokenization "
            "and architecture); Michaud et al. 2023 Sec. 2 (quanta learned in order of frequency)",
            statement="Qualitative, no number: the loss-performance curve is claimed for one corpus; a "
            "corpus in which the benchmark's skills are rarer is learned in another order, so the same "
            "loss is reached with other skills. This is the falsification set-up inside the experiment: "
            "the collapse pooled over the two mixtures must fail.",
            tolerance=HALF_TASK + " Here the gap must exceed the same half task, strictly.",
        ),
    ),
    Hypothesis(
        "loss_beats_compute",
        "Within one mixture, widths disagree less at equal loss than at equal training compute: "
        "ratio of the mean gaps < 1",
        "Du et al. 2024 (NeurIPS), abstract (loss, not model size or compute, as the predictor)",
        check_loss_beats_compute,
        source=Source(
            paper=DU,
            where="Abstract and introduction (the study uses pre-training loss 'instead of model size or training "
            "compute' as the predictor of downstream performance)",
            statement="Qualitative, no number: the pre-training loss is a better predictor of downstream "
            "performance than model size or compute.",
            tolerance="An ordering claim: the ratio of the gap at equal loss to the gap at equal compute "
            "(parameters x samples seen, the same curves compared the same way) must be below 1, its "
            "interval excluding 1. 'Better' has no size in the paper, so no margin is added.",
        ),
    ),
)

# ----------------------------------------------------------------------------- presets

SETTINGS = {
    "n_tasks": 16,
    "n_bits": 16,
    "k": 3,
    "alpha": 0.5,
    "lr": 3e-3,
    "batch_size": 512,
    "steps": 5000,
    "log_every": 100,
    "n_train": 2**17,
    "n_test_per_task": 256,
    "max_overlap": 1,
    "bench_first": 3,
    "bench_size": 4,
}
WIDTHS = [32, 64, 128, 256]
RANKS = [3, 9]

PRESETS = {
    "tiny": Preset(
        product(bench_rank=[1, 3], width=[32, 128], seed=[0, 1]),
        {
            **SETTINGS,
            "n_tasks": 8,
            "n_bits": 10,
            "bench_first": 1,
            "bench_size": 2,
            "batch_size": 256,
            "steps": 1500,
            "log_every": 50,
            "n_train": 4096,
        },
        "seconds-long smoke test (no verdict expected)",
    ),
    "demo": Preset(product(bench_rank=RANKS, width=WIDTHS, seed=[0]), SETTINGS, "16 tasks, widths 16..128, one seed"),
    "paper": Preset(
        product(bench_rank=RANKS, width=WIDTHS, seed=range(5)), SETTINGS, "16 tasks, widths 16..128, 5 seeds"
    ),
}

DOMAINS = {
    **QUANTA_DOMAINS,  # the task is scaling_quanta's: its settings obey the same rules
    "bench_first": Domain(low=0, integer=True),
    "bench_size": POSITIVE_INT,
    "bench_rank": Domain(low=0, integer=True),
}


def plot(results: Results) -> dict:
    from experiments._loss_predicts_capability_plots import plot as draw

    return draw(results)


EXPERIMENT = Experiment(
    name="loss_predicts_capability",
    question="Do models of different sizes and data budgets with the same pre-training loss have the "
    "same benchmark accuracy, and only when pre-trained on the same mixture?",
    hypotheses=HYPOTHESES,
    presets=PRESETS,
    run=run,
    plot=plot,
    static=Static,
    max_shard_size=5,
    domains=DOMAINS,
    doc=__doc__,
)
