"""Token embedding followed by an MLP: the CPU-sized grokking model.

Two (or more) input tokens share one embedding table; their embeddings are
concatenated (or summed) and passed through a one-hidden-layer MLP that outputs
logits over ``out`` classes. Liu et al. (2022, "Towards understanding grokking")
and Gromov (2023) grok modular addition with models of this kind.
"""

from __future__ import annotations

import flax.linen as nn
import jax
import jax.numpy as jnp

from physai.models.mlp import ACTIVATIONS


class EmbedMLP(nn.Module):
    """Embedding + MLP classifier over token sequences of fixed length.

    Attributes:
      vocab: number of input tokens.
      embed_dim: embedding dimension.
      hidden: hidden units of the MLP.
      out: number of output classes.
      combine: ``concat`` (order-aware) or ``sum`` of the token embeddings.
      activation: key of ``physai.models.mlp.ACTIVATIONS``.
    """

    vocab: int
    embed_dim: int
    hidden: int
    out: int
    combine: str = "concat"
    activation: str = "relu"

    @nn.compact
    def __call__(self, tokens: jax.Array) -> jax.Array:
        """Args: tokens: ``(batch, length)`` int tokens. Returns: ``(batch, out)`` logits."""
        e = nn.Embed(
            self.vocab,
            self.embed_dim,
            name="embed",
            embedding_init=nn.initializers.normal(1.0 / jnp.sqrt(self.embed_dim)),
        )(tokens)
        h = e.reshape(e.shape[0], -1) if self.combine == "concat" else e.sum(axis=1)
        h = ACTIVATIONS[self.activation](nn.Dense(self.hidden, name="hidden")(h))
        return nn.Dense(self.out, name="readout")(h)


def embedding_table(params) -> jax.Array:
    """Args: params: ``EmbedMLP`` parameters. Returns: the ``(vocab, embed_dim)`` table."""
    return params["embed"]["embedding"]
