"""The Layer contract that every building block of a network follows.

A layer maps a batch ``x`` (one example per row, batch first) to an output in ``forward``, and in ``backward``
turns the gradient of the loss with respect to that output into the gradient with respect to ``x``, filling
``grads`` for its own parameters on the way. Optimizers, and only they, change ``params``.
"""
import functools
from contextlib import contextmanager

import numpy as np

from ..errors import ModelError

LAYERS = {}


def register_layer(cls):
    """Make a layer class known by name, so that a saved model that uses it can be rebuilt: ``@register_layer``."""
    if not (isinstance(cls, type) and issubclass(cls, Layer)):
        raise TypeError(f"register_layer expects a Layer subclass, got {cls!r}")
    LAYERS[cls.__name__] = cls
    return cls


class Layer:
    """A differentiable map ``y = f(x; params)`` with a hand-written backward pass.

    Subclasses fill in ``forward(x)``, ``backward(grad_out)`` and, when the constructor takes arguments,
    ``config()``. ``params`` and ``grads`` hold arrays under the same keys and shapes; ``buffers`` holds state
    that is saved with the model but not trained (running statistics, say). A ``backward`` called before any
    ``forward`` raises an error that names the layer: every subclass gets that check from ``__init_subclass__``.
    """

    needs_input_grad = True  # False: backward may skip dL/dx, as for the first layer, whose x is the data

    def __init__(self):
        self.params = {}
        self.grads = {}
        self.buffers = {}
        self.training = True
        self.forward_ran = False

    def __init_subclass__(cls, **kwargs):
        """Wrap the ``forward`` and ``backward`` that a subclass defines: forward notes that it ran, backward
        checks that note first, so that no layer needs a line of its own for the check."""
        super().__init_subclass__(**kwargs)
        if callable(vars(cls).get("forward")):
            cls.forward = noting_that_forward_ran(vars(cls)["forward"])
        if callable(vars(cls).get("backward")):
            cls.backward = checking_that_forward_ran(vars(cls)["backward"])

    def forward(self, x):
        raise NotImplementedError(f"{type(self).__name__} must implement forward(x)")

    def backward(self, grad_out):
        raise NotImplementedError(f"{type(self).__name__} must implement backward(grad_out)")

    def __call__(self, x):
        return self.forward(x)

    def config(self):
        """The constructor arguments that rebuild this layer (parameters are restored separately)."""
        return {}

    @staticmethod
    def from_config(description, registry=None, initialize=True):
        """The inverse of ``{"type": type(layer).__name__, "config": layer.config()}``: a new layer of that
        registered type built from those arguments (a ``Sequential`` rebuilds its layers in turn). Its parameters
        are freshly initialized, or zeros with ``initialize=False`` (cheaper, for a state dict that will
        overwrite them; the layer still names its initializers). ``registry``: name -> class, ``LAYERS`` if None.
        """
        registry = LAYERS if registry is None else registry
        if not isinstance(description, dict) or not isinstance(description.get("type"), str):
            raise ModelError(f"a layer description must be {{'type': name, 'config': {{...}}}}, "
                             f"got {description!r:.80}")
        name, arguments = description["type"], description.get("config", {})
        if name not in registry:
            raise ModelError(f"unknown layer type {name!r}; known: {', '.join(sorted(registry))} "
                             f"(register custom layers with @register_layer)")
        if not isinstance(arguments, dict):
            raise ModelError(f"the config of layer {name!r} must be a JSON object, got {arguments!r:.80}")
        return registry[name].from_arguments(arguments, registry, initialize)

    @classmethod
    def from_arguments(cls, arguments, registry, initialize):
        """``cls(**arguments)``, the initializers replaced by zeros unless ``initialize`` (see ``from_config``)."""
        chosen = {} if initialize else {key: arguments[key] for key in ("init", "bias_init") if key in arguments}
        try:
            layer = cls(**{**arguments, **{key: "zeros" for key in chosen}})
        except (TypeError, ValueError, OverflowError) as error:
            raise ModelError(f"cannot build layer {cls.__name__} from {arguments!r:.200}: {error}") from None
        except MemoryError:
            raise ModelError(f"layer {cls.__name__} with {arguments!r:.200} is too large to build") from None
        for key, value in chosen.items():
            setattr(layer, key, value)
        return layer

    def clone(self):
        """A new layer like this one, with copies of its parameters and buffers, in its dtype and mode."""
        twin = Layer.from_config({"type": type(self).__name__, "config": self.config()},
                                 {**LAYERS, type(self).__name__: type(self)}, initialize=False)
        twin.astype(self.dtype).load_state_dict(self.state_dict())
        return twin.train(self.training)

    def train(self, mode=True):
        self.training = mode
        return self

    def eval(self):
        return self.train(False)

    @contextmanager
    def mode(self, training):
        """``with model.mode(training=False):`` runs the block in eval mode (or training mode) and puts the
        mode the layer had back afterwards, even if the block raises."""
        was_training = self.training
        self.train(training)
        try:
            yield self
        finally:
            self.train(was_training)

    def slots(self):
        """Every trainable array as ``(dotted name, owning layer, key)``; optimizers read params and grads here."""
        return [(key, self, key) for key in self.params]

    def parameters(self):
        """Trainable arrays by dotted name (the arrays themselves, not copies)."""
        return {name: layer.params[key] for name, layer, key in self.slots()}

    @property
    def dtype(self):
        """The dtype of the parameters (float32 for a layer without any)."""
        for array in self.parameters().values():
            return array.dtype
        return np.dtype(np.float32)

    def num_parameters(self):
        return sum(array.size for array in self.parameters().values())

    def named_buffers(self):
        return dict(self.buffers)

    def state_dict(self):
        """A copy of every parameter and buffer, flat, with dotted keys."""
        state = {name: array.copy() for name, array in self.parameters().items()}
        state.update({name: array.copy() for name, array in self.named_buffers().items()})
        return state

    def load_state_dict(self, state, strict=True):
        """Copy arrays into this layer's parameters and buffers, checking names and shapes."""
        own = {**self.parameters(), **self.named_buffers()}
        missing = sorted(set(own) - set(state))
        unexpected = sorted(set(state) - set(own))
        if strict and (missing or unexpected):
            raise KeyError(f"{type(self).__name__}.load_state_dict: missing {missing}, unexpected {unexpected}")
        for name in own.keys() & state.keys():
            value = np.asarray(state[name])
            if value.shape != own[name].shape:
                raise ValueError(
                    f"{type(self).__name__}.load_state_dict: {name!r} has shape {value.shape}, "
                    f"expected {own[name].shape}"
                )
            own[name][...] = value

    def astype(self, dtype):
        """Convert parameters, gradients and buffers to ``dtype`` (float64 for gradient checks)."""
        for store in (self.params, self.grads, self.buffers):
            for key, array in store.items():
                store[key] = array.astype(dtype, copy=False)
        return self

    def __repr__(self):
        arguments = ", ".join(f"{key}={value!r}" for key, value in self.config().items())
        return f"{type(self).__name__}({arguments})"


def noting_that_forward_ran(forward):
    @functools.wraps(forward)
    def forward_that_notes(self, x):
        output = forward(self, x)
        self.forward_ran = True
        return output
    return forward_that_notes


def checking_that_forward_ran(backward):
    @functools.wraps(backward)
    def backward_that_checks(self, grad_out):
        if not getattr(self, "forward_ran", False):
            name = type(self).__name__
            raise RuntimeError(f"{name}.backward was called before {name}.forward: backward uses what forward "
                               f"saved, so run forward on the batch first")
        return backward(self, grad_out)
    return backward_that_checks
