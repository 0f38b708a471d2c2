"""ONNX export and import, verified by running every exported model in onnxruntime and in ONNX's reference
evaluator, and by importing what PyTorch exports."""
import builtins
import json
import re

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
onnxruntime = pytest.importorskip("onnxruntime")
from onnx import TensorProto, helper, numpy_helper  # noqa: E402
from onnx.reference import ReferenceEvaluator  # noqa: E402

from nnscratch import (  # noqa: E402
    Adam,
    AvgPool2D,
    BatchNorm,
    Conv2D,
    Dropout,
    Flatten,
    GlobalAvgPool,
    Layer,
    LeakyReLU,
    Linear,
    MaxPool2D,
    ReLU,
    Sequential,
    Sigmoid,
    Softmax,
    SoftmaxCrossEntropy,
    Tanh,
    fit,
)
from nnscratch.cli import main  # noqa: E402
from nnscratch.interop.onnx_export import INPUT_NAME, OnnxExportError, export_onnx, to_onnx  # noqa: E402
from nnscratch.interop.onnx_import import OnnxImportError, import_onnx  # noqa: E402
from nnscratch.serialization import load_model, save_model  # noqa: E402

TOLERANCE = 1e-5
IMAGE = (1, 28, 28)
ROWS = (784,)


def with_statistics(layer, seed):
    """A BatchNorm with running statistics and affine parameters far from their defaults."""
    rng = np.random.default_rng(seed)
    layer.buffers["running_mean"][...] = rng.normal(0, 0.5, layer.num_features)
    layer.buffers["running_var"][...] = rng.uniform(0.3, 2.0, layer.num_features)
    layer.params["gamma"][...] = rng.uniform(0.5, 1.5, layer.num_features)
    layer.params["beta"][...] = rng.normal(0, 0.3, layer.num_features)
    return layer


def dense(*hidden):
    rng = np.random.default_rng(1)
    return Sequential(Linear(784, 16, rng=rng), *hidden, Linear(16, 10, rng=rng))


def convolutional(*layers, features):
    rng = np.random.default_rng(2)
    return Sequential(*layers, Flatten(), Linear(features, 10, rng=rng))


def conv(kernel, stride=1, padding=0, channels=(1, 3)):
    return Conv2D(*channels, kernel, stride=stride, padding=padding, rng=np.random.default_rng(3))


# One graph per layer and per attribute case: (name, model, input shape).
CASES = [
    ("linear-logits", Sequential(Linear(784, 10, rng=0)), ROWS),
    ("linear-softmax", Sequential(Linear(784, 10, rng=0), Softmax()), ROWS),
    ("linear-sigmoid-output", Sequential(Linear(784, 10, rng=0), Sigmoid()), ROWS),
    ("one-output-sigmoid", Sequential(Linear(784, 1, rng=0), Sigmoid()), ROWS),
    ("relu", dense(ReLU()), ROWS),
    ("leaky-relu-0.2", dense(LeakyReLU(0.2)), ROWS),
    ("leaky-relu-default", dense(LeakyReLU()), ROWS),
    ("sigmoid", dense(Sigmoid()), ROWS),
    ("tanh", dense(Tanh()), ROWS),
    ("dropout", dense(ReLU(), Dropout(0.5, rng=0)), ROWS),
    ("batchnorm-dense", dense(with_statistics(BatchNorm(16, eps=1e-3), 4), ReLU()), ROWS),
    ("nested", Sequential(Sequential(Linear(784, 16, rng=0), ReLU()), Sequential(Linear(16, 10, rng=1))), ROWS),
    ("conv-3", convolutional(conv(3), features=3 * 26 * 26), IMAGE),
    ("conv-5-stride-2-padding-2", convolutional(conv(5, 2, 2), features=3 * 14 * 14), IMAGE),
    ("conv-3x5-stride-2x1-padding-1x2", convolutional(conv((3, 5), (2, 1), (1, 2)), features=3 * 14 * 28), IMAGE),
    ("maxpool-2", convolutional(conv(3), MaxPool2D(2), features=3 * 13 * 13), IMAGE),
    ("maxpool-3-stride-2", convolutional(conv(3), MaxPool2D(3, stride=2), features=3 * 12 * 12), IMAGE),
    ("maxpool-2-stride-3", convolutional(conv(3), MaxPool2D(2, stride=3), features=3 * 9 * 9), IMAGE),
    ("avgpool-2", convolutional(conv(3), AvgPool2D(2), features=3 * 13 * 13), IMAGE),
    ("avgpool-3-stride-1", convolutional(conv(3), AvgPool2D(3, stride=1), features=3 * 24 * 24), IMAGE),
    ("global-avgpool", convolutional(conv(3), ReLU(), GlobalAvgPool(), features=3), IMAGE),
    ("batchnorm-conv", convolutional(conv(3), with_statistics(BatchNorm(3), 5), ReLU(), features=3 * 26 * 26),
     IMAGE),
]


def expected_output(model, x, logits=False):
    """nnscratch's answer: ``predict_proba``, or the logits (the output without a final Softmax or Sigmoid)."""
    if not logits:
        return model.predict_proba(x)
    last = model.layers[-1]
    return Sequential(model.layers[:-1]).predict_output(x) if isinstance(last, (Softmax, Sigmoid)) else \
        model.predict_output(x)


def run_everywhere(proto, x):
    """The model's output for ``x`` in onnxruntime and in ONNX's reference evaluator."""
    session = onnxruntime.InferenceSession(proto.SerializeToString(), providers=["CPUExecutionProvider"])
    return {"onnxruntime": session.run(None, {INPUT_NAME: x})[0],
            "reference": ReferenceEvaluator(proto).run(None, {INPUT_NAME: x})[0]}


def check_same_outputs(proto, model, input_shape, logits=False, seed=0):
    rng = np.random.default_rng(seed)
    for batch in (1, 7):
        x = rng.uniform(0, 1, (batch, *input_shape)).astype(np.float32)
        expected = expected_output(model, x, logits)
        for runtime, output in run_everywhere(proto, x).items():
            assert output.shape == expected.shape and output.dtype == np.float32, \
                f"{runtime}: expected {expected.shape} float32, got {output.shape} {output.dtype}"
            difference = np.max(np.abs(output - expected))
            assert difference <= TOLERANCE, f"{runtime}, batch {batch}: largest difference {difference:.2e}"
            np.testing.assert_array_equal(output.argmax(axis=1), expected.argmax(axis=1), err_msg=runtime)


@pytest.mark.parametrize("name, model, input_shape", CASES, ids=[case[0] for case in CASES])
def test_each_layer_exports_to_what_nnscratch_computes(name, model, input_shape):
    proto = to_onnx(model, input_shape)
    check_same_outputs(proto, model, input_shape)


@pytest.mark.parametrize("name", ["linear-softmax", "linear-sigmoid-output", "relu", "batchnorm-conv"])
def test_logits_export(name):
    _, model, input_shape = next(case for case in CASES if case[0] == name)
    proto = to_onnx(model, input_shape, logits=True)
    assert proto.graph.output[0].name == "logits"
    assert proto.graph.node[-1].op_type not in ("Softmax", "Sigmoid")
    check_same_outputs(proto, model, input_shape, logits=True)


def test_softmax_is_added_after_logits_and_not_after_probabilities():
    ops = {name: [node.op_type for node in to_onnx(model, shape).graph.node] for name, model, shape in CASES}
    assert ops["linear-logits"] == ["Gemm", "Softmax"]
    assert ops["linear-softmax"] == ["Gemm", "Softmax"]
    assert ops["linear-sigmoid-output"] == ["Gemm", "Sigmoid"]
    assert ops["one-output-sigmoid"] == ["Gemm", "Sigmoid"]
    assert ops["dropout"] == ["Gemm", "Relu", "Gemm", "Softmax"]


def test_the_model_says_what_it_takes_and_is_pinned():
    model = Sequential(Linear(784, 10, rng=0))
    proto = to_onnx(model, ROWS, metadata={"dataset": "mnist", "class_names": list("0123456789")})
    assert proto.ir_version == 8 and [(o.domain, o.version) for o in proto.opset_import] == [("", 17)]
    dims = proto.graph.input[0].type.tensor_type.shape.dim
    assert [dim.dim_param or dim.dim_value for dim in dims] == ["N", 784]
    assert proto.graph.input[0].type.tensor_type.elem_type == TensorProto.FLOAT
    properties = {entry.key: entry.value for entry in proto.metadata_props}
    assert "[0, 1]" in properties["preprocessing"] and properties["dataset"] == "mnist"
    assert json.loads(properties["class_names"]) == list("0123456789")
    leaky = to_onnx(dense(LeakyReLU()), ROWS).graph.node[1]
    assert leaky.op_type == "LeakyRelu" and [a.name for a in leaky.attribute] == ["alpha"]


def test_trained_networks_export_exactly():
    """An MLP and a CNN with batch norm and dropout, trained for a few steps, then exported."""
    rng = np.random.default_rng(8)
    x_rows = rng.uniform(0, 1, (64, 784)).astype(np.float32)
    y = rng.integers(0, 10, 64)
    mlp = Sequential(Linear(784, 32, rng=rng), BatchNorm(32), ReLU(), Dropout(0.2, rng=rng), Linear(32, 10, rng=rng))
    cnn = Sequential(Conv2D(1, 4, 3, padding=1, rng=rng), BatchNorm(4), ReLU(), MaxPool2D(2),
                     Conv2D(4, 8, 3, stride=2, rng=rng), ReLU(), GlobalAvgPool(), Linear(8, 10, rng=rng))
    for model, x, shape in ((mlp, x_rows, ROWS), (cnn, x_rows.reshape(64, *IMAGE), IMAGE)):
        before = model.state_dict()
        fit(model, x, y, SoftmaxCrossEntropy(), Adam(model, lr=0.01), epochs=1, batch_size=16, rng=0)
        assert any(not np.array_equal(before[key], value) for key, value in model.state_dict().items())
        check_same_outputs(to_onnx(model, shape), model, shape, seed=9)


@pytest.mark.parametrize("model", [Sequential(Linear(784, 1, rng=0)), Sequential(Linear(784, 10, rng=0), Tanh())],
                         ids=["one-logit", "ends-in-tanh"])
def test_without_probabilities_only_the_logits_export(model):
    with pytest.raises(OnnxExportError, match="cannot export class probabilities: predict_proba"):
        to_onnx(model, ROWS)
    check_same_outputs(to_onnx(model, ROWS, logits=True), model, ROWS, logits=True)


class Doubler(Layer):
    def forward(self, x):
        return 2 * x


def test_a_layer_without_an_onnx_operator_is_refused_by_name():
    with pytest.raises(OnnxExportError, match="cannot export layer Doubler"):
        to_onnx(Sequential(Linear(784, 10, rng=0), Doubler()), ROWS)


# --- round trip and the command line -------------------------------------------------------------------------

@pytest.mark.parametrize("name, model, input_shape", CASES, ids=[case[0] for case in CASES])
def test_round_trip_gives_identical_weights_and_predictions(name, model, input_shape, tmp_path):
    export_onnx(tmp_path / "model.onnx", model, input_shape)
    loaded, metadata = import_onnx(tmp_path / "model.onnx")
    without_dropout = [layer for layer in flattened(model) if type(layer) is not Dropout]
    assert [type(layer).__name__ for layer in loaded] == [type(layer).__name__ for layer in without_dropout]
    for theirs, ours in zip(loaded, without_dropout, strict=True):
        assert theirs.config().keys() == ours.config().keys()
        for key in ("kernel_size", "stride", "padding", "eps", "alpha"):
            assert theirs.config().get(key) == ours.config().get(key), f"{type(ours).__name__}.{key}"
        for store in ("params", "buffers"):
            for key, array in getattr(ours, store).items():
                np.testing.assert_array_equal(getattr(theirs, store)[key], array, err_msg=f"{name}: {key}")
    assert metadata["input_shape"] == list(input_shape)
    x = np.random.default_rng(0).uniform(0, 1, (7, *input_shape)).astype(np.float32)
    np.testing.assert_array_equal(loaded.predict_proba(x), model.predict_proba(x))


def flattened(model):
    for layer in model:
        yield from (flattened(layer) if type(layer) is Sequential else [layer])


def test_export_and_import_commands(tmp_path, capsys):
    model = Sequential(Conv2D(1, 4, 3, stride=2, padding=1, rng=0), ReLU(), MaxPool2D(2), Flatten(),
                       Linear(4 * 7 * 7, 10, rng=1))
    save_model(tmp_path / "cnn.npz", model, {"dataset": "mnist", "input_shape": list(IMAGE),
                                             "class_names": [str(digit) for digit in range(10)]})
    assert main(["export", str(tmp_path / "cnn.npz"), str(tmp_path / "cnn.onnx"), "--verify"]) == 0
    out = capsys.readouterr().out
    assert "largest difference" in out and "every predicted class the same" in out, out
    assert main(["import", str(tmp_path / "cnn.onnx"), str(tmp_path / "back.npz")]) == 0
    back, metadata = load_model(str(tmp_path / "back.npz"))
    assert metadata["input_shape"] == list(IMAGE) and metadata["dataset"] == "mnist"
    x = np.random.default_rng(1).uniform(0, 1, (7, *IMAGE)).astype(np.float32)
    np.testing.assert_array_equal(back.predict_proba(x), model.predict_proba(x))
    assert main(["export", str(tmp_path / "cnn.npz"), str(tmp_path / "logits.onnx"), "--logits"]) == 0
    session = onnxruntime.InferenceSession(str(tmp_path / "logits.onnx"), providers=["CPUExecutionProvider"])
    np.testing.assert_allclose(session.run(None, {INPUT_NAME: x})[0], model.predict_output(x), atol=TOLERANCE)
    capsys.readouterr()
    assert main(["export", str(tmp_path / "cnn.npz"), str(tmp_path / "cnn.json"), "--logits"]) == 2
    assert "ONNX exports" in capsys.readouterr().err


# --- PyTorch's exports ---------------------------------------------------------------------------------------

def torch_export(torch, network, example, path):
    network.eval()
    torch.onnx.export(network, example, str(path), dynamo=False, input_names=["x"], output_names=["y"],
                      dynamic_axes={"x": {0: "N"}, "y": {0: "N"}})


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
@pytest.mark.filterwarnings("ignore::UserWarning")
def test_pytorch_mlp_and_cnn_import_with_pytorchs_predictions(tmp_path):
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)

    class Rows(torch.nn.Module):        # x.reshape(-1, 784): a Reshape with a constant shape
        def forward(self, x):
            return x.reshape(-1, 784)

    mlp = torch.nn.Sequential(Rows(), torch.nn.Linear(784, 32), torch.nn.BatchNorm1d(32), torch.nn.ReLU(),
                              torch.nn.Dropout(0.3), torch.nn.Linear(32, 10), torch.nn.Softmax(dim=1))
    cnn = torch.nn.Sequential(torch.nn.Conv2d(1, 4, 3, padding=1), torch.nn.BatchNorm2d(4), torch.nn.ReLU(),
                              torch.nn.MaxPool2d(2), torch.nn.Conv2d(4, 6, 5, stride=2, padding=2),
                              torch.nn.LeakyReLU(0.1), torch.nn.AvgPool2d(2), torch.nn.Flatten(),
                              torch.nn.Linear(6 * 3 * 3, 10))
    for network in (mlp, cnn):          # running statistics away from 0 and 1
        for module in network:
            if isinstance(module, (torch.nn.BatchNorm1d, torch.nn.BatchNorm2d)):
                module.running_mean.uniform_(-0.5, 0.5)
                module.running_var.uniform_(0.5, 2.0)
    x = np.random.default_rng(2).uniform(0, 1, (7, *IMAGE)).astype(np.float32)
    for name, network in (("mlp", mlp), ("cnn", cnn)):
        torch_export(torch, network, torch.zeros(1, *IMAGE), tmp_path / f"{name}.onnx")
        model, metadata = import_onnx(tmp_path / f"{name}.onnx")
        assert metadata["imported_from"] == "ONNX (pytorch)"
        with torch.no_grad():
            expected = network(torch.from_numpy(x)).numpy()
        for batch in (x[:1], x):
            np.testing.assert_allclose(model.predict_output(batch), expected[:len(batch)], atol=TOLERANCE,
                                       err_msg=name)
    assert [type(layer).__name__ for layer in import_onnx(tmp_path / "mlp.onnx")[0]] == \
        ["Flatten", "Linear", "BatchNorm", "ReLU", "Linear", "Softmax"]


def test_matmul_add_and_gemm_with_transposed_weights(tmp_path):
    """The other ways a dense layer is written: MatMul + Add (bias first or second), Gemm with transB=1."""
    rng = np.random.default_rng(3)
    w1, b1 = rng.normal(size=(784, 12)).astype(np.float32), rng.normal(size=12).astype(np.float32)
    w2, b2 = rng.normal(size=(10, 12)).astype(np.float32), rng.normal(size=10).astype(np.float32)
    nodes = [helper.make_node("MatMul", ["x", "w1"], ["h1"]), helper.make_node("Add", ["b1", "h1"], ["h2"]),
             helper.make_node("Tanh", ["h2"], ["h3"]),
             helper.make_node("Gemm", ["h3", "w2", "b2"], ["y"], transB=1, alpha=0.5, beta=2.0)]
    proto = graph_model(nodes, [("w1", w1), ("b1", b1), ("w2", w2), ("b2", b2)], [None, 784])
    path = save(proto, tmp_path / "dense.onnx")
    model, _ = import_onnx(path)
    x = rng.uniform(0, 1, (7, 784)).astype(np.float32)
    expected = onnxruntime.InferenceSession(proto.SerializeToString(),
                                            providers=["CPUExecutionProvider"]).run(None, {"x": x})[0]
    np.testing.assert_allclose(model.predict_output(x), expected, rtol=1e-5, atol=TOLERANCE)


# --- what is refused -----------------------------------------------------------------------------------------

def save(proto, path):
    path.write_bytes(proto.SerializeToString())
    return path


def graph_model(nodes, weights, input_dims, output="y"):
    initializers = [numpy_helper.from_array(array, name) for name, array in weights]
    graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, input_dims)],
                              [helper.make_tensor_value_info(output, TensorProto.FLOAT, None)], initializers)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


def conv_model(**attributes):
    weight = np.ones((2, 1, 3, 3), np.float32)
    return graph_model([helper.make_node("Conv", ["x", "w"], ["y"], **attributes)], [("w", weight)],
                       [None, 1, 8, 8])


def external_data_model(tmp_path):
    proto = graph_model([helper.make_node("MatMul", ["x", "w"], ["y"])], [("w", np.ones((4, 2), np.float32))],
                        [None, 4])
    (tmp_path / "weights.bin").write_bytes(np.ones(8, np.float32).tobytes())
    tensor = proto.graph.initializer[0]
    tensor.ClearField("raw_data")
    tensor.data_location = TensorProto.EXTERNAL
    tensor.external_data.add(key="location", value=str(tmp_path / "weights.bin"))
    return proto


def huge_initializer_model():
    proto = graph_model([helper.make_node("MatMul", ["x", "w"], ["y"])], [("w", np.ones((4, 2), np.float32))],
                        [None, 4])
    del proto.graph.initializer[0].dims[:]
    proto.graph.initializer[0].dims.extend([1_000_000, 1000])
    return proto


def hostile_files(tmp_path):
    """(file name, bytes, the message expected) for the files an importer must refuse."""
    good = to_onnx(Sequential(Linear(784, 10, rng=0)), ROWS).SerializeToString()
    relu = helper.make_node("Relu", ["x"], ["a"])
    weight = [("w", np.ones((4, 2), np.float32))]
    return [
        ("truncated.onnx", good[:len(good) // 2], "not an ONNX model"),
        ("text.onnx", b"this is not protobuf at all \xff\xfe" * 20, "not an ONNX model"),
        ("empty.onnx", b"", "not an ONNX model"),
        ("external.onnx", external_data_model(tmp_path).SerializeToString(), "stored outside the file"),
        ("huge.onnx", huge_initializer_model().SerializeToString(), "declares 1,000,000,000 values"),
        ("unknown.onnx", graph_model([helper.make_node("Erf", ["x"], ["y"], name="mystery")], [], [None, 4])
         .SerializeToString(), "node 'mystery' (Erf): unsupported operator"),
        ("branch.onnx", graph_model([relu, helper.make_node("Add", ["a", "x"], ["y"], name="join")], [], [None, 4])
         .SerializeToString(), "node 'join' (Add): not a single chain"),
        ("group.onnx", conv_model(group=2, name="c").SerializeToString(), "grouped convolutions"),
        ("dilation.onnx", conv_model(dilations=[2, 2]).SerializeToString(), "dilations [2, 2]"),
        ("asymmetric.onnx", conv_model(pads=[1, 1, 0, 0]).SerializeToString(), "asymmetric padding [1, 1, 0, 0]"),
        ("auto-pad.onnx", conv_model(auto_pad="SAME_UPPER").SerializeToString(), "auto_pad"),
        ("domain.onnx", with_domain(good), "domain 'com.microsoft'"),
        ("misfit.onnx", graph_model([helper.make_node("MatMul", ["x", "w"], ["y"])], weight, [None, 5])
         .SerializeToString(), "do not fit together"),
    ]


def with_domain(data):
    proto = onnx.ModelProto()
    proto.ParseFromString(data)
    proto.opset_import.add(domain="com.microsoft", version=1)
    return proto.SerializeToString()


def test_hostile_files_are_refused_with_one_line(tmp_path, capsys, monkeypatch):
    opened = []
    real_open = builtins.open

    def recording_open(file, *args, **kwargs):
        opened.append(str(file))
        return real_open(file, *args, **kwargs)

    for name, data, message in hostile_files(tmp_path):
        path = tmp_path / name
        path.write_bytes(data)
        opened.clear()
        monkeypatch.setattr(builtins, "open", recording_open)
        try:
            with pytest.raises(OnnxImportError, match=re.escape(message)):
                import_onnx(path)
        finally:
            monkeypatch.setattr(builtins, "open", real_open)
        assert opened == [str(path)], f"{name}: opened {opened}"
        assert main(["import", str(path), str(tmp_path / "out.npz")]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and message.split(" (")[0] in err and name in err, f"{name}: {err}"
    assert not (tmp_path / "out.npz").exists()


def test_a_tensor_that_carries_fewer_bytes_than_it_declares_is_refused(tmp_path):
    proto = graph_model([helper.make_node("MatMul", ["x", "w"], ["y"])], [("w", np.ones((4, 2), np.float32))],
                        [None, 4])
    proto.graph.initializer[0].raw_data = b"\0" * 12
    with pytest.raises(OnnxImportError, match=r"declares shape \[4, 2\] but carries 12 bytes"):
        import_onnx(save(proto, tmp_path / "short.onnx"))


def test_every_command_that_reads_a_model_reads_onnx_too(tmp_path, capsys):
    model = Sequential(Linear(784, 16, rng=0), ReLU(), Linear(16, 10, rng=1))
    save_model(tmp_path / "m.npz", model, {"input_shape": [784]})
    assert main(["export", str(tmp_path / "m.npz"), str(tmp_path / "m.onnx")]) == 0
    loaded, metadata = load_model(tmp_path / "m.onnx")
    assert main(["predict", str(tmp_path / "m.onnx"), "--index", "0"]) == 0
    assert "Prediction:" in capsys.readouterr().out
    x = np.random.default_rng(0).uniform(0, 1, (5, 784)).astype(np.float32)
    np.testing.assert_allclose(loaded.predict_proba(x), model.predict_proba(x), atol=1e-6)
    assert metadata["input_shape"] == [784]
