"""Models on disk: ``.npz`` model files (``npz``, read through the bounded ``archive`` and checked against the
shapes their ``architecture`` declares before anything is built), readable JSON exports (``json_export``), the
model files of older from-scratch projects (``older_projects``), and several models as one (``ensemble``).

Nothing here unpickles: ``.npz`` files are read with ``allow_pickle=False`` and JSON with the standard parser.
Atomic writes and the careful JSON reader live in ``nnscratch.files``, which every room may import.
"""
from .ensemble import Ensemble, load_models
from .json_export import export_json, import_json
from .models import input_shape_of, load_model
from .npz import FORMAT_VERSION, ModelFileError, load_checkpoint, model_from_config, save_model, write_json

__all__ = ["Ensemble", "FORMAT_VERSION", "ModelFileError", "export_json", "import_json", "input_shape_of",
           "load_checkpoint", "load_model", "load_models", "model_from_config", "save_model", "write_json"]
