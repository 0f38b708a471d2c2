"""Metrics for classifiers: accuracy, the confusion matrix, and per-class precision and recall."""
import numpy as np


def predicted_classes(output):
    """The class of each row: the argmax of a score matrix, or a threshold at 0.5 for a single column."""
    if output.ndim == 2 and output.shape[1] == 1:
        return (output[:, 0] > 0.5).astype(np.int64)
    return output.argmax(axis=1)


def true_classes(target):
    """Integer labels from labels or from one-hot / probability rows."""
    target = np.asarray(target)
    return target.argmax(axis=1) if target.ndim == 2 else target


def count_correct(output, target):
    """How many rows of ``output`` predict their target's class."""
    return int(np.count_nonzero(predicted_classes(output) == true_classes(target)))


def accuracy(output, target):
    """The fraction of rows whose predicted class is the target class."""
    return count_correct(output, target) / len(output)


def confusion_matrix(predicted, actual, num_classes):
    """C[i, j] = the number of examples of true class i predicted as j."""
    predicted, actual = np.asarray(predicted), np.asarray(actual)
    for name, labels in (("predicted", predicted), ("actual", actual)):
        if labels.size and (labels.min() < 0 or labels.max() >= num_classes):
            raise ValueError(f"{name} classes must lie in [0, {num_classes}), got [{labels.min()}, {labels.max()}]")
    counts = np.bincount(actual * num_classes + predicted, minlength=num_classes ** 2)
    return counts.reshape(num_classes, num_classes)


def precision_recall(confusion):
    """Per class: precision = C[j, j] / Σ_i C[i, j] and recall = C[i, i] / Σ_j C[i, j].

    Where a ratio is undefined it is NaN, never 0: the precision of a class that was never predicted (0 / 0) says
    nothing, which is not the same as a precision of 0 (predicted, always wrongly); likewise the recall of a class
    with no examples.
    """
    diagonal = np.diag(confusion).astype(np.float64)
    predicted = confusion.sum(axis=0)
    actual = confusion.sum(axis=1)
    precision = np.divide(diagonal, predicted, out=np.full_like(diagonal, np.nan), where=predicted > 0)
    recall = np.divide(diagonal, actual, out=np.full_like(diagonal, np.nan), where=actual > 0)
    return precision, recall
