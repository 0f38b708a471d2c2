"""The ablation lab: silence a hidden unit (or scale it) and see what the network says without it.

Scaling unit j of the last hidden layer by s changes every logit by (s - 1) · a_j · W[j, :]; silencing it (s = 0)
takes away exactly its contribution a_j W[j, c] from each class c. A unit of an earlier layer (a channel, for
feature maps) is scaled the same way, and the layers after it run as usual.
"""
import numpy as np

from .anatomy import ExplainError


def check_unit(anatomy, layer_name, unit, sizes):
    """One line when ``layer_name`` is not a hidden layer's output or ``unit`` is not one of its units."""
    hidden_names = [name for name, _ in anatomy.hidden]
    if layer_name not in hidden_names:
        raise ExplainError(f"layer must be one of the hidden layers {', '.join(hidden_names)}, got {layer_name!r}")
    if not 0 <= unit < sizes[layer_name]:
        raise ExplainError(f"unit must be from 0 to {sizes[layer_name] - 1} in layer {layer_name}, got {unit}")


def ablated_logits(anatomy, x, layer_name, unit, scale):
    """The logits with unit ``unit`` of layer ``layer_name``'s output multiplied by ``scale``."""
    a = anatomy.hidden_activations(x, scale=(layer_name, unit, scale))
    return anatomy.logits_from_hidden(a)


def accuracy_without(anatomy, x, y, layer_name, unit, scale=0.0, batch_size=1000, progress=None):
    """The accuracy on ``(x, y)`` with the unit scaled, in batches; ``progress(done, total)`` after each one."""
    correct = 0
    for start in range(0, len(x), batch_size):
        z = ablated_logits(anatomy, x[start:start + batch_size], layer_name, unit, scale)
        correct += int(np.sum(z.argmax(axis=1) == y[start:start + batch_size]))
        if progress is not None:
            progress(min(start + batch_size, len(x)), len(x))
    return correct / max(len(x), 1)
