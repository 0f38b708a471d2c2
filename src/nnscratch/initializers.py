"""Initial values for weights and biases.

Each initializer is a plain function ``init(shape, rng, dtype) -> array`` drawing from an explicit
``np.random.Generator``. The scaled ones keep the variance of the signal roughly constant from layer to layer:
with ``fan_in`` inputs of unit variance, weights of variance ``1 / fan_in`` (LeCun) keep the pre-activation at
unit variance, ``2 / fan_in`` (He) compensates for ReLU zeroing half of it, and ``2 / (fan_in + fan_out)``
(Glorot) balances the forward and the backward pass.
"""
import numpy as np


def fans(shape):
    """``(fan_in, fan_out)`` of a weight: ``(in, out)`` for a dense layer; for a convolution, whose weight is
    ``(C_out, C_in, kh, kw)``, ``(C_in·kh·kw, C_out·kh·kw)``."""
    if len(shape) == 2:
        return shape[0], shape[1]
    if len(shape) > 2:
        receptive_field = int(np.prod(shape[2:]))
        return shape[1] * receptive_field, shape[0] * receptive_field
    return shape[0], shape[0]


def zeros(shape, rng, dtype=np.float32):
    return np.zeros(shape, dtype=dtype)


def normal(shape, rng, dtype=np.float32):
    """N(0, 1), unscaled: the initialization of Nielsen's book and of the older from-scratch projects that follow it."""
    return rng.standard_normal(shape).astype(dtype)


def uniform(shape, rng, dtype=np.float32):
    """U(-0.5, 0.5), for weights and biases alike (``rand() - 0.5``)."""
    return (rng.random(shape) - 0.5).astype(dtype)


def lecun(shape, rng, dtype=np.float32):
    """N(0, 1 / fan_in)."""
    fan_in, _ = fans(shape)
    return (rng.standard_normal(shape) * np.sqrt(1.0 / fan_in)).astype(dtype)


def glorot(shape, rng, dtype=np.float32):
    """U(-a, a) with a = sqrt(6 / (fan_in + fan_out)), so that the variance is 2 / (fan_in + fan_out)."""
    fan_in, fan_out = fans(shape)
    limit = np.sqrt(6.0 / (fan_in + fan_out))
    return rng.uniform(-limit, limit, shape).astype(dtype)


def he(shape, rng, dtype=np.float32):
    """N(0, 2 / fan_in), for layers followed by ReLU."""
    fan_in, _ = fans(shape)
    return (rng.standard_normal(shape) * np.sqrt(2.0 / fan_in)).astype(dtype)


INITIALIZERS = {
    "zeros": zeros,
    "normal": normal,
    "uniform": uniform,
    "lecun": lecun,
    "glorot": glorot,
    "xavier": glorot,
    "he": he,
    "kaiming": he,
}


def get_initializer(name_or_function):
    """Look an initializer up by name; a callable is returned as it is."""
    if callable(name_or_function):
        return name_or_function
    try:
        return INITIALIZERS[name_or_function]
    except KeyError:
        raise ValueError(
            f"unknown initializer {name_or_function!r}; known: {', '.join(sorted(INITIALIZERS))}"
        ) from None


def as_generator(rng):
    """An ``np.random.Generator`` from a Generator, an integer seed, or None (fresh entropy)."""
    if isinstance(rng, np.random.Generator):
        return rng
    if rng is None or isinstance(rng, (int, np.integer)):
        return np.random.default_rng(rng)
    raise TypeError(f"expected a numpy Generator, an integer seed or None, got {type(rng).__name__}")
