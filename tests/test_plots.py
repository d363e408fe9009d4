"""Shared plotting helpers."""


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
