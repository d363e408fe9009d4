"""Flax models whose parameters are plain pytrees the trainer can scan over."""
from physai.models.mlp import (ACTIVATIONS, MLP, RandomFeatures, count_mlp_params, init_mlp,
                               mlp_weight_matrices, width_mask)

__all__ = ["ACTIVATIONS", "MLP", "RandomFeatures", "count_mlp_params", "init_mlp",
           "mlp_weight_matrices", "width_mask"]
