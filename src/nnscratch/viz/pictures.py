"""The first layer's weights as pictures: one rule for every view that shows them (the Train view's mosaic, Look
inside, ``nnscratch plot --weights`` and ``nnscratch explain``), and one encoding of them as bytes for the page.

A dense layer computes z_j = Σ_i x_i W[i, j] + b_j: unit j reads its inputs through column j of W (in, out), and
that column laid out as the input image (28×28 for a digit) is what the unit looks for. A convolution's kernel
W[o, c] (kh × kw) is one picture for each output channel o and input channel c. Each picture is shown on its own
symmetric scale [−max|w|, +max|w|], in one colour convention everywhere: red positive, blue negative, white zero.
"""
import math

import numpy as np

from ..inspection import flat_layers
from ..layers.conv import Conv2D
from ..layers.linear import Linear

DIVERGING = "RdBu_r"   # matplotlib's colour map for the convention: blue (negative), white (zero), red (positive)
COLOUR_KEY = "red: positive, blue: negative, white: zero"
ZERO_LEVEL = 127       # the byte of a zero weight; 0 is −max|w| and 254 is +max|w|


def first_weighted_layer(model):
    """The first dense or convolutional layer of ``model`` in the order the layers run, or None."""
    return next((layer for _, layer in flat_layers(model) if isinstance(layer, (Linear, Conv2D))), None)


def image_shape(in_features, input_shape=None):
    """``(rows, columns)`` of a dense layer's inputs seen as a picture: the last two sizes of ``input_shape`` when
    it holds ``in_features`` values, else a square when ``in_features`` is a square number, else one row."""
    if input_shape is not None and len(input_shape) >= 2 and math.prod(input_shape) == in_features:
        rows, columns = input_shape[-2:]
        if rows * columns == in_features:
            return int(rows), int(columns)
    side = math.isqrt(in_features)
    return (side, side) if side * side == in_features else (1, in_features)


def weight_images(W, input_shape=None):
    """A stack of pictures (count, rows, columns) of a first layer's weights ``W``: a dense layer's W (in, out)
    gives W[:, j] as the input image for each unit j; a convolution's W (out, in, kh, kw) gives every kernel
    W[o, c], unit-major (o·in + c)."""
    W = np.asarray(W)
    if W.ndim == 4:
        return W.reshape(-1, *W.shape[2:])
    if W.ndim == 2:
        rows, columns = image_shape(W.shape[0], input_shape)
        return W.T.reshape(W.shape[1], rows, columns)
    raise ValueError(f"weight pictures need a dense layer's (in, out) or a convolution's (out, in, kh, kw) "
                     f"weights, got shape {W.shape}")


def to_uint8(images, scale=None):
    """``(levels, scale)``: each picture as bytes level = rint(127 · w / s + 127), 0..254 with 127 for zero, where
    s is the picture's largest |w| (``scale=None``; 1 for an all-zero picture) or the ``scale`` given (one number,
    or one per picture). ``scale`` comes back as one float64 per picture."""
    images = np.asarray(images, dtype=np.float64)
    flat = images.reshape(len(images), -1)
    if scale is None:
        scale = np.abs(flat).max(axis=1) if flat.size else np.ones(len(images))
    scale = np.broadcast_to(np.asarray(scale, dtype=np.float64), (len(images),)).copy()
    scale[~(scale > 0)] = 1.0
    levels = np.rint(np.clip(flat / scale[:, None], -1, 1) * ZERO_LEVEL + ZERO_LEVEL).astype(np.uint8)
    return levels.reshape(images.shape), scale
