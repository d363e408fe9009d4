"""Flax models whose parameters are plain pytrees the trainer can scan over.

* ``mlp``: MLP with a hidden-unit mask (widths share a compiled shape), residual
  option, random features.
* ``embedding``: token embedding + MLP (modular arithmetic, grokking).
* ``transformer``: a one-layer transformer (Nanda et al. 2023 setting).
"""

from physai.models.embedding import EmbedMLP
from physai.models.mlp import (
    ACTIVATIONS,
    MLP,
    RandomFeatures,
    count_mlp_params,
    init_mlp,
    mlp_weight_matrices,
    width_bucket,
    width_mask,
)
from physai.models.transformer import OneLayerTransformer

__all__ = [
    "ACTIVATIONS",
    "MLP",
    "RandomFeatures",
    "count_mlp_params",
    "init_mlp",
    "mlp_weight_matrices",
    "width_bucket",
    "width_mask",
    "EmbedMLP",
    "OneLayerTransformer",
]
