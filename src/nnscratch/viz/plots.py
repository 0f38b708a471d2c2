"""Pictures of a network at work, saved as PNG files: training curves, the confusion matrix, the most confidently
wrong digits, and the first layer's weights.

Figures are drawn with matplotlib's object interface on the Agg renderer, so no display is needed and nothing
global (pyplot's current figure) is touched. Each function writes one PNG atomically and returns its path.
"""
import io
import json
import math
import os
import tempfile

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from ..errors import NNScratchError
from ..files import atomic_write
from ..layers import Conv2D
from ..training import History
from .pictures import COLOUR_KEY, DIVERGING, first_weighted_layer, weight_images


class PlotError(NNScratchError, ValueError):
    """A history, model or folder that cannot be drawn from or into; the message says which and why."""


DPI = 120
PLOTTED_METRICS = ("loss", "accuracy", "val_loss", "val_accuracy")


def save_figure(figure, path):
    """Render ``figure`` to PNG in memory, then write it atomically to ``path``."""
    FigureCanvasAgg(figure)
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=DPI, bbox_inches="tight")
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with atomic_write(path) as file:
        file.write(buffer.getvalue())
    return path


def read_history(path):
    """A ``History`` from a ``.history.json`` written by ``nnscratch train``, a JSON of ``History.to_dict()``,
    or a model file saved by ``nnscratch train`` (its metadata holds the run)."""
    path = os.fspath(path)
    if not os.path.exists(path):
        raise PlotError(f"{path}: no such history file")
    if path.endswith(".npz"):
        from ..serialization import load_model
        data = (load_model(path)[1].get("training") or {}).get("history")
        if data is None:
            raise PlotError(f"{path}: this model file holds no training history")
    else:
        try:
            with open(path, encoding="utf-8") as file:
                data = json.load(file)
        except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as error:
            raise PlotError(f"{path}: not a history JSON file ({str(error)[:120]})") from None
        if isinstance(data, dict) and isinstance(data.get("history"), dict):
            data = data["history"]
    if not isinstance(data, dict) or not isinstance(data.get("epochs"), list) or not data["epochs"]:
        raise PlotError(f"{path}: expected a training history with a non-empty list of epochs")
    for number, record in enumerate(data["epochs"], 1):
        if not isinstance(record, dict) or "loss" not in record:
            raise PlotError(f"{path}: every epoch of a history needs at least a 'loss' (epoch {number} has none)")
        for metric in PLOTTED_METRICS:
            value = record.get(metric)
            if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float))):
                raise PlotError(f"{path}: epoch {number}'s {metric!r} must be a number, got {str(value)[:40]!r}")
        epoch = record.get("epoch", number)
        if isinstance(epoch, bool) or not isinstance(epoch, (int, float)):
            raise PlotError(f"{path}: epoch {number}'s 'epoch' must be a number, got {str(epoch)[:40]!r}")
    if not as_series(data, "loss")[0]:
        raise PlotError(f"{path}: no epoch of this history has a finite loss to draw")
    return History.from_dict(data)


def run_name(path):
    """``models/mlp.history.json`` -> ``mlp``."""
    name = os.path.basename(os.fspath(path))
    for suffix in (".json", ".npz", ".history"):
        name = name[:-len(suffix)] if name.endswith(suffix) else name
    return name


def as_series(history, metric):
    """Epoch numbers and values of ``metric``, leaving out epochs where it is missing."""
    records = history.epochs if isinstance(history, History) else history["epochs"]
    points = [(record.get("epoch", number + 1), record.get(metric)) for number, record in enumerate(records)]
    points = [(epoch, value) for epoch, value in points if value is not None and math.isfinite(value)]
    return [epoch for epoch, _ in points], [value for _, value in points]


def plot_histories(runs, path, title=None):
    """Loss and accuracy per epoch for each ``(name, History)`` in ``runs``: training solid, validation dashed,
    one colour per run, so that runs can be compared on one picture."""
    if not runs:
        raise PlotError("plot_histories needs at least one run")
    figure = Figure(figsize=(11, 4.2))
    loss_axes, accuracy_axes = figure.subplots(1, 2)
    colours = [f"C{index % 10}" for index in range(len(runs))]
    for (name, history), colour in zip(runs, colours, strict=False):
        for metric, axes, scale in (("loss", loss_axes, 1), ("accuracy", accuracy_axes, 100)):
            for prefix, style, label in (("", "-", "training"), ("val_", "--", "validation")):
                epochs, values = as_series(history, prefix + metric)
                if epochs:
                    axes.plot(epochs, np.asarray(values) * scale, style, color=colour, marker="o", markersize=3,
                              label=f"{name} ({label})")
    loss_axes.set(title="Loss", xlabel="epoch", ylabel="mean loss (each run's own loss function)")
    accuracy_axes.set(title="Accuracy", xlabel="epoch", ylabel="accuracy (%)")
    for axes in (loss_axes, accuracy_axes):
        axes.grid(alpha=0.3)
        axes.xaxis.get_major_locator().set_params(integer=True)
    accuracy_axes.legend(fontsize="small", loc="lower right")
    if title:
        figure.suptitle(title)
    figure.tight_layout()
    return save_figure(figure, path)


def plot_confusion(confusion, path, class_names=None, title="Confusion matrix"):
    """The confusion matrix as a heat map: colour is the share of each true class (row), text the count."""
    confusion = np.asarray(confusion)
    classes = confusion.shape[0]
    names = [str(name) for name in (class_names if class_names is not None else range(classes))]
    shares = confusion / np.maximum(confusion.sum(axis=1, keepdims=True), 1)
    size = max(5.0, 0.55 * classes + 1.5)
    figure = Figure(figsize=(size + 1.2, size))
    axes = figure.subplots()
    image = axes.imshow(shares, cmap="Blues", vmin=0, vmax=1)
    figure.colorbar(image, ax=axes, fraction=0.046, pad=0.04, label="share of the true class")
    if classes <= 30:
        for (row, column), count in np.ndenumerate(confusion):
            if count:
                axes.text(column, row, str(count), ha="center", va="center", fontsize=8 if classes <= 12 else 6,
                          color="white" if shares[row, column] > 0.5 else "black")
    axes.set_xticks(range(classes), names)
    axes.set_yticks(range(classes), names)
    total = confusion.sum()
    accuracy = np.trace(confusion) / total if total else 0.0
    axes.set(xlabel="predicted class", ylabel="true class",
             title=f"{title}\n{np.trace(confusion)} / {total} correct ({100 * accuracy:.2f} %)")
    figure.tight_layout()
    return save_figure(figure, path)


def most_confident_mistakes(probabilities, y, count):
    """Indices of the wrongly classified rows, most confident first (at most ``count``)."""
    predicted = probabilities.argmax(axis=1)
    wrong = np.flatnonzero(predicted != y)
    confidence = probabilities[wrong, predicted[wrong]]
    return wrong[np.argsort(-confidence, kind="stable")][:count]


def plot_mistakes(x, y, probabilities, path, class_names=None, count=24, columns=8):
    """A grid of the test digits the network got wrong with the highest confidence, each titled with its index in
    ``x`` (``#1234``: ``nnscratch predict MODEL --index 1234`` shows it again), the prediction (and its
    probability) and the truth."""
    probabilities = np.asarray(probabilities)
    y = np.asarray(y)
    chosen = most_confident_mistakes(probabilities, y, count)
    names = [str(name) for name in (class_names if class_names is not None else range(probabilities.shape[1]))]
    rows = max(1, math.ceil(len(chosen) / columns))
    figure = Figure(figsize=(1.45 * columns, 1.75 * rows + 0.6))
    axes_grid = np.atleast_1d(figure.subplots(rows, columns)).reshape(-1)
    for axes in axes_grid:
        axes.axis("off")
    for axes, index in zip(axes_grid, chosen, strict=False):
        predicted = int(probabilities[index].argmax())
        axes.imshow(as_square(x[index]), cmap="gray_r", vmin=0, vmax=1)
        axes.set_title(f"#{index}: said {names[predicted]} ({100 * probabilities[index, predicted]:.0f}%)\n"
                       f"truth {names[int(y[index])]}", fontsize=8)
    wrong = int(np.count_nonzero(probabilities.argmax(axis=1) != y))
    heading = (f"The {len(chosen)} most confidently wrong of {wrong} mistakes in {len(y)} digits (#: index)"
               if wrong else f"No mistakes in {len(y)} digits")
    figure.suptitle(heading, fontsize=10)
    figure.tight_layout()
    return save_figure(figure, path)


def as_square(image):
    """A flat N² image, or (1, N, N), as N × N."""
    image = np.asarray(image)
    if image.ndim == 2:
        return image
    side = math.isqrt(image.size)
    if side * side != image.size:
        raise PlotError(f"cannot show an image of {image.size} values as a square")
    return image.reshape(side, side)


def plot_weights(model, path, count=64, columns=8):
    """What each first-layer neuron looks for: its incoming weights as an image (``pictures.weight_images``; red
    positive, blue negative, each neuron on its own symmetric scale), or the first convolution's kernels."""
    layer = first_weighted_layer(model)
    if layer is None:
        raise PlotError("the model has no Linear or Conv2D layer whose weights could be shown")
    images = weight_images(layer.params["W"])
    if isinstance(layer, Conv2D):
        height, width = layer.kernel_size
        noun, total = "kernel", len(images)
        title = f"First-layer kernels ({min(count, total)} of {total}, {height}×{width}; {COLOUR_KEY})"
    else:
        if images.shape[1] == 1:
            raise PlotError(f"the first layer takes {layer.in_features} inputs, which is not a square image")
        noun, total = "neuron", layer.out_features
        title = f"First-layer weights ({min(count, total)} of {total} neurons; {COLOUR_KEY})"
    return plot_weight_images(images[:count], path, title, noun, columns)


def plot_weight_images(weights, path, title, noun, columns=8):
    """Each 2-D array of ``weights`` in its own panel, on its own symmetric red-blue scale, with the colour key."""
    columns = min(columns, len(weights))
    rows = math.ceil(len(weights) / columns)
    figure = Figure(figsize=(1.25 * columns + 0.8, 1.35 * rows + 0.5))
    axes_grid = np.atleast_1d(figure.subplots(rows, columns)).reshape(-1)
    for axes in axes_grid:
        axes.axis("off")
    for index, (axes, image) in enumerate(zip(axes_grid, weights, strict=False)):
        limit = float(np.abs(image).max()) or 1.0
        shown = axes.imshow(image, cmap=DIVERGING, vmin=-limit, vmax=limit)
        axes.set_title(f"{noun} {index}", fontsize=7)
    key = figure.colorbar(shown, ax=list(axes_grid), fraction=0.03, pad=0.02, ticks=[-limit, 0, limit])
    key.ax.set_yticklabels(["−max|w|", "0", "+max|w|"], fontsize=7)
    key.set_label("each picture's own scale", fontsize=7)
    figure.suptitle(title, fontsize=10)
    return save_figure(figure, path)


def check_writable_folder(directory, flag):
    """Make sure files can be written in ``directory`` (creating it if needed), or raise ValueError with one line
    naming ``flag``, the folder and the reason: checked before long work whose results would go there."""
    directory = os.fspath(directory)
    if os.path.exists(directory) and not os.path.isdir(directory):
        raise PlotError(f"{flag} {directory}: is a file, not a folder")
    try:
        os.makedirs(directory, exist_ok=True)
        with tempfile.TemporaryFile(dir=directory):
            pass
    except OSError as error:
        raise PlotError(f"{flag} {directory}: cannot write there ({error.strerror or error})") from None


def save_evaluation_plots(directory, x, y, probabilities, confusion, class_names=None):
    """The pictures of ``nnscratch evaluate --plots``: confusion.png and mistakes.png in ``directory``."""
    os.makedirs(directory, exist_ok=True)
    return [plot_confusion(confusion, os.path.join(directory, "confusion.png"), class_names),
            plot_mistakes(x, y, probabilities, os.path.join(directory, "mistakes.png"), class_names)]
