"""The thread pool of nnscratch.fast against the plain versions: products split over the pool, OpenBLAS's
threads handed back, element-wise work in cache-sized blocks, and the same bits run after run."""
import numpy as np
import pytest

import nnscratch as nn
from nnscratch import fast
from nnscratch.fast import pool, products
from nnscratch.layers import BatchNorm, Conv2D, Flatten, Linear, MaxPool2D, ReLU

CONVOLUTIONAL = nn.Sequential(Conv2D(1, 2, 3, rng=0), MaxPool2D(2))


@pytest.fixture
def two_threads():
    fast.set_threads(2)
    yield
    fast.set_threads(None)


@pytest.mark.parametrize("shape", [(64, 801, 8192), (8192, 800, 64), (801, 8192, 64), (128, 784, 100), (3, 4, 5)])
def test_matmul_on_the_pool_gives_numpys_product(shape, two_threads):
    rows, inner, columns = shape
    rng = np.random.default_rng(0)
    a = rng.standard_normal((rows, inner)).astype(np.float32)
    b = rng.standard_normal((inner, columns)).astype(np.float32)
    expected = a.astype(np.float64) @ b.astype(np.float64)
    with fast.faster(CONVOLUTIONAL):
        first = products.matmul(a, b)
        second = products.matmul(a, b, out=np.full((rows, columns), np.nan, np.float32))
    np.testing.assert_allclose(first, expected, rtol=1e-4, atol=1e-3 * np.sqrt(inner))
    np.testing.assert_array_equal(first, second)                                  # the same bits every time
    np.testing.assert_array_equal(products.matmul(a.T.copy().T, b), np.matmul(a, b))  # outside: numpy itself


def test_matmul_splits_transposed_operands_into_the_right_blocks(two_threads):
    rng = np.random.default_rng(1)
    a = rng.standard_normal((3000, 900)).astype(np.float32)
    g = rng.standard_normal((3000, 700)).astype(np.float32)
    with fast.faster(CONVOLUTIONAL):
        tall = products.matmul(a.T, g)                  # (900, 700): split over a.T's rows, columns of a
        wide = products.matmul(g.T, a)                  # (700, 900): split over a's columns
    np.testing.assert_allclose(tall, a.T.astype(np.float64) @ g, rtol=1e-4, atol=1e-2)
    np.testing.assert_allclose(wide, g.T.astype(np.float64) @ a, rtol=1e-4, atol=1e-2)


def test_a_convolutional_network_runs_openblas_alone_and_gets_its_threads_back(two_threads):
    blas = products.openblas_threads()
    assert blas is not None, "NumPy's OpenBLAS was not found"
    get, set_ = blas
    before = get()
    set_(2)
    try:
        with fast.faster(CONVOLUTIONAL):
            assert get() == 1
            with fast.faster(CONVOLUTIONAL):          # nested: still one, and not restored too early
                assert get() == 1
            assert get() == 1
        assert get() == 2
        with pytest.raises(RuntimeError):
            with fast.faster(CONVOLUTIONAL):
                raise RuntimeError("an error inside")
        assert get() == 2
    finally:
        set_(before)


def test_a_network_of_dense_layers_keeps_openblas_s_threads(two_threads):
    get, set_ = products.openblas_threads()
    before = get()
    set_(2)
    try:
        dense = nn.Network([784, 100, 10], rng=0)
        with fast.faster(dense):
            assert get() == 2
            a = np.ones((4096, 784), np.float32)
            np.testing.assert_array_equal(products.matmul(a, dense.layers[0].params["W"]),
                                          np.matmul(a, dense.layers[0].params["W"]))
    finally:
        set_(before)


def test_with_one_thread_openblas_keeps_its_threads():
    blas = products.openblas_threads()
    get, set_ = blas
    before = get()
    set_(2)
    try:
        fast.set_threads(1)
        with fast.faster(CONVOLUTIONAL):
            assert get() == 2
    finally:
        fast.set_threads(None)
        set_(before)


@pytest.mark.parametrize("rows, row_length", [(1, 10), (32, 73728), (256, 128), (7, 100_000), (1000, 70)])
def test_cache_sized_blocks_cover_every_row_once(rows, row_length, two_threads):
    seen = np.zeros(rows, int)
    sizes = []

    def visit(first, last):
        seen[first:last] += 1
        sizes.append(last - first)

    pool.in_cache_sized_blocks(visit, rows, row_length)
    assert (seen == 1).all()
    assert max(sizes) <= max(1, pool.CACHE_BLOCK // row_length) or rows * row_length <= pool.CACHE_BLOCK


def test_fit_gives_the_same_bits_run_after_run_and_agrees_with_and_without_the_pool():
    """Training through ``fit`` (products split over the pool, batch norm in cache-sized blocks) is repeatable to
    the bit with the pool and without it; the two agree to float32 rounding. (Not to the bit in general: how a
    product is split changes its rounding under some OpenBLAS kernels, Haswell's among them, whose own one- and
    two-thread products differ.) SGD, not Adam, which would scale the rounding in the gradient of a bias just
    before batch norm, zero but for rounding, up to steps of the learning rate."""
    def train(threads):
        fast.set_threads(threads)
        try:
            rng = np.random.default_rng(3)
            model = nn.Sequential(Conv2D(1, 8, 5, rng=rng), BatchNorm(8), MaxPool2D(2), ReLU(),
                                  Conv2D(8, 16, 3, rng=rng), BatchNorm(16), ReLU(), Flatten(),
                                  Linear(16 * 10 * 10, 32, rng=rng), BatchNorm(32), ReLU(), Linear(32, 10, rng=rng))
            x = rng.standard_normal((96, 1, 28, 28)).astype(np.float32)
            y = rng.integers(0, 10, 96)
            nn.fit(model, x, y, nn.SoftmaxCrossEntropy(), nn.SGD(model, lr=0.05, momentum=0.9), epochs=2,
                   batch_size=48, rng=0)
            arrays = [array.copy() for layer in model for array in (*layer.params.values(), *layer.buffers.values())]
            return arrays, model.predict_proba(x)
        finally:
            fast.set_threads(None)

    alone, pooled = train(1), train(2)
    for (first, answers), (again, answers_again) in ((pooled, train(2)), (alone, train(1))):
        for number, (array, same) in enumerate(zip(first, again, strict=True)):
            np.testing.assert_array_equal(array, same, err_msg=f"parameter {number} differs between two runs")
        np.testing.assert_array_equal(answers, answers_again)
    for number, (array, other) in enumerate(zip(alone[0], pooled[0], strict=True)):
        np.testing.assert_allclose(other, array, rtol=1e-4, atol=1e-6, err_msg=f"parameter {number} differs")
    np.testing.assert_allclose(pooled[1], alone[1], rtol=0, atol=1e-5)


@pytest.mark.parametrize("threads", [2, 3])
def test_weight_gradient_sums_blocks_of_columns_the_same_way_with_any_number_of_threads(threads):
    """A first layer's 24·24·128 columns: on the pool, the sum of the same single-threaded block products, in
    order, whatever the number of threads; off it, OpenBLAS's own product, equal to rounding."""
    rng = np.random.default_rng(5)
    cols = rng.standard_normal((26, 24 * 24 * 128)).astype(np.float32)
    grad = rng.standard_normal((32, 24 * 24 * 128)).astype(np.float32)
    expected = grad.astype(np.float64) @ cols.astype(np.float64).T
    fast.set_threads(threads)
    try:
        with fast.faster(CONVOLUTIONAL):
            pooled = products.weight_gradient(cols, grad)
            blocks = range(0, cols.shape[1], products.SUM_BLOCK)
            in_order = sum(cols[:, start:start + products.SUM_BLOCK] @ grad[:, start:start + products.SUM_BLOCK].T
                           for start in blocks)
        alone = products.weight_gradient(cols, grad)
    finally:
        fast.set_threads(None)
    assert pooled.shape == (32, 26) and pooled.dtype == np.float32
    np.testing.assert_allclose(pooled, expected, rtol=1e-4, atol=1e-3 * np.sqrt(cols.shape[1]))
    np.testing.assert_array_equal(pooled, in_order.T)
    np.testing.assert_allclose(alone, expected, rtol=1e-4, atol=1e-3 * np.sqrt(cols.shape[1]))


def test_in_parallel_raises_a_part_s_error_and_runs_nested_calls_whole(two_threads):
    def fail_in_the_second_part(first, last):
        if first > 0:
            raise ZeroDivisionError(f"part {first}-{last}")

    with pytest.raises(ZeroDivisionError, match="part 5-10"):
        pool.in_parallel(fail_in_the_second_part, 10)
    seen = []
    pool.in_parallel(lambda first, last: pool.in_parallel(lambda a, b: seen.append((a, b)), last - first), 6)
    assert sorted(seen) == [(0, 3), (0, 3)]                   # each part's own call ran whole, in its thread
    total = np.zeros(8)
    pool.in_parallel(lambda first, last: total.__setitem__(slice(first, last), 1), 8)
    assert total.sum() == 8                                   # and the pool still works after an error


def test_after_a_ctrl_c_the_next_job_waits_for_the_interrupted_one_s_parts(two_threads):
    """A Ctrl-C stops the caller while a helper still works on its part; the next job starts only once that
    part is done, so it never mistakes the old part's finish for its own."""
    import _thread
    import threading
    import time

    done, interrupted = [], threading.Event()

    def ctrl_c():
        _thread.interrupt_main()
        interrupted.set()

    def slow_second_part(first, last):
        if first > 0:
            interrupted.wait(10)    # the old part ends well after the Ctrl-C, however loaded the machine is
            time.sleep(0.5)
            done.append("old part")
        else:
            threading.Timer(0.05, ctrl_c).start()   # a Ctrl-C while this thread waits

    with pytest.raises(KeyboardInterrupt):
        pool.in_parallel(slow_second_part, 2)
    pool.in_parallel(lambda first, last: done.append(f"new part {first}"), 2)
    assert done[0] == "old part" and sorted(done[1:]) == ["new part 0", "new part 1"], done
    total = np.zeros(8)
    pool.in_parallel(lambda first, last: total.__setitem__(slice(first, last), 1), 8)
    assert total.sum() == 8


@pytest.mark.parametrize("threads", [1, 2, 3])
@pytest.mark.parametrize("channels", [1, 2, 5])
def test_im2col_copies_every_window_whether_split_by_channels_or_by_output_rows(threads, channels):
    """With fewer channels than threads (a first layer's one) the windows are copied block of output rows by
    block of output rows, otherwise block of channels by block of channels: both give the plain unrolling."""
    from numpy.lib.stride_tricks import sliding_window_view

    from nnscratch.fast.conv import im2col
    x = np.random.default_rng(channels).random((channels, 9, 8, 3), dtype=np.float32)   # (C, H, W, N)
    kernel, stride = (3, 2), (2, 1)
    plain = sliding_window_view(x, kernel, axis=(1, 2))[:, ::2, ::1].transpose(0, 4, 5, 1, 2, 3)
    out = np.full((channels * 6, plain.shape[3] * plain.shape[4] * 3), np.nan, np.float32)
    fast.set_threads(threads)
    try:
        im2col(x, kernel, stride, out)
    finally:
        fast.set_threads(None)
    np.testing.assert_array_equal(out, plain.reshape(out.shape))
