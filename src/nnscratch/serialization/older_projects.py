"""Readers for the model files of three older from-scratch MNIST projects, turning them into nnscratch models.

Those projects store column-vector networks: ``a' = f(W a + b)`` with W of shape (out, in) and b of (out, 1).
nnscratch works on rows, ``y = x W + b`` with W of shape (in, out), so each W is transposed and each b
flattened; the predictions are the same.

- ibpme/NeuralNetworkFromScratch (after Nielsen's network): JSON with ``num_layers``, ``sizez``, ``biases``,
  ``weights``; sigmoid after every layer. Its web page's copy (``docs/model.json``: ``(model = {...})``, a
  JavaScript assignment in parentheses) works too.
- Outdatedcandy92/NeuralNetwork: JSON with ``W1`` (h, 784), ``b1`` (h, 1), ``W2`` (10, h), ``b2`` (10, 1);
  ReLU, then softmax.
- ZimengXiong/NeuralNetworkFromScratch: headerless float64 files ``W1.dat`` (16×784), ``b1.dat`` (16×1),
  ``W2.dat`` (10×16), ``b2.dat`` (10×1) in the machine's byte order; ReLU, then softmax.
"""
import os

import numpy as np

from ..errors import NNScratchError
from ..files import read_json_object
from ..layers import Linear, ReLU, Sigmoid, Softmax
from ..network import Sequential

FORMATS = {
    "ibpme": "ibpme/NeuralNetworkFromScratch JSON (num_layers, sizez, biases, weights)",
    "outdatedcandy92": "Outdatedcandy92/NeuralNetwork JSON (W1, b1, W2, b2)",
    "zimengxiong": "ZimengXiong/NeuralNetworkFromScratch .dat files (W1, b1, W2, b2)",
}
REPOSITORIES = {"ibpme": "ibpme/NeuralNetworkFromScratch", "outdatedcandy92": "Outdatedcandy92/NeuralNetwork",
                "zimengxiong": "ZimengXiong/NeuralNetworkFromScratch"}
DAT_SHAPES = {"W1": (16, 784), "b1": (16, 1), "W2": (10, 16), "b2": (10, 1)}
PREPROCESSING = "pixel values / 255 as float32 in [0, 1], each image flattened row by row"


class OlderProjectModelError(NNScratchError, ValueError):
    """A file that is not a valid model of the named format; the message says what is wrong."""


def detect_format(path):
    """``"zimengxiong"`` for a folder or a .dat file, else the JSON's keys decide."""
    path = os.fspath(path)
    if os.path.isdir(path) or path.endswith(".dat"):
        return "zimengxiong"
    document = read_json(path)
    if "sizez" in document or "num_layers" in document:
        return "ibpme"
    if "W1" in document:
        return "outdatedcandy92"
    raise OlderProjectModelError(f"{path}: not a model file of a known format (expected keys num_layers/sizez/biases/"
                          f"weights or W1/b1/W2/b2, got {', '.join(sorted(document)) or 'none'})")


def read_older_project_model(path, kind="auto", dtype=np.float32):
    """Read a model of one of ``FORMATS`` (``kind="auto"`` detects it); return ``(model, metadata)``."""
    kind = detect_format(path) if kind == "auto" else kind
    readers = {"ibpme": read_ibpme, "outdatedcandy92": read_outdatedcandy92, "zimengxiong": read_zimengxiong}
    if kind not in readers:
        raise ValueError(f"unknown model format {kind!r}; expected one of auto, {', '.join(readers)}")
    model = readers[kind](path).astype(np.dtype(dtype))
    metadata = {"dataset": "mnist", "input_shape": [784], "class_names": [str(digit) for digit in range(10)],
                "preprocessing": PREPROCESSING, "imported_from": REPOSITORIES[kind],
                "source": os.path.abspath(os.fspath(path))}
    return model, metadata


def read_json(path):
    """A JSON object from ``path``, also when written as a JavaScript assignment (``name = {...};``, or
    ``(name = {...})`` as ibpme's web page ships it)."""
    return read_json_object(path, OlderProjectModelError, javascript=True)


def matrix(path, name, value, shape=None):
    """A nested list as a float64 array, with one clear line when it is ragged, not numeric or misshapen."""
    try:
        array = np.array(value, dtype=np.float64)
    except (TypeError, ValueError, OverflowError):
        raise OlderProjectModelError(f"{path}: {name} is not a regular array of numbers") from None
    if shape is not None and array.shape != tuple(shape):
        raise OlderProjectModelError(f"{path}: {name} has shape {array.shape}, expected {tuple(shape)}")
    if not np.isfinite(array).all():
        raise OlderProjectModelError(f"{path}: {name} contains NaN or infinite values")
    return array


def dense(weight, bias):
    """A ``Linear`` layer from a column-convention W (out, in) and b (out, 1): W is transposed, b flattened."""
    out_features, in_features = weight.shape
    layer = Linear(in_features, out_features, init="zeros", dtype=np.float64)
    layer.params["W"][...] = weight.T
    layer.params["b"][...] = bias.reshape(-1)
    return layer


def read_ibpme(path):
    """Sigmoid on every layer: ``a' = σ(W a + b)``."""
    document = read_json(path)
    missing = [key for key in ("sizez", "biases", "weights") if key not in document]
    if missing:
        raise OlderProjectModelError(f"{path}: missing key{'s' if len(missing) > 1 else ''} {', '.join(missing)} "
                              f"(expected num_layers, sizez, biases, weights)")
    sizes = document["sizez"]
    if not isinstance(sizes, list) or len(sizes) < 2 or not all(isinstance(size, int) and size > 0
                                                                for size in sizes):
        raise OlderProjectModelError(f"{path}: sizez must be a list of at least two positive sizes, got {sizes!r:.60}")
    if document.get("num_layers", len(sizes)) != len(sizes):
        raise OlderProjectModelError(f"{path}: num_layers is {document['num_layers']} but sizez has {len(sizes)} sizes")
    weights, biases = document["weights"], document["biases"]
    if not isinstance(weights, list) or not isinstance(biases, list) or \
            len(weights) != len(sizes) - 1 or len(biases) != len(sizes) - 1:
        raise OlderProjectModelError(f"{path}: expected {len(sizes) - 1} weight matrices and bias vectors for sizes "
                              f"{sizes}")
    layers = []
    for number, (fan_in, fan_out) in enumerate(zip(sizes[:-1], sizes[1:], strict=True)):
        weight = matrix(path, f"weights[{number}]", weights[number], (fan_out, fan_in))
        bias = matrix(path, f"biases[{number}]", biases[number], (fan_out, 1))
        layers += [dense(weight, bias), Sigmoid()]
    return Sequential(layers)


def read_outdatedcandy92(path):
    """``A1 = ReLU(W1 X + b1)``, ``A2 = softmax(W2 A1 + b2)``."""
    document = read_json(path)
    missing = [key for key in ("W1", "b1", "W2", "b2") if key not in document]
    if missing:
        raise OlderProjectModelError(f"{path}: missing key{'s' if len(missing) > 1 else ''} {', '.join(missing)} "
                              f"(expected W1, b1, W2, b2)")
    w1 = matrix(path, "W1", document["W1"])
    if w1.ndim != 2:
        raise OlderProjectModelError(f"{path}: W1 must be a matrix (hidden, inputs), got shape {w1.shape}")
    hidden, inputs = w1.shape
    b1 = matrix(path, "b1", document["b1"], (hidden, 1))
    w2 = matrix(path, "W2", document["W2"])
    if w2.ndim != 2 or w2.shape[1] != hidden:
        raise OlderProjectModelError(f"{path}: W2 has shape {w2.shape}, expected (outputs, {hidden})")
    b2 = matrix(path, "b2", document["b2"], (w2.shape[0], 1))
    return Sequential(dense(w1, b1), ReLU(), dense(w2, b2), Softmax())


def read_zimengxiong(path):
    """Fixed 784-16-10: ``A1 = ReLU(W1 A0 + b1)``, ``A2 = softmax(W2 A1 + b2)``, from raw float64 files."""
    folder = os.fspath(path)
    if not os.path.isdir(folder):
        folder = os.path.dirname(folder) or "."
    arrays = {}
    for name, shape in DAT_SHAPES.items():
        file_path = os.path.join(folder, f"{name}.dat")
        if not os.path.isfile(file_path):
            raise OlderProjectModelError(f"{folder}: missing {name}.dat (expected W1.dat, b1.dat, W2.dat, b2.dat)")
        expected = int(np.prod(shape)) * 8
        size = os.path.getsize(file_path)
        if size != expected:
            raise OlderProjectModelError(f"{file_path}: {size} bytes, expected {expected} (float64 of shape {shape})")
        arrays[name] = matrix(file_path, name, np.fromfile(file_path, dtype=np.float64).reshape(shape))
    return Sequential(dense(arrays["W1"], arrays["b1"]), ReLU(), dense(arrays["W2"], arrays["b2"]), Softmax())
