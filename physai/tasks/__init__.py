"""Task factories shared by experiments: what to train, as a ``physai.train.Task``.

An experiment states its data and model; the loss, metrics and optimiser that
many experiments share are built here once, so that two experiments that say
"masked-MLP regression" train exactly the same thing.
"""

from physai.tasks.regression import REGRESSION_METRICS, masked_mlp, masked_mlp_regression, regression

__all__ = ["REGRESSION_METRICS", "masked_mlp", "masked_mlp_regression", "regression"]
