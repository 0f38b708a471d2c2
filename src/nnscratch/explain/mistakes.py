"""The mistakes explorer: the confusion matrix of the test set, and the digits in any of its cells.

C[i, j] counts the test digits of true class i that the network called j; a cell's digits are listed most
confident first (by the probability the network gave its answer j), so the worst mistakes lead.
"""
import numpy as np

from ..metrics import confusion_matrix


class Mistakes:
    """Predictions of a whole test set, kept so that every cell can be listed without running the model."""

    def __init__(self, probabilities, y):
        self.probabilities = np.asarray(probabilities)
        self.y = np.asarray(y).astype(np.int64)
        self.predicted = self.probabilities.argmax(axis=1)
        self.num_classes = self.probabilities.shape[1]
        self.confusion = confusion_matrix(self.predicted, self.y, self.num_classes)

    @property
    def accuracy(self):
        return float(np.mean(self.predicted == self.y)) if len(self.y) else 0.0

    def cell(self, true_class, predicted_class, count=50):
        """Indices of the test digits of class ``true_class`` predicted as ``predicted_class``, with the
        probability of the prediction, most confident first."""
        for name, value in (("true class", true_class), ("predicted class", predicted_class)):
            if not 0 <= value < self.num_classes:
                raise ValueError(f"{name} must be from 0 to {self.num_classes - 1}, got {value}")
        members = np.flatnonzero((self.y == true_class) & (self.predicted == predicted_class))
        confidence = self.probabilities[members, predicted_class]
        order = np.argsort(-confidence, kind="stable")[:count]
        return members[order], confidence[order]
