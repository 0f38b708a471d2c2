"""A training run, from settings to a saved model: the one path that the ``train`` command, the page and sweeps
all take.

``Run.start(settings, out)`` checks the settings and the destination before anything slow, loads the data and
builds the network; ``run.train(callbacks)`` fits it, keeping the best epoch's weights (``EarlyStopping`` on the
``monitor`` setting) and what a resumed run needs (``ResumePoint``); with ``weight_average``, each epoch is
measured and judged by the moving average of the weights, and the best epoch's average is kept; ``run.save()``
writes the model and its history atomically, shielded from a second Ctrl-C, and never replaces an existing file
with a model at chance accuracy; ``run.evaluate()`` measures every split and records the results in both files.
Initialisation, shuffling and dropout draw from three independent streams spawned from the one seed.
"""
import math
import os
import signal
import threading
import time
from contextlib import contextmanager

import numpy as np

from ..averaging import SeenAveraged, WeightAverage
from ..callbacks import EarlyStopping, MeasureEachEpoch
from ..presets import CNN_CLASSES, DEFAULTS, is_cnn, build_loss, build_model, build_optimizer, build_transform, input_shape
from ..serialization import load_checkpoint, save_model, write_json
from ..training import History, check_data, evaluate, fit, measure
from .checkpoint import ResumePoint, dropout_layers, split_resume_state
from .data import check_fits, load_data, preprocessing
from .settings import NETWORK_SETTINGS, SettingsError, check

MODEL_EXTENSION = ".npz"


class Run:
    """A network, its data, loss and optimizer, and the history of its training so far."""

    def __init__(self, settings, out, data, model, history=None, optimizer_state=None, best_state=None,
                 streams=None, average_state=None):
        self.settings, self.out, self.data, self.model = settings, out, data, model
        self.history = history if history is not None else History()
        self.loss, self.optimizer = build_loss(settings), build_optimizer(settings, model)
        if optimizer_state:
            self.optimizer.load_state_dict(optimizer_state)
        self.shuffle_rng = streams["shuffle"] if streams else random_streams(settings["seed"])["shuffle"]
        self.early_stopping = EarlyStopping(settings["monitor"], settings["patience"], best_state=best_state)
        self.average = weight_average(settings, average_state)
        self.resume_point = ResumePoint(model, self.optimizer, self.shuffle_rng, self.average)
        self.results, self.started, self.saved_paths = {}, time.perf_counter(), None

    @classmethod
    def start(cls, settings, out, data=None):
        """A new run of the checked ``settings`` (see ``settings.resolve``), saving to ``out``."""
        check_destination(out)
        data = data or load_data(settings)
        check_model_fits_data(settings, data)
        streams = random_streams(settings["seed"])
        model = build_model(settings, streams["init"])
        for layer in dropout_layers(model):
            layer.rng = streams["dropout"]
        return cls(settings, out, data, model, streams=streams)

    @classmethod
    def resume(cls, path, given, out=None):
        """The run saved in ``path``, to go on exactly where it stopped, with ``given`` settings changed (not the
        network or the data)."""
        if os.fspath(path).lower().endswith(".json"):
            raise SettingsError(f"{path} is a JSON export, which holds no optimizer state or training run to "
                                f"resume; resume from the .npz file that nnscratch train wrote", "resume")
        out = out or path
        check_destination(out)
        model, metadata, saved = load_checkpoint(path)
        optimizer_state, last_state, average_state = split_resume_state(saved)
        training = metadata.get("training")
        if not isinstance(training, dict) or "settings" not in training or "history" not in training:
            raise SettingsError(f"{path} holds no training run to resume (it was not saved by nnscratch train)",
                                "resume")
        fixed = sorted(set(given) & set(NETWORK_SETTINGS))
        if fixed:
            raise SettingsError(f"{{resume}} keeps the saved network and data; cannot change " + ", ".join(f"{{{name}}}" for name in fixed),
                                fixed[0])
        saved_settings = {key: value for key, value in training["settings"].items() if key != "preset"}
        settings = {**check({**DEFAULTS, **saved_settings, **given}),
                    "preset": training["settings"].get("preset")}
        history = History.from_dict(training["history"])
        history.interrupted = history.stopped_early = False  # this run starts afresh from the saved epochs
        if len(history) >= settings["epochs"]:
            raise SettingsError(f"{path} has already trained for {len(history)} epochs; pass {{epochs}} with a larger "
                                f"total to train further", "epochs")
        streams = random_streams(settings["seed"])
        restore_generator(streams["shuffle"], training.get("rng_state"))
        restore_generator(streams["dropout"], training.get("dropout_rng_state"))
        for layer in dropout_layers(model):
            layer.rng = streams["dropout"]
        best_state = model.state_dict()  # the file's weights are the best epoch's
        if last_state:  # training goes on from the last epoch's
            try:
                model.load_state_dict(last_state)
            except (KeyError, ValueError) as error:
                raise SettingsError(f"{path}: the saved last-epoch weights do not fit the model "
                                    f"({error.args[0] if error.args else error})", "resume") from None
        data = load_data(settings)
        check_model_fits_data(settings, data)
        return cls(settings, out, data, model, history, optimizer_state, best_state, streams, average_state)

    @property
    def epochs_left(self):
        return self.settings["epochs"] - len(self.history)

    @property
    def batch_size(self):
        size = self.settings["batch_size"]
        return len(self.data.train[0]) if size == "full" else size

    def train(self, callbacks=()):
        """Fit for the epochs left, telling ``callbacks`` as it goes; returns the history. The best epoch's
        weights (with ``weight_average``: the best epoch's average) are in the model afterwards."""
        measures = []
        if self.data.validation is not None:
            measures.append(MeasureEachEpoch("val", *check_data(self.model, *self.data.validation), measure))
        if self.settings["report_test_each_epoch"]:
            measures.append(MeasureEachEpoch("test", *check_data(self.model, *self.data.test), measure))
        judges = [self.early_stopping]
        if self.average is not None:  # measured and judged as it would be saved; trained from the own weights
            measures = [self.average, SeenAveraged(self.average, measures)]
            judges = [SeenAveraged(self.average, judges)]
        fit(self.model, *self.data.train, self.loss, self.optimizer, epochs=self.epochs_left,
            batch_size=self.batch_size, shuffle=self.settings["shuffle"],
            callbacks=[*measures, *callbacks, self.resume_point, *judges], rng=self.shuffle_rng,
            history=self.history, transform=build_transform(self.settings))
        return self.history

    @property
    def best_epoch(self):
        return self.early_stopping.best_epoch

    def at_chance(self):
        """Whether the best epoch's accuracy (validation, else training) is no better than guessing."""
        records = [record for record in self.history.epochs if record["epoch"] == self.best_epoch]
        if not records:
            return False
        accuracy = records[0].get("val_accuracy", records[0].get("accuracy"))
        return accuracy is not None and accuracy <= 1.5 / self.data.num_classes

    def save(self):
        """Write the model (best weights, optimizer and resume state) and the history beside it, atomically and
        safe from a second Ctrl-C. A run at chance accuracy never replaces an existing file: it is saved beside
        it as ``NAME.rejected.npz`` instead. Returns ``(model path, history path)``."""
        out = self.out
        if self.at_chance() and os.path.exists(out) and not self.saved_paths:
            out = out[:-len(MODEL_EXTENSION)] + ".rejected" + MODEL_EXTENSION
        elif self.saved_paths:
            out = self.saved_paths[0]
        history_path = out[:-len(MODEL_EXTENSION)] + ".history.json"
        point = self.resume_point
        accuracies = {f"{name}_accuracy": result.accuracy for name, result in self.results.items()}
        settings, data = self.settings, self.data
        metadata = {"dataset": data.name, "input_shape": list(data.input_shape), "class_names": data.class_names,
                    "preprocessing": preprocessing(data.input_shape), "seed": settings["seed"],
                    "preset": settings.get("preset"), **accuracies, "best_epoch": self.best_epoch,
                    "epochs_trained": len(self.history),
                    "training": {"settings": settings, "history": self.history.to_dict(),
                                 "rng_state": point.rng_state, "dropout_rng_state": point.dropout_rng_state}}
        with interrupts_deferred():
            save_model(out, self.model, metadata, optimizer_state=point.entries())
            write_json(history_path, {
                "model": out, "settings": settings, "history": self.history.to_dict(),
                "best_epoch": self.best_epoch,
                "results": {name: result._asdict() for name, result in self.results.items()},
                "timings": {"total_seconds": time.perf_counter() - self.started,
                            "epoch_seconds": self.history["seconds"]}})
            self.saved_paths = (out, history_path)
        return self.saved_paths

    @property
    def rejected(self):
        return bool(self.saved_paths) and self.saved_paths[0] != self.out

    def evaluate(self):
        """Loss and accuracy of the saved model on every split, recorded in the files already saved."""
        self.results = {name: evaluate(self.model, x, y, self.loss)
                        for name, (x, y) in self.data.splits() if x is not None}
        if self.saved_paths:
            self.save()
        return self.results


def weight_average(settings, saved=None):
    """The run's moving average of the weights (None when ``weight_average`` is 0), going on from ``saved``
    (its weights and number of updates) when a resumed run kept one. It is not put into the model at the end:
    ``EarlyStopping`` puts back the best epoch's average."""
    if not settings["weight_average"]:
        return None
    average = WeightAverage(settings["weight_average"], apply_at_end=False)
    if saved and saved[1]:
        average.load_state_dict(*saved)
    return average


def random_streams(seed):
    """Independent generators for initialization, shuffling (and augmentation) and dropout, from one seed."""
    init, shuffle, dropout = np.random.SeedSequence(int(seed)).spawn(3)
    return {"init": np.random.default_rng(init), "shuffle": np.random.default_rng(shuffle),
            "dropout": np.random.default_rng(dropout)}


def restore_generator(rng, state):
    if state:
        rng.bit_generator.state = state


def check_model_fits_data(settings, data):
    if is_cnn(settings):
        check_fits(input_shape(settings), CNN_CLASSES, data, f"the {settings['architecture']}")
    else:
        layers = settings["layers"]
        check_fits(layers[0], layers[-1], data, f"{{layers}} {','.join(map(str, layers))}")


def check_destination(path):
    """Before any work: that a model can be written at ``path`` (a ``.npz`` name, not a folder, in a folder that
    exists or can be made and can be written to)."""
    path = os.fspath(path)
    if not path.lower().endswith(MODEL_EXTENSION):
        extension = os.path.splitext(path)[1] or "no extension"
        hint = (" (to get JSON, train to a .npz file, then run nnscratch export MODEL.npz MODEL.json)"
                if extension.lower() == ".json" else "")
        raise SettingsError(f"cannot write the model to {path}: a model file must end in .npz, not "
                            f"{extension}{hint}", "out")
    if os.path.isdir(path):
        raise SettingsError(f"cannot write the model to {path}: it is a folder", "out")
    folder = os.path.dirname(os.path.abspath(path))
    existing = folder
    while not os.path.exists(existing):
        existing = os.path.dirname(existing)
    if not os.path.isdir(existing):
        raise SettingsError(f"cannot write the model to {path}: {existing} is a file, not a folder", "out")
    try:
        os.makedirs(folder, exist_ok=True)
        probe = os.path.join(folder, f".nnscratch-write-test-{os.getpid()}")
        with open(probe, "wb"):
            pass
        os.unlink(probe)
    except OSError as error:
        raise SettingsError(f"cannot write the model to {path}: {error.strerror or error}", "out") from None
    if os.path.exists(path) and not os.access(path, os.W_OK):
        raise SettingsError(f"cannot write the model to {path}: the file is read-only", "out")


@contextmanager
def interrupts_deferred():
    """Ctrl-C during the block waits until the block has finished (a file half written is worse than a second
    of delay), then interrupts as usual. Only the main thread receives signals; elsewhere this does nothing."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    received = []
    previous = signal.signal(signal.SIGINT, lambda number, frame: received.append(number))
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
    if received:
        raise KeyboardInterrupt
