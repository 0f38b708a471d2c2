"""What the draw page asks of a model: prepare a drawing, predict it, describe the network, serve test digits.

``DrawService`` wraps a trained model and its metadata, or an ``Ensemble`` of several (which answers with the
mean of their probabilities, and whose members the header names). A drawing goes through ``prepare_digit``, the same
preparation that ``nnscratch predict IMAGE`` uses (crop to the ink, fit into 20×20, centre by centre of mass in
28×28, scale to [0, 1]), so the page shows exactly the 28×28 input the network receives.
"""
import threading
import time

import numpy as np

from ..explain.explainer import default_input_shape
from ..images.prepare import LOW_CONFIDENCE, NoInkError, is_unsure, prepare_digit
from ..serialization import Ensemble, input_shape_of
from ..viz.summary import short_architecture

DIGIT_SIDE = 28
DIGIT_SIZE = DIGIT_SIDE * DIGIT_SIDE
NOTHING_DRAWN = "nothing drawn yet"


class DrawService:
    """A model ready for the draw page.

    ``name`` is what the page calls it (usually the file name); ``test_set`` is ``(x, y)`` with x of shape
    (N, 784) in [0, 1], or a function that returns it on first use (loading MNIST takes a second), or None.
    """

    def __init__(self, model, metadata=None, name="model", test_set=None, rng=None):
        self.model = model.eval()
        self.metadata = dict(metadata or {})
        self.name = str(name)
        self.input_shape = digit_input_shape(self.model, self.metadata)
        if is_ensemble(self.model):
            self.model.check_outputs(self.input_shape)
        probabilities = self.model.predict_proba(np.zeros((1, *self.input_shape), dtype=np.float32))
        if probabilities.ndim != 2 or probabilities.shape[1] < 2:
            raise ValueError(f"the draw page needs a classifier with at least 2 outputs, got output shape "
                             f"{probabilities.shape}")
        self.num_classes = probabilities.shape[1]
        names = self.metadata.get("class_names")
        if not (isinstance(names, list) and len(names) == self.num_classes):
            names = [str(index) for index in range(self.num_classes)]
        self.class_names = [str(name) for name in names]
        self._test_set = test_set
        self._rng = np.random.default_rng(rng)
        self._lock = threading.Lock()  # layers keep their forward state, so one prediction at a time

    def describe(self):
        """The model's name, architecture, size and recorded accuracy, for the page's header. For an ensemble,
        ``members`` lists each model's name, architecture and size (None for one model), and no test accuracy is
        recorded: the files record their own, not the ensemble's."""
        members = describe_members(self.model) if is_ensemble(self.model) else None
        accuracy = None if members else self.metadata.get("test_accuracy")
        architecture = (" + ".join(member["architecture"] for member in members) if members
                        else short_architecture(self.model))
        return {"name": self.name, "architecture": architecture, "parameters": int(self.model.num_parameters()),
                "test_accuracy": float(accuracy) if isinstance(accuracy, (int, float)) else None,
                "dataset": self.metadata.get("dataset"), "preset": self.metadata.get("preset"),
                "class_names": self.class_names, "members": members}

    def predict(self, image):
        """Prepare a 2-D grey image and return the answer as a JSON-ready dict.

        ``unsure`` says whether the answer's probability is below ``LOW_CONFIDENCE``. An image without ink answers
        ``{"status": "empty", "message": "nothing drawn yet"}``, not a guess.
        """
        start = time.perf_counter()
        try:
            digit = prepare_digit(image)
        except NoInkError:
            return {"status": "empty", "message": NOTHING_DRAWN, "prediction": None, "probabilities": None,
                    "preview": None}
        with self._lock:
            probabilities = self.model.predict_proba(digit.reshape(1, *self.input_shape))[0]
        prediction = int(np.argmax(probabilities))
        return {"status": "ok", "prediction": prediction, "label": self.class_names[prediction],
                "unsure": is_unsure(probabilities[prediction]), "low_confidence": LOW_CONFIDENCE,
                "probabilities": [round(float(value), 6) for value in probabilities],
                "preview": [round(float(value), 4) for value in digit.reshape(-1)],
                "milliseconds": round((time.perf_counter() - start) * 1000, 3)}

    def use_weights(self, state):
        """Predict from now on with the weights of ``state`` (a state dict of this model's shape)."""
        with self._lock:
            self.model.load_state_dict(state)

    def test_digit(self, index=None):
        """A test image (random unless ``index`` is given) as ``{"index", "label", "pixels"}`` (784 values in
        [0, 1])."""
        x, y = self.test_set()
        if index is None:
            index = int(self._rng.integers(len(x)))
        elif not 0 <= index < len(x):
            raise IndexError(f"test digit index must be in 0..{len(x) - 1}, got {index}")
        return {"index": index, "label": int(y[index]),
                "pixels": [round(float(value), 4) for value in x[index].reshape(-1)]}

    def test_set(self):
        """The test images and labels, loaded on first use; LookupError when there are none."""
        if callable(self._test_set):
            with self._lock:
                if callable(self._test_set):
                    try:
                        self._test_set = self._test_set()
                    except (ValueError, OSError) as error:
                        self._test_set = f"the test digits cannot be loaded: {error}"
        if self._test_set is None or isinstance(self._test_set, str):
            raise LookupError(self._test_set or "no test digits are available for this model")
        x, y = self._test_set
        if np.asarray(x).reshape(len(x), -1).shape[1] != DIGIT_SIZE:
            raise LookupError(f"test digits must be 28×28 images, got shape {np.shape(x)}")
        return np.asarray(x).reshape(len(x), DIGIT_SIZE), np.asarray(y)


def is_ensemble(model):
    return isinstance(model, Ensemble)


def describe_members(ensemble):
    """Each member's name, architecture and size, for the page's header."""
    return [{"name": name, "architecture": short_architecture(member), "parameters": int(member.num_parameters())}
            for name, member in zip(ensemble.names, ensemble.members, strict=True)]


def digit_input_shape(model, metadata):
    """The shape of one example as the model takes it (``serialization.input_shape_of``; for a file that does not
    record it and starts with a convolution, its channels of 28×28 images), which for the draw page must hold the
    784 pixels of a 28×28 digit."""
    first = next((layer for layer in getattr(model, "members", [model])[0] if layer.params), None)
    shape = input_shape_of(model, metadata) or default_input_shape(first)
    if int(np.prod(shape)) != DIGIT_SIZE:
        raise ValueError(f"the draw page needs a model of 28×28 images (784 inputs), but this one takes "
                         f"input shape {tuple(shape)}")
    return tuple(shape)


TEST_DATASETS = ("mnist", "fashion-mnist", "kmnist", "emnist-digits", "emnist-letters")


def dataset_test_digits(metadata):
    """The test split of the data set a model was trained on (MNIST when its metadata does not say)."""
    from ..datasets import load_dataset
    name = metadata.get("dataset") or "mnist"
    if name not in TEST_DATASETS:
        raise ValueError(f"the model was trained on {name!r}, which has no 28×28 test digits")
    return load_dataset(name, validation_size=0).test
