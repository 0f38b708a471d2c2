"""The best model a sweep has trained here: ``best.npz`` and its history in ``--out``. Each worker keeps its best
run in memory and, when it ends, replaces ``best.npz`` if that run beats it (saving after every new best would
cost a model file per improvement). A lock file keeps two workers from writing at once; ``best.json`` says which
trial it is. (With workers on several machines, each machine's folder holds the best of the trials it ran; a
worker killed before it ends saves nothing.)"""
import fcntl
import json
import os

from ..files import atomic_write
from .results import higher_is_better

BEST_JSON = "best.json"


def read_best(out):
    try:
        with open(os.path.join(out, BEST_JSON), encoding="utf-8") as file:
            return json.load(file)
    except (OSError, ValueError):
        return None


def better(value, than, metric):
    return value > than if higher_is_better(metric) else value < than


def keep_if_best(run, number, value, params, metric, out):
    """Save ``run`` as ``best.npz`` (then evaluate it) when its ``value`` beats the best kept so far."""
    os.makedirs(out, exist_ok=True)
    with open(os.path.join(out, ".best.lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        best = read_best(out)
        if best is not None and not better(value, best["value"], metric):
            return False
        if os.path.exists(run.out):  # beaten: replaced even if both are no better than chance
            os.unlink(run.out)
        model_path, _ = run.save()
        results = run.evaluate()
        record = {"trial": number, "value": value, "metric": metric, "params": params, "model": model_path,
                  "test_accuracy": results["test"].accuracy if "test" in results else None}
        with atomic_write(os.path.join(out, BEST_JSON), "w") as file:
            json.dump(record, file, indent=1)
        return True
