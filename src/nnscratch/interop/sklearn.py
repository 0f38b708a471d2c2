"""scikit-learn estimators over nnscratch's engine: ``MLPClassifier`` and ``CNNClassifier``.

They follow scikit-learn's developer guide (parameters stored as given, learned attributes ending in ``_``,
``fit`` returning ``self``) and pass its estimator checks, so they work in ``Pipeline``, ``GridSearchCV`` and
``cross_val_score`` like any classifier: ``from nnscratch.interop.sklearn import MLPClassifier``. Inputs are rows
of features (pixels in [0, 1] for digits); ``CNNClassifier`` reshapes each row to an image. Needs
``nnscratch[sklearn]``.
"""
import math

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.utils import check_random_state
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, validate_data

from ..layers import ACTIVATIONS, Conv2D, Dropout, Flatten, Linear, MaxPool2D, ReLU
from ..losses import SoftmaxCrossEntropy
from ..network import Sequential
from ..optimizers import OPTIMIZERS
from ..training import fit


class NetworkClassifier(ClassifierMixin, BaseEstimator):
    """What both estimators share: labels, training with nnscratch's ``fit``, prediction. Subclasses build the
    network (``build_network``) and shape the rows (``as_inputs``)."""

    def fit(self, X, y):
        """Train a new network on ``X`` (n_samples, n_features) and labels ``y`` for ``epochs`` epochs."""
        X, y = validate_data(self, X, y, dtype=np.float32)
        check_classification_targets(y)
        self.classes_, labels = np.unique(y, return_inverse=True)
        self.start(X)
        return self.train_epochs(X, labels, self.epochs)

    def partial_fit(self, X, y, classes=None):
        """One epoch over ``X, y``; the first call builds the network and needs every class in ``classes``."""
        first = not hasattr(self, "classes_")
        X, y = validate_data(self, X, y, dtype=np.float32, reset=first)
        check_classification_targets(y)
        if first:
            if classes is None:
                raise ValueError("classes must be given on the first call to partial_fit")
            self.classes_ = np.unique(classes)
            self.start(X)
        elif classes is not None and not np.array_equal(np.unique(classes), self.classes_):
            raise ValueError(f"classes {np.unique(classes)} differ from those of the first call, {self.classes_}")
        unknown = np.setdiff1d(y, self.classes_)
        if len(unknown):
            raise ValueError(f"y has labels {unknown} that are not among the classes {self.classes_}")
        return self.train_epochs(X, np.searchsorted(self.classes_, y), 1)

    def start(self, X):
        if len(self.classes_) < 2:
            raise ValueError(f"{type(self).__name__} needs samples of at least 2 classes, got 1 class: "
                             f"{self.classes_[0]!r}")
        if self.optimizer not in OPTIMIZERS:
            raise ValueError(f"optimizer must be one of {', '.join(OPTIMIZERS)}, got {self.optimizer!r}")
        seed = check_random_state(self.random_state).randint(np.iinfo(np.int32).max)
        self._rng = np.random.default_rng(seed)
        self.network_ = self.build_network(X.shape[1], len(self.classes_), self._rng)
        self._optimizer = OPTIMIZERS[self.optimizer](self.network_, lr=self.learning_rate)
        self.loss_curve_, self.n_iter_ = [], 0

    def train_epochs(self, X, labels, epochs):
        if not isinstance(epochs, (int, np.integer)) or epochs < 1:
            raise ValueError(f"epochs must be a positive integer, got {epochs!r}")
        history = fit(self.network_, self.as_inputs(X), labels, SoftmaxCrossEntropy(), self._optimizer,
                      epochs=epochs, batch_size=int(self.batch_size), rng=self._rng)
        self.loss_curve_ += history["loss"]
        self.n_iter_ += len(history)
        return self

    def predict_proba(self, X):
        """Class probabilities, one column per entry of ``classes_``."""
        check_is_fitted(self)
        X = validate_data(self, X, dtype=np.float32, reset=False)
        return self.network_.predict_proba(self.as_inputs(X))

    def predict(self, X):
        """The most likely class of each row, as a value of ``classes_``."""
        probabilities = self.predict_proba(X)
        return self.classes_[np.argmax(probabilities, axis=1)]


class MLPClassifier(NetworkClassifier):
    """A fully connected network: ``Linear -> activation (-> Dropout)`` per hidden layer, then logits.

    Parameters
    ----------
    hidden_layer_sizes : the width of each hidden layer.
    activation : the hidden layers' activation (``relu``, ``leaky_relu``, ``tanh``, ``sigmoid``).
    dropout : the dropout probability after each hidden layer (0 for none).
    optimizer, learning_rate : nnscratch's optimizer by name (``adam``, ``sgd``, ...) and its step size.
    batch_size, epochs : examples per step, and passes over the data in ``fit``.
    random_state : seed of the initial weights and of the shuffling (None, an int or a RandomState).
    """

    def __init__(self, hidden_layer_sizes=(100,), activation="relu", dropout=0.0, optimizer="adam",
                 learning_rate=0.001, batch_size=32, epochs=20, random_state=None):
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.dropout = dropout
        self.optimizer = optimizer
        self.learning_rate = learning_rate
        self.batch_size = batch_size
        self.epochs = epochs
        self.random_state = random_state

    def build_network(self, n_features, n_classes, rng):
        if self.activation not in ACTIVATIONS or self.activation == "softmax":
            raise ValueError(f"activation must be one of relu, leaky_relu, tanh, sigmoid, got {self.activation!r}")
        sizes = [n_features, *(int(size) for size in self.hidden_layer_sizes)]
        layers = []
        for fan_in, fan_out in zip(sizes[:-1], sizes[1:], strict=True):
            layers += [Linear(fan_in, fan_out, rng=rng), ACTIVATIONS[self.activation]()]
            if self.dropout:
                layers.append(Dropout(self.dropout, rng=rng))
        return Sequential(*layers, Linear(sizes[-1], n_classes, rng=rng))

    def as_inputs(self, X):
        return X


class CNNClassifier(NetworkClassifier):
    """A small convolutional network: ``Conv2D -> ReLU -> MaxPool2D`` per entry of ``channels``, then a hidden
    dense layer and logits. Each row is reshaped to ``image_shape``.

    Parameters
    ----------
    image_shape : (height, width) or (channels, height, width) of one row; None: a square one-channel image
        when the number of features is a square (784 -> 28×28), else a single row of pixels.
    channels, kernel_size : output channels of each convolution, and their square kernel (padded to keep the
        size; a pooling halves it where the image is at least 2 pixels each way).
    hidden : the width of the dense layer after the convolutions.
    optimizer, learning_rate, batch_size, epochs, random_state : as in ``MLPClassifier``.
    """

    def __init__(self, image_shape=None, channels=(8, 16), kernel_size=3, hidden=64, optimizer="adam",
                 learning_rate=0.001, batch_size=32, epochs=20, random_state=None):
        self.image_shape = image_shape
        self.channels = channels
        self.kernel_size = kernel_size
        self.hidden = hidden
        self.optimizer = optimizer
        self.learning_rate = learning_rate
        self.batch_size = batch_size
        self.epochs = epochs
        self.random_state = random_state

    def input_shape(self, n_features):
        if self.image_shape is None:
            side = math.isqrt(n_features)
            return (1, side, side) if side * side == n_features else (1, 1, n_features)
        shape = tuple(int(size) for size in self.image_shape)
        shape = (1, *shape) if len(shape) == 2 else shape
        if len(shape) != 3 or math.prod(shape) != n_features:
            raise ValueError(f"image_shape {self.image_shape} does not hold the {n_features} features of a row")
        return shape

    def build_network(self, n_features, n_classes, rng):
        in_channels, height, width = self.input_shape(n_features)
        kernel = int(self.kernel_size)
        if kernel < 1 or kernel % 2 == 0:
            raise ValueError(f"kernel_size must be a positive odd number (the padding keeps the size), got {kernel}")
        layers = []
        for out_channels in self.channels:
            layers += [Conv2D(in_channels, int(out_channels), kernel, padding=kernel // 2, rng=rng), ReLU()]
            if height >= 2 and width >= 2:
                layers.append(MaxPool2D(2))
                height, width = height // 2, width // 2
            in_channels = int(out_channels)
        return Sequential(*layers, Flatten(), Linear(in_channels * height * width, int(self.hidden), rng=rng), ReLU(),
                          Linear(int(self.hidden), n_classes, rng=rng))

    def as_inputs(self, X):
        return X.reshape(len(X), *self.input_shape(X.shape[1]))
