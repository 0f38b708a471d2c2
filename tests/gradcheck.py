"""The test suite's gradient checks: the package's own, ``nnscratch.gradcheck`` (central differences in float64)."""
from nnscratch.gradcheck import assert_close, check_layer_gradients, check_loss_gradient, numerical_gradient

__all__ = ["assert_close", "check_layer_gradients", "check_loss_gradient", "numerical_gradient"]
