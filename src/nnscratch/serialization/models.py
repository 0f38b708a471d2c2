"""Reading a model whatever its file: ``.npz`` (``npz.load_checkpoint``), a JSON export (``json_export``), or an
ONNX model (``nnscratch.interop.onnx_import``, which needs the ``onnx`` extra)."""
import os

from ..layers import Linear
from .json_export import import_json
from .npz import ModelFileError, load_checkpoint


def load_model(path, custom_layers=None):
    """``(model, metadata)`` from a model file: a ``.json`` path is read as a JSON export, an ``.onnx`` path as an
    ONNX model, anything else as the ``.npz`` files ``save_model`` writes. Every problem raises an error with a
    one-line message (``ModelFileError``, or ``OnnxImportError`` for ONNX files)."""
    extension = os.path.splitext(os.fspath(path))[1].lower()
    if extension == ".json":
        return import_json(path, custom_layers)
    if extension == ".onnx":
        try:
            from ..interop.onnx_import import import_onnx
        except ImportError:
            raise ModelFileError(f"{path}: reading ONNX models needs the onnx package "
                                 f"(pip install 'nnscratch[onnx]')") from None
        return import_onnx(path)
    model, metadata, _ = load_checkpoint(path, custom_layers)
    return model, metadata


def input_shape_of(model, metadata):
    """The shape of one example as the model takes it: the metadata's ``input_shape`` (e.g. [1, 28, 28] or
    [784]) when it has a valid one, else the inputs of a first dense layer, else None (unknown)."""
    shape = metadata.get("input_shape")
    if isinstance(shape, list) and shape and all(isinstance(size, int) and size > 0 for size in shape):
        return tuple(shape)
    first = next((layer for layer in getattr(model, "members", [model])[0] if layer.params), None)
    return (first.in_features,) if isinstance(first, Linear) else None
