"""Synthetic data as pure functions of ``(key, config)``, one module per family.

Each function is deterministic given its key and returns a dict with
``x_train``, ``y_train``, ``x_test``, ``y_test`` (plus extras), so the trainer
and closed-form solvers read the same data.
"""
from physai.curricula.gaussian import (add_label_noise, flip_labels, gaussian_linear_teacher,
                                       mlp_teacher, relu_random_features, teacher_student,
                                       teacher_student_classification)

__all__ = ["add_label_noise", "flip_labels", "gaussian_linear_teacher", "mlp_teacher",
           "relu_random_features", "teacher_student", "teacher_student_classification"]
