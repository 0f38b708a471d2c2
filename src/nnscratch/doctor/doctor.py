"""The doctor: a training callback that watches the signs of a run going wrong and names the trouble.

Every step of the first ``WATCH_FIRST``, then every ``EVERY``-th, it reads what the step left in the layers
(``signs``): each layer's gradient norm and update-to-weight ratio, the share of saturated sigmoid and tanh
units, the ReLU units that fired; the loss it follows at every step. When a sign crosses its threshold it makes
a diagnosis, ``{"step", "epoch", "code", "message"}``: the code names the trouble, the message says in one line
its likely cause and remedy. Each code is given at most once a run. Diagnoses go to ``diagnoses``, to the
history's ``diagnoses`` (so they are saved with the run) and to ``on_diagnosis``.
"""
import math
from collections import deque

from ..callbacks import Callback
from ..inspection import flat_layers
from ..layers.activations import ReLU, Sigmoid, Tanh
from . import remedies, signs


class Doctor(Callback):
    """Watches a run and names what goes wrong; ``Doctor(on_diagnosis=print)`` also hands each diagnosis to a
    function as it is made. ``inputs``: a sample of the training inputs, whose range is checked once at the
    start (raw pixel values 0..255 are the usual mistake); without it that check is skipped."""

    def __init__(self, on_diagnosis=None, inputs=None):
        self.on_diagnosis, self.inputs = on_diagnosis, inputs
        self.diagnoses = []

    def on_train_begin(self, state):
        self.layers = signs.weighted_layers(state.model)
        self.labels = [layer_label(index, layer) for index, (_, layer) in enumerate(self.layers)]
        self.activations = signs.hidden_activations(state.model)
        self.saturating = [(name, layer) for name, layer in self.activations if isinstance(layer, (Sigmoid, Tanh))]
        self.after_layer = self.layers_before_activations(state.model)
        self.chance = signs.chance_loss(state.loss, state.model)
        self.classes = signs.class_count(state.model)
        earlier = [*self.diagnoses, *getattr(state.history, "diagnoses", [])]  # a run resumed: said already
        self.said = {diagnosis["code"] for diagnosis in earlier}
        self.count, self.early_losses, self.start_loss, self.smoothed, self.before = 0, [], None, None, None
        self.at_chance_since = self.grown_since = None
        self.updates = deque(maxlen=signs.RECENT)
        self.gradient_ratios = deque(maxlen=signs.RECENT)
        self.saturation_start = {}
        self.saturation = {name: deque(maxlen=signs.RECENT) for name, _ in self.saturating}
        self.fired = {}
        self.latest = {"saturated": {}, "dead": {}}  # the last measurement of each sign, by layer
        if self.inputs is not None:
            self.check_inputs(state)

    def layers_before_activations(self, model):
        """For each hidden activation, the weighted layer whose output it takes, as the learner counts layers."""
        labels, current = {}, "the input"
        by_name = dict(zip((name for name, _ in self.layers), self.labels, strict=True))
        for name, _ in flat_layers(model):
            current = by_name.get(name, current)
            labels[name] = current
        return {name: labels[name] for name, _ in self.activations}

    def measuring(self):
        return self.count < signs.WATCH_FIRST or self.count % signs.EVERY == 0

    def on_batch_begin(self, state):
        self.before = signs.copy_weights(self.layers) if self.measuring() else None

    def on_batch_end(self, state):
        self.follow_loss(state)
        if self.before is not None:
            self.measure(state)
            self.before = None
        self.count += 1

    def on_epoch_end(self, state):
        accuracy = state.record.get("accuracy")
        if (self.count >= signs.CHANCE_STEPS and self.classes and accuracy is not None
                and accuracy <= signs.CHANCE_ACCURACY / self.classes):
            self.diagnose(state, "stuck-at-chance",
                          remedies.stuck_at_chance_accuracy(accuracy, self.classes, self.chance_cause()))

    def follow_loss(self, state):
        """The loss at every step: not finite, grown to ``LOSS_GROWTH`` times its start (the mean of the first
        ``WATCH_FIRST`` batches), or stuck at ln K."""
        value, lr = float(state.batch_loss), float(state.optimizer.lr)
        if not math.isfinite(value):
            self.diagnose(state, "lr-too-large", remedies.lr_too_large_loss(self.start_loss or math.nan, value, lr))
            return
        self.smoothed = value if self.smoothed is None else self.smoothed + signs.SMOOTHING * (value - self.smoothed)
        if self.start_loss is None:
            self.early_losses.append(value)
            if len(self.early_losses) == signs.WATCH_FIRST:
                self.start_loss = sum(self.early_losses) / len(self.early_losses)
            return
        if not self.smoothed > signs.LOSS_GROWTH * self.start_loss > 0:
            self.grown_since = None
        elif self.grown_since is None:
            self.grown_since = self.count
        elif self.count - self.grown_since >= signs.LOSS_GROWTH_STEPS:
            self.diagnose(state, "lr-too-large", remedies.lr_too_large_loss(self.start_loss, self.smoothed, lr))
        if self.chance is not None and self.count >= signs.CHANCE_FROM:
            if abs(self.smoothed - self.chance) > signs.CHANCE_MARGIN * self.chance:
                self.at_chance_since = None
            elif self.at_chance_since is None:
                self.at_chance_since = self.count
            elif self.count - self.at_chance_since >= signs.CHANCE_STEPS - signs.CHANCE_FROM:
                self.diagnose(state, "stuck-at-chance", remedies.stuck_at_chance_loss(
                    self.smoothed, self.chance, self.classes, self.count + 1, self.chance_cause()))

    def measure(self, state):
        """One measurement of the step just taken, and the diagnoses it allows."""
        lr = float(state.optimizer.lr)
        ratios = signs.update_ratios(self.before, self.layers)
        self.updates.append(ratios)
        self.check_update_size(state, ratios, lr)
        self.gradient_ratios.append(signs.relative_gradients(self.layers))
        self.check_vanishing(state)
        for name, layer in self.saturating:
            share = signs.saturated_share(layer)
            if share is not None:
                self.saturation_start.setdefault(name, share)  # the first batch ran on the initial weights
                self.saturation[name].append(share)
                self.latest["saturated"][self.after_layer[name]] = share
        self.latest.update(step=self.count + 1, update_ratio=dict(zip(self.labels, ratios, strict=True)),
                           relative_gradient=dict(zip(self.labels, self.gradient_ratios[-1], strict=True)))
        self.check_saturation(state)
        self.check_dead_units(state, lr)
        self.check_still(state, lr)

    def check_update_size(self, state, ratios, lr):
        known = [(ratio, index) for index, ratio in enumerate(ratios) if ratio is not None]
        largest = max(known, default=None)
        if largest is not None and largest[0] > signs.UPDATE_HUGE:
            self.diagnose(state, "lr-too-large", remedies.lr_too_large_updates(self.labels[largest[1]], largest[0], lr))

    def check_vanishing(self, state):
        if (self.count < signs.WATCH_FIRST or len(self.layers) < 3 or not self.saturating
                or len(self.gradient_ratios) < signs.RECENT):
            return
        shrinks = []
        for ratios in self.gradient_ratios:
            first, last = ratios[0], ratios[-1]
            if not first or not last:
                return
            shrinks.append(first / last)
        if max(shrinks) < 1.0 / signs.VANISHING:
            self.diagnose(state, "vanishing-gradients",
                          remedies.vanishing_gradients(self.labels[0], self.labels[-1], max(shrinks)))

    def check_saturation(self, state):
        if self.count < signs.SATURATED_STEPS or self.smoothed < signs.SATURATED_LOSS_DROP * self.start_loss:
            return
        for name, recent in self.saturation.items():
            start = self.saturation_start.get(name)
            if (start is not None and start > signs.SATURATED and len(recent) == signs.RECENT
                    and min(recent) > signs.SATURATED):
                self.diagnose(state, "saturated-units", remedies.saturated_units(self.after_layer[name], min(recent)))

    def check_dead_units(self, state, lr):
        for name, layer in self.activations:
            if not isinstance(layer, ReLU):
                continue
            fired, examples = signs.fired_units(layer)
            if fired is None:
                continue
            seen, total = self.fired.get(name, (None, 0))
            seen = fired.copy() if seen is None or seen.shape != fired.shape else seen | fired
            total += examples
            if total < signs.DEAD_EXAMPLES:
                self.fired[name] = (seen, total)
                continue
            self.fired[name] = (None, 0)
            dead = self.latest["dead"][self.after_layer[name]] = 1.0 - float(seen.mean())
            if dead > signs.DEAD:
                self.diagnose(state, "dead-relu", remedies.dead_relu(self.after_layer[name], dead, total, lr))

    def check_still(self, state, lr):
        if self.count < signs.STILL_STEPS or len(self.updates) < signs.RECENT:
            return
        known = [ratio for ratios in self.updates for ratio in ratios if ratio is not None]
        if not known or max(known) >= signs.UPDATE_TINY:
            return
        if self.smoothed > (1.0 - signs.STILL_LOSS_DROP) * self.start_loss:
            self.diagnose(state, "lr-too-small", remedies.lr_too_small(max(known), self.count + 1, lr))

    def check_inputs(self, state):
        percentile, low, high = signs.input_spread(self.inputs)
        if percentile > signs.INPUT_LARGE:
            self.diagnose(state, "inputs-not-scaled", remedies.inputs_not_scaled(percentile, low, high), step=0)

    def chance_cause(self):
        """Why a run may sit at chance: weights that are all zero, when some are; else the usual suspects."""
        for label, (_, layer) in zip(self.labels, self.layers, strict=True):
            if not layer.params["W"].any():
                return remedies.ZERO_WEIGHTS.format(layer=label)
        return remedies.NO_CLEAR_CAUSE

    def diagnose(self, state, code, message, step=None):
        if code in self.said:
            return
        self.said.add(code)
        diagnosis = {"step": int(state.step if step is None else step), "epoch": int(state.epoch + 1),
                     "code": code, "message": message}
        self.diagnoses.append(diagnosis)
        recorded = getattr(state.history, "diagnoses", None)
        if recorded is not None:
            recorded.append(diagnosis)
        if self.on_diagnosis is not None:
            self.on_diagnosis(diagnosis)


def layer_label(index, layer):
    """How a learner counts a layer: ``layer 1 (dense 784→30)``, ``layer 2 (conv 5×5×64)``."""
    if hasattr(layer, "in_features"):
        return f"layer {index + 1} (dense {layer.in_features}→{layer.out_features})"
    height, width = getattr(layer, "kernel_size", (0, 0))
    return f"layer {index + 1} (conv {height}×{width}×{getattr(layer, 'out_channels', '?')})"
