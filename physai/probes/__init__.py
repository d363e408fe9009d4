"""Measurement probes: pure, jit-able JAX functions that work on any model.

Models are given as pure functions, ``apply_fn(params, x) -> outputs`` (e.g.
``model.apply`` of a Flax module) or a scalar ``loss_fn(params)`` that closes
over the data; ``params`` is any pytree.

* :mod:`~physai.probes.lipschitz`: input-gradient norms, local and spectral
  Lipschitz bounds, a smoothed-surrogate gradient search for ReLU nets,
  adversarial flip radii (law of robustness).
* :mod:`~physai.probes.hessian`: Hessian-vector products, top eigenvalue (power,
  Lanczos), Hutchinson trace, SLQ spectral density (sharpness, edge of stability).
* :mod:`~physai.probes.landscape`: filter-normalised loss slices, linear and
  Bezier mode-connectivity paths and their barriers.
* :mod:`~physai.probes.fourier`: Fourier sparsity of embeddings and weight norms
  (grokking progress measures).
"""

from physai.probes.fourier import fourier_sparsity, frequency_power, global_norm
from physai.probes.hessian import (
    hutchinson_trace,
    hvp,
    smoothed_spectral_density,
    spectral_density_slq,
    stochastic_lanczos_quadrature,
    top_eigenvalue_lanczos,
    top_eigenvalue_power,
)
from physai.probes.landscape import (
    bezier_path_losses,
    bezier_point,
    filter_normalized_direction,
    linear_path_losses,
    loss_slice_1d,
    loss_slice_2d,
    path_barrier,
    path_barrier_above_chord,
    train_bezier_bend,
)
from physai.probes.lipschitz import (
    input_gradient_norms,
    lipschitz_lower_bound,
    local_lipschitz_pgd,
    pgd_flip_radius,
    smoothed_gradient_search,
    softplus_mlp_apply,
    spectral_norm_upper_bound,
)

__all__ = [
    "fourier_sparsity",
    "frequency_power",
    "global_norm",
    "bezier_path_losses",
    "bezier_point",
    "filter_normalized_direction",
    "hutchinson_trace",
    "hvp",
    "input_gradient_norms",
    "linear_path_losses",
    "lipschitz_lower_bound",
    "local_lipschitz_pgd",
    "loss_slice_1d",
    "loss_slice_2d",
    "path_barrier",
    "path_barrier_above_chord",
    "pgd_flip_radius",
    "smoothed_gradient_search",
    "smoothed_spectral_density",
    "softplus_mlp_apply",
    "spectral_density_slq",
    "spectral_norm_upper_bound",
    "stochastic_lanczos_quadrature",
    "top_eigenvalue_lanczos",
    "top_eigenvalue_power",
    "train_bezier_bend",
]
