"""MLPs (with a hidden-unit mask so widths share a compiled shape) and random features.

``MLP`` takes an optional hidden-unit mask so that several widths share one
compiled shape: a width-``w`` network is the first ``w`` units of a
``max_width`` network, the others multiplied by zero (they then get zero
gradient and never move). ``init_mlp`` rescales the read-out so a masked
network starts exactly like an unmasked width-``w`` network would
(LeCun-normal fan-in = ``w``, not ``max_width``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp

ACTIVATIONS: dict[str, Callable] = {"relu": nn.relu, "tanh": jnp.tanh, "gelu": nn.gelu, "identity": lambda x: x}


class MLP(nn.Module):
    """Multi-layer perceptron with optional hidden mask and residual connections.

    Attributes:
      width: hidden units per layer (the compiled shape).
      depth: number of hidden layers.
      out: output dimension.
      activation: key of ``ACTIVATIONS``.
      residual: add skip connections between hidden layers (after the first).
      use_bias: biases in hidden layers.
    """

    width: int
    depth: int = 1
    out: int = 1
    activation: str = "relu"
    residual: bool = False
    use_bias: bool = True

    @nn.compact
    def __call__(self, x: jax.Array, mask: jax.Array | None = None) -> jax.Array:
        """Args:
          x: ``(batch, d)`` inputs.
          mask: optional ``(width,)`` 0/1 array selecting the active hidden units.

        Returns:
          ``(batch, out)`` outputs.
        """
        act = ACTIVATIONS[self.activation]
        h = x
        for layer in range(self.depth):
            z = act(nn.Dense(self.width, use_bias=self.use_bias, name=f"hidden_{layer}")(h))
            if mask is not None:
                z = z * mask
            # 1/sqrt(depth) keeps the residual stream's variance bounded with depth.
            h = h + z / jnp.sqrt(self.depth) if (self.residual and layer > 0) else z
        return nn.Dense(self.out, name="readout")(h)


def width_mask(width: jax.Array, max_width: int) -> jax.Array:
    """Args: width: active units (traced int); max_width: compiled width.
    Returns: ``(max_width,)`` float mask with ``width`` leading ones."""
    return (jnp.arange(max_width) < width).astype(jnp.float32)


def init_mlp(model: MLP, key: jax.Array, d: int, width: jax.Array | None = None):
    """Initialises an MLP; with ``width`` given, as a masked width-``width`` network.

    Args:
      model: the module (its ``width`` is the compiled width).
      key: PRNG key.
      d: input dimension.
      width: active hidden units (traced), or ``None`` for all.

    Returns:
      The parameter pytree.
    """
    params = model.init(key, jnp.zeros((1, d)))["params"]
    if width is None:
        return params
    # LeCun init draws readout weights with variance 1/fan_in; fan_in is the
    # active width, not the compiled one.
    scale = jnp.sqrt(model.width / width.astype(jnp.float32))
    readout = {**params["readout"], "kernel": params["readout"]["kernel"] * scale}
    hidden = {k: v for k, v in params.items() if k != "readout"}
    for layer in range(1, model.depth):  # deeper hidden layers also have fan-in = width
        name = f"hidden_{layer}"
        hidden[name] = {**hidden[name], "kernel": hidden[name]["kernel"] * scale}
    return {**hidden, "readout": readout}


def count_mlp_params(d: int, width: int, depth: int = 1, out: int = 1) -> int:
    """Args: d, width, depth, out: the architecture. Returns: number of parameters (with biases)."""
    return d * width + width + (depth - 1) * (width * width + width) + width * out + out


class RandomFeatures(nn.Module):
    """A fixed random ReLU layer and a trained linear read-out (Rahimi & Recht 2007).

    Attributes:
      num_features: p, the number of random features.
      out: output dimension.
    """

    num_features: int
    out: int = 1

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        """Args: x: ``(batch, d)``. Returns: ``(batch, out)``."""
        w = self.variable(
            "constants",
            "w",
            lambda: (
                jax.random.normal(self.make_rng("params"), (x.shape[-1], self.num_features)) / jnp.sqrt(x.shape[-1])
            ),
        )
        features = nn.relu(x @ jax.lax.stop_gradient(w.value))
        return nn.Dense(self.out, use_bias=False, name="readout")(features) / jnp.sqrt(self.num_features)


def mlp_weight_matrices(params) -> Sequence[jax.Array]:
    """Args: params: an MLP's parameters. Returns: its kernels, input to output."""
    names = sorted((k for k in params if k.startswith("hidden_")), key=lambda s: int(s.split("_")[1]))
    return [params[k]["kernel"] for k in names] + [params["readout"]["kernel"]]


def width_bucket(width: int, smallest: int = 16, factor: int = 4) -> int:
    """The compiled width a trial of ``width`` units runs at (with ``width_mask``).

    Widths within a factor ``factor`` share one compiled program and pay at most
    ``factor`` times their own cost: ``smallest * factor**k``, the least >= width.

    Args:
      width: hidden units of the trial.
      smallest: the smallest compiled width.
      factor: ratio between consecutive compiled widths.

    Returns:
      The compiled width.
    """
    bucket = smallest
    while bucket < width:
        bucket *= factor
    return bucket
