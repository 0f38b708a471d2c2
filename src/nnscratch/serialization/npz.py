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
import zipfile

import numpy as np

from .. import __version__
from ..errors import NNScratchError
from ..layers.base import LAYERS, Layer
from ..network import Sequential
from .files import atomic_write

FORMAT_VERSION = 1
PARAM_PREFIX = "param."
OPTIMIZER_PREFIX = "optimizer."
HEADER_KEYS = ("format_version", "architecture", "metadata")
FLOAT_DTYPES = ("float16", "float32", "float64")


class ModelFileError(NNScratchError, ValueError):
    """A model file that cannot be read or does not describe a valid model; the message says what is wrong."""


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

    Everything is checked: the format version, that every layer type is known (``LAYERS``, plus
    ``custom_layers``, a dict of name to class or a list of classes), that the arrays are exactly the model's,
    with the right shapes and dtypes, and finite. Any problem raises ``ModelFileError`` with a one-line message.
    The optimizer state is an empty dict if there is none.
    """
    arrays = read_arrays(path)
    for key in HEADER_KEYS:
        if key not in arrays:
            raise ModelFileError(f"{path}: not an nnscratch model file (no {key!r} entry)")
    version = check_version(path, arrays["format_version"])
    architecture = from_json(path, arrays["architecture"], "architecture")
    metadata = from_json(path, arrays["metadata"], "metadata")
    if not isinstance(architecture, dict) or not isinstance(metadata, dict):
        raise ModelFileError(f"{path}: the architecture and metadata must be JSON objects")
    dtype = architecture.get("dtype", "float32")
    if dtype not in FLOAT_DTYPES:
        raise ModelFileError(f"{path}: unsupported parameter dtype {dtype!r}; "
                             f"expected one of {', '.join(FLOAT_DTYPES)}")
    try:
        model = model_from_config(architecture, custom_layers, initialize=False)
    except ModelFileError as error:
        raise ModelFileError(f"{path}: {error}") from None
    model.astype(np.dtype(dtype))
    state = {key[len(PARAM_PREFIX):]: value for key, value in arrays.items() if key.startswith(PARAM_PREFIX)}
    check_state(path, model, state, np.dtype(dtype))
    model.load_state_dict(state)
    optimizer_state = {key[len(OPTIMIZER_PREFIX):]: value
                       for key, value in arrays.items() if key.startswith(OPTIMIZER_PREFIX)}
    unknown = sorted(key for key in arrays
                     if key not in HEADER_KEYS and not key.startswith((PARAM_PREFIX, OPTIMIZER_PREFIX)))
    if unknown:
        raise ModelFileError(f"{path}: unexpected entries {', '.join(unknown)} (format version {version})")
    return model, metadata, optimizer_state


def model_from_config(config, custom_layers=None, initialize=True):
    """Build a layer from ``{"type": name, "config": {...}}``; a ``Sequential`` rebuilds its layers in turn.

    Classes come from the ``LAYERS`` registry plus ``custom_layers``; an unknown name is an error that lists
    the known ones. The parameters are freshly initialized, or zeros with ``initialize=False`` (cheaper, for a
    state dict that will overwrite them).
    """
    registry = layer_registry(custom_layers)
    if not isinstance(config, dict) or not isinstance(config.get("type"), str):
        raise ModelFileError(f"a layer description must be {{'type': name, 'config': {{...}}}}, got {config!r:.80}")
    name = config["type"]
    if name not in registry:
        raise ModelFileError(f"unknown layer type {name!r}; known: {', '.join(sorted(registry))} "
                             f"(register custom layers with @register_layer or pass custom_layers)")
    cls = registry[name]
    arguments = config.get("config", {})
    if not isinstance(arguments, dict):
        raise ModelFileError(f"the config of layer {name!r} must be a JSON object, got {arguments!r:.80}")
    if issubclass(cls, Sequential):
        children = arguments.get("layers")
        if not isinstance(children, list) or not children:
            raise ModelFileError(f"{name} needs a list of layers in its config, and at least one layer")
        return cls.from_layers([model_from_config(child, registry, initialize) for child in children])
    initializers = {} if initialize else {key: arguments[key] for key in ("init", "bias_init") if key in arguments}
    try:
        layer = cls(**{**arguments, **{key: "zeros" for key in initializers}})
    except (TypeError, ValueError) as error:
        raise ModelFileError(f"cannot build layer {name} from {arguments}: {error}") from None
    except MemoryError:
        raise ModelFileError(f"layer {name} with {arguments} is too large to build") from None
    for key, value in initializers.items():  # built with zeros, but it keeps the name of its initializer
        setattr(layer, key, value)
    return layer


def layer_registry(custom_layers=None):
    """``LAYERS`` extended with custom layer classes (a dict of name to class, or a list of classes)."""
    registry = dict(LAYERS)
    if isinstance(custom_layers, dict):
        registry.update(custom_layers)
    elif custom_layers is not None:
        registry.update({cls.__name__: cls for cls in custom_layers})
    for name, cls in registry.items():
        if not (isinstance(cls, type) and issubclass(cls, Layer)):
            raise TypeError(f"custom layer {name!r} is not a Layer subclass: {cls!r}")
    return registry


def read_arrays(path):
    """Every array of an ``.npz`` file as a dict, without ever unpickling; failures become ``ModelFileError``."""
    if not os.path.exists(path):
        raise ModelFileError(f"{path}: no such model file")
    if os.path.isdir(path):
        raise ModelFileError(f"{path}: is a folder, not a model file")
    with open(path, "rb") as file:
        if file.read(4) != b"PK\x03\x04":
            raise ModelFileError(f"{path}: not an nnscratch model file (expected a .npz archive)")
    try:
        with np.load(path, allow_pickle=False) as archive:
            return {key: archive[key] for key in archive.files}
    except ValueError as error:
        if "pickle" in str(error).lower():
            raise ModelFileError(f"{path}: holds pickled objects, which are never loaded") from None
        raise ModelFileError(f"{path}: not a valid model file ({error})") from None
    except (OSError, EOFError, zipfile.BadZipFile, KeyError) as error:
        raise ModelFileError(f"{path}: not a valid model file, or truncated ({error})") from None


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


def check_state(path, model, state, dtype):
    """Names, shapes, dtypes and finiteness of the stored arrays against the rebuilt model's own."""
    expected = model.state_dict()
    missing = sorted(set(expected) - set(state))
    extra = sorted(set(state) - set(expected))
    if missing or extra:
        parts = [f"missing arrays {', '.join(missing)}" if missing else "",
                 f"unexpected arrays {', '.join(extra)}" if extra else ""]
        raise ModelFileError(f"{path}: the weights do not match the architecture: "
                             + "; ".join(part for part in parts if part))
    for name, array in state.items():
        if array.shape != expected[name].shape:
            raise ModelFileError(f"{path}: array {name!r} has shape {array.shape}, the architecture needs "
                                 f"{expected[name].shape}")
        if array.dtype != dtype:
            raise ModelFileError(f"{path}: array {name!r} has dtype {array.dtype}, expected {dtype}")
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


def from_json(path, value, what):
    if value.shape != () or value.dtype.kind != "U":
        raise ModelFileError(f"{path}: the {what} entry must be a JSON string")
    try:
        return json.loads(str(value))
    except json.JSONDecodeError as error:
        raise ModelFileError(f"{path}: the {what} is not valid JSON ({error})") from None


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
