"""The Layer contract that every building block of a network follows.

A layer maps a batch ``x`` (one example per row, batch first) to an output in ``forward``, and in ``backward``
turns the gradient of the loss with respect to that output into the gradient with respect to ``x``, filling
``grads`` for its own parameters on the way. Optimizers, and only they, change ``params``.
"""
import numpy as np

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
    that is saved with the model but not trained (running statistics, say).
    """

    needs_input_grad = True

    def __init__(self):
        self.params = {}
        self.grads = {}
        self.buffers = {}
        self.training = True

    def forward(self, x):
        raise NotImplementedError(f"{type(self).__name__} must implement forward(x)")

    def backward(self, grad_out):
        raise NotImplementedError(f"{type(self).__name__} must implement backward(grad_out)")

    def __call__(self, x):
        return self.forward(x)

    def __getattr__(self, name):
        # Only reached when normal lookup fails: most often a backward that reads what forward never saved.
        if name.startswith("__"):
            raise AttributeError(name)
        raise AttributeError(
            f"{type(self).__name__} has no attribute {name!r}; if backward needs it, call forward first"
        )

    def config(self):
        """The constructor arguments that rebuild this layer (parameters are restored separately)."""
        return {}

    def train(self, mode=True):
        self.training = mode
        return self

    def eval(self):
        return self.train(False)

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
