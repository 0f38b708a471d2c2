"""Flatten: turn each example's image into one row, so that images can feed a dense layer."""
from .base import Layer, register_layer


@register_layer
class Flatten(Layer):
    """(N, d1, d2, ...) -> (N, d1·d2·...); backward reshapes the gradient back."""

    def forward(self, x):
        self.input_shape = x.shape
        return x.reshape(x.shape[0], -1)

    def backward(self, grad_out):
        return grad_out.reshape(self.input_shape)
