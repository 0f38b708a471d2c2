"""What the commands that read a model share: the shape of one example as the model takes it."""
from ..layers import Linear
from ..runs.data import TrainingData, check_fits, load_data, preprocessing, wants_images  # noqa: F401 (used by evaluate)


def model_input_shape(model, metadata):
    """The shape of one example as the model takes it: metadata's ``input_shape`` (e.g. [1, 28, 28] or [784])
    when it has one, else the inputs of a first dense layer, else None (unknown)."""
    shape = metadata.get("input_shape")
    if isinstance(shape, list) and shape and all(isinstance(size, int) and size > 0 for size in shape):
        return tuple(shape)
    first = first_layer_with_parameters(getattr(model, "members", [model])[0])  # an ensemble: its first member
    return (first.in_features,) if isinstance(first, Linear) else None


def first_layer_with_parameters(model):
    """The first layer of ``model`` that has weights (activations, Flatten and Dropout have none), or None."""
    return next((layer for layer in model if layer.params), None)


