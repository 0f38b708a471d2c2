"""Checking a learner's classes: each beside the engine class it subclasses, then in lockstep on MNIST, then
(when all is right) a network of the learner's own layers trained for about a minute.

The unit check comes first (shapes and dtypes, then every array beside the engine's, each diagnosed), because
lockstep on real data only helps once the arrays agree on random inputs.
"""
import time

import numpy as np

from .. import gradcheck
from ..evaluation import evaluate
from ..training import train_step
from .lockstep import lockstep
from .report import Result
from .track import ROLES, described, engine_class_of, setup

_mnist = {}


def check_classes(classes, *, steps=200, train_seconds=60.0, train_size=None, test_size=None):
    """Check each class; when all pass and ``train_seconds`` > 0, train a network of them. A ``Result``."""
    results = [check_class(cls, steps) for cls in classes]
    training = None
    if results and all(result["passed"] for result in results) and train_seconds:
        training = train_with(classes, train_seconds, train_size, test_size)
        for result in results:
            result["accuracy"] = training.get("accuracy")
    return Result(results, training)


def check_class(cls, steps=200):
    """One class beside its engine class: the unit check's rows, the lockstep, and whether all passed."""
    reference = engine_class_of(cls)
    result = {"class": cls.__name__, "reference": reference.__name__, "arrays": [], "lockstep": None,
              "accuracy": None, "answer": None}
    role = ROLES[reference.__name__]
    try:
        result["arrays"] = unit_rows(cls, reference, role)
    except gradcheck.Failed as failure:
        result["arrays"] = [failure.row]
    unit_passed = all(item["ok"] for item in result["arrays"])
    if not unit_passed:
        result["lockstep"] = {"skipped": "fix the arrays above first"}
    elif steps:
        data = mnist()
        result["lockstep"] = ({"skipped": data} if isinstance(data, str)
                              else lockstep(cls, reference, *data["train"], steps=steps))
    result["passed"] = unit_passed and (result["lockstep"] or {}).get("passed", True) is not False
    return result


def unit_rows(cls, reference, role):
    """The rows of ``compare_layers`` (or of the loss's or optimizer's comparison), in training mode and, for a
    layer that behaves differently there, in eval mode too."""
    rng = np.random.default_rng(0)
    if role.kind == "optimizer":
        return gradcheck.compare_optimizers(cls, reference, **role.build(reference)).rows
    learner = gradcheck.attempt("constructor", f"{cls.__name__}.__init__", role.build, cls)
    if role.kind == "loss":
        return gradcheck.compare_losses(learner, role.build(reference), 2 * rng.standard_normal(role.x),
                                        rng.integers(0, role.x[1], role.x[0])).rows
    x = rng.standard_normal(role.x)
    rows = gradcheck.compare_layers(learner, role.build(reference), x).rows
    if reference.__name__ in ("BatchNorm", "Dropout"):
        references = role.build(reference)
        for name, buffer in references.buffers.items():
            buffer[...] = rng.uniform(0.5, 1.5, buffer.shape)
            learner.buffers[name] = buffer.copy()
        rows += [{**item, "array": f"eval mode: {item['array']}"}
                 for item in gradcheck.compare_layers(learner.eval(), references.eval(), x).rows]
    return rows


def mnist():
    """MNIST's arrays, loaded once: a dict of (images, labels) pairs, or a string saying why there are none."""
    if not _mnist:
        from ..datasets import DataError, load_mnist
        try:
            data = load_mnist(download=False)
        except (DataError, OSError) as error:
            return f"MNIST is not available here ({str(error).splitlines()[0]}); run nnscratch data mnist first"
        _mnist.update(train=data.train, test=data.test)
    return _mnist


def train_with(classes, seconds, train_size=None, test_size=None, batch_size=64, seed=0):
    """Train a network built with the learner's classes for about ``seconds`` on MNIST (float32, as the engine
    trains) and measure it on the test set: a JSON-ready dict."""
    data = mnist()
    if isinstance(data, str):
        return {"skipped": data, "accuracy": None}
    chosen = {engine_class_of(cls).__name__: cls for cls in classes}
    network = next((name for name, needs in (("two-layer", "Network"), ("conv", "Conv2D"), ("conv", "MaxPool2D"),
                                             ("softmax", "Softmax")) if needs in chosen), "dense")
    model, loss, make_optimizer, shape = setup(network, chosen, seed, hidden=100)
    optimizer = make_optimizer(model)
    (x, y), (x_test, y_test) = data["train"], data["test"]
    x, y = x[:train_size], y[:train_size]
    x_test, y_test = x_test[:test_size].reshape((-1,) + shape), y_test[:test_size]
    rng, started, seen = np.random.default_rng(seed), time.perf_counter(), 0
    names = " and ".join(sorted({engine_class_of(cls).__name__ for cls in classes}))
    try:
        while time.perf_counter() - started < seconds:
            order = rng.permutation(len(x))
            for start in range(0, len(x), batch_size):
                batch = order[start:start + batch_size]
                train_step(model, x[batch].reshape((-1,) + shape), y[batch], loss, optimizer)
                seen += len(batch)
                if time.perf_counter() - started >= seconds:
                    break
        accuracy = float(evaluate(model, x_test, y_test).accuracy)
    except Exception as error:  # noqa: BLE001 - the learner's code, in a longer run: report what it raised
        return {"error": f"{type(error).__name__}: {error}{gradcheck.where(error)}", "accuracy": None}
    return {"accuracy": accuracy, "classes": names, "network": described(network, hidden=100),
            "seconds": round(time.perf_counter() - started, 1), "epochs": round(seen / len(x), 2),
            "train_size": len(x), "test_size": len(x_test)}
