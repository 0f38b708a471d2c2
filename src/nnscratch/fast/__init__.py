"""The speed room: faster ways to run the plain layers, each held to its plain layer by the tests.

``with faster(model):`` lends every layer of ``model`` that has a fast twin (Linear, Conv2D, MaxPool2D,
AvgPool2D, BatchNorm, Flatten) the twin's ``forward`` and ``backward`` for the duration of the block, as attributes of
that layer alone, and takes them back on leaving: the layer keeps its type, its ``config()`` and its
``state_dict()``, so a model saved inside the block is the same file. A network with convolutions or poolings
also gets its matrix products split over the pool of threads, OpenBLAS single-threaded meanwhile
(``products_on_the_pool``). ``fit``, evaluation and prediction open this block; nothing in ``layers/`` imports
this room. README.md here says what each trick is and what it buys.
"""
import threading
import types
from contextlib import contextmanager

from ..layers.base import checking_that_forward_ran, noting_that_forward_ran
from ..layers.batchnorm import BatchNorm
from ..layers.conv import Conv2D
from ..layers.linear import Linear
from ..layers.pooling import AvgPool2D, MaxPool2D
from ..layers.reshape import Flatten
from .batchnorm import FastBatchNorm
from .conv import METHODS, FastConv2D
from .linear import FastLinear
from .pool import set_threads, threads
from .pooling import FastAvgPool2D, FastMaxPool2D
from .products import products_on_the_pool
from .reshape import FastFlatten

TWINS = {Linear: FastLinear, Conv2D: FastConv2D, MaxPool2D: FastMaxPool2D, AvgPool2D: FastAvgPool2D,
         BatchNorm: FastBatchNorm, Flatten: FastFlatten}
WORK_BETWEEN_PRODUCTS = (Conv2D, MaxPool2D, AvgPool2D)   # what makes sharing one set of threads pay
_lent = {"twins": {}, "lock": threading.Lock()}          # id(layer) -> [twin, number of blocks lending it]

__all__ = ["faster", "leaves", "set_threads", "threads"]


def leaves(model):
    """The layers that compute, inside nested ``Sequential`` blocks, in order."""
    children = getattr(model, "layers", None)
    if children is None:
        return [model]
    return [leaf for child in children for leaf in leaves(child)]


@contextmanager
def faster(model, convolution="auto"):
    """Within the block, each layer of ``model`` with a fast twin runs the twin's forward and backward; on
    leaving (even by an exception) each gets its own back. Blocks nest: an inner block over a layer that is
    lent already changes nothing. ``convolution`` is how a new Conv2D twin computes: "auto" (the fewer
    multiply-adds), "unrolled" or "spectral" (stride 1 only). Yields ``{layer: twin}`` for the block's layers;
    a ``FastConv2D``'s ``computed`` says which way its last forward went.

    A forward run outside the block is not followed by a backward inside it, nor the other way round: the
    two keep different things, so at both edges each lent layer forgets that its forward ran."""
    if convolution not in METHODS:
        raise ValueError(f"faster: convolution must be 'auto', 'unrolled' or 'spectral', got {convolution!r}")
    layers = [layer for layer in leaves(model) if type(layer) in TWINS]
    with _lent["lock"]:
        for layer in layers:
            lent = _lent["twins"].get(id(layer))
            if lent is None:
                twin = TWINS[type(layer)](layer, convolution) if type(layer) is Conv2D else TWINS[type(layer)](layer)
                lent = _lent["twins"][id(layer)] = [twin, 0]
                lend(layer, twin)
            lent[1] += 1
        twins = {layer: _lent["twins"][id(layer)][0] for layer in layers}
    try:
        if any(isinstance(layer, WORK_BETWEEN_PRODUCTS) for layer in layers):
            with products_on_the_pool():
                yield twins
        else:
            yield twins
    finally:
        with _lent["lock"]:
            for layer in layers:
                lent = _lent["twins"][id(layer)]
                lent[1] -= 1
                if lent[1] == 0:
                    del _lent["twins"][id(layer)]
                    take_back(layer)


def lend(layer, twin):
    """Give ``layer`` the twin's forward and backward as its own attributes, wrapped as the Layer contract
    wraps every forward and backward (forward notes that it ran; backward checks the note)."""
    def forward(self, x):
        return twin.forward(x)

    def backward(self, grad_out):
        return twin.backward(grad_out)

    layer.forward = types.MethodType(noting_that_forward_ran(forward), layer)
    layer.backward = types.MethodType(checking_that_forward_ran(backward), layer)
    layer.forward_ran = False


def take_back(layer):
    del layer.forward, layer.backward
    layer.forward_ran = False
