"""nnscratch evaluate MODEL [MODEL ...]: test accuracy, per-class precision and recall, and the confusion matrix.

Several models are measured as one ensemble: their class probabilities are averaged.
"""
import math

from tabulate import tabulate

from ..metrics import confusion_matrix, precision_recall
from ..runs import data as run_data
from ..runs.data import check_fits
from ..runs.settings import SettingsError, saved_settings
from ..runs.table import DEFAULTS
from ..serialization import Ensemble, input_shape_of, load_models
from ..training import evaluate
from . import CommandError
from .console import architecture_line, percent


def add_parser(subparsers):
    parser = subparsers.add_parser("evaluate", help="measure a saved model on a test set",
                                   description=__doc__.splitlines()[0])
    parser.add_argument("models", metavar="MODEL", nargs="+", help="a model file written by nnscratch train (.npz, "
                        ".json or .onnx); several are measured as one ensemble, their probabilities averaged")
    parser.add_argument("--dataset", help="data set to measure on (default: the one the model was trained on)")
    parser.add_argument("--data", help="read the data set from this path instead of the cache")
    parser.add_argument("--split", choices=["test", "validation", "train"], default="test",
                        help="which split to measure (default: test)")
    parser.add_argument("--plots", metavar="DIR", help="also save confusion.png and mistakes.png in DIR")
    parser.set_defaults(run=run)


def run(args):
    if args.plots:  # a folder that cannot take the pictures is refused before the model and the data are read
        from ..viz.plots import check_writable_folder
        check_writable_folder(args.plots, "--plots")
    model, metadata = load_models(args.models)
    args.model = " + ".join(args.models)
    recorded = (metadata.get("training") or {}).get("settings") or {}
    chosen = {"dataset": args.dataset or recorded.get("dataset") or metadata.get("dataset"), "data": args.data}
    settings = saved_settings(recorded, **{name: value for name, value in chosen.items() if value},
                              train_size=None, validation_size=held_out(recorded, args.split))
    shape = input_shape_of(model, metadata)
    settings["input_shape"] = list(shape) if shape else None  # images (N, 1, 28, 28) for a convolutional model
    data = load_split_data(settings, args)
    check_fits(shape, None, data, f"the model in {args.model}")
    x, y = dict(data.splits())[args.split]
    output = model.predict_output(x[:1])
    check_fits(None, output.shape[1], data, f"the model in {args.model}")
    result = evaluate(model, x, y)
    if isinstance(model, Ensemble):
        print(f"Model     an ensemble of {len(model.members)} models, their probabilities averaged:")
        for path, member in zip(model.names, model.members, strict=True):
            print(f"          {path}: {architecture_line(member, data.input_shape)}")
    else:
        print(f"Model     {args.model}: {architecture_line(model, data.input_shape)}")
    print(f"Data      {data.name} {args.split} split, {len(x)} examples")
    print(f"Accuracy  {result.correct} / {result.total} ({percent(result.accuracy)})\n")
    predicted = model.predict(x)
    confusion = confusion_matrix(predicted, y, data.num_classes)
    precision, recall = precision_recall(confusion)
    rows = [[name, defined_percent(p, "never predicted"), defined_percent(r, "no examples"), int(count)]
            for name, p, r, count in zip(data.class_names, precision, recall, confusion.sum(axis=1), strict=True)]
    print(tabulate(rows, headers=["class", "precision", "recall", "examples"], tablefmt="simple",
                   disable_numparse=True))
    print("\nConfusion matrix (rows: true class, columns: predicted class)")
    print(tabulate([[name, *row] for name, row in zip(data.class_names, confusion.tolist(), strict=True)],
                   headers=["", *data.class_names], tablefmt="simple"))
    if args.plots:  # the confusion matrix as a heat map and the most confidently wrong digits, as PNG
        from ..viz.plots import save_evaluation_plots
        paths = save_evaluation_plots(args.plots, x.reshape(len(x), -1), y, model.predict_proba(x), confusion,
                                      data.class_names)
        print(f"\nSaved {' and '.join(paths)}")
    return 0


def held_out(recorded, split):
    """How many training examples to hold out for validation when measuring ``split``: none for the test split
    (it does not depend on the cut), the training run's own number for the train split, and for the validation
    split that number or, when the run held out none, the table's default (so that there is one to measure)."""
    if split == "test":
        return 0
    validation_size = recorded.get("validation_size", DEFAULTS["validation_size"])
    return (validation_size or DEFAULTS["validation_size"]) if split == "validation" else validation_size


def load_split_data(settings, args):
    """The data to measure on. The train and validation splits are cut as the model's training run cut them; a
    data set too small for that cut is named with both sizes."""
    try:
        return run_data.load_data(settings)
    except SettingsError as error:
        if error.setting != "validation_size":
            raise
        where = settings.get("data") or settings["dataset"]
        raise CommandError(f"--split {args.split}: the model's training run held out {settings['validation_size']} "
                           f"examples for validation, as many as or more than {where} has for training; measure "
                           f"it with --split test") from None


def defined_percent(fraction, reason):
    """A percentage, or why there is none (a precision of a class never predicted is 0 / 0, not 0 %)."""
    return f"undefined ({reason})" if math.isnan(fraction) else percent(fraction)
