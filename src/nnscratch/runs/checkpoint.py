"""What a saved run keeps so that it can be resumed exactly: the last epoch's weights, optimizer state, and the
shuffling and dropout generators' states (the file's main weights are the best epoch's)."""
from ..callbacks import Callback
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


class ResumePoint(Callback):
    """After every whole epoch, copies of what a resumed run needs to go on as if it had never stopped."""

    def __init__(self, model, optimizer, rng):
        self.model, self.optimizer, self.rng = model, optimizer, rng
        self.dropout_rng = next((layer.rng for layer in dropout_layers(model)), None)
        self.on_epoch_end(None)

    def on_epoch_end(self, state):
        self.last_state, self.optimizer_state = self.model.state_dict(), self.optimizer.state_dict()
        self.rng_state = self.rng.bit_generator.state
        self.dropout_rng_state = self.dropout_rng.bit_generator.state if self.dropout_rng else None


def dropout_layers(model):
    return [layer for layer in model if isinstance(layer, Dropout)]
