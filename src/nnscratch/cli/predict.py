"""nnscratch predict MODEL [MODEL ...]: what a saved network says about a test digit or your own pictures.

Several models answer as one ensemble: their class probabilities are averaged.

With ``--index N`` or ``--random`` a digit of the test set is drawn as ASCII art, followed by the prediction,
the true label and the probability of every class. With image files (PNG, JPEG, any size, dark ink on light
paper or light on dark, drawings or photos of paper) each picture is prepared as MNIST digits were
(``nnscratch.images.prepare_digit``) first; an answer below ``LOW_CONFIDENCE`` is marked unsure, and a dot or a
speck gets "too little ink" rather than an answer. A CSV file of digits (the Kaggle Digit Recognizer's
test.csv: 784 pixels a row, with or without a label first) is answered as that competition's submission file,
``ImageId,Label`` a row, on standard output: ``nnscratch predict MODEL test.csv > submission.csv``.

A folder of pictures (``nnscratch predict MODEL digits/``) is answered one line per picture, in the order of
their names (``digit2.png`` before ``digit10.png``): the file's name, the predicted digit and its probability;
``--csv OUT.csv`` also writes them as a CSV file. A picture that cannot be read, or holds no digit, gets a line
saying why and the others are still answered. Exit status: 0 when every picture was answered, 1 when some could
not be, 2 when the folder holds no picture at all or the model cannot be read.
"""
import csv
import io
import os
import re
import sys

import numpy as np

from ..files import atomic_write
from ..images.prepare import LOW_CONFIDENCE, ImageError, is_unsure, load_image, prepare_digit
from ..serialization import load_models
from ..viz.ascii import image_to_ascii, probability_bars
from . import CommandError

FOLDER_CHUNK = 256  # pictures prepared, then predicted in one product


def add_parser(subparsers):
    parser = subparsers.add_parser("predict", help="show what a model predicts for a test digit or an image",
                                   description=__doc__.splitlines()[0])
    parser.add_argument("files", metavar="MODEL [MODEL ...] [IMAGE ... | FOLDER]", nargs="+",
                        help="model files (.npz, .json or .onnx; several answer as one ensemble), then picture "
                        "files of digits (PNG, JPEG, ...), one FOLDER of them (a line per picture), or one CSV "
                        "file of digits (Kaggle's test.csv), answered as ImageId,Label rows")
    choice = parser.add_mutually_exclusive_group()
    choice.add_argument("--index", type=int, help="predict test digit number N (0 to 9999 for MNIST)")
    choice.add_argument("--random", action="store_true", help="predict a randomly chosen test digit")
    parser.add_argument("--seed", type=int, help="seed for --random (default: a different digit each time)")
    parser.add_argument("--dataset", help="data set of --index/--random (default: the model's own)")
    parser.add_argument("--data", help="read the data set from this path instead of the cache")
    parser.add_argument("--show-input", action="store_true",
                        help="with IMAGE: print the 28x28 digit the network sees, as ASCII art")
    parser.add_argument("--csv", metavar="OUT.csv", help="with a FOLDER of pictures: also write the answers to this "
                        "CSV file (file,prediction,probability,error)")
    parser.epilog = ("With a FOLDER instead of IMAGE files, every picture in it is answered on one line, in the order "
                     "of the names; the exit status is 0 when all were answered, 1 when some could not be read.")
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
    folder = len(args.images) == 1 and os.path.isdir(args.images[0])
    check_folder_request(args, folder)
    model, metadata = load_models(models)
    names = [str(name) for name in metadata.get("class_names") or []] or None
    if folder:
        return predict_folder(model, metadata, names, args.images[0], args.csv)
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


def check_folder_request(args, folder):
    """A folder comes alone, and ``--csv`` with a folder only (``--show-input`` with picture files only)."""
    if not folder and any(os.path.isdir(path) for path in args.images):
        raise CommandError("give one FOLDER of pictures alone, or picture files, not both")
    if args.csv and not folder:
        raise CommandError("--csv writes the answers for a FOLDER of pictures: give the folder after the model")
    if args.csv and os.path.isdir(args.csv):
        raise CommandError(f"--csv {args.csv}: is a folder; give the name of the CSV file to write")
    if folder and args.show_input:
        raise CommandError("--show-input shows one picture at a time: give picture files, not a FOLDER")


def predict_folder(model, metadata, names, folder, csv_path):
    """One line per picture of ``folder`` in the order of the names, a line with the reason for one that cannot
    be read; the pictures are prepared one by one and predicted ``FOLDER_CHUNK`` at a time. Returns 0 when all
    were answered, 1 when some were not."""
    pictures, others = pictures_in(folder)
    if not pictures:
        raise CommandError(f"{folder}: no picture files in the folder (PNG, JPEG, ...)"
                           + (f"; it holds {describe_others(others)}" if others else ""))
    width = max(len(name) for name in pictures)
    rows = []
    for start in range(0, len(pictures), FOLDER_CHUNK):
        chunk = [(name, read_digit(os.path.join(folder, name))) for name in pictures[start:start + FOLDER_CHUNK]]
        read = [x for _, x in chunk if not isinstance(x, str)]
        probabilities = iter(probabilities_of(model, metadata, np.stack(read)) if read else [])
        for name, x in chunk:
            row = answer(name, next(probabilities), names) if not isinstance(x, str) else [name, "", "", x]
            print(folder_line(row, width), flush=True)
            rows.append(row)
    failed = sum(1 for row in rows if row[3])
    unsure = sum(1 for row in rows if not row[3] and is_unsure(row[2]))
    if csv_path:
        write_csv(csv_path, rows)
    notes = [f"{failed} could not be read" if failed else "",
             f"{unsure} unsure (below {100 * LOW_CONFIDENCE:.0f} %)" if unsure else "",
             f"written to {csv_path}" if csv_path else "", f"not read: {describe_others(others)}" if others else ""]
    print(f"nnscratch predict: {len(rows) - failed} of {len(rows)} pictures in {folder} answered"
          + "".join(f"; {note}" for note in notes if note), file=sys.stderr)
    return 1 if failed else 0


def pictures_in(folder):
    """The names of the picture files in ``folder`` (by the extensions Pillow reads), in natural order, and the
    names of what else is there (other files, sub-folders; hidden ones left out)."""
    from PIL import Image
    extensions = {extension for extension, kind in Image.registered_extensions().items() if kind in Image.OPEN}
    try:
        entries = [entry for entry in os.scandir(folder) if not entry.name.startswith(".")]
    except OSError as error:
        raise CommandError(f"{folder}: cannot read the folder ({error.strerror or error})") from None
    pictures = [entry.name for entry in entries
                if os.path.splitext(entry.name)[1].lower() in extensions and not entry.is_dir()]
    others = [entry.name + ("/" if entry.is_dir() else "") for entry in entries if entry.name not in pictures]
    return sorted(pictures, key=natural), sorted(others, key=natural)


def natural(name):
    """Sort key that orders the numbers inside names by value: digit2.png before digit10.png."""
    return [(0, int(part), part) if part.isdigit() else (1, 0, part.lower()) for part in re.split(r"(\d+)", name)]


def describe_others(names):
    shown = ", ".join(names[:5]) + (f" and {len(names) - 5} more" if len(names) > 5 else "")
    return f"{len(names)} other {'entry' if len(names) == 1 else 'entries'} ({shown})"


def read_digit(path):
    """The picture at ``path`` prepared as an MNIST digit, or the reason it cannot be, as a string."""
    try:
        return prepare_digit(load_image(path))
    except ValueError as error:  # ImageError (unreadable) and NoInkError (blank, too little ink) alike
        return str(error).removeprefix(f"{path}: ")


def answer(name, probabilities, names):
    """``[file, predicted class, its probability, ""]``: one row of the folder's answers."""
    predicted = int(probabilities.argmax())
    label = names[predicted] if names and predicted < len(names) else str(predicted)
    return [name, label, float(probabilities[predicted]), ""]


def folder_line(row, width):
    name, label, probability, error = row
    name = "".join(char if char.isprintable() else "?" for char in name)  # one line, whatever the file is called
    if error:
        return f"{name:<{width}}  not answered: {error}"
    unsure = "  unsure" if is_unsure(probability) else ""
    return f"{name:<{width}}  {label}  {100 * probability:6.2f} %{unsure}"


def write_csv(path, rows):
    """The answers as ``file,prediction,probability,error`` rows (probability to 6 decimals), atomically."""
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\n")
    writer.writerow(["file", "prediction", "probability", "error"])
    writer.writerows([name, label, "" if error else f"{probability:.6f}", error]
                     for name, label, probability, error in rows)
    with atomic_write(path) as file:
        file.write(text.getvalue().encode("utf-8"))
