"""Callbacks: what ``fit`` tells the outside world, and the one way to pick the best weights.

``fit`` calls each hook of each callback with the ``TrainingState``: the model, the optimizer, where training
is and the last batch's loss. A callback reads it to show progress or record metrics, and may change it at a
batch boundary: ``state.stop = True`` ends training, ``state.batch_size`` sets the size of the next batch.
``MeasureEachEpoch`` adds a data set's loss and accuracy to every epoch's record (``fit`` uses it for the
validation set); ``EarlyStopping`` keeps the best epoch's weights by a monitored metric, stops when it stops
improving and puts those weights back.
"""
import math
from dataclasses import dataclass, field

from .evaluation import measure


@dataclass
class TrainingState:
    """Where ``fit`` is. ``epoch`` counts from 0 (a record's ``"epoch"`` from 1); ``step`` is the number of
    batches done in this epoch, ``position`` the examples done; ``record`` is the epoch's record once it ends."""

    model: object
    optimizer: object
    loss: object
    history: object
    first_epoch: int
    last_epoch: int              # training runs epochs first_epoch .. last_epoch - 1
    batch_size: int
    epoch: int = 0
    steps: int = 0               # batches in this epoch at the current batch size
    step: int = 0
    position: int = 0
    batch_loss: float = math.nan
    record: dict = field(default_factory=dict)
    stop: bool = False


class Callback:
    """Hooks that ``fit`` calls with the ``TrainingState``; override the ones you need (each does nothing here)."""

    def on_train_begin(self, state):
        pass

    def on_epoch_begin(self, state):
        pass

    def on_batch_begin(self, state):
        pass

    def on_batch_end(self, state):
        pass

    def on_epoch_end(self, state):
        pass

    def on_train_end(self, state):
        pass


class MeasureEachEpoch(Callback):
    """Adds ``{prefix}_loss``, ``{prefix}_accuracy``, ``{prefix}_correct`` and ``{prefix}_total`` of ``(x, y)``,
    measured in eval mode (``evaluation.measure``, for data already checked), to every epoch's record."""

    def __init__(self, prefix, x, y):
        self.prefix, self.x, self.y = prefix, x, y

    def on_epoch_end(self, state):
        result = measure(state.model, self.x, self.y, loss=state.loss)
        state.record.update({f"{self.prefix}_loss": result.loss, f"{self.prefix}_accuracy": result.accuracy,
                             f"{self.prefix}_correct": result.correct, f"{self.prefix}_total": result.total})


class EarlyStopping(Callback):
    """The best epoch by ``monitor`` and, optionally, stopping once it has not improved for ``patience`` epochs.

    ``monitor`` is a record key: ``"val_loss"`` (lower is better) or an accuracy such as ``"val_accuracy"``
    (higher is better). An epoch is better when it improves on the best by more than ``min_delta``. Without the
    metric (no validation set), the latest epoch counts as the best. At the end of training the best epoch's
    weights are put back (``restore_best``) and ``history.best_epoch`` names it. A run that goes on from an
    earlier ``history`` continues from that history's best value; ``best_state`` gives the weights of that epoch
    when the caller kept them, so that they can still be restored.
    """

    def __init__(self, monitor="val_loss", patience=None, min_delta=0.0, restore_best=True, best_state=None):
        if patience is not None and patience < 1:
            raise ValueError(f"patience must be at least 1, got {patience}")
        if min_delta < 0:
            raise ValueError(f"min_delta must be >= 0, got {min_delta}")
        self.monitor, self.patience, self.min_delta, self.restore_best = monitor, patience, min_delta, restore_best
        self.lower_is_better = monitor.endswith("loss")
        self.best_state = best_state
        self.best_value, self.best_epoch, self.waited = None, None, 0

    def improves(self, value):
        if self.best_value is None:
            return True
        if self.lower_is_better:
            return value < self.best_value - self.min_delta
        return value > self.best_value + self.min_delta

    def on_train_begin(self, state):
        self.best_value, self.best_epoch, self.waited = None, None, 0
        for record in state.history.epochs:  # a continued run starts from its history's best
            value = record.get(self.monitor)
            if value is None or self.improves(value):
                self.best_value, self.best_epoch, self.waited = value, record["epoch"], 0
            else:
                self.waited += 1

    def on_epoch_end(self, state):
        value = state.record.get(self.monitor)
        if value is None or self.improves(value):
            self.best_value, self.best_epoch, self.waited = value, state.record["epoch"], 0
            self.best_state = state.model.state_dict()
            return
        self.waited += 1
        if self.patience is not None and self.waited >= self.patience:
            state.stop = True
            state.history.stopped_early = True

    def on_train_end(self, state):
        if self.best_epoch is not None:
            state.history.best_epoch = self.best_epoch
        if self.restore_best and self.best_state is not None:
            state.model.load_state_dict(self.best_state)
