"""Finds experiments: every module in the ``experiments`` package that defines
``EXPERIMENT``, plus any registered under the ``physai.experiments`` entry-point group."""
from __future__ import annotations

import importlib
import importlib.metadata
import pkgutil

from physai.errors import PhysaiError
from physai.experiment import Experiment


def names() -> list[str]:
    """Returns: sorted names of the available experiments (modules are not imported)."""
    found = set()
    try:
        package = importlib.import_module("experiments")
        found |= {m.name for m in pkgutil.iter_modules(package.__path__) if not m.name.startswith("_")}
    except ModuleNotFoundError:
        pass
    found |= {ep.name for ep in importlib.metadata.entry_points(group="physai.experiments")}
    return sorted(found)


def load(name: str) -> Experiment:
    """Imports an experiment by name.

    Args:
      name: module name in ``experiments/``, an entry-point name, or a dotted
        module path (``mypkg.my_experiment``) of a module defining ``EXPERIMENT``.

    Returns:
      Its ``EXPERIMENT``. Raises PhysaiError for an unknown name.
    """
    if "." in name:  # a module path of the user's own: ``physai run mypkg.my_experiment``
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as e:
            raise PhysaiError(f"cannot import experiment module {name!r}: {e}") from None
        experiment = getattr(module, "EXPERIMENT", None)
        if not isinstance(experiment, Experiment):
            raise PhysaiError(f"{name} defines no EXPERIMENT")
        return experiment
    available = names()
    if name not in available:
        raise PhysaiError(f"unknown experiment {name!r}; choose from: {', '.join(available) or '(none)'}")
    eps = {ep.name: ep for ep in importlib.metadata.entry_points(group="physai.experiments")}
    if name in eps:
        experiment = eps[name].load()
    else:
        experiment = getattr(importlib.import_module(f"experiments.{name}"), "EXPERIMENT", None)
    if not isinstance(experiment, Experiment):
        raise PhysaiError(f"experiments.{name} defines no EXPERIMENT")
    return experiment
