"""nnscratch step (MODEL (--index N | IMAGE) | --example NAME): one SGD step on one example, every number shown.

The step runs in float64 on a copy of the model, with the engine's own layers, loss and SGD
(``nnscratch.explain.step``): the input, each layer's output, the loss, the gradient of the loss with respect to
each layer's output and input, each parameter's gradient, the update, the new parameters, and the loss after the
step on the same example. The model file is not changed. Arrays of more than 16 entries are shown by their shape,
their entry on one path through the network (one input pixel → one hidden unit → ... → one output) and their
largest entries; ``--json`` prints every array whole, ``--out step.html`` writes the table as a page.
``--example mazur`` (Matt Mazur's 2-2-2 network) and ``--example worked`` (docs/math.md's worked example) are
small enough to show whole.
"""
import json
import os
import sys

import numpy as np

from ..explain.step import StepError, loss_for, take_step
from ..explain.step_examples import EXAMPLES
from ..explain.step_table import SECTIONS, WHOLE, describe, layer_label, path_text, rows
from ..images.prepare import load_image, prepare_digit
from ..losses import LOSSES
from ..serialization import input_shape_of, load_model
from . import CommandError

DEFAULT_LR = 0.1
DIGIT_SIZE = 784


def add_parser(subparsers):
    parser = subparsers.add_parser("step", help="take one SGD step on one example and show every number",
                                   description=__doc__.splitlines()[0])
    parser.add_argument("model", metavar="MODEL", nargs="?", help="a model file (.npz, or .json from export)")
    parser.add_argument("image", metavar="IMAGE", nargs="?", help="a picture file of a digit (PNG, JPEG, ...)")
    parser.add_argument("--example", choices=sorted(EXAMPLES),
                        help="a small network that ships with nnscratch, with its input and target, instead of "
                             "MODEL: mazur (Mazur's 2-2-2 network) or worked (docs/math.md's worked example)")
    parser.add_argument("--index", type=int, metavar="N", help="step on test digit number N (0 to 9999 for MNIST)")
    parser.add_argument("--label", type=int, metavar="C",
                        help="the target class (default: the test digit's label; needed with IMAGE)")
    parser.add_argument("--lr", type=float, help=f"the learning rate η (default {DEFAULT_LR}, or the example's)")
    parser.add_argument("--loss", choices=sorted(LOSSES), metavar="NAME",
                        help=f"the loss: {', '.join(sorted(LOSSES))} (default: the one the model was trained with, "
                             f"else the usual one for its last layer)")
    parser.add_argument("--json", action="store_true", help="print one JSON object, every array whole")
    parser.add_argument("--out", metavar="HTML", help="also write the table as a page (e.g. step.html)")
    parser.add_argument("--dataset", help="data set of --index (default: the model's own)")
    parser.add_argument("--data", help="read the data set from this path instead of the cache")
    parser.set_defaults(run=run)


def run(args):
    check_request(args)
    if args.example:
        example = EXAMPLES[args.example]()
        model, x, target, loss, frozen = example.model, example.x, example.target, example.loss, example.frozen
        lr = example.lr if args.lr is None else args.lr
        origin, header = {"name": args.example}, [example.title, f"  {example.source}"]
        loss_origin = "the example's"
    else:
        model, metadata = load_model(args.model)
        try:
            loss, loss_origin = loss_for(model, metadata, args.loss)
        except StepError as error:
            raise CommandError(f"{args.model}: {error}") from None
        pixels, origin, label = input_digit(args, metadata)
        x = pixels.reshape(1, *digit_shape(args.model, model, metadata))
        target, frozen, lr = label if args.label is None else args.label, (), args.lr or DEFAULT_LR
        header = [f"{args.model} on {where(origin)}, target class {target}"]
    try:
        step = take_step(model, x, target, loss, lr, frozen)
    except StepError as error:
        flag = "--label: " if args.label is not None and "target class" in str(error) else ""
        raise CommandError(f"{flag}{error}") from None
    except (ValueError, NotImplementedError) as error:  # a layer that cannot take this input or has no backward
        raise CommandError(f"{args.model}: cannot take a step with this model: {error}") from None
    notes = header + [f"One SGD step in float64, η = {lr:g}; loss {type(step.loss).__name__} ({loss_origin}); "
                      f"the model{' file' if args.model else ''} is not changed."]
    if step.frozen:
        notes.append(f"Frozen: {', '.join(step.frozen)}: their gradients are shown, but the step leaves them.")
    if not np.isfinite(step.loss_after):
        notes.append(f"The loss after the step is {step.loss_after}: with η = {lr:g} the step overflowed float64.")
    if needs_path(step):
        notes.append(f"Arrays of more than {WHOLE} entries show their shape, their entry on the path "
                     f"{path_text(step)}, and their largest entries (--json has them whole).")
    if args.out:
        from ..explain.step_page import write_step_page
        write_step_page(args.out, step, notes)
    if args.json:
        answer = {"example": origin, **step.to_json()}
        json.dump(answer, sys.stdout, allow_nan=False)
        print()
    else:
        print_table(step, notes)
        if args.out:
            print(f"\nThe table is written to {args.out}")
    return 0


def check_request(args):
    """One way of naming the example: --example alone, or MODEL with either --index or IMAGE."""
    if args.example:
        given = [flag for flag, value in (("MODEL", args.model), ("--index", args.index), ("--label", args.label),
                                          ("--loss", args.loss), ("--dataset", args.dataset), ("--data", args.data))
                 if value is not None]
        if given:
            raise CommandError(f"--example brings its own network, input and target: leave out {', '.join(given)}")
    elif args.model is None:
        raise CommandError("say what to step: MODEL with --index N or an IMAGE file, or --example mazur/worked")
    elif (args.image is None) == (args.index is None):
        raise CommandError("say which example to step on: either --index N or an IMAGE file, not both")
    elif args.image is not None and args.label is None:
        raise CommandError("a picture has no label: say which digit it shows with --label C (a step needs a target)")
    if args.lr is not None and not args.lr > 0:
        raise CommandError(f"--lr must be positive, got {args.lr:g}")
    if args.out and not args.out.lower().endswith((".html", ".htm")):
        raise CommandError(f"--out must name an .html file, got {args.out}")
    if args.out and os.path.isdir(args.out):
        raise CommandError(f"--out {args.out}: is a folder; give the name of the page to write")


def input_digit(args, metadata):
    """The 784 pixel values to step on, a dict saying where they came from, and their label (None for IMAGE)."""
    if args.image is not None:
        try:
            return prepare_digit(load_image(args.image)), {"image": os.fspath(args.image)}, None
        except ValueError as error:
            raise CommandError(f"{args.image}: {error}" if args.image not in str(error) else str(error)) from None
    from ..datasets import load_dataset
    name = args.dataset or metadata.get("dataset") or "mnist"
    if name == "lines":
        raise CommandError("--index needs an image data set such as mnist; the lines are drawn fresh")
    x, y = load_dataset(name, path=args.data, validation_size=0).test
    if not 0 <= args.index < len(x):
        raise CommandError(f"--index must be from 0 to {len(x) - 1}, got {args.index}")
    label = int(y[args.index])
    return np.asarray(x[args.index], dtype=np.float64).reshape(-1), {"index": args.index, "label": label}, label


def digit_shape(path, model, metadata):
    """The shape one digit takes for this model: its file's input shape, or (1, 28, 28) for a convolutional
    network, which must hold 784 values."""
    shape = input_shape_of(model, metadata) or (1, 28, 28)
    if int(np.prod(shape)) != DIGIT_SIZE:
        raise CommandError(f"{path}: cannot take a step with this model on a digit: it takes input shape "
                           f"{tuple(shape)}, a digit has {DIGIT_SIZE} pixels")
    return shape


def where(origin):
    return f"test digit {origin['index']} (label {origin['label']})" if "index" in origin else origin["image"]


def needs_path(step):
    arrays = [step.x] + [array for part in step.layers for array in (part.output, *part.params.values())]
    return any(np.asarray(array).size > WHOLE for array in arrays)


def print_table(step, notes):
    """The rows of the step as aligned text: layer, function, symbol = equation = value, one section at a
    time."""
    print("\n".join(notes))
    table = rows(step)
    labels = [layer_label(row.layer) for row in table]
    width_layer = max(len(label) for label in labels)
    width_function = max(len(row.function) for row in table)
    lefts = [f"{row.symbol} = {row.equation}" if row.equation else row.symbol for row in table]
    width_left = min(max(len(left) for left in lefts), 60)
    section = previous = None
    for row, label, left in zip(table, labels, lefts, strict=True):
        if row.section != section:
            section, previous = row.section, None
            print(f"\n{SECTIONS[section]}")
        label, previous = ("" if label == previous else label), label  # each layer named once per section
        print(f"  {label:<{width_layer}}  {row.function:<{width_function}}  {left:<{width_left}}  = "
              f"{describe(row.value, row.path_entry)}".rstrip())
