"""Every hypothesis of every registered experiment has a falsification test (see
``tests/falsification.py``), and every such test names a hypothesis that exists."""

import importlib
from pathlib import Path

from physai import registry
from tests.falsification import COVERED

TESTS = Path(__file__).resolve().parent


def _import_every_test_module():
    for path in sorted(TESTS.glob("test_*.py")):
        importlib.import_module(f"tests.{path.stem}")


def test_every_hypothesis_has_a_falsification_test():
    _import_every_test_module()
    declared = {(name, h.name) for name in registry.names() for h in registry.load(name).hypotheses}
    missing = sorted(declared - set(COVERED))
    assert not missing, "hypotheses without a falsification test: " + ", ".join(f"{e}:{h}" for e, h in missing)
    unknown = sorted(set(COVERED) - declared)
    assert not unknown, f"falsification tests name hypotheses that do not exist: {unknown}"
