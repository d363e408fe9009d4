"""What values a parameter may take: checked before anything runs or is written.

A value of the right type can still be meaningless (``width=0``, ``seed=-1``,
``steps=-5``) or beyond what the compiled program holds (``width`` above the
preset's ``max_width``). Each parameter has a ``Domain``: the library declares
the common names once (``COMMON``), an experiment adds or overrides its own
(``Experiment.domains``), and ``physai.sweep.plan`` refuses a trial outside its
domain with a one-line error before any shard runs.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from physai.errors import PhysaiError


@dataclass(frozen=True)
class Domain:
    """A range of allowed values.

    Attributes:
      low, high: bounds (``None``: unbounded on that side).
      low_open: ``low`` itself is excluded (``lr > 0``).
      integer: the value must be a whole number.
      at_most: name of another parameter whose value bounds this one from above
        (``width`` at most ``max_width``, the compiled width); ignored when the
        trial has no such parameter.
      choices: the allowed values of a categorical parameter (overrides the range).
    """

    low: float | None = None
    high: float | None = None
    low_open: bool = False
    integer: bool = False
    at_most: str | None = None
    choices: tuple[Any, ...] | None = None

    def describe(self, params: Mapping[str, Any] | None = None) -> str:
        """Args: params: a trial (names ``at_most``'s bound when it has that parameter).
        Returns: the domain in words, e.g. ``an integer >= 1``."""
        if self.choices is not None:
            return "one of " + ", ".join(map(repr, self.choices))
        num = lambda x: f"{int(x)}" if float(x).is_integer() else f"{x:g}"
        parts = []
        if self.low is not None:
            parts.append(f"{'>' if self.low_open else '>='} {num(self.low)}")
        if self.high is not None:
            parts.append(f"<= {num(self.high)}")
        if self.at_most and params is not None and self.at_most in params:
            parts.append(f"<= {self.at_most} ({params[self.at_most]})")
        kind = "an integer" if self.integer else "a number"
        return f"{kind} {' and '.join(parts)}".strip()

    def violation(self, value: Any, params: Mapping[str, Any]) -> str | None:
        """Args: value: the parameter's value; params: the whole trial.
        Returns: why the value is outside the domain, or None when it is inside."""
        if self.choices is not None:
            return None if value in self.choices else f"must be {self.describe(params)}"
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return None  # types are checked against the preset by ``sweep.plan``
        if not math.isfinite(value):
            return "must be finite"
        if self.integer and not float(value).is_integer():
            return "must be an integer"
        low = self.low is not None and (value < self.low or (self.low_open and value == self.low))
        high = self.high is not None and value > self.high
        above = self.at_most is not None and self.at_most in params and value > params[self.at_most]
        return f"must be {self.describe(params)}" if (low or high or above) else None


POSITIVE_INT = Domain(low=1, integer=True)
NON_NEGATIVE = Domain(low=0)
POSITIVE = Domain(low=0, low_open=True)

# Names with one meaning across experiments. Sizes are positive integers, rates positive,
# noise levels and penalties non-negative, seeds valid for ``jax.random.key``.
SEED = Domain(low=0, high=2**31 - 1, integer=True)

COMMON: dict[str, Domain] = {
    "seed": SEED,
    "data_seed": SEED,
    "teacher_seed": SEED,
    "classes": Domain(low=2, integer=True),
    "steps": POSITIVE_INT,
    "log_every": POSITIVE_INT,
    "n": POSITIVE_INT,
    "n_test": POSITIVE_INT,
    "n_train": POSITIVE_INT,
    "d": POSITIVE_INT,
    "depth": POSITIVE_INT,
    "width": Domain(low=1, integer=True, at_most="max_width"),
    "max_width": POSITIVE_INT,
    "teacher_width": POSITIVE_INT,
    "batch": POSITIVE_INT,
    "batch_size": POSITIVE_INT,
    "lr": POSITIVE,
    "noise": NON_NEGATIVE,
    "label_noise": NON_NEGATIVE,
    "weight_decay": NON_NEGATIVE,
    "wd": NON_NEGATIVE,
    "ridge": NON_NEGATIVE,
    "penalty": NON_NEGATIVE,
}


def check(params: Mapping[str, Any], domains: Mapping[str, Domain], where: str) -> None:
    """Raises a one-line PhysaiError for the first parameter outside its domain.

    Args:
      params: one trial's parameters.
      domains: ``COMMON`` updated with the experiment's own.
      where: the experiment and preset, for the message.
    """
    for name, value in params.items():
        domain = domains.get(name)
        problem = domain.violation(value, params) if domain is not None else None
        if problem:
            raise PhysaiError(f"{name}={value!r} is outside its domain for {where}: {name} {problem}")
