"""nnscratch train: build a network from flags or a preset, train it with progress, save it, evaluate it.

The model goes to one .npz file and its history to a JSON file beside it. The file's weights are those of the best
epoch by the monitored validation metric (with --weight-average, the moving average's); the file also keeps what
--resume needs to go on exactly as an unbroken run would. The destination is checked, and locked against a second
run, before any data is loaded; an existing better model there is kept, and this run saved beside it as
NAME.1.npz (--force replaces it). Every epoch but the last leaves a checkpoint, NAME.checkpoint.npz, that --resume
continues if the machine dies. Ctrl-C, a closed terminal (SIGHUP) or a kill (SIGTERM) stops at once and still
saves the best model so far; the model is saved before anything is printed or evaluated, and a second signal
cannot stop the save; a full disk sends it to the system's temporary folder.
"""
import os
import signal
import sys

from ..datasets import default_cache_dir
from ..presets import PRESETS
from ..runs import Run, check_destination, resolve, signals_stop_training
from ..runs.guard import Claim, out_of_checkpoint
from ..runs.run import check_resume_source
from ..runs.signals import SIGNAL_NAMES
from ..runs.table import add_flags, given_by_flags
from ..training import evaluate
from .console import ConsoleProgress, banner, percent, results_table

TRAINING_LOSS_LEGEND = ("The epoch lines show the mean loss over each epoch's batches, measured while the weights "
                        "were still changing{dropout}; the table measures the saved weights in evaluation mode "
                        "(the training set too with --evaluate-train).")
AVERAGE_LEGEND = ("With --weight-average, the validation figures on the epoch lines and the saved weights are the "
                  "moving average's.")


def add_parser(subparsers):
    parser = subparsers.add_parser("train", help="train a network (flags or --preset) and save it",
                                   description=__doc__.splitlines()[0])
    parser.add_argument("--preset", help=f"start from a preset ({', '.join(PRESETS)}); flags override it")
    add_flags(parser)  # one flag for each row of the settings table (runs/table.py)
    parser.add_argument("--out", metavar="MODEL", help="model file to write, ending in .npz (default: "
                        "models/PRESET.npz or models/model.npz); the history goes beside it as .history.json")
    parser.add_argument("--resume", metavar="MODEL", help="continue the run saved in MODEL (a model file or its "
                        "NAME.checkpoint.npz), optimizer included; --epochs is then the total")
    parser.add_argument("--force", action="store_true", help="replace the model file at --out even when it holds a "
                        "better model (by default this run is then saved beside it as NAME.1.npz)")
    parser.add_argument("--evaluate-train", action="store_true", help="measure the saved model on the whole "
                        "training set too at the end (by default only validation and test: the epoch lines show the "
                        "training figures as they were during training)")
    parser.add_argument("--quiet", action="store_true", help="no progress bar, only the epoch lines")
    parser.set_defaults(run=run)


given_settings = given_by_flags  # the settings named on the command line (flags left out are None)


def run(args):
    received = []  # the signals that stopped training
    with signals_stop_training(received):
        return train(args, received)


def train(args, received):
    given = given_settings(args)
    if args.resume:
        check_resume_source(args.resume)
        out = args.out or out_of_checkpoint(args.resume) or args.resume
    else:
        out = args.out or os.path.join("models", f"{args.preset or 'model'}.npz")
    check_destination(out)
    claim = Claim(out)  # a second run aimed at the same file is refused until this one ends
    try:
        return train_to(out, args, given, received)
    finally:
        claim.release()


def train_to(out, args, given, received):
    if args.resume:
        training = Run.resume(args.resume, given, out=out, force=args.force, checkpoints=True)
    else:
        training = Run.start(resolve(given, args.preset), out, force=args.force, checkpoints=True)
    settings, history = training.settings, training.history
    banner(training.model, training.data, settings, source=data_source(settings))
    if settings["evaluate_before"]:
        report("Before training", evaluate(training.model, *training.data.test, training.loss))
    epochs_left = training.epochs_left
    start = f" (from epoch {len(history) + 1})" if history.epochs else ""
    print(f"\nTraining for {epochs_left} epoch{'s' if epochs_left > 1 else ''}{start}", flush=True)
    progress = ConsoleProgress(settings["epochs"], quiet=args.quiet, print_every=settings["print_every"])
    training.train([progress])
    stopped_by = SIGNAL_NAMES.get(received[0], "a signal") if received else "Ctrl-C"
    if history.interrupted and not len(history):
        print(f"Stopped by {stopped_by} before the first epoch ended: nothing was saved.", file=sys.stderr)
        return exit_status(received)
    try:
        model_path, history_path = training.save()  # first of all: nothing printed before can lose the run
    except KeyboardInterrupt:  # held back until the files were complete
        print(f"Interrupted; the model is saved in {training.saved_paths[0]}", file=sys.stderr)
        return exit_status(received)
    if history.interrupted:
        print(f"\nStopped by {stopped_by} during epoch {len(history) + 1}; kept the best model so far "
              f"(epoch {training.best_epoch}).")
    if training.rescued:
        return report_rescue(training)
    try:
        print("Evaluating...", flush=True)
        results = training.evaluate(("train", "validation", "test") if args.evaluate_train else ("validation", "test"))
    except KeyboardInterrupt:
        print(f"Interrupted while evaluating; the model is saved in {model_path}", file=sys.stderr)
        return exit_status(received)
    print("\n" + results_table([(name.capitalize(), result) for name, result in results.items()]))
    print(TRAINING_LOSS_LEGEND.format(dropout=", with dropout on" if settings["dropout"] else ""))
    if settings["weight_average"]:
        print(AVERAGE_LEGEND)
    if settings["evaluate_before"]:
        report("After training", results["test"])
    for note in training.notes:
        print(note)
    if training.rejected:
        print(f"nnscratch train: the best epoch's accuracy is no better than chance, so {training.out} was kept "
              f"as it was; this run is in {model_path}", file=sys.stderr)
        return 2
    print(f"Saved the model to {model_path} and its history to {history_path}")
    if history.interrupted:
        print(f"Continue with: nnscratch train --resume {model_path} --epochs {settings['epochs']}")
        return exit_status(received)
    return 0


def exit_status(received):
    """128 + the signal's number, as a shell reports a process that a signal ended (130 for Ctrl-C)."""
    return 128 + (received[0] if received else signal.SIGINT)


def report_rescue(training):
    """The destination could not be written: say which file, why, and where the run is instead."""
    (path, reason), (model_path, history_path) = training.rescued, training.saved_paths
    kept = (f"the trained model is kept in {model_path} (its history in {history_path}): move it where you want it"
            if model_path else f"not even the model fitted in the temporary folder; its history is in {history_path}")
    print(f"nnscratch train: cannot write {path} ({reason}); {kept}", file=sys.stderr)
    return 1


def data_source(settings):
    if settings["dataset"] == "lines":
        return "drawn afresh from the seed"
    if settings.get("data"):
        return f"read from {settings['data']}"
    return f"from the cache in {default_cache_dir()}"


def report(when, result):
    print(f"{when}: test accuracy {result.correct} / {result.total} ({percent(result.accuracy)})")
