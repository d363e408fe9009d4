"""physai: controlled experiments on synthetic data that test the laws of deep learning.

State a hypothesis, sweep a grid, measure, and say whether the hypothesis held.
The public API an experiment module needs::

    from physai import Experiment, Hypothesis, Verdict, Preset, Shard, ShardResult, Static
    from physai import product, zipped, chain, logspace
"""

from physai.errors import PhysaiError
from physai.experiment import (
    Experiment,
    Hypothesis,
    Preset,
    Results,
    Shard,
    ShardResult,
    Source,
    Static,
    Trial,
    Verdict,
    all_of,
    verdict_from_interval,
    verdict_in_range,
)
from physai.grid import chain, logspace, product, zipped
from physai.pipeline import Outcome, run_experiment

__all__ = [
    "Experiment",
    "Hypothesis",
    "Preset",
    "Results",
    "Shard",
    "ShardResult",
    "Source",
    "Static",
    "Trial",
    "Verdict",
    "all_of",
    "verdict_from_interval",
    "verdict_in_range",
    "chain",
    "logspace",
    "product",
    "zipped",
    "PhysaiError",
    "Outcome",
    "run_experiment",
]
__version__ = "0.1.0"
