"""A training run, from settings to a saved model: the one path that the ``train`` command, the page and sweeps
all take.

``Run.start(settings, out)`` checks the settings and the destination before anything slow, loads the data and
builds the network; ``run.train(callbacks)`` fits it, keeping the best epoch's weights (``EarlyStopping`` on the
``monitor`` setting) and what a resumed run needs (``ResumePoint``); with ``weight_average``, each epoch is
measured and judged by the moving average of the weights, and the best epoch's average is kept; with
``checkpoints``, every epoch but the last also writes ``NAME.checkpoint.npz``, which ``Run.resume`` continues.
Every run is watched by a ``Doctor`` (the caller's, when it passes one among the callbacks), whose diagnoses
go to the history. ``run.save()`` writes the model and its history atomically, shielded from a second Ctrl-C,
never replaces an existing file with a worse model (see ``guard``), and when the destination cannot be written
(a full disk) keeps the model in the system's temporary folder instead; ``run.evaluate()`` measures every split
and records the results in both files.
Initialisation, shuffling and dropout draw from three independent streams spawned from the one seed.
"""
import os
import tempfile
import time

import numpy as np

from ..averaging import SeenAveraged, WeightAverage
from ..callbacks import Callback, EarlyStopping, MeasureEachEpoch
from ..doctor import Doctor
from ..serialization import load_checkpoint, save_model, write_json
from ..training import DivergenceError, History, check_data, evaluate, fit
from .build import CNN_CLASSES, build_loss, build_model, build_optimizer, build_transform, input_shape, is_cnn
from .checkpoint import ResumePoint, dropout_layers, split_resume_state
from .data import check_fits, load_data, preprocessing
from .guard import (
    MODEL_EXTENSION,
    beside,
    checkpoint_path,
    compare_with_existing,
    history_path,
    out_of_checkpoint,
    stem,
    validation_examples,
)
from .settings import DEFAULTS, NETWORK_SETTINGS, SettingsError, check
from .signals import interrupts_deferred

DOCTOR_INPUT_SAMPLE = 1000  # training examples whose range the doctor checks (inputs not scaled)


class Run:
    """A network, its data, loss and optimizer, and the history of its training so far."""

    def __init__(self, settings, out, data, model, history=None, optimizer_state=None, best_state=None,
                 streams=None, average_state=None, force=False, checkpoints=False, continues=None):
        self.settings, self.out, self.data, self.model = settings, out, data, model
        self.force, self.checkpoints, self.continues = force, checkpoints, continues
        self.history = history if history is not None else History()
        self.loss, self.optimizer = build_loss(settings), build_optimizer(settings, model)
        if optimizer_state:
            self.optimizer.load_state_dict(optimizer_state)
        self.shuffle_rng = streams["shuffle"] if streams else random_streams(settings["seed"])["shuffle"]
        self.early_stopping = EarlyStopping(settings["monitor"], settings["patience"], best_state=best_state)
        self.average = weight_average(settings, average_state)
        self.resume_point = ResumePoint(model, self.optimizer, self.shuffle_rng, self.average)
        self.results, self.started, self.saved_paths = {}, time.perf_counter(), None
        self.doctor = None      # the Doctor that watched the last call of train
        self.notes = []         # what the caller should tell the user: a file kept, a checkpoint that failed...
        self.rescued = None     # (the destination, why it could not be written) when the model went elsewhere
        self.rejected = False   # True when the run was at chance and an existing file was kept

    @classmethod
    def start(cls, settings, out, data=None, force=False, checkpoints=False):
        """A new run of the checked ``settings`` (see ``settings.resolve``), saving to ``out``; ``force`` lets it
        replace a better model there, ``checkpoints`` has it keep a checkpoint of every epoch. An unfinished run's
        checkpoint aimed at ``out`` is never silently overwritten: continue it, or pass ``force``."""
        check_destination(out)
        unfinished = checkpoint_path(out)
        if checkpoints and not force and os.path.exists(unfinished):
            raise SettingsError(f"{unfinished} holds an unfinished run aimed at {out}: continue it with "
                                f"{{resume}} {unfinished}, or pass {{force}} to start afresh (it is then replaced)",
                                "resume")
        data = data or load_data(settings)
        check_model_fits_data(settings, data)
        streams = random_streams(settings["seed"])
        model = build_model(settings, streams["init"])
        for layer in dropout_layers(model):
            layer.rng = streams["dropout"]
        return cls(settings, out, data, model, streams=streams, force=force, checkpoints=checkpoints)

    @classmethod
    def resume(cls, path, given, out=None, force=False, checkpoints=False):
        """The run saved in ``path`` (a model file or a checkpoint), to go on exactly where it stopped, with
        ``given`` settings changed (not the network or the data). It saves to ``out``, by default the file it came
        from (for a checkpoint: the model file it belongs to)."""
        check_resume_source(path)
        out = out or out_of_checkpoint(os.fspath(path)) or os.fspath(path)
        check_destination(out)
        model, metadata, saved = load_checkpoint(path)
        optimizer_state, last_state, average_state = split_resume_state(saved)
        training = metadata.get("training")
        if not isinstance(training, dict) or "settings" not in training or "history" not in training:
            raise SettingsError(f"{path} holds no training run to resume (it was not saved by nnscratch train)",
                                "resume")
        fixed = sorted(set(given) & set(NETWORK_SETTINGS))
        if fixed:
            raise SettingsError("{resume} keeps the saved network and data; cannot change "
                                + ", ".join(f"{{{name}}}" for name in fixed),
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
        return cls(settings, out, data, model, history, optimizer_state, best_state, streams, average_state,
                   force=force, checkpoints=checkpoints, continues=os.fspath(path))

    @property
    def epochs_left(self):
        return self.settings["epochs"] - len(self.history)

    @property
    def batch_size(self):
        size = self.settings["batch_size"]
        return len(self.data.train[0]) if size == "full" else size

    def train(self, callbacks=()):
        """Fit for the epochs left, telling ``callbacks`` as it goes; returns the history. The best epoch's
        weights (with ``weight_average``: the best epoch's average) are in the model afterwards. A ``Doctor``
        watches the run (the one among ``callbacks``, or one of its own) and records its diagnoses in the
        history; when training diverges, the error's message ends with what the doctor saw before."""
        measures = []
        if self.data.validation is not None:
            measures.append(MeasureEachEpoch("val", *check_data(self.model, *self.data.validation)))
        if self.settings["report_test_each_epoch"]:
            measures.append(MeasureEachEpoch("test", *check_data(self.model, *self.data.test)))
        judges = [self.early_stopping]
        if self.average is not None:  # measured and judged as it would be saved; trained from the own weights
            measures = [self.average, SeenAveraged(self.average, measures)]
            judges = [SeenAveraged(self.average, judges)]
        keeping = [CheckpointEachEpoch(self)] if self.checkpoints else []
        callbacks = [callbacks] if isinstance(callbacks, Callback) else list(callbacks)
        given = [callback for callback in callbacks if isinstance(callback, Doctor)]
        self.doctor = given[0] if given else Doctor()
        if self.doctor.inputs is None:
            self.doctor.inputs = self.data.train[0][:DOCTOR_INPUT_SAMPLE]
        own = [] if given else [self.doctor]  # before the callbacks that show an epoch's end, so they can tell it
        said_before = len(self.history.diagnoses)
        try:
            fit(self.model, *self.data.train, self.loss, self.optimizer, epochs=self.epochs_left,
                batch_size=self.batch_size, shuffle=self.settings["shuffle"],
                callbacks=[*measures, *own, *callbacks, self.resume_point, *judges, *keeping], rng=self.shuffle_rng,
                history=self.history, transform=build_transform(self.settings))
        except DivergenceError as error:
            said = self.history.diagnoses[said_before:]
            if not said:
                raise
            raise DivergenceError(f"{error} (before that, the doctor saw: "
                                  f"{'; '.join(diagnosis['message'] for diagnosis in said)})") from None
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

    def best_accuracy(self):
        """The best epoch's validation accuracy, None without a validation set."""
        records = [record for record in self.history.epochs if record["epoch"] == self.best_epoch]
        return records[0].get("val_accuracy") if records else None

    def destination(self):
        """Where the model goes: ``out``, unless a file is there already that this run must not replace (a better
        model, or one it cannot compare with), in which case it goes beside it as ``NAME.1.npz`` and a note says
        so. A run at chance accuracy goes to ``NAME.rejected.npz`` instead. Decided once, at the first save."""
        out = self.out
        continues_its_own_file = self.continues and os.path.realpath(self.continues) == os.path.realpath(out)
        if self.force or continues_its_own_file or not os.path.lexists(out):
            return out
        if self.at_chance():
            self.rejected = True
            return stem(out) + ".rejected" + MODEL_EXTENSION
        allowed, reason = compare_with_existing(out, self.best_accuracy(),
                                                validation_examples(self.data.name, self.settings))
        if allowed:
            self.notes.append(reason[0].upper() + reason[1:] + ".")
            return out
        path = beside(out)
        self.notes.append(f"Kept {out}: {reason.removeprefix(out + ' ')}; this run is saved as {path} "
                          f"(pass --force to replace it).")
        return path

    def save(self):
        """Write the model (best weights, optimizer and resume state) and the history beside it, atomically and
        safe from a second Ctrl-C or a SIGTERM, to ``destination()``. When that cannot be written (a full disk,
        a read-only folder), the model and history go to the system's temporary folder instead and ``rescued``
        says why; only when even that fails does the ``OSError`` (naming the destination) come through. Returns
        ``(model path, history path)``."""
        path = self.saved_paths[0] if self.saved_paths else self.destination()
        with interrupts_deferred():
            try:
                self.saved_paths = self.write(path)
            except OSError as error:
                if self.rescued:
                    raise
                self.rescued = (path, error.strerror or str(error))
                folder = tempfile.mkdtemp(prefix="nnscratch-rescued-")
                try:
                    self.saved_paths = self.write(os.path.join(folder, os.path.basename(path)))
                except OSError:
                    self.saved_paths = (None, self.write_history(os.path.join(folder, os.path.basename(path))))
        if self.saved_paths[0] and self.checkpoints:  # the run is saved whole: its checkpoint is no longer needed
            for path in (checkpoint_path(self.out), history_path(checkpoint_path(self.out))):
                if os.path.exists(path):
                    os.unlink(path)
        return self.saved_paths

    def write(self, path):
        """The model and its history to ``path`` and beside it, each atomically."""
        point = self.resume_point
        accuracies = {f"{name}_accuracy": result.accuracy for name, result in self.results.items()}
        settings, data = self.settings, self.data
        metadata = {"dataset": data.name, "input_shape": list(data.input_shape), "class_names": data.class_names,
                    "preprocessing": preprocessing(data.input_shape), "seed": settings["seed"],
                    "preset": settings.get("preset"), **accuracies, "best_epoch": self.best_epoch,
                    "epochs_trained": len(self.history),
                    "training": {"settings": settings, "history": self.history.to_dict(),
                                 "rng_state": point.rng_state, "dropout_rng_state": point.dropout_rng_state}}
        save_model(path, self.model, metadata, optimizer_state=point.entries())
        return path, self.write_history(path)

    def write_history(self, model_path):
        return write_json(history_path(model_path), {
            "model": model_path, "settings": self.settings, "history": self.history.to_dict(),
            "best_epoch": self.best_epoch,
            "results": {name: result._asdict() for name, result in self.results.items()},
            "timings": {"total_seconds": time.perf_counter() - self.started,
                        "epoch_seconds": self.history["seconds"]}})

    def write_checkpoint(self):
        """The run so far, as ``save`` would write it (the best epoch's weights, the last epoch's to go on from),
        to ``NAME.checkpoint.npz``; the model keeps training from the last epoch's weights afterwards."""
        best = self.early_stopping.best_state
        if best is not None:
            self.model.load_state_dict(best)
        try:
            with interrupts_deferred():
                self.write(checkpoint_path(self.out))
        finally:
            self.model.load_state_dict(self.resume_point.last_state)

    def evaluate(self, splits=("validation", "test")):
        """Loss and accuracy of the saved model on ``splits`` (the training set, the largest, only when asked:
        its figures during training are on the epoch lines), recorded in the files already saved (a note says so
        when they cannot be: the model itself is saved already)."""
        self.results = {name: evaluate(self.model, x, y, self.loss)
                        for name, (x, y) in self.data.splits() if x is not None and name in splits}
        if self.saved_paths and self.saved_paths[0]:
            try:
                self.save()
            except OSError as error:
                self.notes.append(f"The results could not be added to {self.saved_paths[0]} "
                                  f"({error.strerror or error}); the model there is complete.")
        return self.results


class CheckpointEachEpoch(Callback):
    """At the end of every epoch but the last, the run so far in ``NAME.checkpoint.npz``: a killed machine loses
    at most the epoch it was in. A checkpoint that cannot be written is noted once, and training goes on."""

    def __init__(self, run):
        self.run, self.failed = run, False

    def on_epoch_end(self, state):
        if state.stop or state.epoch + 1 >= state.last_epoch or self.failed:
            return  # the run's own save follows at once
        try:
            self.run.write_checkpoint()
        except OSError as error:
            self.failed = True
            self.run.notes.append(f"Could not write the checkpoint {checkpoint_path(self.run.out)} "
                                  f"({error.strerror or error}); training went on without one.")


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


def check_resume_source(path):
    """Before any work: that ``path`` can hold a run to resume (a JSON export cannot)."""
    if os.fspath(path).lower().endswith(".json"):
        raise SettingsError(f"{path} is a JSON export, which holds no optimizer state or training run to "
                            f"resume; resume from the .npz file that nnscratch train wrote", "resume")


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
