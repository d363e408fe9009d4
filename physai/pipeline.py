"""One pipeline from a preset to verdicts: plan -> sweep -> results -> verdicts -> figures.

``run_experiment`` is the single path that ``physai run/verify/demo/reproduce``,
notebooks and tests all take, so each of them stores the same tables, writes
the same ``verdicts.json`` and draws the same figures.
"""

from __future__ import annotations

import json
import math
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from physai.errors import PhysaiError
from physai.experiment import Experiment, Results, Verdict


@dataclass
class Outcome:
    """What ``run_experiment`` returns.

    Attributes:
      plan: the plan that ran (experiment, preset, trials, shards).
      summary: what the sweep did (``physai.sweep.SweepSummary``).
      results: the stored tidy tables of the planned trials.
      verdicts: one per hypothesis.
      figures: ``{name: matplotlib Figure}`` from the experiment's ``plot`` (drawn
        when asked; also written as PNG files, paths in ``figure_paths``).
      verdicts_path: the ``verdicts.json`` written beside the tables.
    """

    plan: Any
    summary: Any
    results: Results
    verdicts: list[Verdict]
    figures: dict[str, Any] = field(default_factory=dict)
    figure_paths: list[Path] = field(default_factory=list)
    verdicts_path: Path | None = None

    @property
    def supported(self) -> bool:
        """Returns: True when every hypothesis is supported."""
        return all(v.status == "supported" for v in self.verdicts)

    def verdict_table(self):
        """Returns: the verdicts as a pandas DataFrame (hypothesis, measured, expected, status)."""
        import pandas as pd

        return pd.DataFrame(
            [
                {
                    "hypothesis": v.hypothesis,
                    "measured": v.measured,
                    "expected": v.expected,
                    "status": v.status,
                    "why": v.explanation,
                }
                for v in self.verdicts
            ]
        )


def evaluate(experiment: Experiment, results: Results) -> list[Verdict]:
    """Args: experiment; results: its stored tables. Returns: one Verdict per hypothesis."""
    return [h.evaluate(results) for h in experiment.hypotheses]


def save_verdicts(experiment: Experiment, preset: str, verdicts: Sequence[Verdict], root: str) -> Path:
    """Writes ``verdicts.json`` beside the tables (atomically). Returns: its path."""
    from physai import store

    folder = store.experiment_dir(root, experiment.name, preset)
    rows = [
        {
            "hypothesis": v.hypothesis,
            "status": v.status,
            "measured": v.measured if not (isinstance(v.measured, float) and math.isnan(v.measured)) else None,
            "expected": v.expected,
            "explanation": v.explanation,
            "statistic": v.statistic,
            "interval": list(v.interval) if v.interval is not None else None,
            "n": v.n,
            "measured_text": v.measured_text(),
        }
        for v in verdicts
    ]
    path = folder / "verdicts.json"
    store.write_text(path, json.dumps(rows, indent=2))
    return path


def draw_figures(experiment: Experiment, results: Results) -> dict[str, Any]:
    """Args: experiment; results. Returns: ``{name: Figure}`` (empty without ``plot``)."""
    return experiment.plot(results) if experiment.plot is not None else {}


FIGURE_FORMATS = ("png", "pdf")  # PNG for pages and notebooks, PDF (vector) for papers


def write_figures(experiment: Experiment, preset: str, figures: dict[str, Any], root: str) -> list[Path]:
    """Saves drawn figures under ``<root>/<name>/<preset>/figures`` as PNG and as
    PDF (vector graphics), and closes them.

    Returns:
      The PNG paths written (each has a PDF beside it).
    """
    import matplotlib.pyplot as plt

    from physai import store

    folder = store.experiment_dir(root, experiment.name, preset) / "figures"
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, fig in figures.items():
        for fmt in FIGURE_FORMATS:
            with store.atomic_path(folder / f"{name}.{fmt}") as tmp:
                # PDFs carry no creation date, so a redrawn figure is the same file.
                meta = {"CreationDate": None} if fmt == "pdf" else None
                fig.savefig(tmp, format=fmt, dpi=100, bbox_inches="tight", metadata=meta)
        plt.close(fig)  # a notebook shows it once, from the Outcome, not again at cell end
        paths.append(folder / f"{name}.png")
    return paths


def run_experiment(
    experiment: str | Experiment,
    preset: str = "demo",
    overrides: Sequence[str] = (),
    out: str = "results",
    *,
    strategy: str = "auto",
    runner: Callable | None = None,
    progress: bool = True,
    figures: bool = True,
    debug: bool = False,
    max_trials: int | None = None,
    rerun: bool = False,
    save_params: bool = False,
) -> Outcome:
    """Runs (or resumes) an experiment preset, checks its hypotheses and stores the verdicts.

    Args:
      experiment: a name (``physai list``), a dotted module path of a user's
        experiment, or an ``Experiment``.
      preset: preset name.
      overrides: ``key=value`` strings, as ``--set`` on the command line.
      out: results root.
      strategy: trainer batching strategy.
      runner: a backend (``physai.backends.get``); default: in this process.
      progress: show a progress bar.
      figures: draw the figures and write them as PNG files.
      debug: let errors inside shards propagate.
      max_trials: the largest grid accepted (default ``physai.sweep.MAX_TRIALS``).
      rerun: recompute stored results that other code made (``physai.identity``);
        without it they stop the run with a one-line error.
      save_params: keep each trained trial's final parameters (``physai.store.params``).

    Returns:
      An ``Outcome``; ``verdicts.json`` is written beside the tables.
    """
    from physai import registry, sweep

    exp = registry.load(experiment) if isinstance(experiment, str) else experiment
    plan_ = sweep.plan(exp, preset, overrides, strategy, max_trials or sweep.MAX_TRIALS)
    check_out(out)
    if save_params:
        plan_ = sweep.saving_params(plan_, out)
    summary = sweep.run_sweep(plan_, out, progress=progress, debug=debug, runner=runner, rerun=rerun)
    if save_params:
        warn_missing_params(plan_)
    results = sweep.results(plan_, out)
    verdicts = evaluate(exp, results)
    outcome = Outcome(plan_, summary, results, verdicts, verdicts_path=save_verdicts(exp, preset, verdicts, out))
    if figures and not results.trials.empty:
        outcome.figures = draw_figures(exp, results)
        outcome.figure_paths = write_figures(exp, preset, outcome.figures, out)
    return outcome


def warn_missing_params(plan_) -> None:
    """Says on stderr when ``--save-params`` kept nothing for some trials: their shards do
    not train through ``physai.train.run_shard`` (solved in closed form, or own loops)."""
    from physai import sweep

    missing = sweep.missing_params(plan_)
    if missing:
        print(
            f"note: no parameters saved for {missing} of {len(plan_.trials)} trials: {plan_.experiment.name} "
            "does not train them with physai.train.run_shard",
            file=sys.stderr,
        )


def check_out(root: str) -> None:
    """Fails unless ``root`` is (or can be created as) a writable folder; creates nothing."""
    import tempfile

    path = Path(root).absolute()
    existing = path
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        raise PhysaiError(f"--out {root}: not a writable folder ({existing} is not a folder)")
    try:
        with tempfile.NamedTemporaryFile(dir=existing, prefix=".physai-write-test-"):
            pass
    except OSError as e:
        raise PhysaiError(f"--out {root}: not a writable folder ({e.strerror or e})") from None
