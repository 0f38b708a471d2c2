"""What ``nnscratch train`` keeps so that a run can be resumed: the best epoch so far, and the last epoch's
weights, optimizer, shuffling and dropout states, saved with the model (``--resume``)."""
from dataclasses import dataclass

from ..layers import Dropout

RESUME_PREFIX = "resume."  # the last epoch's weights, saved among the optimizer entries of the model file


def resume_entries(state):
    """The last epoch's weights, stored as ``resume.<name>`` entries beside the optimizer state."""
    return {f"{RESUME_PREFIX}{name}": array for name, array in state.items()}


def split_resume_state(saved):
    """The optimizer's own state and the last epoch's weights, from what the model file holds."""
    optimizer_state = {key: value for key, value in saved.items() if not key.startswith(RESUME_PREFIX)}
    last_state = {key[len(RESUME_PREFIX):]: value for key, value in saved.items() if key.startswith(RESUME_PREFIX)}
    return optimizer_state, last_state


def best_validation_accuracy(history):
    """The highest validation accuracy of the saved epochs (-1 when they had no validation set)."""
    accuracies = [accuracy for accuracy in history["val_accuracy"] if accuracy is not None]
    return max(accuracies, default=-1.0)


@dataclass
class Best:
    """The best epoch so far: its validation accuracy, number and weights (None before any epoch)."""

    accuracy: float = -1.0
    epoch: int = None
    state: dict = None


class BestTracker:
    """Keeps the weights of the epoch with the best validation accuracy (without validation: of the last whole
    epoch) to restore at the end, and the optimizer, shuffling and dropout states after the last whole epoch,
    so that a resumed run goes on as if it had never stopped."""

    def __init__(self, model, optimizer, rng, best=None):
        best = best or Best()
        self.model, self.best_accuracy, self.best_epoch, self.state = model, best.accuracy, best.epoch, best.state
        self.last_state = model.state_dict()
        self.optimizer, self.optimizer_state = optimizer, optimizer.state_dict()
        self.rng, self.rng_state = rng, rng.bit_generator.state
        self.dropout_rng = next((layer.rng for layer in dropout_layers(model)), None)
        self.dropout_rng_state = self.dropout_rng.bit_generator.state if self.dropout_rng else None

    def update(self, record):
        self.rng_state, self.optimizer_state = self.rng.bit_generator.state, self.optimizer.state_dict()
        self.last_state = self.model.state_dict()
        self.dropout_rng_state = self.dropout_rng.bit_generator.state if self.dropout_rng else None
        accuracy = record.get("val_accuracy")
        if accuracy is None or accuracy > self.best_accuracy:
            self.best_epoch, self.state = record["epoch"], self.model.state_dict()
            self.best_accuracy = self.best_accuracy if accuracy is None else accuracy

    def restore(self):
        if self.state is not None:
            self.model.load_state_dict(self.state)


def dropout_layers(model):
    return [layer for layer in model if isinstance(layer, Dropout)]
