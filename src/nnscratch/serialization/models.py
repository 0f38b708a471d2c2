"""Reading a model whatever its file: ``.npz`` (``npz.load_checkpoint``) or a JSON export (``json_export``)."""
import os

from .json_export import import_json
from .npz import load_checkpoint


def load_model(path, custom_layers=None):
    """``(model, metadata)`` from a model file: a ``.json`` path is read as a JSON export, anything else as the
    ``.npz`` files ``save_model`` writes. Every problem raises ``ModelFileError`` with a one-line message."""
    if os.fspath(path).lower().endswith(".json"):
        return import_json(path, custom_layers)
    model, metadata, _ = load_checkpoint(path, custom_layers)
    return model, metadata
