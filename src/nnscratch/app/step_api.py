"""The Step view's API: every number of one SGD step, on the paused run's next example, a drawn digit, or one of
the two small networks that ship with ``nnscratch step``, and the check of a learner's hand calculation.

- ``GET /api/step?example=mazur|worked``: the step of Mazur's 2-2-2 network or docs/math.md's worked example,
  every array whole.
- ``POST /api/step`` ``{"source": "run" | "mazur" | "worked", "pixels"?, "label"?, "path"?}``: ``run`` steps on
  a copy of the paused run's network (409 unless a run is paused) with the first example of the batch it trains
  next, or with ``pixels`` (the 28×28 image the Draw view prepared, 784 values in 0..1) and ``label`` (the class
  the drawing is meant to be; by default the network's answer). ``path`` ``{"input", "hidden", "output"}``: the
  input pixel, the first hidden layer's unit and the output whose numbers are shown (a dense network's; a
  convolutional network's path is chosen by its largest contributions).
- ``POST /api/step/check`` ``{"step", "row", "entry", "value"}``: is ``value`` (text, as typed) right for entry
  ``entry`` of row ``row`` of step ``step`` (an id the step's answer gave)? The verdict of
  ``explain.step_check.check``. Nothing typed changes any model: the step ran on a float64 copy.

The step is ``explain.step.take_step`` and its rows ``explain.step_table.rows``, the computation of
``nnscratch step``; this module only chooses the example and the path, and writes the rows as JSON.
"""
import itertools
import threading

import numpy as np

from ..explain.step import StepError, take_step
from ..explain.step_check import check
from ..explain.step_examples import EXAMPLES
from ..explain.step_table import SECTIONS, WHOLE, describe, layer_label, rows
from ..layers.activations import LeakyReLU, ReLU, Sigmoid, Softmax, Tanh
from ..layers.dropout import Dropout
from ..layers.linear import Linear
from .bodies import RequestError
from .request import whole_number
from .training_session import Conflict

PREFIX = "/api/step"
KEPT_STEPS = 16            # the last steps the checks may refer to
DIGIT_PIXELS = 784
ELEMENTWISE = (Sigmoid, Tanh, ReLU, LeakyReLU, Softmax, Dropout)


def routes(path):
    return path == PREFIX or path.startswith(PREFIX + "/")


class StepApi:
    """The Step view's routes on a ``TrainingSession``; keeps the last ``KEPT_STEPS`` steps for the checks."""

    def __init__(self, session):
        self.session = session
        self.steps, self.lock, self.ids = {}, threading.Lock(), itertools.count(1)

    def handle(self, request):
        """``(status, payload)`` for one request (``request.Request``); ``RequestError`` for a bad one."""
        route, method = request.path[len(PREFIX):], request.method
        if route == "" and method == "GET":
            return 200, self.example(example_name(request))
        if route == "" and method == "POST":
            return 200, self.step(request.json())
        if route == "/check" and method == "POST":
            return 200, self.check(request.json())
        if route in ("", "/check"):
            raise request.refuse(405, f"use {'GET or POST' if route == '' else 'POST'} for {request.path[:100]}")
        raise request.refuse(404, f"no such page: {request.path[:100]}")

    def example(self, name, path=None):
        example = EXAMPLES[name]()
        step = take_step(example.model, example.x, example.target, example.loss, example.lr, example.frozen)
        return self.answer(step, example.title, example.source, whole=True, path=path)

    def step(self, body):
        unknown = sorted(set(body) - {"source", "pixels", "label", "path"})
        if unknown:
            raise RequestError(400, f"unknown field {unknown[0]!r}: send source, pixels, label and path")
        source, path = body.get("source", "run"), body.get("path")
        if path is not None and not isinstance(path, dict):
            raise RequestError(400, "path must be an object {\"input\", \"hidden\", \"output\"}")
        if source in EXAMPLES:
            return self.example(source, path)
        if source != "run":
            raise RequestError(400, f"source must be run, {' or '.join(sorted(EXAMPLES))}, got {str(source)[:40]!r}")
        try:
            paused = self.session.paused_example()
        except Conflict as error:
            raise RequestError(409, str(error)) from None
        x, label = paused.x, paused.label
        origin = (f"training image {paused.index}, the first of batch {paused.step} (the batch the run trains next; "
                  f"before any augmentation), label {label}")
        if body.get("pixels") is not None:
            x = drawn_input(body["pixels"], paused.x.shape)
            scores = paused.model.eval().forward(x.astype(paused.model.dtype))
            label = whole_number(body.get("label", int(np.argmax(scores[0]))), "label", int(scores.shape[1]) - 1)
            origin = f"your drawing, with target class {label}"
        try:
            step = take_step(paused.model, x, label, paused.loss, paused.lr)
        except StepError as error:
            raise RequestError(400, str(error)) from None
        title = f"One step of the paused run at batch {paused.step}, on one example"
        note = (f"{origin}; η = {paused.lr:g} (the run's), one example instead of the whole batch, in float64 and "
                f"evaluation mode, on a copy: the run itself is not changed")
        return self.answer(step, title, note, whole=False, path=path)

    def answer(self, step, title, note, whole, path):
        if path is not None:
            step.path = chosen_path(step, path)
        with self.lock:
            step_id = next(self.ids)
            self.steps[step_id] = step
            for old in sorted(self.steps)[:-KEPT_STEPS]:
                del self.steps[old]
        return step_json(step, step_id, title, note, whole)

    def check(self, body):
        unknown = sorted(set(body) - {"step", "row", "entry", "value"})
        if unknown:
            raise RequestError(400, f"unknown field {unknown[0]!r}: send step, row, entry and value")
        step_id = whole_number(body.get("step"), "step", 10 ** 12)
        with self.lock:
            step = self.steps.get(step_id)
        if step is None:
            raise RequestError(404, f"step {step_id} is not kept (the last {KEPT_STEPS} are): take the step again")
        entry = body.get("entry", [])
        if not isinstance(entry, list) or len(entry) > 4:
            raise RequestError(400, "entry must be a list of at most four whole numbers")
        entry = [whole_number(index, "each index of entry", 10 ** 7) for index in entry]
        value = body.get("value")
        if isinstance(value, bool) or not isinstance(value, (str, int, float)):
            raise RequestError(400, "value must be the number as typed, such as \"0.7311\"")
        try:
            return check(step, whole_number(body.get("row"), "row", 10 ** 4), entry, str(value))
        except ValueError as error:
            raise RequestError(400, str(error)) from None


def example_name(request):
    usage = f"expected ?example={' or '.join(sorted(EXAMPLES))}"
    name = request.fields({"example"}, usage).get("example")
    if name not in EXAMPLES:
        raise RequestError(400, usage)
    return name


def drawn_input(pixels, shape):
    """The Draw view's 28×28 image (784 values in 0..1) as one example in the model's input ``shape``."""
    if not isinstance(pixels, list) or len(pixels) != DIGIT_PIXELS \
            or not all(isinstance(value, (int, float)) and not isinstance(value, bool) for value in pixels):
        raise RequestError(400, f"pixels must be {DIGIT_PIXELS} numbers (the 28×28 image, row by row)")
    x = np.asarray(pixels, dtype=np.float64)
    if not (np.isfinite(x).all() and x.min() >= 0 and x.max() <= 1):
        raise RequestError(400, "pixels must be grey values from 0 to 1")
    if int(np.prod(shape[1:])) != DIGIT_PIXELS:
        raise RequestError(400, "this network does not take 28×28 digits")
    return x.reshape(shape)


def chosen_path(step, picked):
    """``step.path`` with the learner's picks: the input pixel, the first hidden layer's unit and the output. In a
    dense network each layer's output has one entry per unit, so a pick holds from a dense layer through the
    activation after it; a convolutional network keeps the path ``take_step`` chose."""
    unknown = sorted(set(picked) - {"input", "hidden", "output"})
    if unknown:
        raise RequestError(400, f"path holds input, hidden and output, got {unknown[0]!r}")
    if not all(isinstance(part.layer, (Linear, *ELEMENTWISE)) for part in step.layers):
        return step.path
    dense = [part.index for part in step.layers if isinstance(part.layer, Linear)]
    path = list(step.path)
    if "input" in picked:
        path[0] = whole_number(picked["input"], "path.input", step.x[0].size - 1)
    for part in step.layers:
        size = part.output[0].size
        if isinstance(part.layer, Linear) and part.index == dense[-1] and "output" in picked:
            path[part.index + 1] = whole_number(picked["output"], "path.output", size - 1)
        elif isinstance(part.layer, Linear) and part.index == dense[0] and "hidden" in picked:
            path[part.index + 1] = whole_number(picked["hidden"], "path.hidden", size - 1)
        elif not isinstance(part.layer, Linear):
            path[part.index + 1] = path[part.index]
    return path


def step_json(step, step_id, title, note, whole):
    """The step as the page draws it: the pickers' values, and every row with its cells (each entry when the
    array is small or ``whole``, else its entry on the path) and a summary."""
    dense = [part for part in step.layers if isinstance(part.layer, Linear)]
    hidden = dense[0] if len(dense) > 1 else None
    last = step.layers[-1]
    table = []
    for index, row in enumerate(rows(step)):
        value = np.asarray(row.value, dtype=np.float64)
        if whole or value.size <= WHOLE:
            entries = [tuple(int(i) for i in entry) for entry in np.ndindex(value.shape)]
        else:
            entries = [row.path_entry] if row.path_entry is not None else []
        table.append({"index": index, "section": row.section, "layer": layer_label(row.layer),
                      "symbol": row.symbol, "equation": row.equation, "function": row.function,
                      "shape": list(value.shape), "summary": describe(value, row.path_entry),
                      "path_entry": list(row.path_entry) if row.path_entry is not None else None,
                      "cells": [{"entry": list(entry), "value": finite(value[entry])} for entry in entries]})
    hidden_values = None
    if hidden is not None:
        after = step.layers[hidden.index + 1] if hidden.index + 1 < len(step.layers) else hidden
        hidden_values = [finite(value) for value in after.output[0].reshape(-1)]
    return {"id": step_id, "title": title, "note": note, "whole": whole, "lr": step.lr,
            "loss_name": type(step.loss).__name__, "loss": finite(step.loss_value),
            "loss_after": finite(step.loss_after), "sections": SECTIONS,
            "input_shape": list(step.x.shape[1:]), "input": [finite(v) for v in step.x.reshape(-1)],
            "hidden": hidden_values, "outputs": [finite(v) for v in last.output[0].reshape(-1)],
            "path": {"input": step.path[0], "hidden": step.path[hidden.index + 1] if hidden is not None else None,
                     "output": step.path[-1], "all": list(step.path)},
            "pickable": all(isinstance(part.layer, (Linear, *ELEMENTWISE)) for part in step.layers),
            "rows": table}


def finite(value):
    value = float(value)
    return value if np.isfinite(value) else None
