"""Lockstep: the learner's class in a small MNIST network, beside the same network built from the engine's.

Both networks start from the same parameters and see the same batches, in float64; at every step each layer's
output, the loss, each gradient a layer returns or stores and each parameter after the update are compared.
The first step and array where the two part by more than the one threshold of ``nnscratch.gradcheck`` is
reported: a mistake that only shows on real data, after some training, or through an optimizer's state.
"""
import time

import numpy as np

from .. import gradcheck
from ..network import Sequential
from .track import ROLES, described, setup


def lockstep(learner, reference, images, labels, steps=200, batch_size=32, seed=0, size=4096):
    """Run ``learner`` (a class) in place of ``reference`` for ``steps`` steps on the first ``size`` images; a
    JSON-ready dict that says whether the two stayed together, and where they first parted."""
    network = ROLES[reference.__name__].network
    started = time.perf_counter()
    mine, theirs = (setup(network, {reference.__name__: chosen}, seed) for chosen in (learner, reference))
    mine[0].astype(np.float64)
    theirs[0].astype(np.float64)
    mine[0].load_state_dict(theirs[0].state_dict())
    optimizers = [mine[2](mine[0]), theirs[2](theirs[0])]
    images, labels = images[:size].reshape((-1,) + mine[3]).astype(np.float64), labels[:size]
    order = np.random.default_rng(seed).permutation(len(images))
    largest = 0.0
    summary = {"network": described(network), "steps": steps, "batch_size": batch_size}
    for step in range(steps):
        batch = order[(step * batch_size + np.arange(batch_size)) % len(images)]
        x, y = images[batch], labels[batch]
        try:
            got = one_step(mine[0], mine[1], optimizers[0], x, y)
        except Exception as error:  # noqa: BLE001 - the learner's code: report what it raised
            return {**summary, "passed": False, "step": step, "array": None,
                    "error": f"{type(error).__name__}: {error}{gradcheck.where(error)}"}
        expected = one_step(theirs[0], theirs[1], optimizers[1], x, y)
        for (name, array), (_, wanted) in zip(got, expected, strict=False):  # as far as both go
            row = gradcheck.measure(name, array, wanted)
            if not row["ok"]:
                return {**summary, "passed": False, "step": step, **row,
                        "seconds": round(time.perf_counter() - started, 2)}
            largest = max(largest, row["relative_error"])
    return {**summary, "passed": True, "largest_relative_error": largest,
            "seconds": round(time.perf_counter() - started, 2)}


def one_step(model, loss, optimizer, x, y):
    """One training step, keeping every array on the way as ``(name, array)``, in a fixed order."""
    arrays = []
    layers = model.layers if type(model) is Sequential else [model]
    names = [f"layer {position} ({type(layer).__name__})" for position, layer in enumerate(layers)]
    for name, layer in zip(names, layers, strict=True):
        x = layer.forward(x)
        arrays.append((f"{name} output", np.array(x)))
    value, grad = loss(x, y)
    arrays += [("loss", np.float64(value)), ("dL/doutput", np.array(grad))]
    for name, layer in reversed(list(zip(names, layers, strict=True))):
        grad = layer.backward(grad)
        arrays += [(f"{name} {gradcheck.gradient_name(slot)}", np.array(owner.grads[key]))
                   for slot, owner, key in layer.slots()]
        if grad is not None:
            arrays.append((f"{name} dx", np.array(grad)))
    optimizer.step()
    for name, layer in zip(names, layers, strict=True):
        arrays += [(f"{name} {key} after the update", np.array(array)) for key, array in layer.parameters().items()]
    return arrays
