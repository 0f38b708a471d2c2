"""Writing a network as a standard ONNX model, so that it runs wherever ONNX runs (onnxruntime, browsers, phones).

Each layer becomes the ONNX operator that computes the same thing: Linear -> Gemm (our W is (in, out), so no
transpose), Conv2D -> Conv, the poolings -> MaxPool / AveragePool / GlobalAveragePool (+ Flatten, as ours gives
(N, C)), BatchNorm -> BatchNormalization in inference mode, the activations -> Relu, LeakyRelu, Sigmoid, Tanh,
Softmax, Flatten -> Flatten, Dropout -> nothing. The graph's output is what ``model.predict_proba`` gives: a
Softmax node is added after logits; the output of a network that ends in Softmax or Sigmoid is passed as it is.
With ``logits=True`` the output is the last layer's pre-activation instead. Needs ``nnscratch[onnx]``.
"""
import json

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from ..errors import NNScratchError
from ..files import atomic_write
from ..layers import (
    AvgPool2D,
    BatchNorm,
    Conv2D,
    Dropout,
    Flatten,
    GlobalAvgPool,
    LeakyReLU,
    Linear,
    MaxPool2D,
    ReLU,
    Sigmoid,
    Softmax,
    Tanh,
)
from ..network import Sequential

OPSET = 17
IR_VERSION = 8               # read by onnxruntime >= 1.13
INPUT_NAME = "pixels"
PREPROCESSING = ("float32 pixels scaled to [0, 1] (value / 255), dark background, light ink, as MNIST; one "
                 "example per row of 784 values, or (1, 28, 28) images for a convolutional network")
APPENDED_SOFTMAX = "Softmax"  # the value of metadata "nnscratch.appended" when the exporter added the Softmax


class OnnxExportError(NNScratchError, ValueError):
    """A model that cannot be written as ONNX; the message names the layer."""


class GraphBuilder:
    """The nodes and initializers of a graph being built, each with a fresh, readable name."""

    def __init__(self):
        self.nodes, self.initializers, self.count = [], [], 0

    def fresh(self, prefix):
        self.count += 1
        return f"{prefix}_{self.count}"

    def weight(self, prefix, array):
        name = self.fresh(prefix)
        self.initializers.append(numpy_helper.from_array(np.asarray(array, dtype=np.float32), name))
        return name

    def node(self, op_type, inputs, **attributes):
        output = self.fresh(op_type.lower())
        self.nodes.append(helper.make_node(op_type, inputs, [output], name=output, **attributes))
        return output


def linear(graph, layer, x):
    """y = x W + b is Gemm(A=x, B=W, C=b) with alpha = beta = 1 and no transposes."""
    return graph.node("Gemm", [x, graph.weight("W", layer.params["W"]), graph.weight("b", layer.params["b"])])


def conv(graph, layer, x):
    (ph, pw) = layer.padding
    return graph.node("Conv", [x, graph.weight("W", layer.params["W"]), graph.weight("b", layer.params["b"])],
                      kernel_shape=list(layer.kernel_size), strides=list(layer.stride), pads=[ph, pw, ph, pw],
                      dilations=[1, 1], group=1)


def pool(op_type):
    def convert(graph, layer, x):     # no padding; floor of (H - k) / s + 1 positions, as ONNX's ceil_mode=0
        return graph.node(op_type, [x], kernel_shape=list(layer.kernel_size), strides=list(layer.stride),
                          pads=[0, 0, 0, 0])
    return convert


def global_average(graph, layer, x):
    return graph.node("Flatten", [graph.node("GlobalAveragePool", [x])], axis=1)   # (N, C, 1, 1) -> (N, C)


def batch_norm(graph, layer, x):
    inputs = [layer.params["gamma"], layer.params["beta"], layer.buffers["running_mean"],
              layer.buffers["running_var"]]
    names = [graph.weight(name, array) for name, array in zip(("gamma", "beta", "mean", "var"), inputs, strict=True)]
    return graph.node("BatchNormalization", [x, *names], epsilon=layer.eps)


def simple(op_type, **attributes):
    return lambda graph, layer, x: graph.node(op_type, [x], **attributes)


def leaky_relu(graph, layer, x):
    return graph.node("LeakyRelu", [x], alpha=layer.alpha)   # written out, whatever ONNX's default


CONVERTERS = {
    Linear: linear, Conv2D: conv, MaxPool2D: pool("MaxPool"), AvgPool2D: pool("AveragePool"),
    GlobalAvgPool: global_average, BatchNorm: batch_norm, ReLU: simple("Relu"), Sigmoid: simple("Sigmoid"),
    LeakyReLU: leaky_relu, Tanh: simple("Tanh"), Softmax: simple("Softmax", axis=1), Flatten: simple("Flatten", axis=1),
    Dropout: lambda graph, layer, x: x,
}


def chain(model):
    """The layers of ``model`` in order, nested ``Sequential`` blocks opened up."""
    for layer in model:
        if isinstance(layer, Sequential):
            yield from chain(layer)
        else:
            yield layer


def exported_layers(model, logits):
    """The layers the graph computes, and whether a Softmax is to follow them: ``predict_proba``'s rule (the
    output of a final Softmax or Sigmoid as it is, else the softmax of the logits), or, with ``logits``, every
    layer but a final Softmax or Sigmoid."""
    layers = list(chain(model))
    ends_in_probabilities = bool(layers) and isinstance(layers[-1], (Softmax, Sigmoid))
    if logits:
        return (layers[:-1] if ends_in_probabilities else layers), False
    return layers, not ends_in_probabilities


def reference_output(model, x, logits=False):
    """What the exported graph computes for ``x``, by nnscratch itself: ``predict_proba``, or the logits."""
    if not logits:
        return model.predict_proba(x)
    layers, _ = exported_layers(model, logits)
    return Sequential(layers).predict_output(x) if layers else np.asarray(x)


def to_onnx(model, input_shape, metadata=None, logits=False):
    """``model`` (a ``Sequential``) as an ``onnx.ModelProto`` for inputs of ``input_shape`` (one example, e.g.
    ``(784,)`` or ``(1, 28, 28)``), checked with ``onnx.checker`` (full check)."""
    if not isinstance(model, Sequential):
        raise OnnxExportError(f"ONNX export takes a Sequential model, got {type(model).__name__}")
    input_shape = tuple(int(size) for size in input_shape)
    probe = np.zeros((1, *input_shape), dtype=model.dtype)
    try:
        outputs = reference_output(model, probe, logits)     # checks the shape fits, and that there are
    except ValueError as error:                               # probabilities to give
        if logits or not str(error).startswith("predict_proba"):
            raise
        raise OnnxExportError(f"cannot export class probabilities: {error}; or export the logits "
                              f"(--logits)") from None
    layers, append_softmax = exported_layers(model, logits)
    graph = GraphBuilder()
    x = INPUT_NAME
    for layer in chain(Sequential(layers)):
        converter = CONVERTERS.get(type(layer))
        if converter is None:
            raise OnnxExportError(f"cannot export layer {type(layer).__name__} to ONNX: only "
                                  f"{', '.join(sorted(kind.__name__ for kind in CONVERTERS))} map to ONNX operators")
        x = converter(graph, layer, x)
    if append_softmax:
        x = graph.node("Softmax", [x], axis=1)
    if x == INPUT_NAME:
        x = graph.node("Identity", [x])
    output_name = "logits" if logits else "probabilities"
    graph.nodes[-1].output[0] = output_name
    onnx_graph = helper.make_graph(
        graph.nodes, "nnscratch",
        [helper.make_tensor_value_info(INPUT_NAME, TensorProto.FLOAT, ["N", *input_shape])],
        [helper.make_tensor_value_info(output_name, TensorProto.FLOAT, ["N", *outputs.shape[1:]])],
        graph.initializers)
    proto = helper.make_model(onnx_graph, opset_imports=[helper.make_opsetid("", OPSET)], producer_name="nnscratch",
                              doc_string=f"Input: {PREPROCESSING}. Output: {output_name}.")
    proto.ir_version = IR_VERSION
    properties = {"preprocessing": PREPROCESSING, "input_shape": json.dumps(list(input_shape)),
                  "nnscratch.output": output_name}
    if append_softmax:
        properties["nnscratch.appended"] = APPENDED_SOFTMAX
    for key in ("dataset", "class_names"):
        if metadata and key in metadata:
            value = metadata[key]
            properties[key] = value if isinstance(value, str) else json.dumps(value)
    helper.set_model_props(proto, properties)
    onnx.checker.check_model(proto, full_check=True)
    return proto


def export_onnx(path, model, input_shape, metadata=None, logits=False):
    """Write ``model`` as ONNX to ``path``, atomically; return the ``ModelProto``."""
    proto = to_onnx(model, input_shape, metadata, logits)
    with atomic_write(path) as file:
        file.write(proto.SerializeToString())
    return proto


def verify_onnx(proto, model, input_shape, logits=False, seed=0):
    """Run ``proto`` in onnxruntime on random batches of 1 and 7 and compare with nnscratch's own output.

    Returns ``(largest absolute difference, whether every argmax agreed)``.
    """
    import onnxruntime

    session = onnxruntime.InferenceSession(proto.SerializeToString(), providers=["CPUExecutionProvider"])
    rng = np.random.default_rng(seed)
    largest, same_argmax = 0.0, True
    for batch in (1, 7):
        x = rng.uniform(0, 1, (batch, *input_shape)).astype(np.float32)
        theirs = session.run(None, {INPUT_NAME: x})[0]
        ours = reference_output(model, x.astype(model.dtype), logits)
        largest = max(largest, float(np.max(np.abs(theirs - ours))))
        same_argmax &= bool(np.array_equal(theirs.argmax(axis=1), ours.argmax(axis=1)))
    return largest, same_argmax
