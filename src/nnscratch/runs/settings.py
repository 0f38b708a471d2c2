"""The checked settings of a training run: the table's defaults, then a preset's, then the caller's.

Every setting, with its kind, default, help and rule, is one row of the table in ``runs.table``; this module adds
what no single row can say: a preset's values (``resolve``), the rules between settings (an mlp's layer sizes,
patience that needs a validation set, label smoothing that only softmax cross-entropy has), and a saved model's
settings read back (``saved_settings``). A wrong value raises ``SettingsError``, which names the setting; the
command line shows it as its flag (``--batch-size``), the page and sweeps by its name (``batch_size``).
"""
from ..presets import get_preset
from . import table
from .table import DEFAULTS, SETTINGS, SettingsError, flag

__all__ = ["DEFAULTS", "NETWORK_SETTINGS", "SETTINGS", "SettingsError", "check", "flag", "read_each", "resolve",
           "saved_settings"]

# What a resumed run keeps from its file: the network and the data it was trained on.
NETWORK_SETTINGS = ("architecture", "layers", "hidden", "batch_norm", "activation", "output", "dropout", "dataset")


def resolve(given=None, preset=None):
    """The checked settings of a run: ``DEFAULTS``, then the named preset's, then ``given``. Unknown names and
    bad values raise ``SettingsError``."""
    given = dict(given or {})
    unknown = sorted(set(given) - set(table.SETTINGS) - {"preset"})
    if unknown:
        raise SettingsError(f"unknown setting{'s' if len(unknown) > 1 else ''} {', '.join(unknown)}; known: "
                            f"{', '.join(table.SETTINGS)}", unknown[0])
    preset = given.pop("preset", None) or preset
    try:
        preset_settings = get_preset(preset).settings if preset else {}
    except ValueError as error:
        raise SettingsError(str(error), "preset") from None
    settings = check({**DEFAULTS, **preset_settings, **given})
    settings["preset"] = preset
    return settings


def read_each(settings):
    """Each setting read by its row of the table (text becomes numbers, every range checked), names left out
    taking their default; an mlp's ``layers`` default to ``DEFAULTS``', a cnn's are None (its sizes are fixed but
    for ``hidden``). Keys that are not settings pass through. Returns a new dict."""
    settings = {**DEFAULTS, **settings}
    if table.SETTINGS["architecture"].read(settings["architecture"]) != "mlp":
        if settings["layers"] not in (None, DEFAULTS["layers"]):
            raise SettingsError("{layers} sets the sizes of an mlp; the cnn's are fixed but for {hidden}", "layers")
        settings["layers"] = None
    elif settings["layers"] is None:
        settings["layers"] = DEFAULTS["layers"]
    for name, setting in table.SETTINGS.items():
        if not (name == "layers" and settings[name] is None):
            settings[name] = setting.read(settings[name])
    return settings


def check(settings):
    """``read_each``, then the rules between settings; returns a new dict."""
    settings = read_each(settings)
    if settings["patience"] is not None and not settings["validation_size"]:
        raise SettingsError("{patience} needs a validation set: {validation_size} must be > 0", "patience")
    if settings["label_smoothing"] and settings["loss"] != "softmax_cross_entropy":
        raise SettingsError(f"{{label_smoothing}} applies to softmax_cross_entropy, not {settings['loss']}",
                            "label_smoothing")
    return settings


def saved_settings(recorded, **overrides):
    """The settings of a saved model's training run, read back through the table: ``DEFAULTS``, then what the
    model file ``recorded`` (names this version does not know are left out), then ``overrides``. Each is read by
    its row; the rules between settings were the training run's, and are not checked again."""
    known = {name: value for name, value in (recorded or {}).items() if name in table.SETTINGS}
    return read_each({**known, **overrides})
