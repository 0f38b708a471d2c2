"""Layers numbered as a learner counts them: a layer is a dense or convolutional layer (one with weights), and
the parameter-free layers after it (activations, pooling, flattening, dropout) belong to it. The Sequential's
own positions (``"4"``, ``"1.0"``) count those too, which is not how anyone speaks of a network's layers: the
784-100-10 network has two layers, not three."""
from ..inspection import flat_layers
from ..layers.conv import Conv2D
from ..layers.linear import Linear
from ..layers.pooling import MaxPool2D

HOW_COUNTED = ("layers are counted as you would count them: only the dense and convolutional layers (those with "
               "weights); an activation or pooling belongs to the layer before it")


def describe(layer):
    """``dense 784→100``, ``conv 3×3×4``, ``max-pool 2``, or the class name."""
    if isinstance(layer, Linear):
        return f"dense {layer.in_features}→{layer.out_features}"
    if isinstance(layer, Conv2D):
        return f"conv {layer.kernel_size[0]}×{layer.kernel_size[1]}×{layer.out_channels}"
    if isinstance(layer, MaxPool2D):
        return f"max-pool {layer.kernel_size[0]}"
    return type(layer).__name__


def layer_titles(model):
    """``{dotted name: title}`` for every leaf layer: ``"layer 2 of 3: dense 676→32"`` for the second layer with
    weights, ``"layer 2 of 3: dense 676→32, after ReLU"`` for an activation that follows it."""
    leaves = flat_layers(model)
    count = sum(isinstance(layer, (Linear, Conv2D)) for _, layer in leaves)
    titles, number, current, after = {}, 0, None, []
    for name, layer in leaves:
        if isinstance(layer, (Linear, Conv2D)):
            number, after = number + 1, []
            current = titles[name] = f"layer {number} of {count}: {describe(layer)}"
        else:
            after.append(describe(layer))
            titles[name] = (f"{current}, after {in_words(after)}" if current
                            else f"{describe(layer)}, before layer 1 of {count}")
    return titles


def in_words(names):
    """``["max-pool 2", "ReLU", "Flatten"]`` -> ``"max-pool 2, ReLU and Flatten"``."""
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} and {names[-1]}"
