"""Reading an ONNX file as a hostile one: parsed from its own bytes, nothing else opened.

``read_proto`` parses the file (size-limited) without following any reference to other files; ``tensor_array``
turns one initializer or constant into a NumPy array after refusing external data, unsupported element types,
and declared sizes that are absurd or that the stored bytes do not carry. Needs ``nnscratch[onnx]``.
"""
import os

import numpy as np
from google.protobuf.message import DecodeError
from onnx import ModelProto, TensorProto

from ..errors import NNScratchError

MAX_FILE_BYTES = 1 << 30          # 1 GiB: far above any MNIST network, far below protobuf's own 2 GiB limit
MAX_TENSOR_ELEMENTS = 1 << 27     # 134 million values
FLOAT_TYPES = {TensorProto.FLOAT: np.float32, TensorProto.DOUBLE: np.float64}
INTEGER_TYPES = {TensorProto.INT64: np.int64, TensorProto.INT32: np.int32}


class OnnxImportError(NNScratchError, ValueError):
    """An ONNX file that nnscratch cannot or will not read; the message names the file and, where one is at
    fault, the node."""


def read_proto(path):
    """The ``ModelProto`` in ``path``, parsed from the file's bytes (nothing else is read)."""
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise OnnxImportError(f"{path}: no such ONNX file")
    size = os.path.getsize(path)
    if size > MAX_FILE_BYTES:
        raise OnnxImportError(f"{path}: {size:,} bytes is larger than the {MAX_FILE_BYTES:,} an ONNX model of "
                              f"nnscratch may be")
    with open(path, "rb") as file:
        data = file.read()  # its size checked above: read(MAX_FILE_BYTES + 1) would reserve 1 GiB first
    proto = ModelProto()
    try:
        proto.ParseFromString(data)
    except (DecodeError, RuntimeError, ValueError) as error:
        raise OnnxImportError(f"{path}: not an ONNX model (the protobuf does not parse: {error})") from None
    if not proto.HasField("graph") or not proto.graph.node:
        raise OnnxImportError(f"{path}: not an ONNX model (no graph, or a graph without nodes)")
    for opset in proto.opset_import:
        if opset.domain not in ("", "ai.onnx"):
            raise OnnxImportError(f"{path}: operators of domain {opset.domain!r} are not supported")
    return proto


def tensor_array(path, tensor):
    """An initializer or constant as a NumPy array, refusing external data and sizes the bytes do not carry."""
    name = tensor.name or "a constant"
    if tensor.data_location == TensorProto.EXTERNAL or tensor.external_data:
        raise OnnxImportError(f"{path}: tensor {name!r} is stored outside the file (external data); nnscratch "
                              f"reads only what is inside the model file")
    dims = [int(dim) for dim in tensor.dims]
    if any(dim < 0 for dim in dims):
        raise OnnxImportError(f"{path}: tensor {name!r} has a negative dimension {dims}")
    count = 1
    for dim in dims:
        count *= dim
    if count > MAX_TENSOR_ELEMENTS:
        raise OnnxImportError(f"{path}: tensor {name!r} declares {count:,} values, more than the "
                              f"{MAX_TENSOR_ELEMENTS:,} nnscratch accepts")
    dtype = FLOAT_TYPES.get(tensor.data_type) or INTEGER_TYPES.get(tensor.data_type)
    if dtype is None:
        raise OnnxImportError(f"{path}: tensor {name!r} has element type "
                              f"{TensorProto.DataType.Name(tensor.data_type)}; expected float, double or int64")
    if tensor.HasField("raw_data"):
        if len(tensor.raw_data) != count * np.dtype(dtype).itemsize:
            raise OnnxImportError(f"{path}: tensor {name!r} declares shape {dims} but carries "
                                  f"{len(tensor.raw_data):,} bytes")
        values = np.frombuffer(tensor.raw_data, dtype=np.dtype(dtype).newbyteorder("<"))
    else:
        field = {TensorProto.FLOAT: tensor.float_data, TensorProto.DOUBLE: tensor.double_data,
                 TensorProto.INT64: tensor.int64_data, TensorProto.INT32: tensor.int32_data}[tensor.data_type]
        if len(field) != count:
            raise OnnxImportError(f"{path}: tensor {name!r} declares shape {dims} but carries {len(field):,} values")
        values = np.asarray(field, dtype=dtype)
    array = values.astype(dtype).reshape(dims)
    if array.dtype.kind == "f" and not np.isfinite(array).all():
        raise OnnxImportError(f"{path}: tensor {name!r} contains NaN or infinite values")
    return array
