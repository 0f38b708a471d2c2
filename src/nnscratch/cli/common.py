"""What the train and evaluate commands share: loading a data set in its splits, and checking a model against it."""
from dataclasses import dataclass

import numpy as np

from ..layers import Linear
from . import CommandError

LINES_TEST_SIZE = 10000
PREPROCESSING = "pixel values / 255 as float32 in [0, 1], each image flattened row by row"


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
    def input_size(self):
        return int(np.prod(self.train[0].shape[1:]))

    @property
    def num_classes(self):
        return len(self.class_names)


def load_data(settings):
    """The data set named in ``settings`` (``dataset``, ``data``, ``validation_size``, ``train_size``, ``seed``)."""
    name, validation_size = settings["dataset"], int(settings["validation_size"])
    train_size = settings.get("train_size")
    if validation_size < 0 or (train_size is not None and int(train_size) < 1):
        raise CommandError(f"--validation-size must be >= 0 and --train-size >= 1, got {validation_size} and "
                           f"{train_size}")
    if name == "lines":
        return make_lines_data(int(train_size or 1500), validation_size, settings["seed"])
    from ..datasets import load_dataset
    dataset = load_dataset(name, path=settings.get("data"), validation_size=validation_size)
    train = dataset.train
    if train_size is not None:
        train = (train[0][:int(train_size)], train[1][:int(train_size)])
    class_names = list(getattr(dataset, "class_names", None) or range(int(dataset.train[1].max()) + 1))
    return TrainingData(dataset.name, [str(name) for name in class_names], train, dataset.validation, dataset.test)


def make_lines_data(train_size, validation_size, seed):
    """16x16 images of one horizontal or vertical line: fresh images for every split, from one seed."""
    from ..datasets import make_lines
    rng = np.random.default_rng([int(seed), 16])
    train = make_lines(train_size, rng)
    validation = make_lines(validation_size, rng) if validation_size else None
    test = make_lines(LINES_TEST_SIZE, rng)
    return TrainingData("lines", ["horizontal", "vertical"], train, validation, test)


def input_features(model):
    """The number of inputs per example that the model's first dense layer takes."""
    for layer in model:
        if isinstance(layer, Linear):
            return layer.in_features
    return None


def check_fits(model_inputs, model_outputs, data, what="the network"):
    """One readable line when layer sizes do not fit the data's input size or number of classes."""
    if model_inputs is not None and model_inputs != data.input_size:
        raise CommandError(f"{what} takes {model_inputs} inputs per example, but {data.name} examples have "
                           f"{data.input_size} values")
    if model_outputs is not None and model_outputs != data.num_classes:
        raise CommandError(f"{what} has {model_outputs} outputs, but {data.name} has {data.num_classes} classes")
