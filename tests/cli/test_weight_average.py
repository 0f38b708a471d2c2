"""`nnscratch train --weight-average D`: each epoch measured and judged by the moving average of the weights,
the best epoch's average saved, the average resumed exactly; checked against a plain loop of training steps."""
import json

import numpy as np
import pytest

from nnscratch import cli
from nnscratch.runs import TrainingData, random_streams, resolve
from nnscratch.runs.build import build_loss, build_model, build_optimizer
from nnscratch.serialization import load_model
from nnscratch.training import evaluate, train_step
from tests.cli.test_train import cut_four_epochs, resume_to_four_epochs

DECAY = 0.9
FLAGS = ["--layers", "16,8,3", "--epochs", "4", "--batch-size", "20", "--optimizer", "sgd", "--lr", "0.3",
         "--momentum", "0.9", "--train-size", "60", "--seed", "4", "--monitor", "val_loss", "--quiet"]
STEPS_PER_EPOCH = 3  # 60 examples in batches of 20


def blobs(n, rng, features=16, classes=3):
    """Three clusters that overlap a little (so that the validation loss moves from epoch to epoch)."""
    y = rng.integers(0, classes, n)
    x = rng.normal(0.0, 1.0, (n, features)).astype(np.float32)
    x[np.arange(n), y] += 1.5
    return x, y.astype(np.int64)


def toy(settings):
    rng = np.random.default_rng(3)
    train, validation, test = blobs(300, rng), blobs(100, rng), blobs(100, rng)
    if settings.get("train_size"):
        train = (train[0][:settings["train_size"]], train[1][:settings["train_size"]])
    return TrainingData("toy", ["a", "b", "c"], train, validation if settings["validation_size"] else None, test)


@pytest.fixture
def toy_data(use_loader):
    use_loader(toy)


def saved_arrays(path):
    with np.load(path, allow_pickle=False) as archive:
        return {key: archive[key] for key in archive.files if key not in ("metadata", "architecture")}


def plain_loop(settings, epochs):
    """The run of ``settings`` as a plain loop of ``train_step`` over the batches in the order ``fit`` draws
    them, with the moving average computed here in float64: θ̄_1 = θ_1, then θ̄_k = d_k θ̄_{k-1} + (1 - d_k) θ_k
    with d_k = min(decay, (1 + k) / (10 + k)). Returns per epoch the raw weights, the average, and the
    validation loss of each."""
    data = toy(settings)
    streams = random_streams(settings["seed"])
    model, loss = build_model(settings, streams["init"]), build_loss(settings)
    optimizer = build_optimizer(settings, model)
    (x, y), count, batch_size = data.train, len(data.train[0]), settings["batch_size"]
    average, steps, epoch_ends = None, 0, []
    for epoch in range(epochs):
        order = streams["shuffle"].permutation(count)
        for position in range(0, count, batch_size):
            rows = order[position:position + batch_size]
            optimizer.set_epoch(epoch + position / count)
            model.train()
            train_step(model, x[rows], y[rows], loss, optimizer)
            steps += 1
            weights = {name: array.astype(np.float64) for name, array in model.state_dict().items()}
            if average is None:
                average = weights
            else:
                decay = min(settings["weight_average"], (1 + steps) / (10 + steps))
                average = {name: decay * average[name] + (1 - decay) * weights[name] for name in average}
        raw = model.state_dict()
        raw_loss = evaluate(model, *data.validation, loss).loss
        model.load_state_dict({name: array.astype(np.float32) for name, array in average.items()})
        epoch_ends.append({"raw": raw, "average": dict(average), "raw_val_loss": raw_loss,
                           "average_val_loss": evaluate(model, *data.validation, loss).loss})
        model.load_state_dict(raw)
    return epoch_ends


def test_the_saved_weights_are_the_best_epochs_average_of_every_steps_weights(tmp_path, toy_data, capsys):
    assert cli.main(["train", *FLAGS, "--weight-average", str(DECAY), "--out", str(tmp_path / "m.npz")]) == 0
    printed = capsys.readouterr().out
    assert "the saved weights are the moving average's" in printed
    assert f"weight-average {DECAY}" in printed                          # the banner shows it when it is on
    settings = resolve({"layers": "16,8,3", "epochs": 4, "batch_size": 20, "optimizer": "sgd", "lr": 0.3,
                        "momentum": 0.9, "train_size": 60, "seed": 4, "weight_average": DECAY})
    expected = plain_loop(settings, epochs=4)
    saved = saved_arrays(tmp_path / "m.npz")
    _, metadata = load_model(tmp_path / "m.npz")
    records = metadata["training"]["history"]["epochs"]

    # every epoch is measured with the average, and the best epoch (lowest validation loss) is chosen by it
    measured = [record["val_loss"] for record in records]
    np.testing.assert_allclose(measured, [end["average_val_loss"] for end in expected], rtol=1e-5)
    raw = [end["raw_val_loss"] for end in expected]
    assert not np.allclose(measured, raw, rtol=1e-3), f"the average and the raw weights should measure " \
        f"differently on this run, got {measured} and {raw}"
    best = int(np.argmin([end["average_val_loss"] for end in expected])) + 1
    assert metadata["best_epoch"] == best
    assert best < 4, f"the test needs a best epoch before the last, got {best}"
    assert best != int(np.argmin(raw)) + 1, "the test needs the raw weights to pick another epoch"

    for name, array in expected[best - 1]["average"].items():
        assert saved[f"param.{name}"].dtype == np.float32
        np.testing.assert_allclose(saved[f"param.{name}"], array, rtol=1e-5, atol=1e-6, err_msg=name)
    for name, array in expected[-1]["average"].items():  # the average goes on from the last epoch
        np.testing.assert_allclose(saved[f"optimizer.average.{name}"], array, rtol=1e-5, atol=1e-6, err_msg=name)
    for name, array in expected[-1]["raw"].items():  # and training from the last epoch's own weights
        np.testing.assert_allclose(saved[f"optimizer.resume.{name}"], array, rtol=1e-6, atol=1e-7, err_msg=name)
    assert int(saved["optimizer.average_updates"]) == 4 * STEPS_PER_EPOCH

    # what evaluate measures afterwards is the saved average: the best epoch's validation figures
    best_record = records[best - 1]
    history = json.loads((tmp_path / "m.history.json").read_text())
    assert history["results"]["validation"]["loss"] == best_record["val_loss"]
    assert metadata["validation_accuracy"] == best_record["val_accuracy"]
    assert history["settings"]["weight_average"] == DECAY


def test_without_a_validation_set_the_last_epochs_average_is_saved(tmp_path, toy_data):
    assert cli.main(["train", *FLAGS, "--validation-size", "0", "--monitor", "val_accuracy",
                     "--weight-average", str(DECAY), "--out", str(tmp_path / "m.npz")]) == 0
    saved = saved_arrays(tmp_path / "m.npz")
    weights = [key[len("param."):] for key in saved if key.startswith("param.")]
    for name in weights:
        np.testing.assert_array_equal(saved[f"param.{name}"], saved[f"optimizer.average.{name}"], err_msg=name)
        assert not np.array_equal(saved[f"param.{name}"], saved[f"optimizer.resume.{name}"]), name


@pytest.mark.parametrize("cut", ["after epoch 2", "ctrl-c in epoch 3"])
def test_a_resumed_run_continues_the_average_bit_for_bit(tmp_path, toy_data, capsys, cut):
    flags = [*FLAGS, "--weight-average", str(DECAY)]
    assert cli.main(["train", *flags, "--out", str(tmp_path / "one.npz")]) == 0
    reference = saved_arrays(tmp_path / "one.npz")
    _, one_metadata = load_model(tmp_path / "one.npz")
    assert one_metadata["best_epoch"] < 4, "the test needs a best epoch before the last"
    cut_four_epochs(flags, tmp_path / "cut.npz", cut)
    assert int(saved_arrays(tmp_path / "cut.npz")["optimizer.average_updates"]) == 2 * STEPS_PER_EPOCH
    resume_to_four_epochs(tmp_path / "cut.npz", reference, capsys)
    _, metadata = load_model(tmp_path / "cut.npz")
    without_seconds = [{**record, "seconds": None} for record in metadata["training"]["history"]["epochs"]]
    assert without_seconds == [{**record, "seconds": None}
                               for record in one_metadata["training"]["history"]["epochs"]]


@pytest.mark.parametrize("value, message", [
    ("1", "--weight-average must be in [0, 1), got 1.0"),
    ("-0.5", "--weight-average must be in [0, 1), got -0.5"),
    ("often", "--weight-average expects a number, got 'often'"),
])
def test_a_decay_outside_0_1_is_refused_in_one_line(tmp_path, toy_data, capsys, value, message):
    assert cli.main(["train", *FLAGS, "--weight-average", value, "--out", str(tmp_path / "m.npz")]) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1, err
    assert not (tmp_path / "m.npz").exists()


def test_off_by_default_keeps_no_average(tmp_path, toy_data, capsys):
    assert cli.main(["train", *FLAGS, "--out", str(tmp_path / "off.npz")]) == 0
    assert "average" not in capsys.readouterr().out
    assert cli.main(["train", *FLAGS, "--weight-average", "0", "--out", str(tmp_path / "zero.npz")]) == 0
    off, zero = saved_arrays(tmp_path / "off.npz"), saved_arrays(tmp_path / "zero.npz")
    assert not [key for key in off if key.startswith("optimizer.average")], sorted(off)
    assert sorted(off) == sorted(zero)
    for key, value in off.items():
        np.testing.assert_array_equal(zero[key], value, err_msg=key)
    _, metadata = load_model(tmp_path / "off.npz")
    assert metadata["training"]["settings"]["weight_average"] == 0.0
    settings = resolve({"layers": "16,8,3", "epochs": 4, "batch_size": 20, "optimizer": "sgd", "lr": 0.3,
                        "momentum": 0.9, "train_size": 60, "seed": 4})
    expected = plain_loop({**settings, "weight_average": DECAY}, epochs=4)  # the raw weights do not need it
    measured = [record["val_loss"] for record in metadata["training"]["history"]["epochs"]]
    np.testing.assert_allclose(measured, [end["raw_val_loss"] for end in expected], rtol=1e-5)
