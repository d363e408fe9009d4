"""Induction heads: the repeated-token data, the attention-only transformer, the training task
and the events read off each run's curves (the drop's window, the jumps across it)."""

from __future__ import annotations

import math
from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpy as np
import optax

import physai
from physai import ShardResult
from physai import train as trainer

EARLY_POSITION = 2  # target position of the "early" loss: inside the first copy for every period

# ----------------------------------------------------------------------------- data and model


@dataclass(frozen=True)
class Static(physai.Static):
    layers: int
    vocab: int
    seq_len: int
    p_min: int
    d_model: int
    n_heads: int
    batch: int
    eval_batch: int
    steps: int
    log_every: int


def repeated_sequences(key: jax.Array, n: int, seq_len: int, vocab: int, p_min: int) -> dict[str, jax.Array]:
    """Random prefixes of random length, repeated until ``seq_len``.

    Returns:
      ``tokens (n, seq_len)`` ints; ``period (n,)``; ``repeated (n, seq_len)`` True at
      target positions ``t >= p + 1`` (predictable by induction from position t - 1);
      ``ctx_loss (n, seq_len)``: the loss of a predictor uniform over the distinct tokens
      in ``tokens[:t]`` on target t when ``tokens[t]`` is among them (a bag-of-context
      predictor; NaN elsewhere).
    """
    k_tok, k_p = jax.random.split(key)
    base = jax.random.randint(k_tok, (n, seq_len), 0, vocab)
    period = jax.random.randint(k_p, (n,), p_min, seq_len // 2 + 1)
    pos = jnp.arange(seq_len)
    src = pos[None, :] % period[:, None]
    tokens = jnp.take_along_axis(base, src, axis=1)
    repeated = pos[None, :] >= period[:, None] + 1
    seen = jnp.cumsum(jax.nn.one_hot(tokens, vocab, dtype=jnp.int32), axis=1) > 0  # seen[:, t]: in tokens[:t+1]
    distinct = jnp.sum(seen, axis=-1)  # distinct tokens in tokens[:t+1]
    ctx = jnp.concatenate([jnp.full((n, 1), jnp.nan), jnp.log(distinct[:, :-1].astype(jnp.float32))], axis=1)
    return {"tokens": tokens, "period": period, "repeated": repeated, "ctx_loss": ctx}


def init_params(key: jax.Array, st: Static) -> dict:
    """Attention-only transformer: embeddings, ``layers`` blocks of Q, K, V, O per head, unembedding."""
    d, h = st.d_model, st.n_heads
    dh = d // h
    keys = jax.random.split(key, 3 + 4 * st.layers)
    normal = lambda k, shape, fan: jax.random.normal(k, shape) / jnp.sqrt(fan)  # noqa: E731
    params = {
        "embed": normal(keys[0], (st.vocab, d), d),
        "pos": normal(keys[1], (st.seq_len, d), d),
        "unembed": normal(keys[2], (d, st.vocab), d),
    }
    for layer in range(st.layers):
        k = keys[3 + 4 * layer : 7 + 4 * layer]
        params[f"l{layer}"] = {
            "q": normal(k[0], (d, h, dh), d),
            "k": normal(k[1], (d, h, dh), d),
            "v": normal(k[2], (d, h, dh), d),
            "o": normal(k[3], (h, dh, d), d),
        }
    return params


def forward(params: dict, tokens: jax.Array, layers: int) -> tuple[jax.Array, list[jax.Array]]:
    """Returns: logits ``(n, T, vocab)`` and each layer's attention pattern ``(n, heads, T, T)``."""
    n, t = tokens.shape
    x = params["embed"][tokens] + params["pos"][None, :t]
    causal = jnp.tril(jnp.ones((t, t), bool))
    patterns = []
    for layer in range(layers):
        w = params[f"l{layer}"]
        q = jnp.einsum("ntd,dhe->nhte", x, w["q"])
        k = jnp.einsum("ntd,dhe->nhte", x, w["k"])
        v = jnp.einsum("ntd,dhe->nhte", x, w["v"])
        scores = jnp.einsum("nhte,nhse->nhts", q, k) / jnp.sqrt(q.shape[-1])
        a = jax.nn.softmax(jnp.where(causal, scores, -1e9), axis=-1)
        patterns.append(a)
        x = x + jnp.einsum("nhts,nhse,hed->ntd", a, v, w["o"])
    return x @ params["unembed"], patterns


def token_losses(logits: jax.Array, tokens: jax.Array) -> jax.Array:
    """Returns: ``(n, T)`` cross-entropy of predicting ``tokens[:, t]`` at position t - 1 (NaN-free;
    column 0 has no prediction and is 0)."""
    ce = optax.softmax_cross_entropy_with_integer_labels(logits[:, :-1], tokens[:, 1:])
    return jnp.concatenate([jnp.zeros_like(ce[:, :1]), ce], axis=1)


def induction_scores(pattern: jax.Array, period: jax.Array) -> jax.Array:
    """Per head: mean attention from a query at a repeated position (q >= p) to the positions
    right after the previous occurrences of its token (q - k p + 1, k >= 1), summed over them."""
    t = pattern.shape[-1]
    q = jnp.arange(t)[:, None]
    s = jnp.arange(t)[None, :]
    p = period[:, None, None]
    target = (s <= q) & (s >= 1) & ((q - s + 1) % p == 0) & (q - s + 1 >= p)  # (n, T, T)
    rows = (q >= p)[..., 0]  # (n, T)
    mass = jnp.sum(pattern * target[:, None], axis=-1)  # (n, h, T)
    return jnp.sum(mass * rows[:, None], axis=(0, 2)) / jnp.sum(rows)


def make_task(st: Static) -> trainer.Task:
    """Fresh repeated sequences every step; metrics on a fixed held-out batch."""

    def data(key, hp):
        held = repeated_sequences(key, st.eval_batch, st.seq_len, st.vocab, st.p_min)
        return {f"eval_{k}": v for k, v in held.items()}

    def sample(key, d, hp):
        return repeated_sequences(key, st.batch, st.seq_len, st.vocab, st.p_min)

    def init(key, hp):
        return init_params(key, st)

    def loss(params, batch, hp):
        logits, _ = forward(params, batch["tokens"], st.layers)
        return jnp.mean(token_losses(logits, batch["tokens"])[:, 1:])

    def metrics(params, d, hp):
        tokens, rep = d["eval_tokens"], d["eval_repeated"]
        logits, patterns = forward(params, tokens, st.layers)
        ce = token_losses(logits, tokens)
        ctx = jnp.where(rep, d["eval_ctx_loss"], 0.0)
        scores = induction_scores(patterns[-1], d["eval_period"])
        return {
            "loss": jnp.mean(ce[:, 1:]),
            "repeated_loss": jnp.sum(ce * rep) / jnp.sum(rep),
            "context_baseline": jnp.sum(ctx) / jnp.sum(rep),
            "early_loss": jnp.mean(ce[:, EARLY_POSITION]),
            "late_loss": jnp.mean(ce[:, -1]),
            "icl_score": jnp.mean(ce[:, -1]) - jnp.mean(ce[:, EARLY_POSITION]),
            "induction_score": jnp.max(scores),
        }

    def optimizer(hp):
        return optax.adam(hp["lr"])

    return trainer.Task(data, init, loss, metrics, optimizer, sample=sample)


# ----------------------------------------------------------------------------- events of one run

DROP_LEVELS = (0.9, 0.1)  # the drop's window: from 90% to 10% of the way down
WINDOW_HALF = 0.05  # the phase-change window: +-5% of training around the drop's midpoint
MAX_DROP_WINDOW = 0.25  # "abrupt": the 10% -> 90% window spans at most a quarter of training
DROPPED = 0.3  # a run has formed induction when its repeated-token loss ends < 30% of the context baseline
MIN_INDUCTION_RISE = 0.3  # layer-2 induction score rise inside the window
MIN_ICL_DROP = 1.0  # nats of in-context-learning score gained inside the window
CONTROL_FLOOR = 0.8  # one-layer repeated-token loss >= 80% of the context baseline
FINAL_POINTS = 3  # the final value of a curve: the mean of its last three logged points


def _crossing(steps: np.ndarray, values: np.ndarray, level: float, falling: bool = True) -> float:
    """The step at which ``values`` crosses ``level`` for the last time (linear interpolation
    between log points): after it the curve stays below (``falling``) or above the level.
    NaN if it ends on the wrong side; the first step if it never was on the other side."""
    side = values > level if falling else values < level
    if side[-1]:
        return math.nan
    before = np.flatnonzero(side)
    if not before.size:
        return float(steps[0])
    i = int(before[-1])
    v0, v1 = values[i], values[i + 1]
    frac = (v0 - level) / (v0 - v1) if v0 != v1 else 0.0
    return float(steps[i] + frac * (steps[i + 1] - steps[i]))


def run_events(steps, repeated, baseline, induction, icl) -> dict[str, float]:
    """What the checks read off one run's curves.

    Args:
      steps: ``(L,)`` logged steps from 0 to the end of training.
      repeated, baseline, induction, icl: ``(L,)`` the repeated-token loss, the context
        baseline, the largest last-layer induction score and the ICL score.

    Returns:
      ``ratio`` (final repeated loss / context baseline), ``dropped`` (ratio < DROPPED),
      ``window`` (10% -> 90% window of the drop from the context baseline to the final
      loss, as a fraction of training; 1 for a run that did not drop), ``midpoint`` (its
      50% crossing, as a fraction of training), ``induction_rise`` and ``icl_drop`` (change
      of the induction score and of minus the ICL score across the phase-change window:
      the midpoint +- WINDOW_HALF of training; NaN without a drop).
    """
    steps = np.asarray(steps, float)
    repeated, induction, icl = (np.asarray(a, float) for a in (repeated, induction, icl))
    base = float(np.nanmean(baseline))
    final = float(np.mean(repeated[-FINAL_POINTS:]))
    total = steps[-1] - steps[0]
    out = {"ratio": final / base, "dropped": final < DROPPED * base}
    if not out["dropped"]:
        return {**out, "window": 1.0, "midpoint": math.nan, "induction_rise": math.nan, "icl_drop": math.nan}
    level = lambda f: final + f * (base - final)  # noqa: E731
    hi, lo = (_crossing(steps, repeated, level(f)) for f in DROP_LEVELS)
    mid = _crossing(steps, repeated, level(0.5))
    a, b = mid - WINDOW_HALF * total, mid + WINDOW_HALF * total
    at = lambda curve, s: float(np.interp(s, steps, curve))  # noqa: E731
    return {
        **out,
        "window": (lo - hi) / total,
        "midpoint": (mid - steps[0]) / total,
        "induction_rise": at(induction, b) - at(induction, a),
        "icl_drop": at(icl, a) - at(icl, b),
    }


def run(shard) -> ShardResult:
    """Trains every trial of the shard (one compiled program per depth) and reads its events."""
    st = shard.static

    def events(i, trial, result):
        c = {k: v[i] for k, v in result.curves.items()}
        return run_events(result.steps, c["repeated_loss"], c["context_baseline"], c["induction_score"], c["icl_score"])

    return trainer.run_shard(make_task(st), shard, ("seed", "lr"), steps=st.steps, log_every=st.log_every, extra=events)
