"""nnscratch predict MODEL [MODEL ...]: what a saved network says about a test digit or your own pictures.

Several models answer as one ensemble: their class probabilities are averaged.

With ``--index N`` or ``--random`` a digit of the test set is drawn as ASCII art, followed by the prediction,
the true label and the probability of every class. With image files (PNG, JPEG, any size, dark ink on light
paper or light on dark, drawings or photos of paper) each picture is prepared as MNIST digits were
(``nnscratch.images.prepare_digit``) first; an answer below ``LOW_CONFIDENCE`` is marked unsure, and a dot or a
speck gets "too little ink" rather than an answer. A CSV file of digits (the Kaggle Digit Recognizer's
test.csv: 784 pixels a row, with or without a label first) is answered as that competition's submission file,
``ImageId,Label`` a row, on standard output: ``nnscratch predict MODEL test.csv > submission.csv``.
"""
import sys

import numpy as np

from ..viz.ascii import image_to_ascii, probability_bars
from ..images.prepare import LOW_CONFIDENCE, ImageError, is_unsure, load_image, prepare_digit
from ..serialization import load_models
from . import CommandError


def add_parser(subparsers):
    parser = subparsers.add_parser("predict", help="show what a model predicts for a test digit or an image",
                                   description=__doc__.splitlines()[0])
    parser.add_argument("files", metavar="MODEL [MODEL ...] [IMAGE ...]", nargs="+",
                        help="model files (.npz, .json or .onnx; several answer as one ensemble), then picture "
                        "files of digits (PNG, JPEG, ...) or one CSV file of digits (Kaggle's test.csv), answered "
                        "as ImageId,Label rows")
    choice = parser.add_mutually_exclusive_group()
    choice.add_argument("--index", type=int, help="predict test digit number N (0 to 9999 for MNIST)")
    choice.add_argument("--random", action="store_true", help="predict a randomly chosen test digit")
    parser.add_argument("--seed", type=int, help="seed for --random (default: a different digit each time)")
    parser.add_argument("--dataset", help="data set of --index/--random (default: the model's own)")
    parser.add_argument("--data", help="read the data set from this path instead of the cache")
    parser.add_argument("--show-input", action="store_true",
                        help="with IMAGE: print the 28x28 digit the network sees, as ASCII art")
    parser.set_defaults(run=run)


MODEL_EXTENSIONS = (".npz", ".json", ".onnx")


def run(args):
    count = next((i for i, name in enumerate(args.files) if not name.lower().endswith(MODEL_EXTENSIONS)),
                 len(args.files))
    models, args.images = args.files[:max(count, 1)], args.files[max(count, 1):]
    if args.images and (args.index is not None or args.random):
        raise CommandError("give either IMAGE files or --index/--random, not both")
    if not args.images and args.index is None and not args.random:
        raise CommandError("say what to predict: IMAGE files, --index N or --random")
    model, metadata = load_models(models)
    names = [str(name) for name in metadata.get("class_names") or []] or None
    if len(args.images) == 1 and args.images[0].lower().endswith(".csv"):
        return predict_csv(model, metadata, args.images[0])
    if args.images:
        return predict_images(model, metadata, names, args.images, args.show_input)
    return predict_test_digit(model, metadata, names, args)


def probabilities_of(model, metadata, x):
    """Class probabilities for rows of 784 values, reshaped to the model's input shape if it has one."""
    shape = metadata.get("input_shape")
    if shape and len(shape) > 1:
        x = x.reshape(len(x), *shape)
    try:
        return model.predict_proba(x.astype(model.dtype, copy=False))
    except ValueError as error:
        raise CommandError(f"the model cannot take a {x.shape[-1]}-pixel digit: {error}") from None


def predict_test_digit(model, metadata, names, args):
    from ..datasets import load_dataset
    name = args.dataset or metadata.get("dataset") or "mnist"
    if name == "lines":
        raise CommandError("--index/--random need an image data set such as mnist; the lines are drawn fresh")
    x, y = load_dataset(name, path=args.data, validation_size=0).test
    if args.random:
        index = int(np.random.default_rng(args.seed).integers(len(x)))
    else:
        index = args.index
        if not 0 <= index < len(x):
            raise CommandError(f"--index must be from 0 to {len(x) - 1}, got {index}")
    probabilities = probabilities_of(model, metadata, x[index:index + 1])[0]
    names = names or [str(label) for label in range(len(probabilities))]
    truth = int(y[index])
    predicted = int(probabilities.argmax())
    verdict = "right" if predicted == truth else "wrong"
    print(f"Test digit {index} of {name}:\n")
    print(image_to_ascii(x[index]))
    print(f"\nPrediction: {names[predicted]}   True label: {names[truth]}   ({verdict})\n")
    print(probability_bars(probabilities, names, truth=truth))
    return 0


def predict_images(model, metadata, names, paths, show_input):
    """Predict each picture in turn; a file that cannot be read or holds no ink gets its own one-line error
    and the others still get their answers (exit status 2 if any failed)."""
    failures = predicted_files = 0
    for path in paths:
        try:
            x = prepare_digit(load_image(path))
        except ValueError as error:  # ImageError (missing, unreadable) and NoInkError (blank) alike
            message = str(error) if isinstance(error, ImageError) else f"{path}: {error}"
            print(f"nnscratch predict: error: {message}", file=sys.stderr)
            failures += 1
            continue
        probabilities = probabilities_of(model, metadata, x[None, :])[0]
        names = names or [str(label) for label in range(len(probabilities))]
        predicted = int(probabilities.argmax())
        if predicted_files:
            print()
        predicted_files += 1
        unsure = (f", unsure: below {100 * LOW_CONFIDENCE:.0f} %; is it a digit, and is it clear?"
                  if is_unsure(probabilities[predicted]) else "")
        print(f"{path}: prediction {names[predicted]} ({100 * probabilities[predicted]:.2f} %{unsure})")
        if show_input:
            print("\nWhat the network sees (28x28, after cropping, scaling and centring):")
            print(image_to_ascii(x))
            print()
        print(probability_bars(probabilities, names))
    return 2 if failures else 0


def predict_csv(model, metadata, path):
    """Every row of a CSV file of digits (pixels 0..255, a label first or not), answered as the Kaggle Digit
    Recognizer's submission file: ``ImageId,Label``, ids counted from 1."""
    from ..datasets import DataError, to_float
    from ..datasets.csvfile import csv_has_labels, parse_csv
    try:
        with open(path, "rb") as file:
            data = file.read()
    except OSError as error:
        raise CommandError(f"{path}: cannot read the file ({error.strerror or error})") from None
    try:
        pixels, _ = parse_csv(data, path, labelled=csv_has_labels(data))
    except DataError as error:
        raise CommandError(str(error)) from None
    if pixels.max(initial=0) > 255:
        raise CommandError(f"{path}: pixel values must lie in 0..255, found {pixels.max()}")
    x = to_float(pixels.astype(np.uint8))
    labels = np.concatenate([probabilities_of(model, metadata, x[start:start + 1000]).argmax(axis=1)
                             for start in range(0, len(x), 1000)])
    lines = ["ImageId,Label", *(f"{index},{label}" for index, label in enumerate(labels.tolist(), 1))]
    sys.stdout.write("\n".join(lines) + "\n")
    print(f"nnscratch predict: {len(x)} digits of {path} answered (ImageId,Label)", file=sys.stderr)
    return 0
