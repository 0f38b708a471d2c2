"""nnscratch explain MODEL (--index N | IMAGE): why the network gave its answer, and what it looked at.

For a test digit (``--index N``) or a picture file (prepared as MNIST digits were), it prints the prediction, the
split of the explained class's logit into the last hidden layer's units (z_c = Σ_j a_j W[j, c] + b_c, largest
first) and, with ``--versus R``, the split of z_c - z_r. ``--out`` draws the input, the probabilities, the
saliency map ∂z_c/∂x and gradient × input, the contributions, every hidden layer's activations and the nearest
training digits in one PNG; ``--json`` prints everything as one JSON object instead of the text.
"""
import json
import os
import sys

import numpy as np

from ..explain import Explainer, ExplainError
from ..images.prepare import load_image, prepare_digit
from ..serialization import load_model
from . import CommandError

SHOWN_UNITS = 10


def add_parser(subparsers):
    parser = subparsers.add_parser("explain", help="show why a model gave its answer for a digit",
                                   description=__doc__.splitlines()[0])
    parser.add_argument("model", metavar="MODEL", help="a model file (.npz, or .json from nnscratch export)")
    parser.add_argument("image", metavar="IMAGE", nargs="?", help="a picture file of a digit (PNG, JPEG, ...)")
    parser.add_argument("--index", type=int, help="explain test digit number N (0 to 9999 for MNIST)")
    parser.add_argument("--class", dest="class_index", type=int, metavar="C",
                        help="the class to explain (default: the prediction)")
    parser.add_argument("--versus", type=int, metavar="R", help="also split z_C - z_R: why C rather than R")
    parser.add_argument("--out", metavar="PNG", help="draw the views in this PNG file (e.g. explain.png)")
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of the text")
    parser.add_argument("--dataset", help="data set of --index and the nearest digits (default: the model's own)")
    parser.add_argument("--data", help="read the data set from this path instead of the cache")
    parser.set_defaults(run=run)


def run(args):
    if (args.image is None) == (args.index is None):
        raise CommandError("say what to explain: either --index N or an IMAGE file, not both")
    if args.out and not args.out.lower().endswith(".png"):
        raise CommandError(f"--out must name a .png file, got {args.out}")
    if args.out:  # a folder that cannot take the picture is refused before any work
        from ..viz.plots import check_writable_folder
        check_writable_folder(os.path.dirname(os.path.abspath(args.out)), "--out")
    model, metadata = load_model(args.model)
    try:
        explainer = Explainer(model, metadata, train_set=lambda: training_digits(args, metadata))
    except ExplainError as error:
        raise CommandError(f"{args.model}: {error}") from None
    for flag, value in (("--class", args.class_index), ("--versus", args.versus)):
        if value is not None and not 0 <= value < explainer.num_classes:
            raise CommandError(f"{flag} must be from 0 to {explainer.num_classes - 1}, got {value}")
    if args.versus is not None and args.versus == args.class_index:
        raise CommandError(f"--versus must name another class than --class, got {args.versus} for both")
    pixels, source = input_digit(args, metadata)
    answer = explainer.explain(pixels, args.class_index, args.versus)
    answer = {"source": source, **answer}
    if args.out:
        from ..explain.figure import draw_explanation
        draw_explanation(args.out, explainer, pixels, answer, neighbours(explainer, pixels))
    if args.json:
        json.dump(answer, sys.stdout, allow_nan=False)
        print()
    else:
        print_answer(answer, explainer.class_names)
        if args.out:
            print(f"\nThe views are drawn in {args.out}")
    return 0


def input_digit(args, metadata):
    """The 784 pixel values to explain, and a dict that says where they came from."""
    if args.image is not None:
        try:
            return prepare_digit(load_image(args.image)), {"image": os.fspath(args.image)}
        except ValueError as error:
            raise CommandError(f"{args.image}: {error}" if args.image not in str(error) else str(error)) from None
    x, y = test_digits(args, metadata)
    if not 0 <= args.index < len(x):
        raise CommandError(f"--index must be from 0 to {len(x) - 1}, got {args.index}")
    return np.asarray(x[args.index]).reshape(-1), {"index": args.index, "label": int(y[args.index])}


def dataset_name(args, metadata):
    name = args.dataset or metadata.get("dataset") or "mnist"
    if name == "lines":
        raise CommandError("explain needs an image data set such as mnist; the lines are drawn fresh")
    return name


def test_digits(args, metadata):
    from ..datasets import load_dataset
    return load_dataset(dataset_name(args, metadata), path=args.data, validation_size=0).test


def training_digits(args, metadata):
    from ..datasets import load_dataset
    return load_dataset(dataset_name(args, metadata), path=args.data, validation_size=0).train


def neighbours(explainer, pixels):
    """The nearest training digits for the picture, or None (with a note) when the training digits are not
    available."""
    try:
        return explainer.neighbours(pixels)
    except (ExplainError, CommandError) as error:
        print(f"nnscratch explain: note: no nearest training digits in the picture: {error}", file=sys.stderr)
        return None


def print_answer(answer, names):
    source = answer["source"]
    where = f"test digit {source['index']} (label {names[source['label']]})" if "index" in source \
        else source["image"]
    probabilities = answer["probabilities"]
    prediction, explained = answer["prediction"], answer["class"]
    print(f"{where}: prediction {names[prediction]} ({100 * probabilities[prediction]:.2f} %)")
    print_split(f"Why {names[explained]}: z = {answer['logits'][explained]:.4f}", answer["contributions"],
                answer["bias"])
    if "versus" in answer:
        versus = answer["versus"]
        print_split(f"Why {names[explained]} rather than {names[versus['class']]}: "
                    f"z_{explained} - z_{versus['class']} = {versus['difference']:.4f}",
                    versus["contributions"], versus["bias"])
    completeness = answer["completeness"]
    exact = "exactly, as the network is piecewise linear" if completeness["piecewise_linear"] else \
        "only approximately: the network is not piecewise linear"
    print(f"\nPixels: Σ gradient × input = {completeness['gradient_x_input']:.4f}, plus the bias terms "
          f"{completeness['bias_terms']:.4f} = {completeness['sum']:.4f}, the logit {completeness['logit']:.4f} "
          f"({exact})")


def print_split(title, contributions, bias):
    print(f"\n{title}")
    print(f"  {'unit':>6} {'activation':>11} {'weight':>9} {'contribution':>13}")
    for part in contributions[:SHOWN_UNITS]:
        print(f"  {part['unit']:>6} {part['activation']:>11.4f} {part['weight']:>9.4f} {part['contribution']:>+13.4f}")
    rest = sum(part["contribution"] for part in contributions[SHOWN_UNITS:])
    if len(contributions) > SHOWN_UNITS:
        print(f"  {len(contributions) - SHOWN_UNITS:>3} other units {rest:>+28.4f}")
    print(f"  {'bias':>6} {bias:>+35.4f}")
    print(f"  {'total':>6} {sum(part['contribution'] for part in contributions) + bias:>+35.4f}")
