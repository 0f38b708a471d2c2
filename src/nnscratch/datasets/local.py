"""Reading a data set from files the user names: IDX (gz or plain, either naming), Kaggle CSV (plain or in a
.zip), Keras' ``mnist.npz`` or Nielsen's ``mnist.pkl.gz``.

``read_path(path, spec)`` accepts a directory holding any of these (or a single .zip of any name, as Kaggle
downloads arrive: ``archive.zip``), or one file (a CSV file is paired with the file of the same name with
"train" and "test" swapped). The Kaggle "Digit Recognizer" files are a labelled train.csv and a test.csv without
labels (for ``nnscratch predict``): the last ``HELD_OUT_SHARE`` of train.csv becomes the test split. Whatever
the format, the result is checked and returned as RawData: uint8 images, int64 labels from 0. A zip member is
read only once the sizes in the zip's directory show it fits (``open_member``).
"""
import zipfile
from contextlib import contextmanager
from pathlib import Path

from ..serialization.archive import ZIP_ERRORS, check_expansion
from .arrays import check_raw
from .csvfile import csv_has_labels, parse_csv, read_csv, read_csv_data, read_csv_stream
from .errors import DataError
from .files import MAX_DATA_BYTES, sha256_file
from .folders import looks_like_picture_folders, read_folders
from .idx import read_idx, read_idx_stream
from .npz import read_npz
from .safe_pickle import read_nielsen_pickle

CSV_PAIRS = (("mnist_train.csv", "mnist_test.csv"), ("train.csv", "test.csv"))
HELD_OUT_SHARE = 1 / 7    # of a labelled CSV without a labelled test file: MNIST's own 10,000 of 70,000


def idx_candidates(prefix, part):
    """The file names an IDX part may have: ``train-images-idx3-ubyte`` or ``train-images.idx3-ubyte``, ±.gz."""
    kind = "idx3" if part.endswith("images") else "idx1"
    names = [f"{prefix}{part}-{kind}-ubyte", f"{prefix}{part}.{kind}-ubyte"]
    return [name + suffix for name in names for suffix in (".gz", "")]


def find_idx_files(directory, spec):
    """Return the four IDX paths in ``directory`` (train images/labels, test images/labels) or None."""
    found = []
    for part in ("train-images", "train-labels", "t10k-images", "t10k-labels"):
        if spec.idx_prefix and part.startswith("t10k"):
            part = "test" + part[4:]  # EMNIST says "test", MNIST says "t10k"
        matches = [directory / name for name in idx_candidates(spec.idx_prefix, part) if (directory / name).is_file()]
        if not matches:
            return None
        found.append(matches[0])
    return found


def raw_from_arrays(x_train, y_train, x_test, y_test, spec, name, from_idx=False):
    return check_raw(x_train, y_train, x_test, y_test, spec.num_classes, name,
                     label_offset=spec.label_offset if from_idx else 0,
                     transposed=spec.transposed and from_idx)


def read_idx_files(paths, spec):
    arrays = [read_idx(path) for path in paths]  # each refused by its header before anything else is read
    check_published_files(paths, spec)
    return raw_from_arrays(*arrays, spec, str(paths[0].parent), from_idx=True)


def check_published_files(paths, spec):
    """Refuse the four IDX files when their SHA-256s are those published for another data set (MNIST's files
    offered as Fashion-MNIST, say): the arrays alone cannot tell the two apart."""
    from .sources import DATASETS
    published = {remote.sha256: other.name for other in DATASETS.values() for remote in other.idx_files}
    owners = {published.get(sha256_file(path)) for path in paths}
    if len(owners) == 1 and None not in owners and spec.name not in owners:
        raise DataError(f"{paths[0].parent}: these are the published {owners.pop()} files (by their SHA-256), not "
                        f"{spec.name}")


def read_csv_pair(train_path, test_path, spec):
    """A labelled training CSV and its test CSV; a test CSV without labels (or none) means the test split is
    held out of the training file."""
    test = None
    if test_path is not None and test_path.is_file():
        data = read_csv_data(test_path)
        test = parse_csv(data, str(test_path)) if csv_has_labels(data) else None
    return raw_from_csv(read_csv(train_path), test, spec, str(train_path))


def raw_from_csv(train, test, spec, name):
    """RawData from a labelled training CSV's (pixels, labels) and the test CSV's, or, when ``test`` is None,
    with the last ``HELD_OUT_SHARE`` of the training rows as the test split."""
    x_train, y_train = train
    if test is None:
        if len(x_train) < 2:
            raise DataError(f"{name}: {len(x_train)} labelled row(s); at least two are needed to hold out a test "
                            f"split (the other CSV has no labels)")
        cut = len(x_train) - max(1, round(HELD_OUT_SHARE * len(x_train)))
        test, (x_train, y_train) = (x_train[cut:], y_train[cut:]), (x_train[:cut], y_train[:cut])
    return raw_from_arrays(x_train, y_train, *test, spec, name)


def read_zip(path, spec):
    """A .zip holding the CSV pair (or a labelled train.csv alone) or the four IDX files, at any folder depth."""
    try:
        with zipfile.ZipFile(path) as archive:
            members = {Path(info.filename).name: info for info in archive.infolist() if not info.is_dir()}
            for train_name, test_name in CSV_PAIRS:
                if train_name in members:
                    with open_member(archive, members[train_name], path) as (stream, name):
                        train = parse_csv(read_csv_stream(stream, name), name)
                    test = None
                    if test_name in members:
                        with open_member(archive, members[test_name], path) as (stream, name):
                            data = read_csv_stream(stream, name)
                        test = parse_csv(data, name) if csv_has_labels(data) else None
                    return raw_from_csv(train, test, spec, str(path))
            arrays = []
            for part in ("train-images", "train-labels", "t10k-images", "t10k-labels"):
                if spec.idx_prefix and part.startswith("t10k"):
                    part = "test" + part[4:]
                names = [name for name in idx_candidates(spec.idx_prefix, part) if name in members]
                if not names:
                    raise DataError(f"{path}: found neither {CSV_PAIRS[0][0]} and {CSV_PAIRS[0][1]} nor the "
                                    f"IDX file {idx_candidates(spec.idx_prefix, part)[0]} inside the zip")
                with open_member(archive, members[names[0]], path) as (stream, name):
                    arrays.append(read_idx_stream(stream, name, members[names[0]].file_size))
            return raw_from_arrays(*arrays, spec, str(path), from_idx=True)
    except ZIP_ERRORS as error:
        raise DataError(f"{path}: not a readable zip file ({error})") from None


@contextmanager
def open_member(archive, info, path):
    """``(stream, name)`` of a zip member, once the zip's directory shows that it holds at most
    ``MAX_DATA_BYTES`` and does not expand more than ``check_expansion`` allows."""
    name = f"{path}!{Path(info.filename).name}"
    if info.file_size > MAX_DATA_BYTES:
        raise DataError(f"{name}: {info.file_size:,} bytes uncompressed, more than the {MAX_DATA_BYTES:,} "
                        f"nnscratch reads")
    problem = check_expansion("it", info.compress_size, info.file_size)
    if problem:
        raise DataError(f"{name}: {problem}")
    with archive.open(info) as stream:
        yield stream, name


def read_file(path, spec):
    """Read one named file of any supported kind."""
    name = path.name.lower()
    if name.endswith(".npz"):
        arrays = read_npz(path)
        return raw_from_arrays(arrays["x_train"], arrays["y_train"], arrays["x_test"], arrays["y_test"],
                               spec, str(path))
    if name.endswith((".pkl", ".pkl.gz", ".pickle")):
        if path.stat().st_size > MAX_DATA_BYTES:
            raise DataError(f"{path}: {path.stat().st_size:,} bytes, more than the {MAX_DATA_BYTES:,} nnscratch reads")
        return raw_from_arrays(*read_nielsen_pickle(path.read_bytes(), str(path)), spec, str(path))
    if name.endswith(".zip"):
        return read_zip(path, spec)
    if name.endswith(".csv"):
        partner = path.with_name(name.replace("train", "\0").replace("test", "train").replace("\0", "test"))
        train, test = (path, partner) if "train" in name else (partner, path)
        if not train.is_file() or train == test:
            raise DataError(f"{path}: a CSV file of test images needs its training partner ({partner.name} was "
                            f"not found); a CSV without labels is for nnscratch predict")
        return read_csv_pair(train, test, spec)
    if "ubyte" in name:
        paths = find_idx_files(path.parent, spec)
        if paths is None:
            raise DataError(f"{path.parent}: expected the four IDX files {', '.join(_idx_names(spec))} (.gz or plain)")
        return read_idx_files(paths, spec)
    raise DataError(f"{path}: unknown kind of file; expected IDX (*-ubyte[.gz]), CSV, .zip, .npz or .pkl.gz")


def _idx_names(spec):
    parts = ("train-images", "train-labels", "test-images" if spec.idx_prefix else "t10k-images",
             "test-labels" if spec.idx_prefix else "t10k-labels")
    return [idx_candidates(spec.idx_prefix, part)[0] for part in parts]


def read_path(path, spec):
    """Read data set ``spec`` from a file or a directory the user names; raise DataError if nothing fits."""
    path = Path(path).expanduser()
    if path.is_file():
        return read_file(path, spec)
    if not path.is_dir():
        raise DataError(f"{path}: no such file or directory")
    paths = find_idx_files(path, spec)
    if paths is not None:
        return read_idx_files(paths, spec)
    for train_name, test_name in CSV_PAIRS:
        if (path / train_name).is_file():
            return read_csv_pair(path / train_name, path / test_name, spec)
    for name in (f"{spec.name}.npz", "mnist.npz", f"{spec.name}.zip", "mnist.zip", "mnist.pkl.gz", "mnist.pkl"):
        if (path / name).is_file() and (spec.name == "mnist" or spec.name in name):
            return read_file(path / name, spec)
    zips = sorted(candidate for candidate in path.glob("*.zip") if candidate.is_file())
    if len(zips) == 1:  # a download with a name of its own, such as Kaggle's archive.zip
        return read_zip(zips[0], spec)
    if zips:
        raise DataError(f"{path}: found {len(zips)} zip files ({', '.join(found.name for found in zips)}) and no "
                        f"{spec.name} files beside them; pass the one to read with --data {path / zips[0].name}")
    if looks_like_picture_folders(path):  # my_digits/0/*.png, my_digits/1/*.png, ...
        return read_folders(path, spec)
    raise DataError(f"{path}: found no {spec.name} files; expected the IDX files {', '.join(_idx_names(spec))} "
                    f"(.gz or plain, '-idx' or '.idx' naming), mnist_train.csv and mnist_test.csv, a .zip of "
                    f"those, {spec.name}.npz or mnist.pkl.gz")


__all__ = ["find_idx_files", "idx_candidates", "read_file", "read_path"]
