"""Finds experiments: the modules and packages of the ``experiments`` package,
plus any registered under the ``physai.experiments`` entry-point group.

An experiment is a module (``experiments/width_minima.py``) or a package
(``experiments/robustness_law/``, its parts beside ``__init__.py``) that defines
``EXPERIMENT``. A package may instead group several experiments that share a
phenomenon: its ``__init__.py`` lists their submodules in ``EXPERIMENTS``, and
each is named ``<package>.<submodule>`` (``double_descent.linear``).
"""

from __future__ import annotations

import dataclasses
import importlib
import importlib.metadata
import pkgutil

from physai.errors import PhysaiError
from physai.experiment import Experiment


def _modules() -> dict[str, bool]:
    """Returns: ``{module name: is a package}`` of the public modules of the ``experiments``
    package, without importing any of them."""
    try:
        package = importlib.import_module("experiments")
    except ModuleNotFoundError:
        return {}
    return {m.name: m.ispkg for m in pkgutil.iter_modules(package.__path__) if not m.name.startswith("_")}


def _members(top: str, ispkg: bool) -> dict[str, str]:
    """Returns: ``{experiment name: module path}`` of one module of ``experiments``: itself, or
    the members of a group (a package whose ``__init__`` lists ``EXPERIMENTS``)."""
    if ispkg:
        members = getattr(importlib.import_module(f"experiments.{top}"), "EXPERIMENTS", None)
        if members is not None:
            return {f"{top}.{sub}": f"experiments.{top}.{sub}" for sub in members}
    return {top: f"experiments.{top}"}


def _builtin(name: str | None = None) -> dict[str, str]:
    """Returns: ``{experiment name: module path}`` of the ``experiments`` package; with ``name``,
    only of the one module that name could live in (so a command on one experiment imports
    that experiment alone, not every experiment's dependencies)."""
    modules = _modules()
    if name is not None:
        top = name.partition(".")[0]
        modules = {top: modules[top]} if top in modules else {}
    found = {}
    for top, ispkg in modules.items():
        found.update(_members(top, ispkg))
    return found


def names() -> list[str]:
    """Returns: sorted names of the available experiments."""
    eps = {ep.name for ep in importlib.metadata.entry_points(group="physai.experiments")}
    return sorted(set(_builtin()) | eps)


def from_module(path: str) -> Experiment:
    """Args: path: an importable module that defines ``EXPERIMENT``. Returns: that experiment,
    knowing its module (so a worker that imports it records the same code identity as the driver:
    a package experiment's fingerprint covers the whole package, not the file its ``run`` is in)."""
    experiment = getattr(importlib.import_module(path), "EXPERIMENT", None)
    if not isinstance(experiment, Experiment):
        raise PhysaiError(f"{path} defines no EXPERIMENT")
    # Workers get the experiment back by importing this module.
    return experiment if experiment.module else dataclasses.replace(experiment, module=path)


def load(name: str) -> Experiment:
    """Imports an experiment by name.

    Args:
      name: a name from ``names()`` (a module or package in ``experiments/``, a
        member of an experiment group such as ``double_descent.linear``, or an
        entry-point name), or a dotted module path (``mypkg.my_experiment``) of
        an importable module of the user's that defines ``EXPERIMENT``.

    Returns:
      Its ``EXPERIMENT``. Raises PhysaiError for an unknown name.
    """
    builtin = _builtin(name)
    if name in builtin:
        return from_module(builtin[name])
    eps = {ep.name: ep for ep in importlib.metadata.entry_points(group="physai.experiments")}
    if name in eps:
        experiment = eps[name].load()
        if not isinstance(experiment, Experiment):
            raise PhysaiError(f"entry point {name!r} is no Experiment")
        return experiment if experiment.module else dataclasses.replace(experiment, module=eps[name].module)
    if "." in name:  # a module path of the user's own: ``physai run mypkg.my_experiment``
        try:
            return from_module(name)
        except ModuleNotFoundError as e:
            raise PhysaiError(f"cannot import experiment module {name!r}: {e}") from None
    raise PhysaiError(f"unknown experiment {name!r}; choose from: {', '.join(names()) or '(none)'}")
