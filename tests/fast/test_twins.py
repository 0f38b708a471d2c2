"""Every fast twin of ``nnscratch.fast`` held to its plain layer, forward and backward, and the lending itself.

The plain layers are checked against loops, central differences and PyTorch elsewhere; here each fast path must
give the plain layer's output, dL/dx and every parameter gradient to float32 rounding in float32 (1e-5 of the
largest value) and to 1e-12 of it in float64, and ``faster`` must hand every layer back as it found it.
"""
import numpy as np
import pytest

import nnscratch as nn
from nnscratch import fast
from nnscratch.layers import AvgPool2D, BatchNorm, Conv2D, Flatten, Linear, MaxPool2D, ReLU

ROUNDING = {np.float32: 1e-5, np.float64: 1e-12}
DTYPES = [np.float32, np.float64]

CONV_CASES = [  # (in_channels, out_channels, kernel, stride, padding, input height, input width)
    (1, 3, 3, 1, 0, 5, 5),
    (2, 3, 3, 1, 1, 5, 4),
    (2, 2, (3, 2), (2, 1), (1, 0), 6, 5),
    (3, 2, 2, 2, 0, 4, 6),
    (2, 3, 3, 2, 1, 7, 7),
    (2, 2, 5, 2, 2, 8, 8),
    (2, 2, (3, 2), 1, 0, 7, 6),
    (4, 5, 5, 1, 2, 9, 9),
    (1, 2, 4, 1, 0, 4, 4),
    (2, 3, 1, 1, 0, 5, 4),
    (32, 64, 5, 1, 0, 12, 12),      # the cnn presets' second convolution, which "auto" computes spectrally
]
CONV_WAYS = [(case, way) for case in CONV_CASES for way in ("auto", "unrolled", "spectral")
             if way != "spectral" or case[3] == 1]
POOL_CASES = [(2, None, (2, 3, 4, 6)), (2, None, (2, 2, 5, 5)), (3, 2, (2, 2, 7, 6)), ((2, 3), (1, 2), (1, 2, 4, 7)),
              (2, 3, (2, 2, 5, 5)),
              (2, None, (64, 8, 24, 24))]   # 2×2 windows tiling a batch larger than one cache-sized block


def assert_same(fast_value, plain_value, dtype, what, scale=None):
    """Equal to rounding: within ROUNDING[dtype] of ``scale``, the largest magnitude of the plain value unless
    given."""
    assert fast_value is not None and fast_value.shape == plain_value.shape, \
        f"{what}: shape {getattr(fast_value, 'shape', None)}, expected {plain_value.shape}"
    assert fast_value.dtype == plain_value.dtype == dtype, f"{what}: dtype {fast_value.dtype}, expected {dtype}"
    scale = max(float(np.abs(plain_value).max()) if scale is None else scale, np.finfo(dtype).tiny)
    error = float(np.abs(fast_value.astype(np.float64) - plain_value).max())
    assert error <= ROUNDING[dtype] * scale, \
        f"{what}: off by {error:.3g}, {error / scale:.3g} of the largest value, {scale:.3g}"


def both_ways(layer, x, dtype, convolution="auto", training=True, input_gradient=True):
    """Forward and backward through the plain layer, then through its fast twin, on the same weights; the fast
    run's results are compared with the plain run's."""
    layer.astype(dtype).train(training)
    layer.needs_input_grad = input_gradient
    x = x.astype(dtype)
    buffers = {key: array.copy() for key, array in layer.buffers.items()}
    y = layer.forward(x)
    grad_out = np.random.default_rng(1).standard_normal(y.shape).astype(dtype)
    plain = (y, layer.backward(grad_out), {key: grad.copy() for key, grad in layer.grads.items()},
             {key: array.copy() for key, array in layer.buffers.items()})
    for key, array in buffers.items():
        layer.buffers[key][...] = array                      # the same running statistics to start from
    with fast.faster(layer, convolution) as twins:
        y_fast = layer.forward(x)
        grad_x = layer.backward(grad_out)
    assert_same(y_fast, plain[0], dtype, "the output")
    if input_gradient:
        assert_same(grad_x, plain[1], dtype, "dL/dx")
    else:
        assert grad_x is None and plain[1] is None
    for key, grad in layer.grads.items():
        assert_same(grad, plain[2][key], dtype, f"dL/d{key}")
    for key, array in layer.buffers.items():
        assert_same(array, plain[3][key], dtype, key)
    return twins[layer]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("training", [True, False])
def test_linear(dtype, training):
    x = np.random.default_rng(0).standard_normal((6, 5))
    both_ways(Linear(5, 4, bias_init="normal", rng=0), x, dtype, training=training)
    both_ways(Linear(5, 4, rng=0), x, dtype, input_gradient=False)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case, way", CONV_WAYS)
def test_conv2d(case, way, dtype):
    in_channels, out_channels, kernel, stride, padding, height, width = case
    rng = np.random.default_rng(0)
    conv = Conv2D(in_channels, out_channels, kernel, stride, padding, bias_init="normal", rng=rng)
    x = rng.standard_normal((3, in_channels, height, width))
    twin = both_ways(conv, x, dtype, convolution=way)
    if way != "auto":
        assert twin.computed == way
    elif case == CONV_CASES[-1]:
        assert twin.computed == "spectral"          # fewer multiply-adds (test_spectral counts them)


@pytest.mark.parametrize("way", ["unrolled", "spectral"])
def test_conv2d_in_eval_mode_and_without_the_input_gradient(way):
    rng = np.random.default_rng(2)
    conv = Conv2D(4, 5, 5, padding=2, bias_init="normal", rng=rng)
    x = rng.standard_normal((3, 4, 9, 9))
    for dtype in DTYPES:
        both_ways(conv, x, dtype, convolution=way, training=False)
        both_ways(conv, x, dtype, convolution=way, input_gradient=False)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("cls", [MaxPool2D, AvgPool2D])
@pytest.mark.parametrize("case", POOL_CASES)
@pytest.mark.parametrize("training", [True, False])
def test_pooling(case, cls, dtype, training):
    """In eval mode as well: a saliency map goes backward from a forward that kept nothing for it."""
    kernel, stride, shape = case
    x = np.random.default_rng(3).standard_normal(shape)
    both_ways(cls(kernel, stride), x, dtype, training=training)


def test_max_pooling_breaks_ties_as_the_plain_layer_does():
    x = np.random.default_rng(4).standard_normal((2, 5, 6, 6)).astype(np.float32)
    x = np.round(x)                  # plenty of ties, across rows and within them: the first maximum wins
    for kernel, stride in ((2, None), (3, 1)):
        layer = MaxPool2D(kernel, stride)
        y = layer.forward(x)
        grad_out = np.arange(y.size, dtype=np.float32).reshape(y.shape)
        expected = layer.backward(grad_out)
        with fast.faster(layer):
            np.testing.assert_array_equal(layer.forward(x), y)
            np.testing.assert_array_equal(layer.backward(grad_out), expected)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("stored", ["batch first", "batch innermost", "rows"])
def test_flatten(stored, dtype):
    """The gradient comes back equal whatever the layout; after a fast layer, in that layer's (C, H, W, N)."""
    x = np.random.default_rng(7).standard_normal({"rows": (4, 6), "batch first": (4, 3, 2, 5),
                                                  "batch innermost": (3, 2, 5, 4)}[stored])
    if stored == "batch innermost":
        x = x.transpose(3, 0, 1, 2)                                 # (N, C, H, W) seen, (C, H, W, N) stored
    layer = Flatten()
    both_ways(layer, x, dtype)
    with fast.faster(layer):
        layer.forward(x.astype(dtype))
        grad_x = layer.backward(np.ones((len(x), x[0].size), dtype))
    assert grad_x.shape == x.shape
    assert (grad_x.ndim == 4 and grad_x.transpose(1, 2, 3, 0).flags.c_contiguous) == (stored == "batch innermost")


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("training", [True, False])
@pytest.mark.parametrize("shape", [(6, 4), (3, 2, 3, 4), (5, 3, 40, 40)])
def test_batch_norm(shape, training, dtype):
    rng = np.random.default_rng(5)
    layer = BatchNorm(shape[1])
    layer.params["gamma"][...] = rng.uniform(0.5, 1.5, shape[1])
    layer.params["beta"][...] = rng.standard_normal(shape[1])
    layer.buffers["running_mean"][...] = rng.standard_normal(shape[1])
    layer.buffers["running_var"][...] = rng.uniform(0.5, 2.0, shape[1])
    both_ways(layer, rng.standard_normal(shape) * 2.0 + 1.0, dtype, training=training)


@pytest.mark.parametrize("dtype", DTYPES)
def test_a_whole_cnn_trains_the_same_step_fast_and_plain(dtype):
    """A training step of a network with every twin, the fast layers handing each other the (C, H, W, N)
    layout, plain layers (ReLU, Flatten) in between."""
    def network():
        rng = np.random.default_rng(6)
        return nn.Sequential(Conv2D(1, 4, 3, padding=1, rng=rng), BatchNorm(4), MaxPool2D(2), ReLU(),
                             Conv2D(4, 8, 3, rng=rng), AvgPool2D(2, 1), ReLU(), Flatten(),
                             Linear(8, 6, rng=rng), BatchNorm(6), ReLU(), Linear(6, 3, rng=rng)).astype(dtype)

    x = np.random.default_rng(7).standard_normal((16, 1, 8, 8)).astype(dtype)
    labels = np.arange(16) % 3
    plain, quick = network(), network()
    loss = nn.SoftmaxCrossEntropy()
    plain_value, _ = nn.train_step(plain, x, labels, loss, nn.SGD(plain, lr=0.1))
    with fast.faster(quick):
        quick_value, _ = nn.train_step(quick, x, labels, loss, nn.SGD(quick, lr=0.1))
    assert quick_value == pytest.approx(plain_value, rel=ROUNDING[dtype])
    for position, (layer, quick_layer) in enumerate(zip(plain, quick, strict=True)):
        # Rounding against the layer's largest value: the bias of a convolution before batch norm has a gradient
        # of zero but for rounding, and a step leaves it at a few rounding errors.
        state = layer.state_dict()
        scale = max([float(np.abs(array).max()) for array in state.values()], default=0.0)
        for name, array in state.items():
            assert_same(quick_layer.state_dict()[name], array, dtype, f"{position}.{name}", scale)


def test_the_fast_layers_read_any_layout_and_hand_on_their_own():
    """Input from a plain layer (NCHW), channels last, a reversed view: the same answer; a fast Conv2D's output
    is the (N, C, H, W) view of a (C, H, W, N) array, which the next fast Conv2D reads without a copy."""
    rng = np.random.default_rng(8)
    conv = Conv2D(3, 4, 3, padding=1, rng=rng, dtype=np.float64)
    x = rng.standard_normal((5, 3, 6, 7))
    expected = conv.forward(x)
    layouts = {"NCHW": x, "NHWC": np.ascontiguousarray(x.transpose(0, 2, 3, 1)).transpose(0, 3, 1, 2),
               "CHWN": np.ascontiguousarray(x.transpose(1, 2, 3, 0)).transpose(3, 0, 1, 2),
               "reversed view": x[::-1].copy()[::-1]}
    with fast.faster(conv):
        for name, x_layout in layouts.items():
            np.testing.assert_allclose(conv.forward(x_layout), expected, rtol=0, atol=1e-12, err_msg=name)
        y = conv.forward(x)
    assert y.transpose(1, 2, 3, 0).flags.c_contiguous, f"fast Conv2D output strides {y.strides}"


def test_faster_lends_and_takes_back_leaving_type_config_and_state_alone():
    model = nn.Sequential(Conv2D(1, 2, 3, rng=0), ReLU(), nn.Sequential(Flatten(), Linear(2 * 3 * 3, 4, rng=0)))
    conv, flatten, linear = model[0], model[2][0], model[2][1]
    before = (model.config(), model.state_dict())
    x = np.ones((2, 1, 5, 5), np.float32)
    with fast.faster(model) as twins:
        assert set(twins) == {conv, flatten, linear}                 # ReLU has no twin
        assert type(conv) is Conv2D and "forward" in vars(conv) and "forward" in vars(linear)
        assert model.config() == before[0] and model.state_dict().keys() == before[1].keys()
        with fast.faster(model) as inner:                           # nested: the same twins, kept till the end
            assert inner[conv] is twins[conv]
        assert "forward" in vars(conv)
        model.forward(x)
    assert "forward" not in vars(conv) and "backward" not in vars(linear)
    with pytest.raises(RuntimeError, match=r"Conv2D.backward was called before Conv2D.forward"):
        conv.backward(np.ones((2, 2, 3, 3), np.float32))            # the fast forward's state is not the plain one's
    with pytest.raises(ZeroDivisionError):
        with fast.faster(model):
            raise ZeroDivisionError
    assert "forward" not in vars(conv)


def test_faster_checks_its_convolution_setting_and_the_stride_it_needs():
    with pytest.raises(ValueError, match="convolution must be 'auto', 'unrolled' or 'spectral', got 'fft'"):
        with fast.faster(Conv2D(1, 1, 3), convolution="fft"):
            pass
    strided = Conv2D(2, 2, 3, stride=2)
    with fast.faster(strided, convolution="spectral"), pytest.raises(ValueError, match="stride 1 only"):
        strided.forward(np.zeros((1, 2, 7, 7), np.float32))


def test_the_fast_layers_keep_the_plain_layers_errors():
    conv, pool, norm, linear = Conv2D(3, 4, 5), MaxPool2D(2), BatchNorm(4), Linear(784, 10)
    with fast.faster(nn.Sequential(conv, pool, norm, linear)):
        with pytest.raises(ValueError, match=r"Conv2D expected input of shape \(N, 3, H, W\), got shape \(2, 1, 28"):
            conv.forward(np.zeros((2, 1, 28, 28), np.float32))
        with pytest.raises(ValueError, match="does not fit"):
            conv.forward(np.zeros((2, 3, 4, 4), np.float32))
        with pytest.raises(ValueError, match=r"MaxPool2D expected input of shape \(N, C, H, W\)"):
            pool.forward(np.zeros((2, 784), np.float32))
        with pytest.raises(ValueError, match="more than one value per feature"):
            norm.forward(np.zeros((1, 4), np.float32))
        with pytest.raises(ValueError, match=r"Linear expected 784 input features, got shape \(32, 783\)"):
            linear.forward(np.zeros((32, 783), np.float32))


def test_fit_evaluate_and_predict_run_the_twins_and_save_the_plain_model(tmp_path, monkeypatch):
    """fit lends the twins for the whole run (once: the validation inside reuses them), evaluation and
    prediction for theirs; a checkpoint written during fit is the plain model's."""
    from nnscratch.fast import conv as fast_conv
    calls = []
    original = fast_conv.FastConv2D.forward
    monkeypatch.setattr(fast_conv.FastConv2D, "forward", lambda self, x: calls.append(id(self)) or original(self, x))
    rng = np.random.default_rng(9)
    model = nn.Sequential(Conv2D(1, 2, 3, rng=rng), ReLU(), Flatten(), Linear(2 * 4 * 4, 3, rng=rng))
    x, y = rng.standard_normal((12, 1, 6, 6)).astype(np.float32), np.arange(12) % 3
    saved = []

    class Save(nn.Callback):
        def on_epoch_end(self, state):
            saved.append((type(state.model[0]), state.model.config(), "forward" in vars(state.model[0])))

    nn.fit(model, x, y, nn.SoftmaxCrossEntropy(), nn.SGD(model, lr=0.1), epochs=2, batch_size=6,
           validation_data=(x, y), callbacks=[Save()], rng=0)
    assert len(calls) == 2 * (2 + 1) and len(set(calls)) == 1       # one twin: 2 steps and 1 validation an epoch
    assert saved == [(Conv2D, model.config(), True)] * 2
    assert "forward" not in vars(model[0])
    nn.evaluate(model, x, y)
    model.predict(x)
    assert len(calls) == 8
