"""Callbacks: EarlyStopping by either criterion, and a callback steering fit at batch boundaries."""
import numpy as np
import pytest

import nnscratch as nn


def noisy_problem():
    rng = np.random.default_rng(0)
    x, y = rng.random((64, 10), dtype=np.float32), rng.integers(0, 2, 64)
    x_val, y_val = rng.random((64, 10), dtype=np.float32), rng.integers(0, 2, 64)  # noise: it overfits
    return x, y, (x_val, y_val)


class Snapshots(nn.Callback):
    def __init__(self):
        self.states = []

    def on_epoch_end(self, state):
        self.states.append(state.model.state_dict())


@pytest.mark.parametrize("monitor, pick", [("val_loss", np.argmin), ("val_accuracy", np.argmax)])
def test_early_stopping_keeps_the_best_epoch_by_its_metric(monitor, pick):
    x, y, validation = noisy_problem()
    model = nn.Network([10, 64, 2], activation="relu", output=None, rng=0)
    snapshots = Snapshots()
    stopping = nn.EarlyStopping(monitor, patience=4)
    history = nn.fit(model, x, y, nn.SoftmaxCrossEntropy(), nn.Adam(model, lr=0.01), epochs=100, batch_size=16,
                     validation_data=validation, callbacks=[snapshots, stopping], rng=0)
    values = history[monitor]
    best = int(pick(values))  # the first best, as an epoch must improve strictly to count
    assert history.stopped_early and len(history) == best + 1 + 4, values
    assert history.best_epoch == best + 1 == stopping.best_epoch
    for name, array in model.state_dict().items():
        np.testing.assert_array_equal(array, snapshots.states[best][name])


def test_min_delta_ignores_tiny_improvements():
    stopping = nn.EarlyStopping("val_loss", min_delta=0.1)
    stopping.best_value = 1.0
    assert not stopping.improves(0.95) and stopping.improves(0.85)
    accuracy = nn.EarlyStopping("val_accuracy", min_delta=0.01)
    accuracy.best_value = 0.9
    assert not accuracy.improves(0.905) and accuracy.improves(0.92)


def test_without_validation_the_last_epoch_is_the_best():
    x, y, _ = noisy_problem()
    model = nn.Network([10, 8, 2], activation="relu", output=None, rng=0)
    stopping = nn.EarlyStopping("val_accuracy")
    history = nn.fit(model, x, y, nn.SoftmaxCrossEntropy(), nn.SGD(model, lr=0.1), epochs=3, batch_size=16,
                     callbacks=[stopping], rng=0)
    assert history.best_epoch == 3 and not history.stopped_early


def test_a_callback_changes_the_batch_size_and_stops_at_a_batch_boundary():
    x, y, _ = noisy_problem()
    model = nn.Network([10, 8, 2], activation="relu", output=None, rng=0)
    sizes = []

    class Steer(nn.Callback):
        def on_batch_begin(self, state):
            if state.epoch == 0 and state.step == 2:
                state.batch_size = 8
            if state.epoch == 1 and state.step == 3:
                state.stop = True

        def on_batch_end(self, state):
            sizes.append((state.epoch, state.position))

    history = nn.fit(model, x, y, nn.SoftmaxCrossEntropy(), nn.SGD(model, lr=0.1), epochs=5, batch_size=16,
                     callbacks=[Steer()], rng=0)
    assert sizes[:8] == [(0, 16), (0, 32), (0, 40), (0, 48), (0, 56), (0, 64), (1, 8), (1, 16)]
    assert sizes[8:] == [(1, 24)], "training stops before the 4th batch of epoch 2"
    assert len(history) == 1 and history.interrupted


def test_an_exploding_loss_is_divergence_even_while_finite():
    x, y, _ = noisy_problem()
    model = nn.Network([10, 8, 2], activation="relu", output=None, rng=0)
    with pytest.raises(nn.DivergenceError, match="the loss grew from .* learning rate 1e\\+09"):
        nn.fit(model, x * 100, y, nn.SoftmaxCrossEntropy(), nn.Adam(model, lr=1e9), epochs=20, batch_size=16, rng=0)
