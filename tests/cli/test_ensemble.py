"""Several models as one: the mean of their probabilities, in evaluate and predict."""
import os

import numpy as np
import pytest

from nnscratch import Linear, ReLU, Sequential, cli, evaluate
from nnscratch.runs import TrainingData
from nnscratch.serialization import Ensemble, ModelFileError, load_models, save_model
from tests.cli.test_train import blobs


def network(seed, inputs=16, classes=3):
    return Sequential(Linear(inputs, 8, rng=seed), ReLU(), Linear(8, classes, rng=seed + 100))


def test_an_ensemble_answers_with_the_mean_of_its_members_probabilities():
    members = [network(seed) for seed in range(3)]
    x = np.random.default_rng(0).normal(size=(5, 16)).astype(np.float32)
    ensemble = Ensemble(members)
    expected = sum(member.predict_proba(x) for member in members) / 3
    np.testing.assert_allclose(ensemble.predict_proba(x), expected, rtol=1e-6)
    np.testing.assert_array_equal(ensemble.predict(x), expected.argmax(axis=1))
    assert ensemble.predict_proba(x).dtype == np.float32


@pytest.fixture
def saved(tmp_path, use_loader):
    rng = np.random.default_rng(0)
    splits = blobs(60, rng), blobs(60, rng), blobs(200, rng)
    use_loader(lambda settings: TrainingData("toy", ["a", "b", "c"], *splits))
    metadata = {"input_shape": [16], "class_names": ["a", "b", "c"], "dataset": "toy"}
    paths = []
    for seed in range(3):
        path = tmp_path / f"m{seed}.npz"
        save_model(path, network(seed), metadata)
        paths.append(str(path))
    return paths, splits[2]


def test_evaluate_measures_several_models_as_one(saved, capsys):
    paths, (x, y) = saved
    assert cli.main(["evaluate", *paths]) == 0
    out = capsys.readouterr().out
    ensemble, _ = load_models(paths)
    result = evaluate(ensemble, x, y)
    assert "an ensemble of 3 models, their probabilities averaged" in out
    assert f"Accuracy  {result.correct} / {result.total}" in out, out


def test_models_that_know_other_classes_are_refused(saved, tmp_path, capsys):
    paths, _ = saved
    save_model(tmp_path / "other.npz", network(9), {"input_shape": [16], "class_names": ["x", "y", "z"]})
    with pytest.raises(ModelFileError, match="other.npz: its class names"):
        load_models([paths[0], str(tmp_path / "other.npz")])
    assert cli.main(["evaluate", paths[0], str(tmp_path / "other.npz")]) == 2
    assert capsys.readouterr().err.count("\n") == 1


@pytest.mark.network  # a test digit of MNIST
def test_predict_with_several_models(tmp_path, capsys):
    paths = []
    for seed in range(2):
        save_model(tmp_path / f"d{seed}.npz", network(seed, 784, 10), {"input_shape": [784]})
        paths.append(str(tmp_path / f"d{seed}.npz"))
    assert cli.main(["predict", *paths, "--index", "3"]) == 0
    out = capsys.readouterr().out
    assert "Prediction:" in out


def test_models_that_answer_with_other_numbers_of_classes_are_refused_even_unnamed(tmp_path, capsys):
    three, four = tmp_path / "three.npz", tmp_path / "four.npz"
    save_model(three, network(0, classes=3), {"input_shape": [16]})
    save_model(four, network(1, classes=4), {"input_shape": [16]})
    with pytest.raises(ModelFileError, match=r"different numbers of classes \(three.npz 3, four.npz 4\)"):
        load_models([three, four])
    assert cli.main(["evaluate", str(three), str(four)]) == 2
    assert "different numbers of classes" in capsys.readouterr().err


def test_the_metadata_of_an_ensemble_keeps_each_member_s_own(saved):
    saved, _ = saved
    ensemble, metadata = load_models(saved)
    assert metadata["ensemble"] == saved
    assert [member["dataset"] for member in metadata["members"]] == ["toy"] * 3
    assert ensemble.names == [os.path.basename(path) for path in saved]
    assert ensemble.eval() is ensemble and not any(member.training for member in ensemble.members)
