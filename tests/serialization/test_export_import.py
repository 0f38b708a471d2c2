"""JSON export and load back; converting the older projects' model files, checked against their own forward pass."""
import json
import re

import numpy as np
import pytest

from nnscratch import Dropout, Linear, ReLU, Sequential, Softmax
from nnscratch.cli import main
from nnscratch.serialization import ModelFileError, load_model, save_model
from nnscratch.serialization.json_export import export_json, import_json

RNG = np.random.default_rng(7)
X = RNG.uniform(0, 1, (50, 784)).astype(np.float32)          # rows, as nnscratch takes them


def sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def column_softmax(z):
    e = np.exp(z - z.max(axis=0, keepdims=True))
    return e / e.sum(axis=0, keepdims=True)


def small_model(dtype=np.float32):
    rng = np.random.default_rng(0)
    model = Sequential(Linear(784, 12, rng=rng), ReLU(), Dropout(0.3, rng=1), Linear(12, 10, rng=rng), Softmax())
    return model.astype(dtype)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_export_then_load_predicts_identically(tmp_path, dtype):
    model = small_model(dtype)
    export_json(tmp_path / "model.json", model, {"dataset": "mnist", "seed": 0})
    loaded, metadata = load_model(str(tmp_path / "model.json"))
    assert metadata == {"dataset": "mnist", "seed": 0}
    x = X.astype(dtype)
    np.testing.assert_array_equal(loaded.predict_output(x), model.predict_output(x))
    assert all(array.dtype == dtype for array in loaded.parameters().values())


def test_export_command_writes_readable_json_that_predict_accepts(tmp_path, capsys):
    model = small_model()
    save_model(tmp_path / "model.npz", model, {"dataset": "mnist", "input_shape": [784]})
    assert main(["export", str(tmp_path / "model.npz"), str(tmp_path / "model.json")]) == 0
    document = json.loads((tmp_path / "model.json").read_text())
    assert document["format"] == "nnscratch-model" and document["format_version"] == 1
    assert [layer["type"] for layer in document["architecture"]["config"]["layers"]] == \
        ["Linear", "ReLU", "Dropout", "Linear", "Softmax"]
    assert document["weights"]["0.W"]["shape"] == [784, 12] and len(document["weights"]["0.W"]["values"]) == 784
    assert document["metadata"]["dataset"] == "mnist"
    loaded, _ = load_model(str(tmp_path / "model.json"))
    np.testing.assert_array_equal(loaded.predict_output(X), model.predict_output(X))
    assert main(["export", str(tmp_path / "model.json"), str(tmp_path / "again.json")]) == 0
    assert json.loads((tmp_path / "again.json").read_text())["weights"] == document["weights"]
    assert main(["export", str(tmp_path / "model.npz"), str(tmp_path / "model.txt")]) == 2
    assert "must end in .json" in capsys.readouterr().err


def broken_exports(document):
    """(name, broken document, expected message) for the ways a JSON model can be wrong."""
    missing = {key: value for key, value in document.items() if key != "weights"}
    wrong_shape = json.loads(json.dumps(document))
    wrong_shape["weights"]["0.W"] = {"shape": [12, 784], "values": np.zeros((12, 784)).tolist()}
    ragged = json.loads(json.dumps(document))
    ragged["weights"]["0.b"]["values"] = [[1.0, 2.0], [3.0]]
    unknown = json.loads(json.dumps(document))
    unknown["architecture"]["config"]["layers"][1]["type"] = "Mystery"
    return [("missing", missing, "no 'weights' key"), ("shape", wrong_shape, "has shape (12, 784)"),
            ("ragged", ragged, "not a regular array"), ("unknown", unknown, "unknown layer type 'Mystery'"),
            ("newer", {**document, "format_version": 99}, "unsupported format_version 99"),
            ("list", [1, 2], "expected a JSON object")]


def test_bad_json_models_are_one_line_errors(tmp_path, capsys):
    export_json(tmp_path / "good.json", small_model())
    document = json.loads((tmp_path / "good.json").read_text())
    (tmp_path / "garbage.json").write_text("{\"format_version\": 1,")
    cases = broken_exports(document) + [("garbage", None, "not valid JSON")]
    for name, broken, message in cases:
        path = tmp_path / f"{name}.json"
        if broken is not None:
            path.write_text(json.dumps(broken))
        with pytest.raises(ModelFileError, match=re.escape(message)):
            import_json(path)
        assert main(["export", str(path), str(tmp_path / "out.json")]) == 2
        err = capsys.readouterr().err
        assert message.split("'")[0] in err and err.count("\n") == 1, err


# --- the older projects' model files -------------------------------------------------------------------------

def ibpme_model(sizes):
    """ibpme/NeuralNetworkFromScratch's export: N(0,1) weights (out, in) and biases (out, 1) as nested lists."""
    rng = np.random.default_rng(1)
    weights = [rng.standard_normal((n_out, n_in)) for n_in, n_out in zip(sizes[:-1], sizes[1:], strict=True)]
    biases = [rng.standard_normal((n_out, 1)) for n_out in sizes[1:]]
    document = {"num_layers": len(sizes), "sizez": sizes, "biases": [b.tolist() for b in biases],
                "weights": [w.tolist() for w in weights]}
    return document, weights, biases


def ibpme_forward(weights, biases, columns):
    """Its feed_forward: a = σ(W a + b) on every layer, one example per column."""
    a = columns
    for w, b in zip(weights, biases, strict=True):
        a = sigmoid(w @ a + b)
    return a


def check_import(tmp_path, source, expected_columns, extra=(), rtol=1e-4):
    """Import ``source`` with the CLI and compare predictions with the original forward pass."""
    out = tmp_path / "imported.npz"
    assert main(["import", str(source), str(out), *extra]) == 0
    model, metadata = load_model(str(out))
    assert metadata["dataset"] == "mnist" and metadata["input_shape"] == [784]
    output = model.predict_output(X.astype(model[0].params["W"].dtype))
    expected = expected_columns.T
    np.testing.assert_allclose(output, expected, rtol=rtol, atol=1e-6)
    np.testing.assert_array_equal(output.argmax(axis=1), expected.argmax(axis=1))
    return model, metadata


def test_import_ibpme_json_and_its_web_copy(tmp_path):
    document, weights, biases = ibpme_model([784, 30, 10])
    (tmp_path / "model.json").write_text(json.dumps(document))
    expected = ibpme_forward(weights, biases, X.T.astype(np.float64))
    model, metadata = check_import(tmp_path, tmp_path / "model.json", expected)
    assert metadata["imported_from"] == "ibpme/NeuralNetworkFromScratch"
    assert [type(layer).__name__ for layer in model] == ["Linear", "Sigmoid", "Linear", "Sigmoid"]
    (tmp_path / "web.json").write_text("model = " + json.dumps(document) + ";\n")
    check_import(tmp_path, tmp_path / "web.json", expected, extra=["--dtype", "float64"], rtol=1e-12)


def test_import_outdatedcandy92_json(tmp_path):
    rng = np.random.default_rng(2)
    w1, b1 = rng.random((100, 784)) - 0.5, rng.random((100, 1)) - 0.5
    w2, b2 = rng.random((10, 100)) - 0.5, rng.random((10, 1)) - 0.5
    source = tmp_path / "model_parameters.json"
    source.write_text(json.dumps({"W1": w1.tolist(), "b1": b1.tolist(), "W2": w2.tolist(), "b2": b2.tolist()}))
    columns = X.T.astype(np.float64)
    expected = column_softmax(w2 @ np.maximum(w1 @ columns + b1, 0) + b2)   # its forward_prop
    model, _ = check_import(tmp_path, source, expected)
    assert [type(layer).__name__ for layer in model] == ["Linear", "ReLU", "Linear", "Softmax"]


def write_zimengxiong(folder, rng):
    """Its saveWeights: raw native float64 files, plus the activations and gradients it also writes."""
    shapes = {"W1": (16, 784), "b1": (16, 1), "W2": (10, 16), "b2": (10, 1)}
    arrays = {name: rng.standard_normal(shape) for name, shape in shapes.items()}
    for name, array in arrays.items():
        array.tofile(folder / f"{name}.dat")
    rng.standard_normal((784, 1)).tofile(folder / "A0.dat")
    return arrays


def test_import_zimengxiong_dat_files(tmp_path):
    arrays = write_zimengxiong(tmp_path, np.random.default_rng(3))
    columns = X.T.astype(np.float64)
    hidden = np.maximum(arrays["W1"] @ columns + arrays["b1"], 0)
    expected = column_softmax(arrays["W2"] @ hidden + arrays["b2"])
    check_import(tmp_path, tmp_path, expected)
    check_import(tmp_path, tmp_path / "W1.dat", expected, extra=["--format", "zimengxiong"])
    assert main(["predict", str(tmp_path / "imported.npz"), str(tmp_path / "missing.png")]) == 2


def test_bad_old_model_files_are_one_line_errors(tmp_path, capsys):
    document, _, _ = ibpme_model([784, 5, 10])
    cases = {
        "no_weights.json": ({key: value for key, value in document.items() if key != "weights"}, "missing key weights"),
        "wrong_shape.json": ({**document, "sizez": [784, 6, 10]}, "weights[0] has shape (5, 784), expected (6, 784)"),
        "candy.json": ({"W1": [[0.0] * 784] * 4, "b1": [[0.0]] * 3, "W2": [[0.0] * 4] * 10, "b2": [[0.0]] * 10},
                       "b1 has shape (3, 1), expected (4, 1)"),
        "candy_missing.json": ({"W1": [[0.0]], "b1": [[0.0]]}, "missing keys W2, b2"),
        "other.json": ({"layers": []}, "not a model file of a known format"),
    }
    for name, (content, message) in cases.items():
        (tmp_path / name).write_text(json.dumps(content))
        assert main(["import", str(tmp_path / name), str(tmp_path / "out.npz")]) == 2
        err = capsys.readouterr().err
        assert message in err and err.count("\n") == 1, err
    folder = tmp_path / "dat"
    folder.mkdir()
    write_zimengxiong(folder, np.random.default_rng(4))
    (folder / "b2.dat").write_bytes(b"\0" * 24)
    assert main(["import", str(folder), str(tmp_path / "out.npz")]) == 2
    assert "24 bytes, expected 80" in capsys.readouterr().err
    (folder / "b2.dat").unlink()
    assert main(["import", str(folder), str(tmp_path / "out.npz")]) == 2
    assert "missing b2.dat" in capsys.readouterr().err
    assert not (tmp_path / "out.npz").exists()


def test_imported_model_exports_and_old_json_given_to_load_model(tmp_path):
    document, weights, biases = ibpme_model([784, 8, 10])
    (tmp_path / "old.json").write_text(json.dumps(document))
    with pytest.raises(ModelFileError, match="nnscratch import"):
        load_model(str(tmp_path / "old.json"))
    assert main(["import", str(tmp_path / "old.json"), str(tmp_path / "new.json")]) == 0
    model, metadata = load_model(str(tmp_path / "new.json"))
    assert metadata["imported_from"] == "ibpme/NeuralNetworkFromScratch"
    expected = ibpme_forward(weights, biases, X.T.astype(np.float64)).T
    np.testing.assert_allclose(model.predict_output(X), expected, rtol=1e-4, atol=1e-6)


def test_import_of_the_ibpme_web_page_copy_in_parentheses(tmp_path):
    """ibpme's docs/model.json as its web page ships it: ``(model = {...})``, a JavaScript expression."""
    document, weights, biases = ibpme_model([784, 30, 10])
    expected = ibpme_forward(weights, biases, X.T.astype(np.float64))
    (tmp_path / "model.json").write_text("(model = " + json.dumps(document, indent=2) + ")\n")
    check_import(tmp_path, tmp_path / "model.json", expected)
    (tmp_path / "model.json").write_text("(model = " + json.dumps(document) + ");")
    check_import(tmp_path, tmp_path / "model.json", expected)


def test_import_never_overwrites_its_source_and_refuses_unknown_extensions(tmp_path, capsys):
    document, _, _ = ibpme_model([784, 8, 10])
    source = tmp_path / "OLD.json"
    source.write_text(json.dumps(document))
    original = source.read_bytes()
    for out in (str(source), str(tmp_path / "." / "OLD.json")):
        assert main(["import", str(source), out]) == 2
        err = capsys.readouterr().err
        assert "is the SOURCE file itself" in err and err.count("\n") == 1, err
    (tmp_path / "link.json").symlink_to(source)
    assert main(["import", str(source), str(tmp_path / "link.json")]) == 2
    assert "is the SOURCE file itself" in capsys.readouterr().err
    assert source.read_bytes() == original
    for out in ("out.txt", "out", "out.npz.bak"):
        assert main(["import", str(source), str(tmp_path / out)]) == 2
        err = capsys.readouterr().err
        assert "OUT must end in .npz or .json" in err and out in err, err
        assert not (tmp_path / out).exists()
