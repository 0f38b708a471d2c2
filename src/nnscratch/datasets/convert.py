"""Writing a data set back out in the formats users already have: IDX, Kaggle CSV or Keras' .npz.

Each written set loads back through ``read_path`` to exactly the same arrays; EMNIST is written as its own
files are (images transposed, letters labelled from 1).
"""
from pathlib import Path

import numpy as np

from .csvfile import write_csv
from .errors import DataError
from .idx import write_idx
from .npz import write_npz

FORMATS = ("idx", "csv", "npz")


def export(raw, spec, directory, to="idx", compress=True, dotted=False):
    """Write ``raw`` (RawData of data set ``spec``) into ``directory`` as ``to``; return the paths written.

    For IDX, ``compress`` chooses .gz files and ``dotted`` the ``train-images.idx3-ubyte`` naming; for .npz,
    ``compress`` chooses zip compression.
    """
    if to not in FORMATS:
        raise DataError(f"unknown format {to!r}; expected one of {', '.join(FORMATS)}")
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    if to == "idx":
        return _export_idx(raw, spec, directory, compress, dotted)
    if to == "csv":
        paths = [directory / "mnist_train.csv", directory / "mnist_test.csv"]  # Kaggle's names, for every data set
        write_csv(paths[0], raw.x_train, raw.y_train)
        write_csv(paths[1], raw.x_test, raw.y_test)
        return paths
    path = directory / f"{spec.name}.npz"
    write_npz(path, {"x_train": raw.x_train, "y_train": raw.y_train.astype(np.uint8), "x_test": raw.x_test,
                     "y_test": raw.y_test.astype(np.uint8)}, compress=compress)
    return [path]


def _export_idx(raw, spec, directory, compress, dotted):
    test_word = "test" if spec.idx_prefix else "t10k"
    x_train, x_test = raw.x_train, raw.x_test
    if spec.transposed:
        x_train, x_test = x_train.transpose(0, 2, 1), x_test.transpose(0, 2, 1)
    y_train = (raw.y_train + spec.label_offset).astype(np.uint8)
    y_test = (raw.y_test + spec.label_offset).astype(np.uint8)
    paths = []
    for part, array in (("train-images", x_train), ("train-labels", y_train), (f"{test_word}-images", x_test),
                        (f"{test_word}-labels", y_test)):
        kind = "idx3" if part.endswith("images") else "idx1"
        name = f"{spec.idx_prefix}{part}{'.' if dotted else '-'}{kind}-ubyte{'.gz' if compress else ''}"
        write_idx(directory / name, array, compress=compress)
        paths.append(directory / name)
    return paths
