"""Model files: one ``.npz`` holding the weights, the architecture as JSON, a format version and what made it.

A model file is a NumPy archive read with ``allow_pickle=False``, so loading one never runs code. Besides the
weights (``param.<dotted name>``) it holds ``format_version``, ``architecture`` (the JSON of ``config()``, which
rebuilds the layers through the ``LAYERS`` registry), ``metadata`` (JSON: dataset, preprocessing, seed, accuracy,
date, nnscratch version...) and, for resuming a run, the optimizer's state (``optimizer.<key>``). Files are
written to a temporary file in the same folder and then renamed, so a crash never leaves half a model behind.
"""
import datetime
import json
import math
import os

import numpy as np

from .. import __version__
from ..files import MAX_JSON_BYTES, atomic_write, parse_json
from ..layers.base import Layer
from .architecture import ModelFileError, declared_shapes, layer_registry, model_from_config
from .archive import NpzArchive

FORMAT_VERSION = 1
PARAM_PREFIX = "param."
OPTIMIZER_PREFIX = "optimizer."
HEADER_KEYS = ("format_version", "architecture", "metadata")
FLOAT_DTYPES = ("float16", "float32", "float64")


def save_model(path, model, metadata=None, optimizer_state=None):
    """Write ``model`` (a ``Layer``, usually a ``Sequential``) to the ``.npz`` file ``path``, atomically.

    Parameters
    ----------
    path : where to write; the folder is created if needed. An existing file is replaced only once the new one
        is complete.
    model : the network; its layer classes must be registered (``@register_layer``) to be loadable.
    metadata : a JSON-serialisable dict (dataset, preprocessing, seed, test_accuracy, preset, ...); ``created``
        and ``nnscratch_version`` are added when missing.
    optimizer_state : ``optimizer.state_dict()``, kept so that training can be resumed.
    """
    if not isinstance(model, Layer):
        raise TypeError(f"save_model expects a Layer, got {type(model).__name__}")
    state = model.state_dict()
    dtypes = sorted({str(array.dtype) for array in state.values()}) or ["float32"]
    if len(dtypes) != 1:
        raise ValueError(f"save_model expects one dtype for all parameters, got {', '.join(dtypes)}")
    architecture = {"type": type(model).__name__, "config": model.config(), "dtype": dtypes[0]}
    metadata = {"created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
                "nnscratch_version": __version__, **(metadata or {})}
    arrays = {f"{PARAM_PREFIX}{name}": array for name, array in state.items()}
    arrays.update({f"{OPTIMIZER_PREFIX}{name}": np.asarray(array)
                   for name, array in (optimizer_state or {}).items()})
    arrays["format_version"] = np.array(FORMAT_VERSION, dtype=np.int64)
    arrays["architecture"] = np.array(to_json(architecture, "the architecture"))
    arrays["metadata"] = np.array(to_json(metadata, "the metadata"))
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with atomic_write(path) as file:
        np.savez(file, **arrays)
    return path


def load_checkpoint(path, custom_layers=None):
    """Read a model file written by ``save_model`` and return ``(model, metadata, optimizer_state)``.

    Everything is checked: the archive's sizes against its headers (``NpzArchive``), the format version, that
    every layer type is known (``LAYERS``, plus ``custom_layers``, a dict of name to class or a list of classes),
    that the arrays are exactly the model's, with the right shapes and dtypes (from their headers, before the
    network is built), and finite. Any problem raises ``ModelFileError`` with a one-line message. The optimizer
    state is an empty dict if there is none.
    """
    path = os.fspath(path)
    if not os.path.exists(path):
        raise ModelFileError(f"{path}: no such model file")
    if os.path.isdir(path):
        raise ModelFileError(f"{path}: is a folder, not a model file")
    with open(path, "rb") as file:
        if file.read(4) != b"PK\x03\x04":
            raise ModelFileError(f"{path}: not an nnscratch model file (expected a .npz archive)")
    with NpzArchive(path, ModelFileError, "model file") as archive:
        return read_checkpoint(path, archive, layer_registry(custom_layers))


def read_checkpoint(path, archive, registry):
    """``load_checkpoint`` on an opened archive: the headers first, the network built only once the arrays it
    needs are known to be there, then the arrays read one at a time straight into it."""
    headers = archive.headers
    for key in HEADER_KEYS:
        if key not in headers:
            raise ModelFileError(f"{path}: not an nnscratch model file (no {key!r} entry)")
    version = check_version(path, archive.read("format_version"))
    architecture, metadata = from_json(path, archive, "architecture"), from_json(path, archive, "metadata")
    if not isinstance(architecture, dict) or not isinstance(metadata, dict):
        raise ModelFileError(f"{path}: the architecture and metadata must be JSON objects")
    dtype = architecture.get("dtype", "float32")
    if dtype not in FLOAT_DTYPES:
        raise ModelFileError(f"{path}: unsupported parameter dtype {dtype!r:.40}; "
                             f"expected one of {', '.join(FLOAT_DTYPES)}")
    stored = {key[len(PARAM_PREFIX):]: (header.shape, header.dtype)
              for key, header in headers.items() if key.startswith(PARAM_PREFIX)}
    check_state(path, naming(path, declared_shapes, architecture, registry), stored, np.dtype(dtype))
    model = naming(path, model_from_config, architecture, registry, initialize=False)
    model.astype(np.dtype(dtype))
    check_state(path, shapes_of(model), stored, np.dtype(dtype))
    for name in stored:  # one array at a time, straight into the model's own
        array = archive.read(PARAM_PREFIX + name)
        check_finite(path, name, array)
        model.load_state_dict({name: array}, strict=False)
    optimizer_state = {key[len(OPTIMIZER_PREFIX):]: archive.read(key)
                       for key in headers if key.startswith(OPTIMIZER_PREFIX)}
    unknown = sorted(key for key in headers
                     if key not in HEADER_KEYS and not key.startswith((PARAM_PREFIX, OPTIMIZER_PREFIX)))
    if unknown or archive.others:
        raise ModelFileError(f"{path}: unexpected entries {', '.join(unknown + archive.others)} "
                             f"(format version {version})")
    return model, metadata, optimizer_state


def naming(path, build, *arguments, **keywords):
    """``build(*arguments, **keywords)``, with the file's name put before the message of its ModelFileError."""
    try:
        return build(*arguments, **keywords)
    except ModelFileError as error:
        raise ModelFileError(f"{path}: {error}") from None


def check_version(path, value):
    if value.shape != () or value.dtype.kind not in "iu":
        raise ModelFileError(f"{path}: format_version must be an integer, got {value!r:.60}")
    version = int(value)
    if version > FORMAT_VERSION:
        raise ModelFileError(f"{path}: written in model format {version} by a newer nnscratch; this version "
                             f"({__version__}) reads format {FORMAT_VERSION} and older; upgrade nnscratch")
    if version < 1:
        raise ModelFileError(f"{path}: invalid format version {version}")
    return version


def shapes_of(model):
    """The shape of each of ``model``'s parameters and buffers, by dotted name (nothing is copied)."""
    return {name: array.shape for name, array in {**model.parameters(), **model.named_buffers()}.items()}


def check_state(path, expected, stored, dtype):
    """Names, shapes and dtypes of the stored arrays, ``{name: (shape, dtype)}``, against the ``expected``
    shapes, ``{name: shape}``, of the architecture's own."""
    missing = sorted(set(expected) - set(stored))
    extra = sorted(set(stored) - set(expected))
    if missing or extra:
        parts = [f"missing arrays {', '.join(missing)}" if missing else "",
                 f"unexpected arrays {', '.join(extra)}" if extra else ""]
        raise ModelFileError(f"{path}: the weights do not match the architecture: "
                             + "; ".join(part for part in parts if part))
    for name, (shape, stored_dtype) in stored.items():
        if tuple(shape) != tuple(expected[name]):
            raise ModelFileError(f"{path}: array {name!r} has shape {tuple(shape)}, the architecture needs "
                                 f"{tuple(expected[name])!s:.200}")
        if stored_dtype != dtype:
            raise ModelFileError(f"{path}: array {name!r} has dtype {stored_dtype}, expected {dtype}")


def check_finite(path, name, array):
    if not np.isfinite(array).all():
        raise ModelFileError(f"{path}: array {name!r} contains NaN or infinite values")


def to_json(value, what):
    try:
        return json.dumps(clean_for_json(value), allow_nan=False, default=json_default)
    except (TypeError, ValueError) as error:
        raise ValueError(f"cannot save {what} as JSON: {error}") from None


def json_default(value):
    """NumPy scalars and arrays as plain JSON numbers and lists."""
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def from_json(path, archive, key):
    """The JSON entry ``key`` of a model file (a 0-d string array), parsed within ``parse_json``'s limits."""
    header = archive.headers[key]
    if header.shape != () or header.dtype.kind != "U":
        raise ModelFileError(f"{path}: the {key} entry must be a JSON string")
    if header.dtype.itemsize // 4 > MAX_JSON_BYTES:
        raise ModelFileError(f"{path}: the {key} entry holds {header.dtype.itemsize // 4:,} characters, more than "
                             f"the {MAX_JSON_BYTES:,} nnscratch reads")
    return parse_json(str(archive.read(key)), ModelFileError, f"{path}: the {key}")


def write_json(path, value):
    """Write ``value`` as indented JSON to ``path``, atomically (NaN becomes null)."""
    text = json.dumps(clean_for_json(value), indent=2, default=json_default) + "\n"
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with atomic_write(path) as file:
        file.write(text.encode("utf-8"))
    return path


def clean_for_json(value):
    """NaN and infinities (which JSON lacks) as None, recursively; NumPy scalars as Python numbers."""
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {key: clean_for_json(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [clean_for_json(item) for item in value]
    return value
