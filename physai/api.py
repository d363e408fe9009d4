"""One call for notebooks and scripts: run an experiment preset, get results,
verdicts and figures back (the same path as ``physai demo`` / ``physai verify``)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

from physai.experiment import Results, Verdict


@dataclass
class Outcome:
    """What ``run_experiment`` returns.

    Attributes:
      results: the stored tidy tables of the planned trials.
      verdicts: one per hypothesis.
      figures: ``{name: matplotlib Figure}`` from the experiment's ``plot``.
    """

    results: Results
    verdicts: list[Verdict]
    figures: dict[str, Any]

    def verdict_table(self):
        """Returns: the verdicts as a pandas DataFrame (hypothesis, measured, expected, status)."""
        import pandas as pd

        return pd.DataFrame([{"hypothesis": v.hypothesis, "measured": v.measured, "expected": v.expected,
                              "status": v.status, "why": v.explanation} for v in self.verdicts])


def run_experiment(name: str, preset: str = "demo", overrides: Sequence[str] = (), out: str = "results",
                   progress: bool = True, figures: bool = True) -> Outcome:
    """Runs (or resumes) an experiment preset and evaluates its hypotheses.

    Args:
      name: experiment name (``physai list``) or a dotted module path.
      preset: preset name.
      overrides: ``key=value`` strings, as ``--set`` on the command line.
      out: results root.
      progress: show a progress bar.
      figures: also draw the figures.

    Returns:
      An ``Outcome`` with results, verdicts and figures.
    """
    from physai import registry, sweep

    plan_ = sweep.plan(registry.load(name), preset, overrides)
    sweep.run_sweep(plan_, out, progress=progress)
    results = sweep.results(plan_, out)
    verdicts = [h.evaluate(results) for h in plan_.experiment.hypotheses]
    drawn = plan_.experiment.plot(results) if (figures and plan_.experiment.plot) else {}
    return Outcome(results, verdicts, drawn)
