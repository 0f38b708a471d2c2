"""Training runs from settings: checked settings (``settings``), the data in its splits (``data``), and the run
itself, from building the network to the saved model and history (``run``). The ``train`` command, the page's
Train view and sweeps all go through ``Run``."""
from .data import TrainingData, check_fits, load_data
from .run import Run, check_destination, random_streams
from .settings import DEFAULTS, SettingsError, flag, resolve
from .signals import Stopped, interrupts_deferred, signals_stop_training
from .table import SETTINGS

__all__ = ["DEFAULTS", "SETTINGS", "Run", "SettingsError", "TrainingData", "check_destination", "check_fits",
           "Stopped", "flag", "interrupts_deferred", "load_data", "random_streams", "resolve", "signals_stop_training"]
