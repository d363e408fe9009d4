"""Grids: declarative sweeps built from four small combinators.

A grid is an ordered list of parameter points (dicts). It is built, not
written out, so that a preset or ``--set key=value`` can override one axis
and the rest of the grid follows::

    grid = chain(
        product(part=["theory"], gamma=logspace(0.1, 10, 21), seed=range(20)),
        product(part=["rf"], p=logspace(20, 3200, 24, integer=True), seed=range(5)),
    )
    grid.override("seed", [0, 1])   # every axis named "seed" now has two values

The order of points is part of the contract: ``product`` varies its last axis
fastest (like nested for-loops), ``chain`` concatenates, ``zipped`` walks axes
in lockstep.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any


class GridError(ValueError):
    """A grid was built or overridden with inconsistent values."""


class Grid:
    """Base class of grid nodes. Subclasses implement ``points`` and ``override``."""

    def points(self) -> list[dict[str, Any]]:
        """Returns:
        The grid's parameter points, in grid order."""
        raise NotImplementedError

    def axes(self) -> dict[str, list[Any]]:
        """Returns:
        Every axis name mapped to the union of its values (first-seen order)."""
        raise NotImplementedError

    def override(self, name: str, values: Sequence[Any]) -> Grid:
        """Replaces the values of every axis called ``name``.

        Args:
          name: axis name.
          values: the new values (a non-empty sequence).

        Returns:
          A new grid; the original is unchanged.
        """
        raise NotImplementedError

    def size(self) -> int:
        """Returns: the number of points, counted without building them."""
        raise NotImplementedError

    def __len__(self) -> int:
        return self.size()


@dataclass(frozen=True)
class Axis(Grid):
    """One named axis: ``Axis("seed", (0, 1, 2))``."""

    name: str
    values: tuple[Any, ...]

    def __post_init__(self):
        if not self.values:
            raise GridError(f"axis {self.name!r} has no values")

    def points(self):
        return [{self.name: v} for v in self.values]

    def size(self):
        return len(self.values)

    def axes(self):
        return {self.name: list(self.values)}

    def override(self, name, values):
        return Axis(self.name, tuple(values)) if name == self.name else self


def _as_grids(grids: Iterable[Grid], axes: dict[str, Any]) -> list[Grid]:
    nodes = list(grids)
    for name, values in axes.items():
        if isinstance(values, Grid):
            raise GridError(f"keyword {name!r} must be a list of values, not a grid")
        if isinstance(values, (str, bytes)) or not isinstance(values, Iterable):
            values = [values]
        nodes.append(Axis(name, tuple(values)))
    return nodes


@dataclass(frozen=True)
class _Product(Grid):
    parts: tuple[Grid, ...]

    def points(self):
        out = []
        for combo in itertools.product(*(p.points() for p in self.parts)):
            point: dict[str, Any] = {}
            for sub in combo:
                clash = point.keys() & sub.keys()
                if clash:
                    raise GridError(f"product repeats axis {sorted(clash)[0]!r}")
                point.update(sub)
            out.append(point)
        return out

    def size(self):
        return math.prod(p.size() for p in self.parts)

    def axes(self):
        return _merge_axes(self.parts)

    def override(self, name, values):
        return _Product(tuple(p.override(name, values) for p in self.parts))


@dataclass(frozen=True)
class _Zipped(Grid):
    parts: tuple[Grid, ...]

    def points(self):
        lists = [p.points() for p in self.parts]
        lengths = {len(points) for points in lists}
        if len(lengths) > 1:
            raise GridError(f"zipped axes have different lengths {sorted(lengths)}")
        return [{k: v for d in combo for k, v in d.items()} for combo in zip(*lists)]

    def size(self):
        lengths = {p.size() for p in self.parts}
        if len(lengths) > 1:
            raise GridError(f"zipped axes have different lengths {sorted(lengths)}")
        return lengths.pop() if lengths else 0

    def axes(self):
        return _merge_axes(self.parts)

    def override(self, name, values):
        new = _Zipped(tuple(p.override(name, values) for p in self.parts))
        new.size()  # fail now, with the axis name in hand, if lengths no longer match
        return new


@dataclass(frozen=True)
class _Chain(Grid):
    parts: tuple[Grid, ...]

    def points(self):
        return [pt for p in self.parts for pt in p.points()]

    def size(self):
        return sum(p.size() for p in self.parts)

    def axes(self):
        return _merge_axes(self.parts)

    def override(self, name, values):
        return _Chain(tuple(p.override(name, values) for p in self.parts))


def _merge_axes(parts: Iterable[Grid]) -> dict[str, list[Any]]:
    merged: dict[str, list[Any]] = {}
    for p in parts:
        for k, vs in p.axes().items():
            bucket = merged.setdefault(k, [])
            bucket.extend(v for v in vs if v not in bucket)
    return merged


def product(*grids: Grid, **axes: Any) -> Grid:
    """Cartesian product of sub-grids and keyword axes (last varies fastest).

    Args:
      *grids: sub-grids to combine.
      **axes: ``name=values`` axes; a scalar counts as a one-value axis.

    Returns:
      The product grid.
    """
    return _Product(tuple(_as_grids(grids, axes)))


def zipped(*grids: Grid, **axes: Any) -> Grid:
    """Walks sub-grids and axes in lockstep (all must have the same length).

    Args:
      *grids: sub-grids of equal length.
      **axes: ``name=values`` axes of that same length.

    Returns:
      The zipped grid.
    """
    grid = _Zipped(tuple(_as_grids(grids, axes)))
    grid.points()
    return grid


def chain(*grids: Grid) -> Grid:
    """Concatenates grids, e.g. the parts of an experiment with different axes.

    Args:
      *grids: grids whose points are listed one after another.

    Returns:
      The chained grid.
    """
    return _Chain(tuple(grids))


def logspace(start: float, stop: float, num: int, *, integer: bool = False) -> list:
    """``num`` values from ``start`` to ``stop`` evenly spaced in log scale.

    Args:
      start: first value (> 0).
      stop: last value (> 0).
      num: number of values.
      integer: round to integers and drop the duplicates rounding creates.

    Returns:
      A list of floats, or of ints when ``integer``.
    """
    if start <= 0 or stop <= 0 or num < 1:
        raise GridError("logspace needs start > 0, stop > 0 and num >= 1")
    if num == 1:
        values = [float(start)]
    else:
        step = (math.log(stop) - math.log(start)) / (num - 1)
        values = [math.exp(math.log(start) + i * step) for i in range(num)]
    if not integer:
        # Round to 12 significant digits so ids do not depend on libm's last bit.
        return [float(f"{v:.12g}") for v in values]
    out: list[int] = []
    for v in values:
        r = int(round(v))
        if r not in out:
            out.append(r)
    return out
