"""Synthetic data as pure functions of ``(key, config)``, one module per family.

Each function is deterministic given its key and returns arrays (most return a
dict with ``x_train``, ``y_train``, ``x_test``, ``y_test`` plus extras), so the
trainer and closed-form solvers read the same data.

* ``gaussian``: linear and MLP teachers, ReLU random features, label noise.
* ``spectra``: Gaussian data with a power-law covariance spectrum (solvable scaling model).
* ``manifold``: teachers on a d-dimensional subspace (data-manifold dimension).
* ``sphere``: isoperimetric inputs with random signs (law of robustness).
* ``parity``: sparse parity and multitask sparse parity with Zipf frequencies
  (task subsets drawn independently or as a packing with bounded overlap).
* ``arithmetic``: modular arithmetic and multi-digit addition.
* ``tokens``: a multi-token teacher (metric mirage).
"""

from physai.curricula.arithmetic import modular_arithmetic, multidigit_addition
from physai.curricula.gaussian import (
    add_label_noise,
    flip_labels,
    gaussian_linear_teacher,
    mlp_teacher,
    relu_random_features,
    teacher_student,
    teacher_student_classification,
)
from physai.curricula.manifold import manifold_teacher_student
from physai.curricula.parity import (
    multitask_sparse_parity,
    multitask_sparse_parity_with_subsets,
    packed_subsets,
    sparse_parity,
    zipf_probabilities,
)
from physai.curricula.spectra import power_law_gaussian, power_law_spectrum, power_law_teacher
from physai.curricula.sphere import isoperimetric_inputs, random_sign_labels, sphere_random_labels
from physai.curricula.tokens import multitoken_teacher

__all__ = [
    "add_label_noise",
    "flip_labels",
    "gaussian_linear_teacher",
    "mlp_teacher",
    "relu_random_features",
    "teacher_student",
    "teacher_student_classification",
    "modular_arithmetic",
    "multidigit_addition",
    "manifold_teacher_student",
    "multitask_sparse_parity",
    "multitask_sparse_parity_with_subsets",
    "packed_subsets",
    "sparse_parity",
    "zipf_probabilities",
    "power_law_gaussian",
    "power_law_spectrum",
    "power_law_teacher",
    "isoperimetric_inputs",
    "random_sign_labels",
    "sphere_random_labels",
    "multitoken_teacher",
]
