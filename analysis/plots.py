"""Shared seaborn helpers so every experiment's figures look alike.

Experiments draw with seaborn on tidy tables and use these helpers for the
repeated parts: one style, log axes, a theory curve overlaid, a marked
threshold, a titled figure.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence

# No backend is forced here: the CLI selects Agg (files, no window) before drawing,
# and a notebook keeps its inline backend so figures show in place.
import matplotlib.pyplot as plt
import numpy as np
import seaborn as sns

PALETTE = "colorblind"


def style() -> None:
    """Applies the project style (seaborn ticks, colour-blind palette)."""
    sns.set_theme(style="ticks", palette=PALETTE, context="notebook")


def figure(ncols: int = 1, nrows: int = 1, width: float = 5.0, height: float = 3.8, **kw):
    """Creates a figure in the project style.

    Args:
      ncols, nrows: panel grid.
      width, height: size of one panel in inches.
      **kw: passed to ``plt.subplots``.

    Returns:
      ``(fig, axes)`` with ``axes`` squeezed as in matplotlib.
    """
    style()
    return plt.subplots(nrows, ncols, figsize=(width * ncols, height * nrows), **kw)


def loglog(ax, x: bool = True, y: bool = True) -> None:
    """Puts an axis on log scales (x and/or y) with light grid lines."""
    if x:
        ax.set_xscale("log")
    if y:
        ax.set_yscale("log")
    ax.grid(True, which="major", alpha=0.3)


def theory_curve(ax, x: Sequence[float], y: Sequence[float], label: str = "theory", **kw) -> None:
    """Overlays a closed-form prediction as a black dashed line.

    Args:
      ax: matplotlib axis.
      x, y: the curve.
      label: legend label.
    """
    ax.plot(np.asarray(x), np.asarray(y), color="black", linestyle="--", linewidth=1.2, label=label, zorder=5, **kw)


def mark_threshold(ax, x: float, label: str, **kw) -> None:
    """Marks a vertical threshold (e.g. the interpolation threshold p = n)."""
    ax.axvline(x, color="grey", linestyle=":", linewidth=1.2, label=label, **kw)


def band(ax, x, median, low, high, label: str | None = None, color=None) -> None:
    """Draws a median line with a shaded interval (e.g. bootstrap over seeds).

    Args:
      ax: axis.
      x: positions.
      median, low, high: the line and its interval.
      label: legend label.
      color: matplotlib colour.
    """
    (line,) = ax.plot(x, median, marker="o", markersize=3, label=label, color=color)
    ax.fill_between(x, low, high, alpha=0.2, color=line.get_color(), linewidth=0)


@contextlib.contextmanager
def fixed_jitter(seed: int = 0) -> Iterator[None]:
    """Seeds numpy's global generator inside the block and restores it afterwards.

    seaborn's ``stripplot`` jitters points with ``np.random.uniform`` (no seed
    argument), so without this a figure changes each time it is drawn from the
    same results.

    Args: seed: the seed used inside the block.
    """
    state = np.random.get_state()
    np.random.seed(seed)
    try:
        yield
    finally:
        np.random.set_state(state)
