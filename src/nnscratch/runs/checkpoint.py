"""What a saved run keeps so that it can be resumed exactly: the last epoch's weights, optimizer state, the
shuffling and dropout generators' states, and the weight average with its number of updates when the run keeps
one (the file's main weights are the best epoch's)."""
import numpy as np

from ..callbacks import Callback
from ..layers import Dropout

RESUME_PREFIX = "resume."    # the last epoch's weights, saved among the optimizer entries of the model file
AVERAGE_PREFIX = "average."  # the weight average at the last epoch's end, beside them
AVERAGE_UPDATES = "average_updates"


def split_resume_state(saved):
    """The optimizer's own state, the last epoch's weights and the weight average (its weights by name and its
    number of updates; empty and 0 when the run kept none), from what the model file holds."""
    def entries(prefix):
        return {key[len(prefix):]: value for key, value in saved.items() if key.startswith(prefix)}

    optimizer_state = {key: value for key, value in saved.items()
                       if not key.startswith((RESUME_PREFIX, AVERAGE_PREFIX)) and key != AVERAGE_UPDATES}
    return optimizer_state, entries(RESUME_PREFIX), (entries(AVERAGE_PREFIX), int(saved.get(AVERAGE_UPDATES, 0)))


class ResumePoint(Callback):
    """After every whole epoch, copies of what a resumed run needs to go on as if it had never stopped."""

    def __init__(self, model, optimizer, rng, average=None):
        self.model, self.optimizer, self.rng, self.average = model, optimizer, rng, average
        self.dropout_rng = next((layer.rng for layer in dropout_layers(model)), None)
        self.on_epoch_end(None)

    def on_epoch_end(self, state):
        self.last_state, self.optimizer_state = self.model.state_dict(), self.optimizer.state_dict()
        self.rng_state = self.rng.bit_generator.state
        self.dropout_rng_state = self.dropout_rng.bit_generator.state if self.dropout_rng else None
        if self.average is not None:
            self.average_state, self.average_updates = self.average.state_dict(), self.average.updates

    def entries(self):
        """The optimizer state, the last epoch's weights as ``resume.<name>`` and, when there is one, the weight
        average as ``average.<name>`` with ``average_updates``: the optimizer entries of the model file."""
        entries = {**self.optimizer_state, **{f"{RESUME_PREFIX}{name}": array
                                              for name, array in self.last_state.items()}}
        if self.average is not None and self.average_updates:
            entries.update({f"{AVERAGE_PREFIX}{name}": array for name, array in self.average_state.items()})
            entries[AVERAGE_UPDATES] = np.array(self.average_updates, dtype=np.int64)
        return entries


def dropout_layers(model):
    return [layer for layer in model if isinstance(layer, Dropout)]
