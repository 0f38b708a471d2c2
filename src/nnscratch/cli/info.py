"""nnscratch info MODEL: what a model file holds, read from the file alone, without loading any data.

It shows the architecture (the shape every layer gives, as the training banner does), the number of parameters,
the data set and classes it was trained for, the accuracies recorded when it was saved, what made it (preset,
seed, date, nnscratch version), its settings and its training history: loss and validation accuracy epoch by
epoch, and the best epoch, whose weights the file holds. ``--json`` prints the same as one JSON object.
"""
import json
import os

from tabulate import tabulate

from ..serialization import input_shape_of, load_checkpoint, load_model
from ..serialization.npz import clean_for_json
from ..viz.summary import architecture_line, short_architecture
from .console import applicable_settings, percent, wrapped

SPLITS = ("train", "validation", "test")
SHOWN = {"created", "nnscratch_version", "dataset", "input_shape", "class_names", "preprocessing", "seed", "preset",
         "best_epoch", "epochs_trained", "training", *(f"{split}_accuracy" for split in SPLITS)}
HISTORY_COLUMNS = [("epoch", "epoch", str), ("loss", "loss", "{:.4f}".format), ("accuracy", "accuracy", percent),
                   ("val_loss", "validation loss", "{:.4f}".format), ("val_accuracy", "validation accuracy", percent),
                   ("test_accuracy", "test accuracy", percent), ("seconds", "seconds", "{:.1f}".format)]
MADE = (("preset", "preset"), ("seed", "seed"), ("created", "created"), ("nnscratch_version", "by nnscratch"))
WIDTH = 100


def add_parser(subparsers):
    parser = subparsers.add_parser("info", help="show a model file's architecture, settings and training history",
                                   description=__doc__.splitlines()[0])
    parser.add_argument("model", metavar="MODEL", help="a model file (.npz, or a .json export)")
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of the text")
    parser.set_defaults(run=run)


def run(args):
    info = describe(args.model)
    print(json.dumps(info, indent=2) if args.json else "\n".join(text_lines(info)))
    return 0


def describe(path):
    """Everything ``info`` shows about the model file ``path``, as a JSON-ready dict."""
    if os.path.splitext(path)[1].lower() in (".json", ".onnx"):
        (model, metadata), resumable = load_model(path), False
    else:
        model, metadata, optimizer_state = load_checkpoint(path)
        resumable = bool(optimizer_state)
    metadata = clean_for_json(metadata)
    training = as_dict(metadata.get("training"))
    history = as_dict(training.get("history"))
    epochs = [record for record in history.get("epochs") or [] if isinstance(record, dict)]
    best = number(metadata.get("best_epoch")) or number(history.get("best_epoch"))
    return {
        "file": path, **architecture_of(model, metadata),
        "parameters": model.num_parameters(), "dtype": str(model.dtype),
        **{key: metadata.get(key) for key in ("dataset", "class_names", "preprocessing", "preset", "seed",
                                              "created", "nnscratch_version")},
        "accuracy": {split: number(metadata.get(f"{split}_accuracy")) for split in SPLITS},
        "settings": as_dict(training.get("settings")) or None,
        "history": {"epochs": epochs, "best_epoch": best, "stopped_early": history.get("stopped_early") is True,
                    "interrupted": history.get("interrupted") is True} if epochs else None,
        "resumable": resumable and bool(epochs),
        "other": {key: value for key, value in metadata.items() if key not in SHOWN},
    }


def architecture_of(model, metadata):
    """The layer-by-layer line of ``viz.summary`` for the recorded input shape; when the file records none, or one
    the first layer cannot take, the short summary instead, and the reason under ``architecture_problem``."""
    shape = input_shape_of(model, metadata)
    if not hasattr(model, "__iter__"):  # a file may hold one layer rather than a network of them
        from ..network import Sequential
        model = Sequential(model)
    line, problem = None, "the file does not record the input shape, and the first layer does not tell it"
    if shape is not None:
        try:
            line, problem = architecture_line(model, shape), None
        except ValueError as error:
            problem = f"the recorded input shape {tuple(shape)} does not fit the network: {error}"
    return {"architecture": line or short_architecture(model), "architecture_problem": problem,
            "input_shape": list(shape) if shape else None}


def text_lines(info):
    """``describe``'s dict as the lines a person reads."""
    lines = [f"Model file       {one_line(info['file'])}"]
    lines += wrapped("Architecture     ", info["architecture"].split(" --> "), " --> ", WIDTH)
    if info["architecture_problem"]:
        lines.append(f"                 ({one_line(info['architecture_problem'])})")
    lines.append(f"                 {info['parameters']:,} parameters, {info['dtype']}")
    lines.append(f"Data set         {data_line(info)}")
    if info["preprocessing"]:
        lines.append(f"Preprocessing    {one_line(info['preprocessing'])}")
    recorded = [f"{split} {percent(value)}" for split, value in info["accuracy"].items() if value is not None]
    lines.append(f"Accuracy         {', '.join(recorded) if recorded else 'not recorded in the file'}")
    made = [f"{name} {one_line(info[key])}" for key, name in MADE if info[key] is not None]
    lines.append(f"Made             {', '.join(made) if made else 'not recorded in the file'}")
    lines += settings_lines(info["settings"])
    lines += [f"{key:<17}{one_line(value)}" for key, value in info["other"].items()]
    return lines + [""] + history_lines(info)


def data_line(info):
    parts = [one_line(info["dataset"]) if info["dataset"] is not None else "not recorded"]
    if info["input_shape"]:
        parts.append(f"input {tuple(info['input_shape'])}")
    names = info["class_names"]
    if isinstance(names, list) and names:
        parts.append(f"{len(names)} classes ({one_line(', '.join(map(str, names)))})")
    return ", ".join(parts)


def settings_lines(settings):
    if not settings:
        return ["Settings         not recorded in the file"]
    needed = {"optimizer", "warmup", "patience"}  # what applicable_settings reads to choose
    pairs = applicable_settings(settings) if needed <= set(settings) else list(settings.items())
    return wrapped("Settings         ", [f"{name.replace('_', '-')} {one_line(value)}" for name, value in pairs],
                   ", ", WIDTH)


def history_lines(info):
    """The epochs as a table, the best one marked, with how the run ended."""
    history = info["history"]
    if not history:
        return ["Training history: none in the file (it was not saved by nnscratch train)"]
    epochs, best = history["epochs"], history["best_epoch"]
    total = number((info["settings"] or {}).get("epochs"))
    count = f"{len(epochs)} of {total:g} epochs" if total and total > len(epochs) else f"{len(epochs)} epochs"
    monitor = (info["settings"] or {}).get("monitor")
    measured = isinstance(monitor, str) and any(number(record.get(monitor)) is not None for record in epochs)
    how = (f" by {monitor}" if measured else "" if not isinstance(monitor, str)
           else " (the latest: nothing to monitor without a validation set)")
    chosen = f", best epoch {best:g}{how}" if best else ""
    lines = [f"Training history: {count}{chosen}"]
    columns = [(key, title, show) for key, title, show in HISTORY_COLUMNS
               if any(number(record.get(key)) is not None for record in epochs)]
    rows = [[cell(record.get(key), show) for key, _, show in columns]
            + ["best" if best is not None and record.get("epoch") == best else ""] for record in epochs]
    lines += tabulate(rows, headers=[title for _, title, _ in columns] + [""], tablefmt="simple",
                      disable_numparse=True, colalign=["right"] * len(columns) + ["left"]).splitlines()
    if history["stopped_early"]:
        lines.append("Stopped early: the monitored metric had stopped improving.")
    if history["interrupted"]:
        lines.append(f"Stopped during epoch {len(epochs) + 1}: the file holds the best epoch so far.")
    if info["resumable"] and total and total > len(epochs) and not history["stopped_early"]:
        lines.append(f"Continue with: nnscratch train --resume {info['file']} --epochs {total:g}")
    return lines


def cell(value, show):
    value = number(value)
    return "-" if value is None else show(value if show is not str else int(value))


def number(value):
    """``value`` if it is a real number (not a bool), else None: the metadata is only as sound as the file."""
    return value if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def as_dict(value):
    return value if isinstance(value, dict) else {}


def one_line(value, limit=300):
    """Any metadata value as one printable line of at most ``limit`` characters."""
    text = json.dumps(value) if isinstance(value, dict) else str(value)
    text = "".join(char if char.isprintable() else " " for char in text)
    return text if len(text) <= limit else text[:limit - 1] + "…"
