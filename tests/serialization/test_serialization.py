"""Model files: save -> load round trips, atomic writes, and a clear error for every kind of bad file."""
import json
import os

import numpy as np
import pytest

from nnscratch import Adam, Dropout, Layer, Linear, Network, ReLU, Sequential, Softmax
from nnscratch.serialization import (
    FORMAT_VERSION,
    ModelFileError,
    load_checkpoint,
    load_model,
    model_from_config,
    save_model,
)


def small_model(seed=0):
    rng = np.random.default_rng(seed)
    return Sequential(Linear(12, 8, rng=rng), ReLU(), Dropout(0.2, rng=rng), Linear(8, 3, rng=rng), Softmax())


def rewrite(path, **changes):
    """Copy a model file's arrays, apply changes (None deletes an entry) and write it back."""
    with np.load(path, allow_pickle=False) as archive:
        arrays = {key: archive[key] for key in archive.files}
    for key, value in changes.items():
        if value is None:
            del arrays[key]
        else:
            arrays[key] = value
    with open(path, "wb") as file:
        np.savez(file, **arrays)


def test_save_load_gives_identical_predictions_and_metadata(tmp_path):
    model = small_model()
    x = np.random.default_rng(1).random((20, 12), dtype=np.float32)
    path = tmp_path / "model.npz"
    save_model(path, model, {"dataset": "toy", "seed": 3, "test_accuracy": 0.5})
    loaded, metadata = load_model(path)
    assert type(loaded) is Sequential
    assert [type(layer).__name__ for layer in loaded] == ["Linear", "ReLU", "Dropout", "Linear", "Softmax"]
    assert loaded.config() == model.config()
    np.testing.assert_array_equal(loaded.predict_output(x), model.predict_output(x))
    assert loaded.predict_output(x).dtype == np.float32
    assert metadata["dataset"] == "toy" and metadata["seed"] == 3 and metadata["test_accuracy"] == 0.5
    assert metadata["nnscratch_version"] and metadata["created"]


def test_network_shorthand_and_float64_round_trip(tmp_path):
    model = Network([5, 4, 2], activation="sigmoid", init="normal", bias_init="normal", rng=2).astype(np.float64)
    save_model(tmp_path / "m.npz", model)
    loaded, _ = load_model(tmp_path / "m.npz")
    x = np.random.default_rng(0).random((7, 5))
    assert loaded.parameters()["0.W"].dtype == np.float64
    np.testing.assert_array_equal(loaded.predict_output(x), model.predict_output(x))


def test_file_is_plain_npz_without_pickles(tmp_path):
    save_model(tmp_path / "m.npz", small_model())
    with np.load(tmp_path / "m.npz", allow_pickle=False) as archive:
        assert int(archive["format_version"]) == FORMAT_VERSION
        architecture = json.loads(str(archive["architecture"]))
        assert architecture["type"] == "Sequential" and architecture["dtype"] == "float32"
        assert archive["param.0.W"].shape == (12, 8)


def test_optimizer_state_round_trips(tmp_path):
    model = small_model()
    optimizer = Adam(model, lr=0.01)
    x = np.random.default_rng(0).random((4, 12), dtype=np.float32)
    model.forward(x)
    model.backward(np.ones((4, 3), dtype=np.float32))
    optimizer.step()
    save_model(tmp_path / "m.npz", model, optimizer_state=optimizer.state_dict())
    _, _, state = load_checkpoint(tmp_path / "m.npz")
    assert set(state) == set(optimizer.state_dict())
    assert int(state["t"]) == 1
    np.testing.assert_array_equal(state["0.W.m"], optimizer.state_dict()["0.W.m"])


def test_interrupted_save_leaves_previous_file_intact(tmp_path, monkeypatch):
    path = tmp_path / "m.npz"
    save_model(path, small_model(seed=0))
    before = path.read_bytes()

    def crash_half_way(file, **arrays):
        file.write(b"PK\x03\x04 half a file")
        raise KeyboardInterrupt

    monkeypatch.setattr(np, "savez", crash_half_way)
    with pytest.raises(KeyboardInterrupt):
        save_model(path, small_model(seed=1))
    assert path.read_bytes() == before
    assert os.listdir(tmp_path) == ["m.npz"], "the temporary file was left behind"
    load_model(path)


def test_missing_file(tmp_path):
    with pytest.raises(ModelFileError, match="no such model file"):
        load_model(tmp_path / "absent.npz")


@pytest.mark.parametrize("content", [b"", b"not a model at all", b"PK\x03\x04truncated zip"])
def test_corrupt_file(tmp_path, content):
    path = tmp_path / "bad.npz"
    path.write_bytes(content)
    with pytest.raises(ModelFileError, match="not .*model file"):
        load_model(path)


def test_truncated_file(tmp_path):
    path = tmp_path / "m.npz"
    save_model(path, small_model())
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(ModelFileError):
        load_model(path)


def test_pickled_entry_is_refused(tmp_path):
    path = tmp_path / "m.npz"
    save_model(path, small_model())
    rewrite(path, **{"metadata": np.array([{"evil": 1}], dtype=object)})
    with pytest.raises(ModelFileError, match="pickled"):
        load_model(path)


def test_unknown_layer_type_lists_known_ones(tmp_path):
    path = tmp_path / "m.npz"
    save_model(path, small_model())
    architecture = {"type": "Sequential", "dtype": "float32",
                    "config": {"layers": [{"type": "Mystery", "config": {}}]}}
    rewrite(path, architecture=np.array(json.dumps(architecture)))
    with pytest.raises(ModelFileError, match=r"unknown layer type 'Mystery'; known: .*Linear.*ReLU"):
        load_model(path)


def test_missing_and_extra_arrays(tmp_path):
    path = tmp_path / "m.npz"
    save_model(path, small_model())
    rewrite(path, **{"param.3.b": None, "param.9.W": np.zeros(2, np.float32)})
    with pytest.raises(ModelFileError, match=r"missing arrays 3\.b; unexpected arrays 9\.W"):
        load_model(path)


def test_wrong_shape(tmp_path):
    path = tmp_path / "m.npz"
    save_model(path, small_model())
    rewrite(path, **{"param.0.W": np.zeros((12, 9), np.float32)})
    with pytest.raises(ModelFileError, match=r"'0\.W' has shape \(12, 9\), the architecture needs \(12, 8\)"):
        load_model(path)


def test_wrong_dtype(tmp_path):
    path = tmp_path / "m.npz"
    save_model(path, small_model())
    rewrite(path, **{"param.0.b": np.zeros(8, np.int32)})
    with pytest.raises(ModelFileError, match=r"'0\.b' has dtype int32, expected float32"):
        load_model(path)


def test_non_finite_values(tmp_path):
    path = tmp_path / "m.npz"
    save_model(path, small_model())
    weights = np.zeros((8, 3), np.float32)
    weights[1, 2] = np.nan
    rewrite(path, **{"param.3.W": weights})
    with pytest.raises(ModelFileError, match=r"'3\.W' contains NaN"):
        load_model(path)


def test_newer_format_version(tmp_path):
    path = tmp_path / "m.npz"
    save_model(path, small_model())
    rewrite(path, format_version=np.array(FORMAT_VERSION + 1))
    with pytest.raises(ModelFileError, match=f"model format {FORMAT_VERSION + 1} by a newer nnscratch"):
        load_model(path)


def test_not_an_nnscratch_archive(tmp_path):
    path = tmp_path / "other.npz"
    np.savez(path, x=np.zeros(3))
    with pytest.raises(ModelFileError, match="no 'format_version' entry"):
        load_model(path)


class Scale(Layer):
    """y = c x, a custom layer that is deliberately not in the global registry."""

    def __init__(self, factor=2.0):
        super().__init__()
        self.factor = float(factor)

    def forward(self, x):
        return x * self.factor

    def backward(self, grad_out):
        return grad_out * self.factor

    def config(self):
        return {"factor": self.factor}


def test_custom_layers_load_through_an_explicit_registry(tmp_path):
    model = Sequential(Linear(3, 2, rng=0), Scale(3.0))
    path = tmp_path / "m.npz"
    save_model(path, model)
    with pytest.raises(ModelFileError, match="unknown layer type 'Scale'"):
        load_model(path)
    loaded, _ = load_model(path, custom_layers=[Scale])
    x = np.ones((2, 3), np.float32)
    np.testing.assert_array_equal(loaded.predict_output(x), model.predict_output(x))
    assert loaded[1].factor == 3.0


def test_model_from_config_bad_arguments():
    with pytest.raises(ModelFileError, match="cannot build layer Linear"):
        model_from_config({"type": "Linear", "config": {"in_features": 3}})


def test_save_is_json_safe_with_nan_metadata(tmp_path):
    save_model(tmp_path / "m.npz", small_model(), {"val_loss": float("nan"), "acc": np.float32(0.5)})
    _, metadata = load_model(tmp_path / "m.npz")
    assert metadata["val_loss"] is None and metadata["acc"] == 0.5


def test_a_tiny_file_describing_a_gigantic_layer_is_refused_without_allocating_it(tmp_path):
    import json
    architecture = {"type": "Sequential", "dtype": "float32", "config": {"layers": [
        {"type": "Linear", "config": {"in_features": 10 ** 6, "out_features": 10 ** 6}}]}}
    path = tmp_path / "crafted.npz"
    np.savez(path, format_version=np.array(1), architecture=np.array(json.dumps(architecture)),
             metadata=np.array("{}"), **{"param.0.W": np.zeros((2, 2), np.float32),
                                         "param.0.b": np.zeros(2, np.float32)})
    with pytest.raises(ModelFileError, match=r"'0\.W' has shape \(2, 2\), the architecture needs \(1000000, 1000000\)"):
        load_model(path)
