import numpy as np
import pytest

import nnscratch as nn


def spirals(points_per_class=200, seed=0):
    """Two interleaved spirals in the plane, 1.5 turns each."""
    rng = np.random.default_rng(seed)
    t = np.sqrt(rng.random(points_per_class)) * 3 * np.pi
    arm = np.stack([t * np.cos(t), t * np.sin(t)], axis=1) / (3 * np.pi)
    x = np.concatenate([arm, -arm]) + rng.normal(0, 0.01, (2 * points_per_class, 2))
    y = np.repeat([0, 1], points_per_class)
    return x.astype(np.float32), y


def test_overfits_a_batch_of_32_to_near_zero_loss():
    rng = np.random.default_rng(0)
    x = rng.random((32, 784), dtype=np.float32)
    y = rng.integers(0, 10, 32)
    model = nn.Network([784, 64, 10], activation="relu", output=None, rng=0)
    history = nn.fit(model, x, y, nn.SoftmaxCrossEntropy(), nn.Adam(model, lr=0.003), epochs=100,
                     batch_size=32, rng=0)
    assert history["loss"][0] > 1.0
    assert history["loss"][-1] < 0.01, f"final loss {history['loss'][-1]}"
    assert nn.evaluate(model, x, y).accuracy == 1.0


def test_learns_xor_to_100_percent():
    x = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=np.float32)
    y = np.array([0, 1, 1, 0])
    model = nn.Network([2, 8, 2], activation="tanh", output=None, init="glorot", rng=1)
    nn.fit(model, x, y, nn.SoftmaxCrossEntropy(), nn.SGD(model, lr=0.5, momentum=0.9), epochs=300,
           batch_size=4, rng=0)
    np.testing.assert_array_equal(model.predict(x), y)


def test_learns_two_interleaved_spirals_to_100_percent():
    x, y = spirals()
    model = nn.Network([2, 64, 64, 2], activation="relu", output=None, rng=0)
    history = nn.fit(model, x, y, nn.SoftmaxCrossEntropy(), nn.Adam(model, lr=0.01), epochs=300,
                     batch_size=32, rng=0)
    accuracy = nn.evaluate(model, x, y).accuracy
    assert accuracy == 1.0, f"spirals accuracy {accuracy}, last loss {history['loss'][-1]}"


def test_nielsen_recipe_sigmoid_quadratic_learns():
    x, y = spirals(100)
    x = np.abs(x)  # only to keep the example small: separate the two arms by quadrant, not by spiral
    y = (x[:, 0] > x[:, 1]).astype(np.int64)
    model = nn.Network([2, 10, 2], activation="sigmoid", init="normal", bias_init="normal", rng=0)
    nn.fit(model, x, y, nn.Quadratic(), nn.SGD(model, lr=3.0), epochs=200, batch_size=10, rng=0)
    assert nn.evaluate(model, x, y).accuracy > 0.95


def test_dtypes_stay_float32_through_a_training_step():
    model = nn.Sequential(nn.Linear(6, 5), nn.Sigmoid(), nn.Linear(5, 4), nn.Tanh(), nn.Linear(4, 4),
                          nn.LeakyReLU(), nn.Dropout(0.2), nn.Linear(4, 3), nn.Softmax())
    x = np.random.default_rng(0).random((8, 6), dtype=np.float32)
    y = np.arange(8) % 3
    for loss, optimizer in [(nn.ProbabilityCrossEntropy(), nn.SGD(model, lr=nn.CosineDecay(0.1, 3), momentum=0.9,
                                                          nesterov=True, weight_decay=1e-4)),
                            (nn.Quadratic(), nn.Adam(model, lr=np.float64(0.01), weight_decay=1e-3)),
                            (nn.ProbabilityCrossEntropy(), nn.AdamW(model))]:
        optimizer.set_epoch(np.float64(1.5))
        value, output = nn.train_step(model, x, y, loss, optimizer)
        assert output.dtype == np.float32
        assert isinstance(value, float)
        for name, array in {**model.parameters(), **optimizer.state}.items():
            if name != "t":
                assert array.dtype == np.float32, f"{name} became {array.dtype}"
        for _, layer, key in model.slots():
            assert layer.grads[key].dtype == np.float32


def test_float64_on_request():
    model = nn.Network([3, 4, 2], output=None, dtype=np.float64, rng=0)
    value, output = nn.train_step(model, np.ones((2, 3)), np.array([0, 1]), nn.SoftmaxCrossEntropy(),
                                  nn.SGD(model, lr=0.1))
    assert output.dtype == np.float64
    assert all(array.dtype == np.float64 for array in model.parameters().values())


def train_once(seed):
    rng = np.random.default_rng(1)
    x = rng.random((200, 20), dtype=np.float32)
    y = rng.integers(0, 3, 200)
    model = nn.Sequential(nn.Linear(20, 16, rng=seed), nn.ReLU(), nn.Dropout(0.3, rng=seed),
                          nn.Linear(16, 3, rng=seed + 1))
    nn.fit(model, x, y, nn.SoftmaxCrossEntropy(), nn.SGD(model, lr=0.1, momentum=0.9), epochs=3,
           batch_size=16, rng=seed)
    return model.state_dict()


def test_same_seed_same_weights_to_the_bit():
    first, second, other = train_once(7), train_once(7), train_once(8)
    for name in first:
        np.testing.assert_array_equal(first[name], second[name])
    assert not np.array_equal(first["0.W"], other["0.W"])


def test_a_diverging_loss_names_the_learning_rate():
    x = np.random.default_rng(0).standard_normal((64, 4)).astype(np.float32) * 100
    y = x @ np.ones((4, 2), dtype=np.float32)
    model = nn.Network([4, 2], output=None, rng=0)
    with pytest.raises(nn.DivergenceError,
                       match=r"the loss (became (nan|inf)|grew from \S+ to \S+) at epoch \d+, step \d+ with "
                             r"learning rate 10: training diverged; try a smaller"):
        nn.fit(model, x, y, nn.Quadratic(), nn.SGD(model, lr=10.0), epochs=50, batch_size=8, rng=0)


def test_history_has_training_and_validation_metrics_per_epoch():
    x, y = spirals(50)
    model = nn.Network([2, 16, 2], activation="relu", output=None, rng=0)
    history = nn.fit(model, x[:80], y[:80], nn.SoftmaxCrossEntropy(), nn.SGD(model, lr=0.1), epochs=3,
                     batch_size=16, validation_data=(x[80:], y[80:]), rng=0)
    assert len(history) == 3
    assert history["epoch"] == [1, 2, 3]
    record = history.epochs[-1]
    assert set(record) >= {"loss", "accuracy", "val_loss", "val_accuracy", "val_correct", "val_total", "seconds"}
    assert record["val_total"] == 20 and record["val_correct"] == round(record["val_accuracy"] * 20)
    result = nn.evaluate(model, x[80:], y[80:], nn.SoftmaxCrossEntropy())
    assert (result.loss, result.correct) == pytest.approx((record["val_loss"], record["val_correct"]))


def test_early_stopping_restores_the_best_weights():
    rng = np.random.default_rng(0)
    x, y = rng.random((64, 10), dtype=np.float32), rng.integers(0, 2, 64)
    x_val, y_val = rng.random((64, 10), dtype=np.float32), rng.integers(0, 2, 64)  # pure noise: overfits
    model = nn.Network([10, 64, 2], activation="relu", output=None, rng=0)
    snapshots = []

    class Snapshot(nn.Callback):
        def on_epoch_end(self, state):
            snapshots.append(model.state_dict())

    history = nn.fit(model, x, y, nn.SoftmaxCrossEntropy(), nn.Adam(model, lr=0.01), epochs=200,
                     batch_size=16, validation_data=(x_val, y_val), patience=3, callbacks=[Snapshot()], rng=0)
    assert history.stopped_early and len(history) < 200
    best = int(np.argmin(history["val_loss"]))
    assert history.best_epoch == best + 1
    assert len(history) == best + 1 + 3
    for name, array in model.state_dict().items():
        np.testing.assert_array_equal(array, snapshots[best][name])


def test_keyboard_interrupt_returns_the_history_so_far():
    x, y = spirals(50)
    model = nn.Network([2, 8, 2], activation="relu", output=None, rng=0)

    class StopInSecondEpoch(nn.Callback):
        def on_batch_end(self, state):
            if state.epoch == 1 and state.step == 3:
                raise KeyboardInterrupt

    history = nn.fit(model, x, y, nn.SoftmaxCrossEntropy(), nn.SGD(model, lr=0.1), epochs=5, batch_size=10,
                     callbacks=[StopInSecondEpoch()], rng=0)
    assert history.interrupted and len(history) == 1
    assert model.layers[0].needs_input_grad, "fit puts the first layer's flag back"


def test_callback_sees_every_batch_and_epoch_and_resuming_continues_numbering():
    x, y = spirals(25)
    model = nn.Network([2, 4, 2], activation="relu", output=None, rng=0)
    events = []

    class Recorder(nn.Callback):
        def on_epoch_begin(self, state):
            events.append(("begin", state.epoch, state.steps))

        def on_batch_end(self, state):
            events.append(("batch", state.epoch, state.step - 1))

        def on_epoch_end(self, state):
            events.append(("end", state.record["epoch"]))

    history = nn.fit(model, x, y, nn.SoftmaxCrossEntropy(), nn.SGD(model, lr=0.1), epochs=1, batch_size=20,
                     callbacks=[Recorder()], rng=0)
    nn.fit(model, x, y, nn.SoftmaxCrossEntropy(), nn.SGD(model, lr=0.1), epochs=1, batch_size=50,
           callbacks=Recorder(), rng=0, history=history)
    assert events == [("begin", 0, 3), ("batch", 0, 0), ("batch", 0, 1), ("batch", 0, 2), ("end", 1),
                      ("begin", 1, 1), ("batch", 1, 0), ("end", 2)]
    assert history["epoch"] == [1, 2]


def test_without_shuffling_batches_come_in_file_order():
    seen = []
    model = nn.Network([1, 2], output=None, rng=0)
    x = np.arange(6, dtype=np.float32).reshape(6, 1)
    nn.fit(model, x, np.zeros(6, dtype=np.int64), nn.SoftmaxCrossEntropy(), nn.SGD(model, lr=0.01), epochs=2,
           batch_size=4, shuffle=False, transform=lambda batch, rng: seen.append(batch[:, 0].tolist()) or batch)
    assert seen == [[0, 1, 2, 3], [4, 5], [0, 1, 2, 3], [4, 5]]


@pytest.mark.parametrize("options, error, message", [
    ({"batch_size": 0}, ValueError, "batch_size must be a positive integer, got 0"),
    ({"patience": 2}, ValueError, "early stopping \\(patience\\) needs validation_data"),
    ({"x": np.full((4, 2), np.nan)}, ValueError, "the inputs contain NaN or infinite values"),
    ({"y": np.zeros(3, dtype=np.int64)}, ValueError, "4 inputs but 3 targets"),
    ({"y": np.array([0, 1, 2, 5]), "batch_size": 4}, ValueError, r"labels must lie in \[0, 2\), got \[0, 5\]"),
    ({"y": np.array([0.0, 1.0, 0.0, 1.0])}, ValueError, "class labels must be integers, got dtype float64"),
])
def test_bad_training_input_gets_a_clear_error(options, error, message):
    arguments = {"x": np.ones((4, 2), dtype=np.float32), "y": np.array([0, 1, 0, 1]), "batch_size": 2}
    arguments.update(options)
    model = nn.Network([2, 2], output=None, rng=0)
    with pytest.raises(error, match=message):
        nn.fit(model, arguments.pop("x"), arguments.pop("y"), nn.SoftmaxCrossEntropy(), nn.SGD(model, lr=0.1),
               epochs=1, rng=0, **arguments)


def test_full_batch_and_per_example_training():
    x, y = spirals(20)
    for batch_size, steps in [(len(x), 1), (1, len(x))]:
        model = nn.Network([2, 4, 2], activation="relu", output=None, rng=0)

        class Count(nn.Callback):
            def __init__(self):
                self.counted = []

            def on_epoch_begin(self, state):
                self.counted.append(state.steps)

        count = Count()
        nn.fit(model, x, y, nn.SoftmaxCrossEntropy(), nn.SGD(model, lr=0.01), epochs=1, batch_size=batch_size,
               callbacks=[count], rng=0)
        assert count.counted == [steps]


def test_the_finiteness_check_is_exact():
    from nnscratch.training import all_finite
    huge = np.full((3, 4), 3e38, dtype=np.float32)   # finite, but each row sums past float32's range
    assert all_finite(huge)
    for bad in (np.nan, np.inf, -np.inf):
        x = np.zeros((3, 2, 2), dtype=np.float32)
        x[1, 1, 0] = bad
        assert not all_finite(x)


def test_fit_gives_the_model_back_in_the_mode_it_came_in():
    x, y = spirals(10)
    model = nn.Sequential(nn.Linear(2, 4, rng=0), nn.Dropout(0.5, rng=0), nn.Linear(4, 2, rng=1)).eval()
    nn.fit(model, x, y, nn.SoftmaxCrossEntropy(), nn.SGD(model, lr=0.1), epochs=1, batch_size=5, rng=0)
    assert not model.training and not model[1].training


def test_confusion_matrix_counts_and_refuses_classes_out_of_range():
    from nnscratch.metrics import confusion_matrix, precision_recall
    confusion = confusion_matrix(np.array([0, 1, 1, 2]), np.array([0, 1, 2, 2]), 3)
    np.testing.assert_array_equal(confusion, [[1, 0, 0], [0, 1, 0], [0, 1, 1]])
    precision, recall = precision_recall(confusion)
    np.testing.assert_allclose(precision, [1, 0.5, 1])
    np.testing.assert_allclose(recall, [1, 1, 0.5])
    with pytest.raises(ValueError, match=r"predicted classes must lie in \[0, 3\), got \[0, 10\]"):
        confusion_matrix(np.array([0, 10]), np.array([0, 0]), 3)


@pytest.mark.parametrize("loss", [nn.SoftmaxCrossEntropy(), nn.Quadratic(), nn.ProbabilityCrossEntropy()])
def test_every_intermediate_array_stays_float32(loss):
    layers = [nn.Linear(6, 5), nn.Sigmoid(), nn.Linear(5, 4), nn.Tanh(), nn.Linear(4, 4), nn.LeakyReLU(),
              nn.ReLU(), nn.Dropout(0.2), nn.Linear(4, 3)]
    if isinstance(loss, nn.ProbabilityCrossEntropy):
        layers.append(nn.Softmax())
    x = np.random.default_rng(0).random((8, 6), dtype=np.float32)
    outputs = [x]
    for layer in layers:
        outputs.append(layer.forward(outputs[-1]))
        assert outputs[-1].dtype == np.float32, f"{type(layer).__name__}.forward gave {outputs[-1].dtype}"
    value, grad = loss(outputs[-1], np.arange(8) % 3)
    assert grad.dtype == np.float32, f"{type(loss).__name__} gradient is {grad.dtype}"
    for layer in reversed(layers):
        grad = layer.backward(grad)
        assert grad.dtype == np.float32, f"{type(layer).__name__}.backward gave {grad.dtype}"


def test_early_stopping_goes_on_counting_when_a_run_is_continued():
    rng = np.random.default_rng(0)
    x, y = rng.random((64, 10), dtype=np.float32), rng.integers(0, 2, 64)
    x_val, y_val = rng.random((64, 10), dtype=np.float32), rng.integers(0, 2, 64)
    model = nn.Network([10, 64, 2], activation="relu", output=None, rng=0)
    optimizer = nn.Adam(model, lr=0.01)
    history = nn.fit(model, x, y, nn.SoftmaxCrossEntropy(), optimizer, epochs=200, batch_size=16,
                     validation_data=(x_val, y_val), patience=3, rng=0)
    assert history.stopped_early
    best = history.best_epoch
    history.stopped_early = False
    nn.fit(model, x, y, nn.SoftmaxCrossEntropy(), optimizer, epochs=200, batch_size=16,
           validation_data=(x_val, y_val), patience=4, rng=0, history=history)
    # Epoch 3 stays the best and epochs 4-6 did not improve on it, so one more epoch makes 4 without improvement
    # (counting afresh would have run at least 4 more).
    assert (best, history.best_epoch, len(history)) == (3, 3, 7), history["val_loss"]
    assert history.stopped_early
