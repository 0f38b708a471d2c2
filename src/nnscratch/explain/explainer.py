"""One trained classifier, ready to be looked inside: every view's answer as a JSON-ready dict.

``Explainer`` wraps a model, its metadata and (loaded on first use) its training and test digits. The views:
``explain`` (prediction, the split of a logit into hidden units, saliency and gradient × input),
``activations``, ``untrained_saliency``, ``ablate`` and ``accuracy_without``, ``neighbours``, ``mistakes`` and
``mistake_cell``, ``probe``. Inputs are 784 pixel values in [0, 1], as ``prepare_digit`` makes them. What
several queries need (the nearest-neighbour indices, the test set's predictions) is computed once, by
``warm_up`` or by the first query that needs it. One query runs at a time: layers keep their forward state.
"""
import math
import threading

import numpy as np

from ..inspection import forward_trace
from ..layers.activations import ACTIVATIONS
from ..layers.conv import Conv2D
from ..layers.linear import Linear
from ..viz.pictures import first_weighted_layer, weight_images
from . import ablation, attribution
from .anatomy import Anatomy, ExplainError
from .mistakes import Mistakes
from .neighbours import NearestIndex
from .numbering import layer_titles
from .probes import LOW_CONFIDENCE, probe

DIGIT_SIZE = 784
BATCH = 2000


class Explainer:
    """``train_set`` and ``test_set`` are ``(x, y)`` with x of 784 values per row, or functions returning
    one (loading MNIST takes a second), or None."""

    def __init__(self, model, metadata=None, train_set=None, test_set=None, class_names=None):
        self.model = model.eval()
        self.metadata = dict(metadata or {})
        self.anatomy = Anatomy.of(model)
        shape = self.metadata.get("input_shape")
        first = next(layer for _, layer in self.anatomy.hidden + [(None, self.anatomy.output)] if layer.params)
        self.input_shape = tuple(shape) if isinstance(shape, (list, tuple)) and shape else default_input_shape(first)
        if int(np.prod(self.input_shape)) != DIGIT_SIZE:
            raise ExplainError(f"the explanation needs a model of 28×28 digits (784 inputs), but this one takes "
                               f"input shape {self.input_shape}")
        names = class_names or self.metadata.get("class_names")
        count = self.anatomy.num_classes
        self.class_names = [str(name) for name in names] if names and len(names) == count else \
            [str(index) for index in range(count)]
        self.sources = {"train": train_set, "test": test_set}
        self.cache = {}
        self.lock = threading.RLock()
        self.twin = None
        self.titles = layer_titles(model)   # "layer 2 of 3: dense 676→32, after ReLU", by dotted name

    @property
    def num_classes(self):
        return self.anatomy.num_classes

    # ---- inputs and classes
    def as_input(self, pixels):
        pixels = np.asarray(pixels, dtype=self.model.dtype).reshape(-1)
        if pixels.size != DIGIT_SIZE:
            raise ExplainError(f"expected 784 pixel values, got {pixels.size}")
        return pixels.reshape(1, *self.input_shape)

    def check_class(self, value, what="class"):
        if value is not None and not (isinstance(value, (int, np.integer)) and 0 <= value < self.num_classes):
            raise ExplainError(f"{what} must be from 0 to {self.num_classes - 1}, got {value}")
        return None if value is None else int(value)

    # ---- views
    def explain(self, pixels, class_index=None, versus=None):
        """The prediction and why: probabilities, logits, the split of z_c into the last hidden layer's units
        (and of z_c - z_r with ``versus``; ``"runner-up"`` picks the second most likely class), saliency
        ∂z_c/∂x, gradient × input, and the completeness check for piecewise-linear networks."""
        class_index = self.check_class(class_index)
        x = self.as_input(pixels)
        with self.lock:
            a = self.anatomy.hidden_activations(x)
            z = self.anatomy.logits_from_hidden(a)
            probabilities = self.anatomy.probabilities(z)[0]
            prediction = int(np.argmax(probabilities))
            class_index = prediction if class_index is None else class_index
            if versus == "runner-up":
                ranked = [int(k) for k in np.argsort(-probabilities, kind="stable") if k != class_index]
                versus = ranked[0]
            versus = self.check_class(versus, "versus")
            gradient, bias_terms = attribution.saliency(self.model, x, class_index)
        W, b = self.anatomy.output.params["W"], self.anatomy.output.params["b"]
        weights, parts, bias = attribution.contributions(a[0], W, b, class_index)
        flat_x, flat_gradient = x.reshape(-1).astype(np.float64), gradient.reshape(-1).astype(np.float64)
        gradient_x_input = flat_x * flat_gradient
        answer = {
            "prediction": prediction, "label": self.class_names[prediction],
            "confident": bool(probabilities[prediction] >= LOW_CONFIDENCE),
            "probabilities": to_list(probabilities), "logits": to_list(z[0]), "class": class_index,
            "input": to_list(flat_x), "saliency": to_list(flat_gradient),
            "gradient_x_input": to_list(gradient_x_input),
            "completeness": {"piecewise_linear": attribution.is_piecewise_linear(self.model),
                             "gradient_x_input": float(gradient_x_input.sum()), "bias_terms": bias_terms,
                             "sum": float(gradient_x_input.sum()) + bias_terms, "logit": float(z[0, class_index])},
            "contributions": attribution.ranked_contributions(a[0], weights, parts), "bias": bias,
            "hidden_layer": {"name": self.anatomy.last_hidden_name, "title": self.title(self.anatomy.last_hidden_name)},
        }
        if versus is not None:
            weights, parts, bias = attribution.contributions(a[0], W, b, class_index, versus)
            answer["versus"] = {"class": versus, "difference": float(z[0, class_index] - z[0, versus]),
                                "contributions": attribution.ranked_contributions(a[0], weights, parts),
                                "bias": bias}
        return answer

    def activations(self, pixels):
        """Every hidden layer's output worth seeing: each convolution's feature maps and each activation's
        output (before the logits), as ``{"name", "title", "layer", "shape", "values"}`` (``title`` numbers the
        layers as a learner counts them, ``numbering.layer_titles``); the last one is the layer whose units the
        explanation splits the answer into."""
        x = self.as_input(pixels)
        shown = (Conv2D, *ACTIVATIONS.values())
        hidden_names = [name for name, _ in self.anatomy.hidden]
        hidden_names = set(hidden_names[:hidden_names.index(self.anatomy.last_hidden_name) + 1])
        with self.lock:
            trace = forward_trace(self.model, x)
        layers = [{"name": step.name, "title": self.title(step.name), "layer": type(step.layer).__name__,
                   "shape": list(step.output.shape[1:]),
                   "values": to_list(step.output[0].reshape(-1))}
                  for step in trace if step.name in hidden_names and isinstance(step.layer, shown)]
        last = next(step for step in trace if step.name == self.anatomy.last_hidden_name)
        if not layers or layers[-1]["name"] != last.name:
            layers.append({"name": last.name, "title": self.title(last.name), "layer": type(last.layer).__name__,
                           "shape": list(last.output.shape[1:]), "values": to_list(last.output[0].reshape(-1))})
        return layers

    def first_layer_weights(self):
        """What the first layer looks for (``viz.pictures.weight_images``): a dense layer's weights as one input
        image per unit, or a convolution's kernels, as ``{"layer", "kind", "shape", "values"}``; ``values`` is
        the stack of pictures (count, rows, columns), ``shape`` the layer's units and the picture's sizes (for a
        convolution, its weights' shape: out, in, kh, kw)."""
        first = first_weighted_layer(self.model)
        if first is None:
            raise ExplainError("this network has no dense or convolutional layer whose weights could be shown")
        W = first.params["W"]
        images = weight_images(W, self.input_shape)
        if isinstance(first, Conv2D):
            return {"layer": "Conv2D", "kind": "kernels", "shape": list(W.shape), "values": images}
        return {"layer": "Linear", "kind": "templates", "shape": list(images.shape), "values": images}

    def untrained_saliency(self, pixels, class_index=None, seed=0):
        """∂z_c/∂x for the same architecture with fresh random weights, for the class c being explained (None:
        the trained network's prediction, the class ``explain`` explains by default)."""
        class_index = self.check_class(class_index)
        x = self.as_input(pixels)
        with self.lock:
            if class_index is None:
                z = self.anatomy.logits_from_hidden(self.anatomy.hidden_activations(x))
                class_index = int(np.argmax(z[0]))
            if self.twin is None:
                self.twin = attribution.untrained_twin(self.model, seed)
            gradient, _ = attribution.saliency(self.twin, x, class_index)
        return {"class": class_index, "saliency": to_list(gradient.reshape(-1))}

    def title(self, layer_name):
        return self.titles.get(layer_name, f"layer {layer_name}")

    def hidden_sizes(self, x):
        with self.lock:
            trace = forward_trace(self.model, x)
        return {step.name: step.output.shape[1] for step in trace}

    def ablate(self, pixels, layer_name, unit, scale=0.0):
        """Probabilities and logits with one hidden unit scaled by ``scale`` (0: silenced), and the change."""
        x = self.as_input(pixels)
        layer_name = self.anatomy.last_hidden_name if layer_name is None else str(layer_name)
        ablation.check_unit(self.anatomy, layer_name, unit, self.hidden_sizes(x))
        with self.lock:
            z = self.anatomy.logits_from_hidden(self.anatomy.hidden_activations(x))
            changed = ablation.ablated_logits(self.anatomy, x, layer_name, unit, scale)
            probabilities = self.anatomy.probabilities(changed)[0]
        return {"layer": layer_name, "title": self.title(layer_name), "unit": int(unit), "scale": float(scale),
                "prediction": int(np.argmax(probabilities)), "probabilities": to_list(probabilities),
                "logits": to_list(changed[0]), "change": to_list(changed[0] - z[0])}

    def accuracy_without(self, layer_name, unit, scale=0.0, progress=None):
        """The test accuracy with one hidden unit scaled, and without the change."""
        x, y = self.data("test")
        x = self.as_batch(x)      # flat rows to the model's input shape, (N, 1, 28, 28) for a CNN
        layer_name = self.anatomy.last_hidden_name if layer_name is None else str(layer_name)
        ablation.check_unit(self.anatomy, layer_name, unit, self.hidden_sizes(x[:1]))
        with self.lock:
            accuracy = ablation.accuracy_without(self.anatomy, x, y, layer_name, unit, scale, progress=progress)
        return {"layer": layer_name, "title": self.title(layer_name), "unit": int(unit), "scale": float(scale),
                "accuracy": accuracy,
                "accuracy_before": self.mistake_table().accuracy, "test_digits": len(y)}

    def neighbours(self, pixels, count=8):
        """The ``count`` training digits nearest in pixel space and in the last hidden layer's space."""
        x = self.as_input(pixels)
        pixel_index, hidden_index = self.indices()
        with self.lock:
            a = self.anatomy.hidden_activations(x)[0]
        train_x, train_y = self.data("train")
        answer = {}
        for space, index, point in (("pixels", pixel_index, x.reshape(-1)), ("hidden", hidden_index, a)):
            nearest, distances = index.query(point, count)
            answer[space] = [{"index": int(i), "label": int(train_y[i]), "distance": float(d),
                              "pixels": to_list(train_x[i].reshape(-1), 3)}
                             for i, d in zip(nearest, distances, strict=True)]
        return answer

    def mistakes(self):
        table = self.mistake_table()
        return {"confusion": table.confusion.tolist(), "accuracy": table.accuracy, "class_names": self.class_names}

    def mistake_cell(self, true_class, predicted_class, count=24):
        true_class = self.check_class(true_class, "true class")
        predicted_class = self.check_class(predicted_class, "predicted class")
        members, confidence = self.mistake_table().cell(true_class, predicted_class, count)
        x, _ = self.data("test")
        return {"true": true_class, "predicted": predicted_class,
                "count": int(self.mistake_table().confusion[true_class, predicted_class]),
                "digits": [{"index": int(i), "confidence": float(c), "pixels": to_list(x[i].reshape(-1), 3)}
                           for i, c in zip(members, confidence, strict=True)]}

    def probe(self, kind, pixels=None, seed=None):
        """The explanation of a probe input (noise, a blank page, the inverted digit)."""
        return {"probe": kind, **self.explain(probe(kind, pixels, seed))}

    # ---- data and what is computed once
    def data(self, split):
        """The training or test digits as flat rows and labels; ExplainError when there are none."""
        with self.lock:
            source = self.sources[split]
            if callable(source):
                try:
                    source = self.sources[split] = source()
                except (ValueError, OSError) as error:
                    source = self.sources[split] = f"the {split} digits cannot be loaded: {error}"
            if source is None or isinstance(source, str):
                raise ExplainError(source or f"no {split} digits are available for this model")
            x, y = source
            return np.asarray(x).reshape(len(x), -1), np.asarray(y)

    def indices(self):
        """The nearest-neighbour indices over the training digits: pixels, and last hidden activations."""
        with self.lock:
            if "indices" not in self.cache:
                x, _ = self.data("train")
                hidden = np.concatenate([self.anatomy.hidden_activations(self.as_batch(x[start:start + BATCH]))
                                         for start in range(0, len(x), BATCH)])
                self.cache["indices"] = (NearestIndex(x), NearestIndex(hidden))
            return self.cache["indices"]

    def mistake_table(self):
        with self.lock:
            if "mistakes" not in self.cache:
                x, y = self.data("test")
                z = np.concatenate([self.anatomy.logits_from_hidden(
                    self.anatomy.hidden_activations(self.as_batch(x[start:start + BATCH])))
                    for start in range(0, len(x), BATCH)])
                self.cache["mistakes"] = Mistakes(self.anatomy.probabilities(z), y)
            return self.cache["mistakes"]

    def as_batch(self, rows):
        return np.asarray(rows, dtype=self.model.dtype).reshape(len(rows), *self.input_shape)

    def warm_up(self):
        """Compute what the views share (indices, test predictions) now rather than at the first query."""
        for step in (self.indices, self.mistake_table):
            try:
                step()
            except ExplainError:
                pass


def default_input_shape(first):
    """The shape of one example for a model whose metadata does not say: a first dense layer's inputs, or for a
    first convolution of C channels the C × s × s images that hold 784 values (1 × 28 × 28 for a digit)."""
    if isinstance(first, Linear):
        return (first.in_features,)
    if isinstance(first, Conv2D):
        side = math.isqrt(DIGIT_SIZE // first.in_channels)
        if first.in_channels * side * side == DIGIT_SIZE:
            return (first.in_channels, side, side)
    return (DIGIT_SIZE,)


def to_list(values, digits=None):
    values = np.asarray(values, dtype=np.float64).reshape(-1)
    return (np.round(values, digits) if digits is not None else values).tolist()
