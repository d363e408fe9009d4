"""The other half of the tiny end-to-end runs of ``test_experiments.py``, in a file of its own so
that ``pytest -n 2 --dist loadfile`` runs the two halves on different workers."""

import pytest

from tests.test_experiments import NAMES, run_tiny_end_to_end


@pytest.mark.parametrize("name", NAMES[1::2])
def test_tiny_preset_end_to_end(name, tmp_path):
    run_tiny_end_to_end(name, tmp_path)
