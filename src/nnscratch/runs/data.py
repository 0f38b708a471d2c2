"""The data of a run: a data set loaded in its splits (train, validation, test) as the network takes them, and
the check that a model fits it."""
import os
from dataclasses import dataclass

import numpy as np

from .build import is_cnn
from .settings import SettingsError

LINES_TEST_SIZE = 10000
PREPROCESSING = "pixel values / 255 as float32 in [0, 1], each image flattened row by row"
IMAGE_PREPROCESSING = "pixel values / 255 as float32 in [0, 1], each image as an array of shape (1, rows, columns)"


def preprocessing(input_shape):
    """How examples were prepared for a model that takes examples of ``input_shape``."""
    return IMAGE_PREPROCESSING if len(input_shape) > 1 else PREPROCESSING


def wants_images(settings):
    """Whether the network of ``settings`` takes (N, 1, H, W) images rather than flat rows."""
    return is_cnn(settings) or len(settings.get("input_shape") or []) > 1


@dataclass
class TrainingData:
    """The splits as ``(x, y)`` pairs (validation may be None), the data set's name and its class names."""

    name: str
    class_names: list
    train: tuple
    validation: tuple
    test: tuple

    def splits(self):
        return [("train", self.train), ("validation", self.validation or (None, None)), ("test", self.test)]

    @property
    def input_shape(self):
        return tuple(int(size) for size in self.train[0].shape[1:])

    @property
    def input_size(self):
        return int(np.prod(self.train[0].shape[1:]))

    @property
    def num_classes(self):
        return len(self.class_names)


def load_data(settings):
    """The data set named in ``settings`` (``dataset``, ``data``, ``validation_size``, ``train_size``, ``seed``),
    as flat rows or, for a network of images (``wants_images``), as (N, 1, H, W) images."""
    name, validation_size = settings["dataset"], int(settings["validation_size"])
    train_size = settings.get("train_size")
    if validation_size < 0 or (train_size is not None and int(train_size) < 1):
        raise SettingsError(f"{{validation_size}} must be >= 0 and {{train_size}} >= 1, got {validation_size} and "
                           f"{train_size}")
    from ..datasets import DATASETS
    if name not in ("lines", *DATASETS):
        raise SettingsError(f"{{dataset}} must be one of {', '.join(DATASETS)} or lines, got {name!r}")
    if name == "lines":
        check_memory_for_lines(int(train_size or 1500), validation_size + LINES_TEST_SIZE)
        data = make_lines_data(int(train_size or 1500), validation_size, settings["seed"])
        return as_images(data) if wants_images(settings) else data
    from ..datasets import load_dataset
    dataset = load_dataset(name, path=settings.get("data"), validation_size=0,
                           shape="image" if wants_images(settings) else "flat")
    train, validation = hold_out(dataset.train, validation_size, settings.get("data") or dataset.name)
    if train_size is not None:
        train = (train[0][:int(train_size)], train[1][:int(train_size)])
    class_names = list(getattr(dataset, "class_names", None) or range(int(dataset.train[1].max()) + 1))
    return TrainingData(dataset.name, [str(name) for name in class_names], train, validation, dataset.test)


def hold_out(train, validation_size, source):
    """The training split less its last ``validation_size`` examples, and those examples as the validation split
    (None for 0). A size that leaves nothing to train on is refused with one that fits."""
    count = len(train[0])
    if count == 0:
        raise SettingsError(f"{source} holds no training examples")
    if validation_size >= count:
        share = max(1, count // 6)  # MNIST's own proportion: 10,000 of 60,000
        raise SettingsError(f"{{validation_size}} {validation_size} leaves nothing to train on: {source} has "
                            f"{count:,} training examples; hold out fewer, such as {{validation_size}} {share} (a "
                            f"sixth, as MNIST's 10,000 of 60,000), or 0 for none", "validation_size")
    if not validation_size:
        return train, None
    cut = count - validation_size
    return (train[0][:cut], train[1][:cut]), (train[0][cut:], train[1][cut:])


def check_memory_for_lines(train_size, others):
    """Drawing ``train_size`` images of lines (16 × 16 float32 each), and ``others`` for validation and test, must
    fit in this machine's memory."""
    needed = (train_size + others) * 16 * 16 * 4
    available = physical_memory()
    if available and needed > available // 2:
        raise SettingsError(f"{{train_size}} {train_size}: that many images of lines would take "
                            f"{needed / 2**30:,.1f} GiB of memory, more than half of this machine's "
                            f"{available / 2**30:.1f} GiB; draw fewer", "train_size")


def physical_memory():
    """This machine's memory in bytes (None where the system does not say)."""
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return None


def make_lines_data(train_size, validation_size, seed):
    """16x16 images of one horizontal or vertical line: fresh images for every split, from one seed."""
    from ..datasets import make_lines
    rng = np.random.default_rng([int(seed), 16])
    train = make_lines(train_size, rng)
    validation = make_lines(validation_size, rng) if validation_size else None
    test = make_lines(LINES_TEST_SIZE, rng)
    return TrainingData("lines", ["horizontal", "vertical"], train, validation, test)


def as_images(data):
    """The same splits with each flat square image as (1, side, side)."""
    side = int(round(data.input_size ** 0.5))

    def reshape(split):
        return None if split is None else (split[0].reshape(len(split[0]), 1, side, side), split[1])

    return TrainingData(data.name, data.class_names, reshape(data.train), reshape(data.validation),
                        reshape(data.test))


def check_fits(model_inputs, model_outputs, data, what="the network"):
    """One readable line when the model's input (a size or a shape) does not fit the data's examples, or its
    outputs the number of classes."""
    if model_inputs is not None:
        shape = (int(model_inputs),) if isinstance(model_inputs, (int, np.integer)) else tuple(model_inputs)
        if len(shape) == 1 and len(data.input_shape) == 1 and shape[0] != data.input_size:
            raise SettingsError(f"{what} takes {shape[0]} inputs per example, but {data.name} examples have "
                               f"{data.input_size} values")
        if shape != data.input_shape:
            raise SettingsError(f"{what} takes examples of shape {shape}, but {data.name} examples have shape "
                               f"{data.input_shape}")
    if model_outputs is not None and model_outputs != data.num_classes:
        raise SettingsError(f"{what} has {model_outputs} outputs, but {data.name} has {data.num_classes} classes")
