"""Reading a data set from files the user names: IDX (gz or plain, either naming), Kaggle CSV (plain or in a
.zip), Keras' ``mnist.npz`` or Nielsen's ``mnist.pkl.gz``.

``read_path(path, spec)`` accepts a directory holding any of these, or one file (a CSV file is paired with
the file of the same name with "train" and "test" swapped). Whatever the format, the result is checked and
returned as RawData: uint8 images, int64 labels from 0.
"""
import gzip
import zipfile
from pathlib import Path

from .arrays import check_raw
from .csvfile import parse_csv, read_csv
from .errors import DataError
from .idx import parse_idx, read_idx
from .npz import read_npz
from .safe_pickle import read_nielsen_pickle

CSV_PAIRS = (("mnist_train.csv", "mnist_test.csv"), ("train.csv", "test.csv"))


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
    arrays = [read_idx(path) for path in paths]
    return raw_from_arrays(*arrays, spec, str(paths[0].parent), from_idx=True)


def read_csv_pair(train_path, test_path, spec):
    x_train, y_train = read_csv(train_path)
    x_test, y_test = read_csv(test_path)
    return raw_from_arrays(x_train, y_train, x_test, y_test, spec, str(train_path.parent))


def read_zip(path, spec):
    """A .zip holding the CSV pair or the four IDX files, at any folder depth."""
    try:
        with zipfile.ZipFile(path) as archive:
            members = {Path(member).name: member for member in archive.namelist() if not member.endswith("/")}
            for train_name, test_name in CSV_PAIRS:
                if train_name in members and test_name in members:
                    x_train, y_train = parse_csv(archive.read(members[train_name]), f"{path}!{train_name}")
                    x_test, y_test = parse_csv(archive.read(members[test_name]), f"{path}!{test_name}")
                    return raw_from_arrays(x_train, y_train, x_test, y_test, spec, str(path))
            arrays = []
            for part in ("train-images", "train-labels", "t10k-images", "t10k-labels"):
                if spec.idx_prefix and part.startswith("t10k"):
                    part = "test" + part[4:]
                names = [name for name in idx_candidates(spec.idx_prefix, part) if name in members]
                if not names:
                    raise DataError(f"{path}: found neither {CSV_PAIRS[0][0]} and {CSV_PAIRS[0][1]} nor the "
                                    f"IDX file {idx_candidates(spec.idx_prefix, part)[0]} inside the zip")
                data = archive.read(members[names[0]])
                arrays.append(parse_idx(_gunzip(data, f"{path}!{names[0]}"), f"{path}!{names[0]}"))
            return raw_from_arrays(*arrays, spec, str(path), from_idx=True)
    except (zipfile.BadZipFile, OSError) as error:
        raise DataError(f"{path}: not a readable zip file ({error})") from None


def _gunzip(data, name):
    if data[:2] != b"\x1f\x8b":
        return data
    try:
        return gzip.decompress(data)
    except (OSError, EOFError) as error:
        raise DataError(f"{name}: damaged gzip data ({error})") from None


def read_file(path, spec):
    """Read one named file of any supported kind."""
    name = path.name.lower()
    if name.endswith(".npz"):
        arrays = read_npz(path)
        return raw_from_arrays(arrays["x_train"], arrays["y_train"], arrays["x_test"], arrays["y_test"],
                               spec, str(path))
    if name.endswith((".pkl", ".pkl.gz", ".pickle")):
        with open(path, "rb") as file:
            return raw_from_arrays(*read_nielsen_pickle(file.read(), str(path)), spec, str(path))
    if name.endswith(".zip"):
        return read_zip(path, spec)
    if name.endswith(".csv"):
        partner = path.with_name(name.replace("train", "\0").replace("test", "train").replace("\0", "test"))
        if partner == path or not partner.is_file():
            raise DataError(f"{path}: a CSV file needs its partner for the other split ({partner.name} was not found)")
        train, test = (path, partner) if "train" in name else (partner, path)
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
        if (path / train_name).is_file() and (path / test_name).is_file():
            return read_csv_pair(path / train_name, path / test_name, spec)
    for name in (f"{spec.name}.npz", "mnist.npz", f"{spec.name}.zip", "mnist.zip", "mnist.pkl.gz", "mnist.pkl"):
        if (path / name).is_file() and (spec.name == "mnist" or spec.name in name):
            return read_file(path / name, spec)
    raise DataError(f"{path}: found no {spec.name} files; expected the IDX files {', '.join(_idx_names(spec))} "
                    f"(.gz or plain, '-idx' or '.idx' naming), mnist_train.csv and mnist_test.csv, a .zip of "
                    f"those, {spec.name}.npz or mnist.pkl.gz")


__all__ = ["find_idx_files", "idx_candidates", "read_file", "read_path"]
