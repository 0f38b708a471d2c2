"""Named training recipes (``recipes``), from the classic from-scratch networks to our best convolutional
network, and those that go wrong on purpose (``broken``): data only. The settings every run starts from are the
table in ``runs.table``; the functions that turn settings into a model, a loss, an optimizer and an augmentation
are in ``runs.build``."""
from .recipes import PRESETS, Preset, get_preset

__all__ = ["PRESETS", "Preset", "get_preset"]
