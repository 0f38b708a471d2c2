"""An exponential moving average of the weights, kept beside training.

The weights at the end of a run wander with the last few batches; an average over the recent steps is often a
little better, and costs one multiply-add per weight per step. ``WeightAverage`` is a callback that keeps it:
``fit(..., callbacks=[average])`` updates it after every step, ``with average.swapped_in(model):`` evaluates
with it, and at the end of training it is put into the model, so that the model saved afterwards holds it.
``SeenAveraged`` lets other callbacks judge each epoch by the average: measured, picked as the best epoch and
kept by ``EarlyStopping``, while training goes on from the model's own weights.
"""
from contextlib import contextmanager

import numpy as np

from .callbacks import Callback


class WeightAverage(Callback):
    """θ̄ ← d θ̄ + (1 - d) θ after every step, for every parameter and buffer (running statistics too).

    The average starts as the weights after the first step. With ``warmup`` the decay of the k-th update is
    d_k = min(decay, (1 + k) / (10 + k)), so that early weights, far from the end, fade fast; without it d_k =
    decay, as ``torch.optim.swa_utils.get_ema_multi_avg_fn(decay)`` computes. ``apply_at_end`` puts the average
    into the model when training ends. ``state_dict()`` and ``load_state_dict()`` carry the average (and the
    number of updates) over to a resumed run.
    """

    def __init__(self, decay=0.999, warmup=True, apply_at_end=True):
        if not 0.0 <= decay < 1.0:
            raise ValueError(f"the decay of a weight average must lie in [0, 1), got {decay}")
        self.decay, self.warmup, self.apply_at_end = float(decay), bool(warmup), bool(apply_at_end)
        self.average, self.updates = {}, 0

    def update(self, model):
        """Fold the model's current weights into the average."""
        self.updates += 1
        current = model.state_dict() if self.updates == 1 else {**model.parameters(), **model.named_buffers()}
        if self.updates == 1:
            self.average = current
            return
        decay = min(self.decay, (1.0 + self.updates) / (10.0 + self.updates)) if self.warmup else self.decay
        for name, average in self.average.items():
            # θ̄ ← d θ̄ + (1 - d) θ, written θ̄ += (1 - d)(θ - θ̄) to work in place
            average += (1.0 - decay) * (current[name] - average)

    def state_dict(self):
        """The averaged weights by dotted name, as a model's ``state_dict`` names them (copies)."""
        return {name: array.copy() for name, array in self.average.items()}

    def load_state_dict(self, state, updates):
        self.average = {name: np.array(array) for name, array in state.items()}
        self.updates = int(updates)

    def apply_to(self, model):
        """Put the averaged weights into ``model``."""
        if not self.average:
            raise ValueError("the weight average is empty: no training step has been averaged yet")
        model.load_state_dict(self.average)

    @contextmanager
    def swapped_in(self, model):
        """``with average.swapped_in(model):`` the block sees the averaged weights; the model's own come back
        afterwards, even if the block raises."""
        own = model.state_dict()
        self.apply_to(model)
        try:
            yield model
        finally:
            model.load_state_dict(own)

    def on_batch_end(self, state):
        self.update(state.model)

    def on_train_end(self, state):
        if self.apply_at_end and self.average:
            self.apply_to(state.model)


class SeenAveraged(Callback):
    """Passes every hook on to ``callbacks``, in order; their ``on_epoch_end`` runs with ``average`` swapped into
    the model. With a ``MeasureEachEpoch`` and an ``EarlyStopping`` inside, each epoch's figures, the best epoch
    and the weights kept for it are the average's; the model's own weights come back before the next step.
    ``average`` itself goes in the callbacks before this one, so that it is up to date at the epoch's end."""

    def __init__(self, average, callbacks):
        self.average, self.callbacks = average, list(callbacks)

    def pass_on(self, hook, state):
        for callback in self.callbacks:
            getattr(callback, hook)(state)

    def on_train_begin(self, state):
        self.pass_on("on_train_begin", state)

    def on_epoch_begin(self, state):
        self.pass_on("on_epoch_begin", state)

    def on_batch_begin(self, state):
        self.pass_on("on_batch_begin", state)

    def on_batch_end(self, state):
        self.pass_on("on_batch_end", state)

    def on_epoch_end(self, state):
        with self.average.swapped_in(state.model):
            self.pass_on("on_epoch_end", state)

    def on_train_end(self, state):
        self.pass_on("on_train_end", state)
