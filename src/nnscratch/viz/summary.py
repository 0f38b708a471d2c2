"""The one description of a network, in two lengths: a line of every layer with the shape it gives (the terminal's
banner and ``evaluate``), and a short line for a page's header."""
import numpy as np

from ..layers import ACTIVATIONS, BatchNorm, Conv2D, Linear, MaxPool2D


def architecture_line(model, input_shape):
    """``Input (m, 784) --> Linear (m, 30) --> Sigmoid --> ... --> Output (m, 10)``: one line, batch first.

    ``input_shape`` is one example's shape (an int for flat rows). Linear and Conv2D layers, and layers that change
    the shape, show the shape they give, found by passing one blank example through the network in eval mode.
    """
    shape = (int(input_shape),) if isinstance(input_shape, (int, np.integer)) else tuple(input_shape)
    parts = [f"Input {batch_shape(shape)}"]
    x = np.zeros((1, *shape), dtype=model.dtype)
    with model.mode(training=False):
        for layer in model:
            before, x = x.shape, layer.forward(x)
            if x.shape != before or isinstance(layer, (Linear, Conv2D)):
                parts.append(f"{type(layer).__name__} {batch_shape(x.shape[1:])}")
            else:
                parts.append(repr(layer) if layer.config() and not layer.params else type(layer).__name__)
    parts.append(f"Output {batch_shape(x.shape[1:])}")
    return " --> ".join(parts)


def batch_shape(shape):
    return "(m, " + ", ".join(map(str, shape)) + ")"


def short_architecture(model):
    """A one-line summary such as ``784 → 128 ReLU → 10 Softmax``, or for a convolutional network
    ``conv 5×5×32 → max-pool 2 ReLU → ... → 128 ReLU → 10`` (other layers appear by class name)."""
    after = (*ACTIVATIONS.values(), BatchNorm)  # written after the layer they follow
    parts = []
    for layer in (list(model) if hasattr(model, "__iter__") else [model]):
        if isinstance(layer, Linear):
            parts += [] if parts else [str(layer.in_features)]
            parts.append(str(layer.out_features))
        elif isinstance(layer, Conv2D):
            parts.append(f"conv {layer.kernel_size[0]}×{layer.kernel_size[1]}×{layer.out_channels}")
        elif isinstance(layer, MaxPool2D):
            parts.append(f"max-pool {layer.kernel_size[0]}")
        elif isinstance(layer, after) and parts:
            parts[-1] += f" {type(layer).__name__}"
        elif type(layer).__name__ not in ("Flatten", "Dropout"):
            parts.append(type(layer).__name__)
    return " → ".join(parts)
