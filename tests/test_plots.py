"""Shared plotting helpers."""

import pytest


def test_fixed_jitter_draws_the_same_and_restores_the_global_state():
    import numpy as np

    from analysis.plots import fixed_jitter

    np.random.seed(123)
    expected_after = np.random.get_state()[1].copy()
    with fixed_jitter(0):
        first = np.random.uniform(size=3)
    assert np.array_equal(np.random.get_state()[1], expected_after)  # caller's stream untouched
    with fixed_jitter(0):
        second = np.random.uniform(size=3)
    assert np.array_equal(first, second)


@pytest.mark.slow  # draws every reference figure twice (~30 s): with the paper presets in `make reproduce`
def test_every_reference_figure_is_the_same_each_time_it_is_drawn():
    """Figures are a function of the stored results: drawing twice gives identical PNG bytes."""
    import io

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from physai import registry, sweep

    def png_bytes(figures):
        out = {}
        for name, fig in figures.items():
            buffer = io.BytesIO()
            fig.savefig(buffer, format="png", dpi=40, metadata={"Software": None})
            plt.close(fig)
            out[name] = buffer.getvalue()
        return out

    for name in registry.names():
        experiment = registry.load(name)
        res = sweep.results(sweep.plan(experiment, "paper"), "results/reference")
        first, second = png_bytes(experiment.plot(res)), png_bytes(experiment.plot(res))
        assert first, name
        assert first == second, f"{name}: figures differ between two draws"
