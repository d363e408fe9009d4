"""A tiny one-layer transformer (Nanda et al. 2023's grokking model), in Flax.

Nanda, Chan, Lieberum, Smith & Steinhardt (2023, "Progress measures for grokking via
mechanistic interpretability"): token + learned positional embeddings, one block of
multi-head attention (no layer norm) and a ReLU MLP, both residual, an unembedding;
the logits at the last position predict ``a + b mod p`` from the input ``a b =``.
"""

from __future__ import annotations

import flax.linen as nn
import jax
import jax.numpy as jnp


class OneLayerTransformer(nn.Module):
    """Decoder-only, one layer, no layer norm (as Nanda et al.).

    Attributes:
      vocab: input tokens (``p + 1`` for modular arithmetic: the numbers and ``=``).
      out: output classes (``p``).
      d_model: residual width (128 in Nanda et al.).
      n_heads: attention heads (4).
      d_mlp: MLP hidden units (512).
      max_len: positions (3: ``a b =``).
    """

    vocab: int
    out: int
    d_model: int = 128
    n_heads: int = 4
    d_mlp: int = 512
    max_len: int = 3

    @nn.compact
    def __call__(self, tokens: jax.Array) -> jax.Array:
        """Args: tokens: ``(batch, length)`` ints. Returns: ``(batch, out)`` logits at the last position."""
        init = nn.initializers.normal(1.0 / jnp.sqrt(self.d_model))
        length = tokens.shape[1]
        x = nn.Embed(self.vocab, self.d_model, embedding_init=init, name="embed")(tokens)
        x = x + self.param("pos_embed", init, (self.max_len, self.d_model))[:length]
        causal = nn.make_causal_mask(tokens)
        x = x + nn.MultiHeadDotProductAttention(num_heads=self.n_heads, use_bias=False, name="attn")(x, mask=causal)
        x = x + nn.Dense(self.d_model, name="mlp_out")(nn.relu(nn.Dense(self.d_mlp, name="mlp_in")(x)))
        return nn.Dense(self.out, use_bias=False, name="unembed")(x[:, -1])


def with_equals_token(pairs: jax.Array, p: int) -> jax.Array:
    """Args: pairs: ``(batch, 2)`` operands in ``[0, p)``; p: modulus.
    Returns: ``(batch, 3)`` sequences ``a b =`` with ``=`` encoded as token ``p``."""
    return jnp.concatenate([pairs, jnp.full((pairs.shape[0], 1), p, pairs.dtype)], axis=1)
