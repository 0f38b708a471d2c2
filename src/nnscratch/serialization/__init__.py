"""Models and runs on disk: ``.npz`` model files (``npz``), readable JSON exports (``json_export``), the model
files of older from-scratch projects (``older_projects``), and atomic writes (``files``).

Nothing here unpickles: ``.npz`` files are read with ``allow_pickle=False`` and JSON with the standard parser.
"""
from .ensemble import Ensemble, load_models
from .files import WriteError, atomic_write, read_json_object
from .json_export import export_json, import_json
from .models import input_shape_of, load_model
from .npz import FORMAT_VERSION, ModelFileError, load_checkpoint, model_from_config, save_model, write_json

__all__ = ["Ensemble", "FORMAT_VERSION", "ModelFileError", "WriteError", "atomic_write", "export_json",
           "import_json", "input_shape_of", "load_checkpoint", "load_model", "load_models", "model_from_config", "read_json_object",
           "save_model", "write_json"]
