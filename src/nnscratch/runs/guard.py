"""What keeps a finished run from being lost or from silently replacing a better one.

A model file that already exists is replaced only by a run that is at least as good on the same validation
examples (or when the caller asks: ``force``); otherwise the new run goes beside it as ``NAME.1.npz`` (the first
free number). ``claim`` takes a lock on a destination so that two runs never write one file at once. A checkpoint
``NAME.checkpoint.npz`` is written at the end of every epoch of a long run and removed once the run is saved; when
a run is killed outright, it is what ``--resume`` continues.
"""
import fcntl
import json
import os
import zipfile

import numpy as np

from .settings import SettingsError

MODEL_EXTENSION = ".npz"
CHECKPOINT_SUFFIX = ".checkpoint"


def stem(path):
    """``models/m.npz`` -> ``models/m``."""
    return path[:-len(MODEL_EXTENSION)] if path.lower().endswith(MODEL_EXTENSION) else path


def history_path(model_path):
    return stem(model_path) + ".history.json"


def checkpoint_path(out):
    """Where a run aimed at ``out`` keeps its checkpoint: ``models/m.npz`` -> ``models/m.checkpoint.npz``."""
    return stem(out) + CHECKPOINT_SUFFIX + MODEL_EXTENSION


def out_of_checkpoint(path):
    """The model file a checkpoint belongs to (``m.checkpoint.npz`` -> ``m.npz``), or None for another file."""
    name = stem(path)
    return name[:-len(CHECKPOINT_SUFFIX)] + MODEL_EXTENSION if name.endswith(CHECKPOINT_SUFFIX) else None


def beside(out):
    """The first of ``NAME.1.npz``, ``NAME.2.npz``, ... that does not exist yet."""
    number = 1
    while os.path.lexists(f"{stem(out)}.{number}{MODEL_EXTENSION}"):
        number += 1
    return f"{stem(out)}.{number}{MODEL_EXTENSION}"


def validation_score(path):
    """``(accuracy, what it was measured on)`` of the model saved in ``path``: the best epoch's validation
    accuracy as its history recorded it, with the data set and validation size it was measured on. None when the
    file cannot say (no such file, not an nnscratch run, no validation set)."""
    try:
        with zipfile.ZipFile(path) as archive:
            member = archive.getinfo("metadata.npy")
            if member.file_size > 64 * 2**20:  # far more than any run's history
                return None
            with archive.open(member) as file:
                metadata = json.loads(str(np.lib.format.read_array(file, allow_pickle=False)))
    except (OSError, ValueError, KeyError, zipfile.BadZipFile, RecursionError):
        return None
    training = metadata.get("training") if isinstance(metadata, dict) else None
    if not isinstance(training, dict):
        return None
    epochs = (training.get("history") or {}).get("epochs") or []
    settings = training.get("settings") or {}
    best = [record for record in epochs
            if isinstance(record, dict) and record.get("epoch") == metadata.get("best_epoch")]
    accuracy = best[0].get("val_accuracy") if best else None
    if not isinstance(accuracy, (int, float)):
        return None
    return float(accuracy), validation_examples(metadata.get("dataset"), settings)


def validation_examples(dataset, settings):
    """What names a run's validation examples: the data set, where it was read from, how many examples were
    held out and, for the lines drawn afresh from a seed, the seed."""
    return (dataset, settings.get("data"), settings.get("validation_size"),
            settings.get("seed") if dataset == "lines" else None)


def compare_with_existing(out, accuracy, measured_on):
    """Whether a run whose best epoch reached validation ``accuracy`` (on ``measured_on``) may replace the file
    at ``out``, and why: ``(True, None)`` when there is no file; ``(True, reason)`` when it is at least as good;
    ``(False, reason)`` when it is worse or the two cannot be compared."""
    if not os.path.lexists(out):
        return True, None
    existing = validation_score(out)
    if existing is None:
        return False, f"{out} already exists and does not say how good it is"
    if accuracy is None or existing[1] != measured_on:
        return False, f"{out} already exists and was measured on other validation data than this run"
    figures = f"{existing[0]:.2%} on validation against this run's {accuracy:.2%}"
    if accuracy >= existing[0]:
        return True, f"this run replaces {out}, which was no better ({figures})"
    return False, f"{out} holds a better model ({figures})"


class Claim:
    """An exclusive lock on a destination, held until ``release()`` or the end of the process (a lock file
    ``.NAME.lock`` beside it, locked with ``flock``, so a killed run never leaves it locked)."""

    def __init__(self, out):
        folder, name = os.path.split(os.path.abspath(out))
        self.path = os.path.join(folder, f".{name}.lock")
        os.makedirs(folder, exist_ok=True)
        self.descriptor = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(self.descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(self.descriptor, 32, 0).decode(errors="replace").strip() or "another process"
            os.close(self.descriptor)
            raise SettingsError(f"another run (process {holder}) is writing {out}: wait for it to end, or "
                                f"choose another {{out}}", "out") from None
        os.ftruncate(self.descriptor, 0)
        os.pwrite(self.descriptor, str(os.getpid()).encode(), 0)

    def release(self):
        if self.descriptor is not None:
            os.close(self.descriptor)
            self.descriptor = None
