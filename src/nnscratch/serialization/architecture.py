"""A saved architecture, ``{"type": name, "config": {...}}``: the network it rebuilds, and the shapes of the arrays
it needs, worked out without building it.

``model_from_config`` rebuilds the layers through the ``LAYERS`` registry (plus any custom layers). A model file
is checked against ``declared_shapes`` before that, so that a file of a few hundred bytes describing a layer of
billions of weights is refused in a moment instead of allocating them: the shapes of the built-in layers with
parameters are computed from their configs, and only the other layers (cheap ones, or custom ones) are built, one
at a time, to read their arrays' shapes.
"""
from ..errors import ModelError, NNScratchError
from ..layers import BatchNorm, Conv2D, Linear
from ..layers.base import LAYERS, Layer
from ..network import Sequential

# The arrays of the built-in layers with parameters, as functions of their configs (a test holds them to the
# layers' own arrays).
PARAMETER_SHAPES = {
    Linear: lambda config: {"W": (config["in_features"], config["out_features"]), "b": (config["out_features"],)},
    Conv2D: lambda config: {"W": (config["out_channels"], config["in_channels"], *kernel_pair(config["kernel_size"])),
                            "b": (config["out_channels"],)},
    BatchNorm: lambda config: dict.fromkeys(("gamma", "beta", "running_mean", "running_var"),
                                            (config["num_features"],)),
}


class ModelFileError(NNScratchError, ValueError):
    """A model file that cannot be read or does not describe a valid model; the message says what is wrong."""


def model_from_config(config, custom_layers=None, initialize=True):
    """Build a layer from ``{"type": name, "config": {...}}`` (``Layer.from_config``); a ``Sequential`` rebuilds
    its layers in turn.

    Classes come from the ``LAYERS`` registry plus ``custom_layers``; an unknown name is an error that lists
    the known ones. The parameters are freshly initialized, or zeros with ``initialize=False`` (cheaper, for a
    state dict that will overwrite them). Every problem raises ``ModelFileError``.
    """
    try:
        return Layer.from_config(config, layer_registry(custom_layers), initialize)
    except ModelError as error:
        raise ModelFileError(str(error)) from None


def declared_shapes(config, custom_layers=None):
    """The shape of every array (parameters and buffers, by dotted name) that the layer ``config`` needs, as
    ``model_from_config`` would build it, without allocating the built-in layers' arrays."""
    registry = layer_registry(custom_layers)
    cls = registry.get(config.get("type")) if isinstance(config, dict) and isinstance(config.get("type"), str) else None
    arguments = config.get("config", {}) if cls is not None else None
    if isinstance(arguments, dict):
        if issubclass(cls, Sequential) and isinstance(arguments.get("layers"), list):
            return {f"{position}.{name}": shape for position, child in enumerate(arguments["layers"])
                    for name, shape in declared_shapes(child, registry).items()}
        shapes = computed_shapes(cls, arguments)
        if shapes is not None:
            return shapes
    # a layer without parameters, a custom one, or a description the builder refuses (in its own words)
    layer = model_from_config(config, registry, initialize=False)
    return {name: array.shape for name, array in {**layer.parameters(), **layer.named_buffers()}.items()}


def computed_shapes(cls, arguments):
    """``PARAMETER_SHAPES`` of a built-in layer whose config gives positive whole sizes; None otherwise."""
    if cls not in PARAMETER_SHAPES:
        return None
    try:
        shapes = PARAMETER_SHAPES[cls](arguments)
    except (KeyError, TypeError, ValueError):
        return None
    sizes = [size for shape in shapes.values() for size in shape]
    if not all(isinstance(size, int) and not isinstance(size, bool) and size >= 1 for size in sizes):
        return None
    return shapes


def kernel_pair(kernel_size):
    """``3`` -> ``(3, 3)``; ``[3, 5]`` -> ``(3, 5)``; anything else raises TypeError."""
    if isinstance(kernel_size, int):
        return kernel_size, kernel_size
    if isinstance(kernel_size, (list, tuple)) and len(kernel_size) == 2:
        return tuple(kernel_size)
    raise TypeError(f"kernel_size {kernel_size!r:.60}")


def layer_registry(custom_layers=None):
    """``LAYERS`` extended with custom layer classes (a dict of name to class, or a list of classes)."""
    registry = dict(LAYERS)
    if isinstance(custom_layers, dict):
        registry.update(custom_layers)
    elif custom_layers is not None:
        registry.update({cls.__name__: cls for cls in custom_layers})
    for name, cls in registry.items():
        if not (isinstance(cls, type) and issubclass(cls, Layer)):
            raise TypeError(f"custom layer {name!r} is not a Layer subclass: {cls!r}")
    return registry
