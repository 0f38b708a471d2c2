"""``nnscratch train``: build a network from flags or a preset, train it with progress, evaluate it, save it.

The model goes to one ``.npz`` file and its history to a JSON file beside it. The file's weights are those of
the best epoch by validation accuracy; for ``--resume`` it also keeps the last epoch's weights (``resume.``
entries beside the optimizer state), the optimizer state and the random states, so that a resumed run goes on
exactly as an unbroken one would. Ctrl-C stops at once and still saves the best model so far.
"""
import math
import os
import sys
import time

import numpy as np

from ..presets import (ARCHITECTURES, CNN_CLASSES, DEFAULTS, PRESETS, SCHEDULES, build_loss, build_model,
                       build_optimizer, build_transform, get_preset, input_shape)
from ..serialization import load_checkpoint, save_model, write_json
from ..training import History, evaluate, fit
from . import CommandError
from . import common
from .checkpoint import (Best, BestTracker, best_validation_accuracy, dropout_layers, resume_entries,
                         split_resume_state)
from .common import check_fits, preprocessing
from .console import ConsoleProgress, banner, percent, results_table

FLAGS = [  # (flag, setting, type, help); each default comes from presets.DEFAULTS and is shown in --help
    ("--architecture", "architecture", str, f"{' or '.join(ARCHITECTURES)}: dense layers of --layers sizes, or "
     "two convolutions, a dense layer of --hidden units and 10 outputs on 28x28 images"),
    ("--layers", "layers", str, "layer sizes, input first (mlp)"),
    ("--hidden", "hidden", int, "units of the dense hidden layer (cnn)"),
    ("--activation", "activation", str, "hidden activation: sigmoid, tanh, relu, leaky_relu"),
    ("--output", "output", str, "output activation: none (logits), softmax, sigmoid or same (as hidden)"),
    ("--loss", "loss", str, "softmax_cross_entropy, cross_entropy, quadratic, binary_cross_entropy"),
    ("--init", "init", str, "weight initialiser: he, glorot, lecun, normal, uniform, zeros"),
    ("--bias-init", "bias_init", str, "bias initialiser"),
    ("--optimizer", "optimizer", str, "sgd, adam or adamw"),
    ("--lr", "lr", float, "learning rate"),
    ("--momentum", "momentum", float, "SGD momentum"),
    ("--weight-decay", "weight_decay", float, "L2 weight decay"),
    ("--schedule", "schedule", str, f"learning-rate schedule: {', '.join(SCHEDULES)}"),
    ("--warmup", "warmup", float, "epochs of linear learning-rate warm-up"),
    ("--dropout", "dropout", float, "dropout probability after each hidden layer"),
    ("--batch-size", "batch_size", str, "examples per step, or 'full' for full-batch descent"),
    ("--epochs", "epochs", int, "passes over the training set (with --resume: the total)"),
    ("--patience", "patience", int, "stop after this many epochs without a better validation loss"),
    ("--seed", "seed", int, "random seed: same seed, same run"),
    ("--dataset", "dataset", str, "mnist, fashion-mnist, kmnist, emnist-digits, emnist-letters or lines"),
    ("--data", "data", str, "read the data set from this path instead of the cache"),
    ("--validation-size", "validation_size", int, "training examples held out for validation"),
    ("--train-size", "train_size", int, "train on only the first N examples (lines: how many to draw)"),
    ("--augment", "augment", str, "shift training images randomly by up to N pixels, or 'affine': shift by up to "
     "2 pixels, rotate by up to 10 degrees and scale by up to 10 %"),
    ("--print-every", "print_every", int, "print the epoch line of the first epoch, every Nth and the last"),
]
SWITCHES = ["shuffle", "report_test_each_epoch", "evaluate_before", "batch_norm"]  # flags without a value


def add_parser(subparsers):
    parser = subparsers.add_parser("train", help="train a network (flags or --preset) and save it",
                                   description=__doc__.splitlines()[0])
    parser.add_argument("--preset", help=f"start from a preset ({', '.join(PRESETS)}); flags override it")
    for flag, setting, kind, text in FLAGS:
        default = DEFAULTS[setting]
        shown = ",".join(map(str, default)) if isinstance(default, list) else default
        help_text = f"{text} (default: {shown})".replace("%", "%%")  # argparse formats help with %
        parser.add_argument(flag, dest=setting, type=kind, default=None, help=help_text)
    parser.add_argument("--batch-norm", dest="batch_norm", action="store_true", default=None,
                        help="cnn: batch normalisation after each convolution and the dense hidden layer")
    parser.add_argument("--no-shuffle", dest="shuffle", action="store_false", default=None,
                        help="take the batches in file order (default: shuffle every epoch)")
    parser.add_argument("--report-test-each-epoch", dest="report_test_each_epoch", action="store_true",
                        default=None, help="show the test accuracy on every epoch line, as Nielsen's network did")
    parser.add_argument("--evaluate-before", dest="evaluate_before", action="store_true", default=None,
                        help="print the test accuracy before training too")
    parser.add_argument("--out", metavar="MODEL", help="model file to write (default: models/PRESET.npz or "
                        "models/model.npz); the history goes beside it as .history.json")
    parser.add_argument("--resume", metavar="MODEL", help="continue the run saved in MODEL, optimizer included")
    parser.add_argument("--quiet", action="store_true", help="no progress bar, only the epoch lines")
    parser.set_defaults(run=run)


def given_settings(args):
    """The settings named on the command line (flags left out are None)."""
    names = [setting for _, setting, _, _ in FLAGS] + SWITCHES
    return {name: getattr(args, name) for name in names if getattr(args, name) is not None}


def parse_settings(settings):
    """Check and convert the settings that come as text, and the ranges of the numbers."""
    settings = dict(settings)
    if settings["architecture"] not in ARCHITECTURES:
        raise CommandError(f"--architecture must be {' or '.join(ARCHITECTURES)}, got {settings['architecture']!r}")
    if settings["architecture"] == "cnn":
        if settings["layers"] not in (None, DEFAULTS["layers"]):
            raise CommandError("--layers sets the sizes of an mlp; the cnn's are fixed but for --hidden")
        settings["layers"] = None
    elif settings["layers"] is None:
        settings["layers"] = DEFAULTS["layers"]
    else:
        settings["layers"] = parse_layers(settings["layers"])
    settings["augment"] = parse_augment(settings["augment"])
    batch_size = settings["batch_size"]
    if batch_size != "full":
        try:
            settings["batch_size"] = batch_size = int(batch_size)
        except ValueError:
            raise CommandError(f"--batch-size expects a number or 'full', got {batch_size!r}") from None
        if batch_size < 1:
            raise CommandError(f"--batch-size must be at least 1, got {batch_size}")
    checks = [("lr", settings["lr"] > 0 and math.isfinite(settings["lr"]), "must be positive"),
              ("epochs", settings["epochs"] >= 1, "must be at least 1"),
              ("momentum", settings["momentum"] >= 0, "must be >= 0"),
              ("weight-decay", settings["weight_decay"] >= 0, "must be >= 0"),
              ("dropout", 0 <= settings["dropout"] < 1, "must be in [0, 1)"),
              ("hidden", settings["hidden"] >= 1, "must be at least 1"),
              ("print-every", settings["print_every"] >= 1, "must be at least 1"),
              ("warmup", settings["warmup"] >= 0, "must be >= 0"),
              ("patience", settings["patience"] is None or settings["patience"] >= 1, "must be at least 1")]
    for name, ok, rule in checks:
        if not ok:
            raise CommandError(f"--{name} {rule}, got {settings[name.replace('-', '_')]}")
    if settings["patience"] is not None and not settings["validation_size"]:
        raise CommandError("--patience needs a validation set: --validation-size must be > 0")
    return settings


def parse_layers(layers):
    if isinstance(layers, str):
        try:
            layers = [int(size) for size in layers.split(",")]
        except ValueError:
            raise CommandError(f"--layers expects sizes like 784,100,10, got {layers!r}") from None
    if len(layers) < 2 or min(layers) < 1:
        raise CommandError(f"--layers needs at least two positive sizes, got {layers}")
    return layers


def parse_augment(augment):
    """0 (none), a number of pixels to shift by, or 'affine'."""
    if augment == "affine":
        return augment
    try:
        pixels = int(augment)
    except ValueError:
        raise CommandError(f"--augment expects a number of pixels or 'affine', got {augment!r}") from None
    if pixels < 0:
        raise CommandError(f"--augment must be >= 0 pixels, got {pixels}")
    return pixels


def run(args):
    started = time.perf_counter()
    if args.resume:
        model, settings, history, optimizer_state, best, rng = resume_from(args)
    else:
        preset = get_preset(args.preset).settings if args.preset else {}
        settings = parse_settings({**DEFAULTS, **preset, **given_settings(args)})
        settings["preset"] = args.preset
        model, history, optimizer_state, best = None, History(), None, Best()
        rng = np.random.default_rng(settings["seed"])
    out = args.out or args.resume or os.path.join("models", f"{args.preset or 'model'}.npz")
    data = common.load_data(settings)
    layers = settings["layers"]
    if settings["architecture"] == "cnn":
        check_fits(input_shape(settings), CNN_CLASSES, data, "the cnn")
    else:
        check_fits(layers[0], layers[-1], data, f"--layers {','.join(map(str, layers))}")
    if model is None:
        model = build_model(settings, np.random.default_rng(settings["seed"]))
    loss, optimizer = build_loss(settings), build_optimizer(settings, model)
    if optimizer_state:
        optimizer.load_state_dict(optimizer_state)
    epochs_left = settings["epochs"] - len(history)
    if epochs_left < 1:
        raise CommandError(f"{args.resume} has already trained for {len(history)} epochs; pass --epochs with "
                           f"a larger total to train further")
    banner(model, data, settings)
    if settings["evaluate_before"]:
        report("Before training", evaluate(model, *data.test, loss))

    tracker = BestTracker(model, optimizer, rng, best)
    test_each_epoch = (lambda: evaluate(model, *data.test, loss)) if settings["report_test_each_epoch"] else None
    progress = ConsoleProgress(settings["epochs"], quiet=args.quiet, test_every_epoch=test_each_epoch,
                               on_record=tracker.update, print_every=settings["print_every"])
    batch_size = len(data.train[0]) if settings["batch_size"] == "full" else settings["batch_size"]
    plural = "s" if epochs_left > 1 else ""
    start = f" (from epoch {len(history) + 1})" if history.epochs else ""
    print(f"\nTraining for {epochs_left} epoch{plural}{start}")
    history = fit(model, *data.train, loss, optimizer, epochs=epochs_left, batch_size=batch_size,
                  shuffle=settings["shuffle"], validation_data=data.validation, patience=settings["patience"],
                  callback=progress, rng=rng, history=history, transform=build_transform(settings))
    progress.close_bar()
    if settings["patience"] is None:
        tracker.restore()
    else:
        tracker.best_epoch = history.best_epoch or tracker.best_epoch
    if history.interrupted and not len(history):
        print("Interrupted before the first epoch ended: nothing was saved.", file=sys.stderr)
        return 130
    if history.interrupted:
        print(f"\nInterrupted during epoch {len(history) + 1}; keeping the best model so far "
              f"(epoch {tracker.best_epoch or len(history)}).")
    results = final_results(model, data, loss)
    if settings["evaluate_before"]:
        report("After training", results["test"])
    model_path, history_path = save_run(out, model, settings, history, data, results, tracker,
                                        time.perf_counter() - started)
    print(f"Saved the model to {model_path} and its history to {history_path}")
    if history.interrupted:
        print(f"Continue with: nnscratch train --resume {model_path}")
        return 130
    return 0


def resume_from(args):
    """The model (with the last epoch's weights), settings, history, optimizer state, best epoch so far and
    shuffling generator of a run saved by ``nnscratch train``."""
    model, metadata, optimizer_state = load_checkpoint(args.resume)
    optimizer_state, last_state = split_resume_state(optimizer_state)
    training = metadata.get("training")
    if not isinstance(training, dict) or "settings" not in training or "history" not in training:
        raise CommandError(f"{args.resume} holds no training run to resume (it was not saved by nnscratch train)")
    given = given_settings(args)
    fixed = sorted(set(given) & {"architecture", "layers", "hidden", "batch_norm", "activation", "output", "dropout",
                                 "dataset"})
    if fixed:
        raise CommandError(f"--resume keeps the saved network and data; cannot change {', '.join(fixed)}")
    settings = parse_settings({**DEFAULTS, **training["settings"], **given})
    history = History.from_dict(training["history"])
    history.interrupted = history.stopped_early = False  # this run starts afresh from the saved epochs
    rng = np.random.default_rng(settings["seed"])
    if training.get("rng_state"):
        rng.bit_generator.state = training["rng_state"]  # the shuffling goes on as if never stopped
    if training.get("dropout_rng_state"):  # and so do the dropout masks, from the one generator they share
        dropout_rng = np.random.default_rng()
        dropout_rng.bit_generator.state = training["dropout_rng_state"]
        for layer in dropout_layers(model):
            layer.rng = dropout_rng
    best = Best(best_validation_accuracy(history), metadata.get("best_epoch"), model.state_dict())
    if last_state:  # the file's weights are the best epoch's; training goes on from the last epoch's
        try:
            model.load_state_dict(last_state)
        except (KeyError, ValueError) as error:
            raise CommandError(f"{args.resume}: the saved last-epoch weights do not fit the model "
                               f"({error.args[0] if error.args else error})") from None
    return model, settings, history, optimizer_state, best, rng


def report(when, result):
    print(f"{when}: test accuracy {result.correct} / {result.total} ({percent(result.accuracy)})")


def final_results(model, data, loss):
    """Loss and accuracy of the final model on every split, printed as a table."""
    results = {name: evaluate(model, x, y, loss) for name, (x, y) in data.splits() if x is not None}
    print("\n" + results_table([(name.capitalize(), result) for name, result in results.items()]))
    return results


def save_run(out, model, settings, history, data, results, tracker, seconds):
    """Write the model (with optimizer state and the run) and the history JSON beside it."""
    root = out[:-4] if out.endswith(".npz") else out
    history_path = root + ".history.json"
    accuracies = {f"{name}_accuracy": result.accuracy for name, result in results.items()}
    metadata = {"dataset": data.name, "input_shape": list(data.input_shape), "class_names": data.class_names,
                "preprocessing": preprocessing(data.input_shape), "seed": settings["seed"],
                "preset": settings.get("preset"),
                **accuracies, "best_epoch": tracker.best_epoch, "epochs_trained": len(history),
                "training": {"settings": settings, "history": history.to_dict(), "rng_state": tracker.rng_state,
                             "dropout_rng_state": tracker.dropout_rng_state}}
    save_model(out, model, metadata,
               optimizer_state={**tracker.optimizer_state, **resume_entries(tracker.last_state)})
    write_json(history_path, {
        "model": out, "settings": settings, "history": history.to_dict(), "best_epoch": tracker.best_epoch,
        "results": {name: result._asdict() for name, result in results.items()},
        "timings": {"total_seconds": seconds, "epoch_seconds": history["seconds"]}})
    return out, history_path
