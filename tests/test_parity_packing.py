"""Packed subsets (independent quanta) and multitask sparse parity with given subsets."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from physai.curricula.parity import multitask_sparse_parity_with_subsets, packed_subsets, zipf_probabilities

packed = jax.jit(packed_subsets, static_argnums=(1, 2, 3, 4))


def _overlaps(subsets, n_bits):
    m = np.zeros((len(subsets), n_bits), int)
    m[np.arange(len(subsets))[:, None], subsets] = 1
    ov = m @ m.T
    np.fill_diagonal(ov, 0)
    return m, ov


@pytest.mark.parametrize("n_bits,n_tasks", [(24, 64), (16, 16), (10, 8)])
def test_packed_subsets_share_at_most_one_bit(n_bits, n_tasks):
    for seed in range(5):
        subsets, found = packed(jax.random.key(seed), n_bits, 3, n_tasks, 1)
        subsets = np.asarray(subsets)
        assert int(found) == n_tasks
        m, ov = _overlaps(subsets, n_bits)
        assert (m.sum(axis=1) == 3).all()  # k distinct bits per task
        assert (np.diff(subsets, axis=1) > 0).all()  # sorted rows
        assert ov.max() <= 1


def test_packed_subsets_disjoint_and_reports_shortfall():
    subsets, found = packed(jax.random.key(0), 12, 3, 4, 0)  # 4 disjoint triples fill 12 bits
    assert int(found) == 4 and _overlaps(np.asarray(subsets), 12)[1].max() == 0
    _, found = packed(jax.random.key(0), 12, 3, 5, 0)  # a fifth cannot fit
    assert int(found) == 4


def test_packed_subsets_depend_on_the_key():
    a, _ = packed(jax.random.key(0), 24, 3, 16, 1)
    b, _ = packed(jax.random.key(1), 24, 3, 16, 1)
    assert not np.array_equal(np.asarray(a), np.asarray(b))


def test_with_subsets_labels_frequencies_and_int8():
    subsets = jnp.array([[0, 1, 2], [3, 4, 5], [0, 3, 6]], jnp.int32)
    d = multitask_sparse_parity_with_subsets(jax.random.key(3), subsets, 8, 1.0, 30000, 50)
    x, y, task = np.asarray(d["x_train"]), np.asarray(d["y_train"]), np.asarray(d["task_train"])
    code, bits = x[:, :3], x[:, 3:]
    assert (code.argmax(1) == task).all() and (code.sum(1) == 1).all()
    want = np.prod(np.take_along_axis(bits, np.asarray(subsets)[task], axis=1), axis=1)
    assert np.array_equal(y, want)
    assert np.array_equal(np.asarray(d["label_train"]), (1 - y) // 2)
    freq = np.bincount(task, minlength=3) / len(task)
    assert freq == pytest.approx(np.asarray(zipf_probabilities(3, 1.0)), abs=0.01)
    assert np.array_equal(np.asarray(d["task_test"]), np.repeat(np.arange(3), 50))
    d8 = multitask_sparse_parity_with_subsets(jax.random.key(3), subsets, 8, 1.0, 30000, 50, dtype=jnp.int8)
    assert d8["x_train"].dtype == jnp.int8
    for k in ("x_train", "y_train", "label_train", "x_test", "y_test", "label_test"):
        assert np.array_equal(np.asarray(d8[k]).astype(np.float64), np.asarray(d[k], np.float64))
