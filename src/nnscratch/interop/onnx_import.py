"""Reading an ONNX model back as an nnscratch network: single chains of the operators the exporter writes, and
the way PyTorch exports the same networks (Gemm with transB=1, MatMul + Add, Reshape or Flatten to rows).

Anything else is refused with one line naming the node: branches, grouped or dilated convolutions, asymmetric
or automatic padding, operators nnscratch has no layer for. The file is parsed from its bytes alone: tensors
stored outside it (ONNX "external data") are refused, never opened, and every tensor's declared size is checked
against the bytes that carry it before anything is allocated. Needs ``nnscratch[onnx]``.
"""
import json
import os

import numpy as np
from onnx import TensorProto, helper

from ..layers import (
    AvgPool2D,
    BatchNorm,
    Conv2D,
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
from .onnx_export import APPENDED_SOFTMAX, PREPROCESSING
from .onnx_files import OnnxImportError, read_proto, tensor_array

PASS_THROUGH = {"Identity", "Dropout"}


class Reader:
    """Walks the graph's chain of nodes from its one input to its one output, building layers as it goes."""

    def __init__(self, path, proto):
        self.path, self.graph = path, proto.graph
        self.constants = {tensor.name: tensor for tensor in self.graph.initializer}
        inputs = [value for value in self.graph.input if value.name not in self.constants]
        if len(inputs) != 1 or len(self.graph.output) != 1:
            raise OnnxImportError(f"{path}: expected one input and one output, got {len(inputs)} inputs and "
                                  f"{len(self.graph.output)} outputs")
        self.input = inputs[0]
        self.layers, self.pending_matmul, self.squeezed = [], None, False

    def fail(self, node, reason):
        return OnnxImportError(f"{self.path}: node {node.name or node.op_type!r} ({node.op_type}): {reason}")

    def constant(self, node, name):
        if name not in self.constants:
            raise self.fail(node, f"input {name!r} must be a constant (an initializer or a Constant node)")
        value = self.constants[name]
        if isinstance(value, TensorProto):
            value = self.constants[name] = tensor_array(self.path, value)
        return value

    def attributes(self, node):
        return {attribute.name: helper.get_attribute_value(attribute) for attribute in node.attribute}

    def input_shape(self):
        dims = self.input.type.tensor_type.shape.dim
        shape = [dim.dim_value if dim.HasField("dim_value") else None for dim in dims[1:]]
        if not dims or None in shape or min(shape, default=1) < 1:
            raise OnnxImportError(f"{self.path}: input {self.input.name!r} must have fixed sizes after the batch "
                                  f"dimension, got {[dim.dim_param or dim.dim_value for dim in dims]}")
        return shape

    def read(self):
        current = self.input.name
        for node in self.graph.node:
            if node.op_type == "Constant":
                self.read_constant(node)
                continue
            data = [name for name in node.input if name and name not in self.constants]
            if data != [current]:
                raise self.fail(node, "not a single chain: each node must take the previous node's output "
                                      "(and constants) only")
            if len(node.output) > 1 and any(self.consumers(name) for name in node.output[1:] if name):
                raise self.fail(node, "only the first output of a node may be used")
            self.read_node(node)
            current = node.output[0]
        if current != self.graph.output[0].name:
            raise OnnxImportError(f"{self.path}: the graph's output {self.graph.output[0].name!r} is not the end "
                                  f"of its chain of nodes")
        if self.pending_matmul is not None:
            self.layers.append(self.pending_matmul)
        return self.layers

    def consumers(self, name):
        return [node for node in self.graph.node if name in node.input] + \
            [value for value in self.graph.output if value.name == name]

    def read_constant(self, node):
        attributes = self.attributes(node)
        if "value" in attributes:
            self.constants[node.output[0]] = attributes["value"]
        elif "value_ints" in attributes:
            self.constants[node.output[0]] = np.asarray(attributes["value_ints"], dtype=np.int64)
        else:
            raise self.fail(node, f"only tensor or integer-list constants are supported, got {sorted(attributes)}")

    def read_node(self, node):
        if node.op_type == "Add" and self.pending_matmul is not None:
            return self.add_bias(node)
        if self.pending_matmul is not None:
            self.layers.append(self.pending_matmul)
            self.pending_matmul = None
        readers = {"Gemm": self.gemm, "MatMul": self.matmul, "Conv": self.conv, "MaxPool": self.pool,
                   "AveragePool": self.pool, "GlobalAveragePool": self.global_pool,
                   "BatchNormalization": self.batch_norm, "Relu": self.activation, "Sigmoid": self.activation,
                   "Tanh": self.activation, "LeakyRelu": self.activation, "Softmax": self.softmax,
                   "Flatten": self.flatten, "Reshape": self.reshape}
        if node.op_type in PASS_THROUGH:
            return
        if node.op_type not in readers:
            raise self.fail(node, f"unsupported operator; nnscratch reads {', '.join(sorted(readers))}, "
                                  f"Constant, Identity and Dropout")
        readers[node.op_type](node, self.attributes(node))

    def weight(self, node, position, ndim):
        array = self.constant(node, node.input[position])
        if array.dtype.kind != "f" or array.ndim != ndim:
            raise self.fail(node, f"input {position} must be a {ndim}-D float tensor, got shape {array.shape} "
                                  f"of {array.dtype}")
        return array.astype(np.float64)

    def linear(self, weight, bias):
        layer = Linear(*weight.shape, init="zeros", dtype=np.float64)
        layer.params["W"][...] = weight
        layer.params["b"][...] = bias
        return layer

    def gemm(self, node, attributes):
        if attributes.get("transA", 0):
            raise self.fail(node, "transA=1 is not supported")
        weight = self.weight(node, 1, 2)
        weight = weight.T if attributes.get("transB", 0) else weight
        weight = weight * attributes.get("alpha", 1.0)
        bias = np.zeros(weight.shape[1])
        if len(node.input) > 2 and node.input[2]:
            given = self.constant(node, node.input[2]).astype(np.float64) * attributes.get("beta", 1.0)
            if given.size not in (1, weight.shape[1]) or given.ndim > 2 or given.ndim == 2 and given.shape[0] != 1:
                raise self.fail(node, f"bias of shape {given.shape} does not fit {weight.shape[1]} outputs")
            bias = bias + given.reshape(-1)
        self.layers.append(self.linear(weight, bias))

    def matmul(self, node, attributes):
        weight = self.weight(node, 1, 2)
        self.pending_matmul = self.linear(weight, np.zeros(weight.shape[1]))

    def add_bias(self, node):
        layer, self.pending_matmul = self.pending_matmul, None
        other = [name for name in node.input if name in self.constants]
        bias = self.constant(node, other[0]).astype(np.float64) if other else None
        if bias is None or bias.size != layer.out_features or bias.ndim > 2:
            raise self.fail(node, f"after MatMul, Add must add a bias of {layer.out_features} values")
        layer.params["b"][...] = bias.reshape(-1)
        self.layers.append(layer)

    def conv(self, node, attributes):
        weight = self.weight(node, 1, 4)
        out_channels, in_channels, kh, kw = weight.shape
        if attributes.get("group", 1) != 1:
            raise self.fail(node, f"grouped convolutions (group={attributes['group']}) are not supported")
        if any(dilation != 1 for dilation in attributes.get("dilations", [1, 1])):
            raise self.fail(node, f"dilations {attributes['dilations']} are not supported")
        padding = self.symmetric_padding(node, attributes)
        if list(attributes.get("kernel_shape", [kh, kw])) != [kh, kw]:
            raise self.fail(node, f"kernel_shape {attributes['kernel_shape']} differs from the weights' {[kh, kw]}")
        layer = Conv2D(in_channels, out_channels, (kh, kw), stride=attributes.get("strides", [1, 1]),
                       padding=padding, init="zeros", dtype=np.float64)
        layer.params["W"][...] = weight
        if len(node.input) > 2 and node.input[2]:
            layer.params["b"][...] = self.weight(node, 2, 1)
        self.layers.append(layer)

    def symmetric_padding(self, node, attributes):
        if attributes.get("auto_pad", b"NOTSET") not in (b"NOTSET", "NOTSET"):
            raise self.fail(node, f"auto_pad {attributes['auto_pad']!r} is not supported; give explicit pads")
        top, left, bottom, right = attributes.get("pads", [0, 0, 0, 0])
        if (top, left) != (bottom, right):
            raise self.fail(node, f"asymmetric padding {[top, left, bottom, right]} is not supported")
        return top, left

    def pool(self, node, attributes):
        if attributes.get("ceil_mode", 0) or any(dilation != 1 for dilation in attributes.get("dilations", [1, 1])):
            raise self.fail(node, "ceil_mode and dilations are not supported")
        if self.symmetric_padding(node, attributes) != (0, 0):
            raise self.fail(node, "padded pooling is not supported")
        if attributes.get("storage_order", 0):
            raise self.fail(node, "storage_order=1 is not supported")
        kernel = attributes.get("kernel_shape")
        if kernel is None or len(kernel) != 2:
            raise self.fail(node, f"expected a 2-D kernel_shape, got {kernel}")
        kind = MaxPool2D if node.op_type == "MaxPool" else AvgPool2D
        self.layers.append(kind(kernel, stride=attributes.get("strides", [1, 1])))

    def global_pool(self, node, attributes):
        self.layers.append(GlobalAvgPool())       # gives (N, C); ONNX's (N, C, 1, 1) is flattened next
        self.squeezed = True

    def batch_norm(self, node, attributes):
        if attributes.get("training_mode", 0):
            raise self.fail(node, "training_mode=1 is not supported")
        gamma, beta, mean, variance = (self.weight(node, position, 1) for position in range(1, 5))
        layer = BatchNorm(len(gamma), eps=shortest(attributes.get("epsilon", 1e-5)), dtype=np.float64)
        layer.params["gamma"][...], layer.params["beta"][...] = gamma, beta
        layer.buffers["running_mean"][...], layer.buffers["running_var"][...] = mean, variance
        self.layers.append(layer)

    def activation(self, node, attributes):
        if node.op_type == "LeakyRelu":
            self.layers.append(LeakyReLU(shortest(attributes.get("alpha", 0.01))))
        else:
            self.layers.append({"Relu": ReLU, "Sigmoid": Sigmoid, "Tanh": Tanh}[node.op_type]())

    def softmax(self, node, attributes):
        if attributes.get("axis", -1) not in (1, -1):
            raise self.fail(node, f"softmax over axis {attributes['axis']} is not supported (rows only)")
        self.layers.append(Softmax())

    def flatten(self, node, attributes):
        if attributes.get("axis", 1) != 1:
            raise self.fail(node, f"Flatten with axis={attributes['axis']} is not supported (axis=1 only)")
        self.add_flatten()

    def reshape(self, node, attributes):
        shape = self.constant(node, node.input[1])
        if shape.dtype.kind not in "iu" or shape.ndim != 1 or len(shape) != 2 or not (
                shape[0] in (0, -1) or shape[1] == -1) or min(shape) < -1:
            raise self.fail(node, f"only a reshape of each example to one row is supported, got shape "
                                  f"{shape.tolist()}")
        self.add_flatten()     # a width that does not fit shows when the layers are tried together

    def add_flatten(self):
        if self.squeezed:      # after GlobalAveragePool our rows are already flat
            self.squeezed = False
        else:
            self.layers.append(Flatten())


def import_onnx(path, dtype=np.float32):
    """Read the ONNX model in ``path`` as ``(Sequential, metadata)``; problems raise ``OnnxImportError``."""
    path = os.fspath(path)
    proto = read_proto(path)
    reader = Reader(path, proto)
    input_shape = reader.input_shape()
    layers = reader.read()
    properties = {entry.key: entry.value for entry in proto.metadata_props}
    if properties.get("nnscratch.appended") == APPENDED_SOFTMAX and layers and type(layers[-1]) is Softmax:
        layers = layers[:-1]     # the exporter's Softmax after logits: predict_proba adds it back
    model = Sequential(layers).astype(np.dtype(dtype))
    try:
        output = model.predict_output(np.zeros((2, *input_shape), dtype=dtype))
    except ValueError as error:
        raise OnnxImportError(f"{path}: the layers do not fit together: {error}") from None
    if output.ndim != 2:
        raise OnnxImportError(f"{path}: the model's output has shape {output.shape[1:]} per example; nnscratch "
                              f"expects one row of class scores")
    metadata = {"input_shape": input_shape, "preprocessing": properties.get("preprocessing", PREPROCESSING),
                "imported_from": f"ONNX ({proto.producer_name or 'unknown producer'})",
                "source": os.path.abspath(path)}
    for key in ("dataset", "class_names"):
        if key in properties:
            metadata[key] = decoded(properties[key])
    metadata.setdefault("class_names", [str(index) for index in range(output.shape[1])])
    return model, metadata


def shortest(value):
    """A float attribute (stored as float32) as the shortest decimal that gives that float32: 0.2, not
    0.20000000298023224, so that an exported and imported layer has the constant it had."""
    return float(str(np.float32(value)))


def decoded(text):
    try:
        return json.loads(text)
    except ValueError:
        return text
