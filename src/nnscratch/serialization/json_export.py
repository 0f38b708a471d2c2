"""Models as readable JSON: the architecture, every weight as nested lists, the metadata and a format version.

Plain JSON, as in Nielsen's network and ibpme/NeuralNetworkFromScratch, can be read by any language and by eye.
Unlike theirs it says which format it is, which layers to build and the shape and dtype of each array, and
it is checked as strictly as a ``.npz`` model when read back. Floats are written with enough digits to come back
bit for bit, so a loaded export predicts exactly what the original did. ``load_model`` reads ``.json`` files
through ``import_json``.
"""

import numpy as np

from ..files import read_json_object
from .architecture import declared_shapes
from .npz import (
    FLOAT_DTYPES,
    FORMAT_VERSION,
    ModelFileError,
    check_finite,
    check_state,
    model_from_config,
    naming,
    shapes_of,
    write_json,
)

FORMAT_NAME = "nnscratch-model"


def export_json(path, model, metadata=None):
    """Write ``model`` with its ``metadata`` to the JSON file ``path``, atomically."""
    state = model.state_dict()
    dtypes = sorted({str(array.dtype) for array in state.values()}) or ["float32"]
    if len(dtypes) != 1:
        raise ValueError(f"export_json expects one dtype for all parameters, got {', '.join(dtypes)}")
    document = {
        "format": FORMAT_NAME,
        "format_version": FORMAT_VERSION,
        "architecture": {"type": type(model).__name__, "config": model.config(), "dtype": dtypes[0]},
        "metadata": dict(metadata or {}),
        "weights": {name: {"shape": list(array.shape), "values": array.tolist()} for name, array in state.items()},
    }
    return write_json(path, document)


def import_json(path, custom_layers=None):
    """Read a model written by ``export_json``; return ``(model, metadata)``. Problems raise ``ModelFileError``."""
    document = read_document(path)
    for key in ("format_version", "architecture", "weights"):
        if key not in document:
            raise ModelFileError(f"{path}: not an nnscratch JSON model (no {key!r} key)")
    version = document["format_version"]
    if not isinstance(version, int) or not 1 <= version <= FORMAT_VERSION:
        raise ModelFileError(f"{path}: unsupported format_version {version!r}; this nnscratch reads 1 to "
                             f"{FORMAT_VERSION}")
    architecture, weights = document["architecture"], document["weights"]
    metadata = document.get("metadata") or {}
    if not isinstance(architecture, dict) or not isinstance(weights, dict) or not isinstance(metadata, dict):
        raise ModelFileError(f"{path}: 'architecture', 'weights' and 'metadata' must be JSON objects")
    dtype = architecture.get("dtype", "float32")
    if dtype not in FLOAT_DTYPES:
        raise ModelFileError(f"{path}: unsupported dtype {dtype!r:.40}; expected one of {', '.join(FLOAT_DTYPES)}")
    dtype = np.dtype(dtype)
    expected = naming(path, declared_shapes, architecture, custom_layers)
    check_state(path, expected, {name: (declared_shape(path, name, entry), dtype) for name, entry in weights.items()},
                dtype)
    state = {name: to_array(path, name, entry, dtype) for name, entry in weights.items()}
    model = naming(path, model_from_config, architecture, custom_layers, initialize=False).astype(dtype)
    check_state(path, shapes_of(model), {name: (array.shape, array.dtype) for name, array in state.items()}, dtype)
    for name, array in state.items():
        check_finite(path, name, array)
    model.load_state_dict(state)
    return model, metadata


def read_document(path):
    """The JSON export in ``path``; a one-line ``ModelFileError`` for anything else."""
    document = read_json_object(path, ModelFileError)
    if document.get("format", FORMAT_NAME) != FORMAT_NAME:
        raise ModelFileError(f"{path}: format {document.get('format')!r} is not {FORMAT_NAME!r}")
    if "format" not in document and ("sizez" in document or "W1" in document):
        raise ModelFileError(f"{path}: this is a model of an older from-scratch project; convert it with "
                             f"'nnscratch import {path} OUT.npz'")
    return document


def declared_shape(path, name, entry):
    """The ``shape`` a weight entry ``{"shape": [...], "values": nested lists}`` says it has."""
    if not isinstance(entry, dict) or "values" not in entry or "shape" not in entry:
        raise ModelFileError(f"{path}: weight {name!r} must be an object with 'shape' and 'values'")
    shape = entry["shape"]
    if not isinstance(shape, list) or not all(isinstance(size, int) and size >= 0 for size in shape):
        raise ModelFileError(f"{path}: weight {name!r} has shape {shape!r:.80}, not a list of sizes")
    return tuple(shape)


def to_array(path, name, entry, dtype):
    """One weight entry as an array of the shape it says it has (its ``declared_shape``), checked."""
    try:
        array = np.array(entry["values"], dtype=np.float64)
    except (TypeError, ValueError, OverflowError):
        raise ModelFileError(f"{path}: weight {name!r} is not a regular array of numbers") from None
    if list(array.shape) != entry["shape"]:
        raise ModelFileError(f"{path}: weight {name!r} has shape {list(array.shape)} but says {entry['shape']}")
    return array.astype(dtype)
