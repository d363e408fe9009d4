"""Sparse parity and multitask sparse parity (Barak et al. 2022; Michaud et al. 2023).

Both are pure, jit-able functions of a PRNG key: sizes (``n_bits``, ``k``,
``n_tasks``, sample counts) are static Python ints, everything else may be traced.

Conventions shared by both:
  * inputs are bits in ``{-1, +1}`` stored as float32 (Barak et al. use +-1 so the
    parity is the product of the relevant coordinates);
  * ``y_*`` is the parity as a float in ``{-1, +1}`` (the hinge / squared-loss
    target), ``label_*`` the same as an int in ``{0, 1}`` (``label = (1 - y) / 2``, so
    ``label = 1`` means an odd number of ``-1`` among the relevant bits) for
    cross-entropy.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp


def _random_bits(key: jax.Array, shape: tuple[int, ...]) -> jax.Array:
    return jnp.where(jax.random.bernoulli(key, 0.5, shape), 1.0, -1.0).astype(jnp.float32)


def random_subset(key: jax.Array, n: int, k: int) -> jax.Array:
    """Args: key: PRNG key; n: population size; k: subset size (static).
    Returns: ``(k,)`` int32 distinct indices in ``[0, n)``, sorted."""
    return jnp.sort(jax.random.permutation(key, n)[:k]).astype(jnp.int32)


def parity_of(x: jax.Array, subset: jax.Array) -> jax.Array:
    """Args: x: ``(..., n)`` +-1 bits; subset: ``(k,)`` indices.
    Returns: ``(...,)`` the product of the bits in ``subset`` (+-1)."""
    return jnp.prod(jnp.take(x, subset, axis=-1), axis=-1)


def sparse_parity(key: jax.Array, n_bits: int, k: int, n_train: int, n_test: int) -> dict:
    """The (n, k)-sparse parity task: label = product of k hidden coordinates of x in {-1,+1}^n.

    Barak, Edelman, Goel, Kakade, Malach & Zhang (2022), "Hidden progress in deep
    learning: SGD learns parities near the computational limit". They train online
    (fresh samples every step); use a large ``n_train`` (e.g. 2^16) with minibatches
    drawn from it to approximate that.

    Args:
      key: PRNG key (fixes the hidden subset and the samples).
      n_bits: n, the input dimension (static).
      k: size of the relevant subset (static).
      n_train, n_test: sample counts (static).

    Returns:
      ``x_train (n_train, n)``, ``y_train (n_train,)`` +-1 float, ``label_train`` 0/1
      int, the same for ``test``, ``relevant (k,)`` int indices and
      ``relevant_mask (n,)`` float 0/1.
    """
    k_subset, k_train, k_test = jax.random.split(key, 3)
    subset = random_subset(k_subset, n_bits, k)
    x_train = _random_bits(k_train, (n_train, n_bits))
    x_test = _random_bits(k_test, (n_test, n_bits))
    y_train, y_test = parity_of(x_train, subset), parity_of(x_test, subset)
    return {
        "x_train": x_train,
        "y_train": y_train,
        "label_train": ((1 - y_train) / 2).astype(jnp.int32),
        "x_test": x_test,
        "y_test": y_test,
        "label_test": ((1 - y_test) / 2).astype(jnp.int32),
        "relevant": subset,
        "relevant_mask": jnp.zeros(n_bits, jnp.float32).at[subset].set(1.0),
    }


def zipf_probabilities(n_tasks: int, alpha: jax.Array | float) -> jax.Array:
    """Args: n_tasks: number of tasks (static); alpha: Zipf exponent (may be traced).
    Returns: ``(n_tasks,)`` probabilities ``p_i ∝ (i + 1)^-(alpha + 1)``, task 0 the most
    frequent. The ``+ 1`` follows Michaud et al. (2023), whose quanta frequencies
    ``p_k ∝ k^-(alpha + 1)`` give a loss ``L ∝ N^-alpha`` in the quantization model."""
    ranks = jnp.arange(1, n_tasks + 1, dtype=jnp.float32)
    weights = ranks ** (-(jnp.asarray(alpha, jnp.float32) + 1.0))
    return weights / weights.sum()


def multitask_sparse_parity(
    key: jax.Array, n_tasks: int, n_bits: int, k: int, alpha: jax.Array | float, n_train: int, n_test_per_task: int
) -> dict:
    """Multitask sparse parity with Zipf task frequencies (Michaud, Liu, Girit & Tegmark 2023,
    "The quantization model of neural scaling", Sec. 3).

    Each input is ``[one-hot task code (n_tasks) | bits (n_bits)]``; task ``t`` has its
    own random k-subset ``S_t`` of the bits, and the label is the parity of the bits
    in ``S_t``. Training tasks are drawn with Zipf probabilities (``zipf_probabilities``),
    so frequent tasks (small index) are learned first. The test set holds
    ``n_test_per_task`` samples of *every* task (task-major order), so per-task
    accuracy and loss can be measured even for rare tasks; weight them by
    ``task_probs`` to get the population (frequency-weighted) loss.

    Args:
      key: PRNG key (fixes the subsets and the samples).
      n_tasks: number of tasks / quanta (static).
      n_bits: number of data bits (static).
      k: bits per subset (static).
      alpha: Zipf exponent (see ``zipf_probabilities``; may be traced).
      n_train: training samples (static).
      n_test_per_task: test samples per task (static).

    Returns:
      ``x_train (n_train, n_tasks + n_bits)``, ``y_train`` +-1 float, ``label_train`` 0/1
      int, ``task_train`` int; ``x_test (n_tasks * n_test_per_task, n_tasks + n_bits)``,
      ``y_test``, ``label_test``, ``task_test``; ``subsets (n_tasks, k)`` int;
      ``task_probs (n_tasks,)``.
    """
    k_sub, k_task, k_bits_train, k_bits_test = jax.random.split(key, 4)
    subsets = jax.vmap(lambda kk: random_subset(kk, n_bits, k))(jax.random.split(k_sub, n_tasks))
    return _multitask_samples(
        (k_task, k_bits_train, k_bits_test), subsets, n_bits, alpha, n_train, n_test_per_task, jnp.float32
    )


def _multitask_samples(keys, subsets: jax.Array, n_bits: int, alpha, n_train: int, n_test_per_task: int, dtype) -> dict:
    """Samples of multitask sparse parity for given task subsets.

    Args:
      keys: ``(task draws, training bits, test bits)`` PRNG keys.
      subsets: ``(n_tasks, k)`` bit indices per task; alpha: Zipf exponent.
      n_bits, n_train, n_test_per_task: static ints; dtype: of ``x_*`` and ``y_*``.

    Returns:
      The dictionary documented in ``multitask_sparse_parity``.
    """
    k_task, k_bits_train, k_bits_test = keys
    n_tasks = subsets.shape[0]
    probs = zipf_probabilities(n_tasks, alpha)

    def build(tasks, bits):
        code = jax.nn.one_hot(tasks, n_tasks, dtype=dtype)
        y = jnp.prod(jnp.take_along_axis(bits, subsets[tasks], axis=1), axis=1).astype(dtype)
        return jnp.concatenate([code, bits], axis=1), y

    task_train = jax.random.choice(k_task, n_tasks, (n_train,), p=probs).astype(jnp.int32)
    x_train, y_train = build(task_train, _random_bits(k_bits_train, (n_train, n_bits)).astype(dtype))
    task_test = jnp.repeat(jnp.arange(n_tasks, dtype=jnp.int32), n_test_per_task)
    x_test, y_test = build(task_test, _random_bits(k_bits_test, (n_tasks * n_test_per_task, n_bits)).astype(dtype))
    # Floor division keeps int8 labels exact; y = +1 -> 0, y = -1 -> 1.
    return {
        "x_train": x_train,
        "y_train": y_train,
        "label_train": ((1 - y_train) // 2).astype(jnp.int32),
        "task_train": task_train,
        "x_test": x_test,
        "y_test": y_test,
        "label_test": ((1 - y_test) // 2).astype(jnp.int32),
        "task_test": task_test,
        "subsets": subsets,
        "task_probs": probs,
    }


def packed_subsets(
    key: jax.Array, n_bits: int, k: int, n_tasks: int, max_overlap: int = 1
) -> tuple[jax.Array, jax.Array]:
    """Random k-subsets of ``n_bits`` bits, no two sharing more than ``max_overlap`` bits.

    Independent quanta: in the quantization model each quantum is learned on its
    own, at a time set by its frequency. Two parities sharing k - 1 of their k bits
    are not independent (the features of the frequent one nearly solve the rare
    one), and at small ``n_bits`` such pairs are common when subsets are drawn
    independently (``n_bits = 16, k = 3``: 7% of pairs; Michaud et al.'s
    ``n_bits = 100``: 0.2%). This draws a random packing instead: all
    ``C(n_bits, k)`` subsets in a random order, each kept if it shares at most
    ``max_overlap`` bits with every subset kept before it (greedy, jit-able).

    Args:
      key: PRNG key; n_bits, k, n_tasks, max_overlap: static ints.

    Returns:
      ``(subsets (n_tasks, k) int32 sorted rows, n_found)``: ``n_found < n_tasks``
      means the greedy packing ran out of candidates and the last rows are
      invalid (zeros); callers should check it (it does not happen for
      ``n_bits = 16, k = 3, n_tasks = 16, max_overlap = 1`` in practice, see tests).
    """
    import itertools

    import numpy as np

    candidates = jnp.asarray(np.array(list(itertools.combinations(range(n_bits), k)), dtype=np.int32))
    masks = jax.nn.one_hot(candidates, n_bits, dtype=jnp.int32).sum(axis=1)  # (C, n_bits)
    order = jax.random.permutation(key, candidates.shape[0])

    def visit(carry, i):
        chosen, n_found = carry
        shared = chosen @ masks[i]  # (n_tasks,) bits in common
        ok = jnp.all(shared <= max_overlap) & (n_found < n_tasks)
        chosen = jnp.where(ok, chosen.at[jnp.minimum(n_found, n_tasks - 1)].set(masks[i]), chosen)
        return (chosen, n_found + ok.astype(jnp.int32)), None

    init = (jnp.zeros((n_tasks, n_bits), jnp.int32), jnp.int32(0))
    (chosen, n_found), _ = jax.lax.scan(visit, init, order)
    subsets = jnp.sort(jnp.argsort(-chosen, axis=1, stable=True)[:, :k], axis=1).astype(jnp.int32)
    return subsets, n_found


def multitask_sparse_parity_with_subsets(
    key: jax.Array,
    subsets: jax.Array,
    n_bits: int,
    alpha: jax.Array | float,
    n_train: int,
    n_test_per_task: int,
    dtype=jnp.float32,
) -> dict:
    """``multitask_sparse_parity`` with the tasks' subsets given (e.g. ``packed_subsets``).

    Args:
      key: PRNG key for the task draws and the bits.
      subsets: ``(n_tasks, k)`` int bit indices of each task (task 0 the most frequent).
      n_bits, n_train, n_test_per_task: static ints; alpha: Zipf exponent.
      dtype: of ``x_*`` and ``y_*`` (``jnp.int8`` stores a pool of 2^20 samples of 88
        inputs in 92 MB instead of 370 MB; cast to float before use).

    Returns:
      The same dictionary as ``multitask_sparse_parity``.
    """
    return _multitask_samples(jax.random.split(key, 3), subsets, n_bits, alpha, n_train, n_test_per_task, dtype)
