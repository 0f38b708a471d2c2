"""The exponential moving average of the weights: worked by hand, against PyTorch's AveragedModel, swapped in
for evaluation, put into the model at the end of training (and so saved with it), and resumed."""
import numpy as np
import pytest

import nnscratch as nn


def one_weight(value):
    layer = nn.Linear(1, 1, dtype=np.float64)
    layer.params = {"w": np.array([float(value)])}
    layer.grads = {"w": np.zeros(1)}
    return layer


def averages(weights, **options):
    """The average after each of the given weights, as if each came from one training step."""
    average, model, seen = nn.WeightAverage(**options), one_weight(0.0), []
    for value in weights:
        model.params["w"][...] = value
        average.update(model)
        seen.append(float(average.state_dict()["w"][0]))
    return seen


def test_the_average_by_hand():
    # decay 0.5: starts at the first weights (4), then 0.5·4 + 0.5·2 = 3, then 0.5·3 + 0.5·0 = 1.5
    assert averages([4.0, 2.0, 0.0], decay=0.5, warmup=False) == pytest.approx([4.0, 3.0, 1.5])


def test_warmup_lets_early_weights_fade_fast():
    # decay 0.9 with warm-up: update 2 uses min(0.9, 3/12) = 0.25, update 3 uses min(0.9, 4/13) = 4/13
    #   10 → 0.25·10 + 0.75·2 = 4 → (4/13)·4 + (9/13)·0 = 16/13
    assert averages([10.0, 2.0, 0.0], decay=0.9) == pytest.approx([10.0, 4.0, 16 / 13])
    # once (1 + k)/(10 + k) passes the decay (k ≥ 80 for 0.9), the decay itself applies
    late = averages([1.0] * 100 + [0.0], decay=0.9)
    assert late[-1] == pytest.approx(0.9)


def test_decay_outside_0_1_is_refused():
    with pytest.raises(ValueError, match=r"the decay of a weight average must lie in \[0, 1\), got 1.0"):
        nn.WeightAverage(decay=1.0)


def tiny_problem():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((64, 4)).astype(np.float32)
    return x, (x[:, 0] > 0).astype(np.int64)


def recorded_fit(average, epochs=3):
    """A short fit with ``average``; also returns the weights after every step, recorded before averaging."""
    snapshots = []

    class Record(nn.Callback):
        def on_batch_end(self, state):
            snapshots.append(state.model.state_dict())

    x, y = tiny_problem()
    model = nn.Network([4, 5, 2], activation="tanh", output=None, rng=0)
    nn.fit(model, x, y, nn.SoftmaxCrossEntropy(), nn.SGD(model, lr=0.2), epochs=epochs, batch_size=16,
           callbacks=[Record(), average], rng=0)
    return model, snapshots


def test_fit_updates_it_after_every_step_and_puts_it_into_the_model_at_the_end():
    average = nn.WeightAverage(decay=0.8, warmup=False)
    model, snapshots = recorded_fit(average)
    assert average.updates == len(snapshots) == 12
    expected = snapshots[0]
    for state in snapshots[1:]:
        expected = {name: 0.8 * expected[name] + 0.2 * state[name] for name in expected}
    for name, array in model.state_dict().items():
        np.testing.assert_allclose(array, expected[name], rtol=1e-5, atol=1e-6)
        assert array.dtype == np.float32, f"{name} became {array.dtype}"
    assert not np.allclose(model.state_dict()["0.W"], snapshots[-1]["0.W"]), "the last weights are not the average"


def test_swapped_in_for_evaluation_and_the_own_weights_come_back():
    average = nn.WeightAverage(decay=0.8, apply_at_end=False)
    model, snapshots = recorded_fit(average)
    own = model.state_dict()
    np.testing.assert_array_equal(own["0.W"], snapshots[-1]["0.W"])
    x, y = tiny_problem()
    with average.swapped_in(model):
        np.testing.assert_array_equal(model.state_dict()["0.W"], average.state_dict()["0.W"])
        averaged = nn.evaluate(model, x, y)
    np.testing.assert_array_equal(model.state_dict()["0.W"], own["0.W"])
    assert averaged.total == 64
    with pytest.raises(KeyError), average.swapped_in(model):
        raise KeyError("inside the block")
    np.testing.assert_array_equal(model.state_dict()["0.W"], own["0.W"])


def test_an_empty_average_cannot_be_swapped_in():
    with pytest.raises(ValueError, match="the weight average is empty"):
        nn.WeightAverage().apply_to(nn.Network([2, 2], rng=0))


def test_the_averaged_model_is_what_is_saved(tmp_path):
    from nnscratch.serialization.npz import load_checkpoint, save_model
    average = nn.WeightAverage(decay=0.9)
    model, _ = recorded_fit(average)
    loaded, _, _ = load_checkpoint(save_model(tmp_path / "averaged.npz", model))
    for name, array in average.state_dict().items():
        np.testing.assert_array_equal(loaded.state_dict()[name], array)


def test_a_resumed_average_continues_as_an_unbroken_one():
    weights = np.random.default_rng(1).standard_normal(30)
    whole = nn.WeightAverage(decay=0.95)
    first = nn.WeightAverage(decay=0.95)
    model = one_weight(0.0)
    for step, value in enumerate(weights):
        model.params["w"][...] = value
        whole.update(model)
        if step < 12:
            first.update(model)
    resumed = nn.WeightAverage(decay=0.95)
    resumed.load_state_dict(first.state_dict(), first.updates)
    for value in weights[12:]:
        model.params["w"][...] = value
        resumed.update(model)
    assert resumed.state_dict()["w"][0] == whole.state_dict()["w"][0]


def test_buffers_are_averaged_with_the_parameters():
    average = nn.WeightAverage(decay=0.5, warmup=False)
    model = nn.Sequential(nn.Linear(3, 2, rng=0), nn.BatchNorm(2))
    means = []
    for seed in range(3):
        model.forward(np.random.default_rng(seed).standard_normal((8, 3)).astype(np.float32))
        means.append(model.named_buffers()["1.running_mean"].copy())
        average.update(model)
    np.testing.assert_allclose(average.state_dict()["1.running_mean"],
                               0.25 * means[0] + 0.25 * means[1] + 0.5 * means[2], rtol=1e-6)


def test_it_follows_torch_averaged_model():
    torch = pytest.importorskip("torch", reason="PyTorch is not installed")
    from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn
    average = nn.WeightAverage(decay=0.8, warmup=False)
    model, snapshots = recorded_fit(average, epochs=2)
    linear = torch.nn.Linear(4, 5, dtype=torch.float64)
    averaged = AveragedModel(linear, multi_avg_fn=get_ema_multi_avg_fn(0.8), use_buffers=True)
    for state in snapshots:
        with torch.no_grad():
            linear.weight.copy_(torch.tensor(state["0.W"].T))
            linear.bias.copy_(torch.tensor(state["0.b"]))
        averaged.update_parameters(linear)
    np.testing.assert_allclose(model.state_dict()["0.W"], averaged.module.weight.detach().numpy().T, rtol=1e-5)
    np.testing.assert_allclose(model.state_dict()["0.b"], averaged.module.bias.detach().numpy(), rtol=1e-5,
                               atol=1e-7)


def test_seen_averaged_judges_each_epoch_by_the_average_and_training_goes_on_from_the_own_weights():
    from nnscratch.averaging import SeenAveraged
    x, y = tiny_problem()
    average = nn.WeightAverage(decay=0.8, apply_at_end=False)
    seen, own_at_epoch_end, hooks = [], [], []

    class Look(nn.Callback):
        def on_train_begin(self, state):
            hooks.append("train_begin")

        def on_epoch_end(self, state):
            seen.append(state.model.state_dict()["0.W"])
            state.record["val_accuracy"] = nn.evaluate(state.model, x, y).accuracy

    class Own(nn.Callback):
        def on_epoch_end(self, state):
            own_at_epoch_end.append(state.model.state_dict()["0.W"])

    model = nn.Network([4, 5, 2], activation="tanh", output=None, rng=0)
    best = nn.EarlyStopping("val_accuracy")
    judged = SeenAveraged(average, [Look(), best])
    averages_at_epoch_end = []

    class Keep(nn.Callback):
        def on_epoch_end(self, state):
            averages_at_epoch_end.append(average.state_dict()["0.W"])

    nn.fit(model, x, y, nn.SoftmaxCrossEntropy(), nn.SGD(model, lr=0.2), epochs=3, batch_size=16,
           callbacks=[average, judged, Own(), Keep()], rng=0)
    assert hooks == ["train_begin"], "the other hooks are passed on"
    for epoch, (looked, own, averaged) in enumerate(zip(seen, own_at_epoch_end, averages_at_epoch_end, strict=True)):
        np.testing.assert_array_equal(looked, averaged, err_msg=f"epoch {epoch + 1} was judged by the average")
        assert not np.array_equal(own, averaged), f"epoch {epoch + 1}: the own weights came back afterwards"
    # EarlyStopping kept the best epoch's average and put it back at the end
    np.testing.assert_array_equal(model.state_dict()["0.W"], averages_at_epoch_end[best.best_epoch - 1])
