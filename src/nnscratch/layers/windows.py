"""The windows of convolution and pooling, and every trick that makes them fast, each named in one place.

Conv2D and the poolings say what they compute; this module says how to compute it quickly on a CPU. Each
function's docstring gives the plain NumPy it stands for, and the tests check one against the other. The
tricks: a batch is stored channel by channel with the batch innermost, (C, H, W, N), so that a window offset
picks out long contiguous runs; scratch arrays are reused from step to step (``Workspace``); the work between
the matrix products is split over blocks of channels and run on a small pool of threads (``in_parallel``),
in blocks small enough to stay in the cache (``in_cache_sized_blocks``); during training and evaluation the
products themselves run on that same pool, OpenBLAS single-threaded (``products_on_the_pool``, ``matmul``);
max pooling records its argmax without a branch.
"""
import ctypes
import glob
import os
import threading
from contextlib import contextmanager

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

# ---- shapes ----------------------------------------------------------------------------------------------------


def pair(value, name):
    """``3`` -> ``(3, 3)``; ``(3, 5)`` stays; anything else is an error naming the argument."""
    if isinstance(value, (int, np.integer)):
        value = (int(value), int(value))
    try:
        first, second = (int(item) for item in value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be an integer or a pair of integers, got {value!r}") from None
    return first, second


def output_size(size, kernel, stride, padding):
    """Positions of a window of ``kernel`` moved by ``stride`` over ``size + 2·padding`` pixels."""
    return (size + 2 * padding - kernel) // stride + 1


# ---- the (C, H, W, N) layout -----------------------------------------------------------------------------------


def batch_innermost(x):
    """The (C, H, W, N) view of an (N, C, H, W) batch: free for the outputs of Conv2D and the poolings, which
    are such arrays seen through ``batch_first``.  Plain: ``x.transpose(1, 2, 3, 0)`` is all it is."""
    return x.transpose(1, 2, 3, 0)


def batch_first(x):
    """The (N, C, H, W) view of a (C, H, W, N) array, the layout every layer hands on (a view, no copy)."""
    return x.transpose(3, 0, 1, 2)


def as_batch_innermost(x):
    """The (C, H, W, N) view of a batch, copied into that layout when it arrives in another (after Flatten).
    Plain: ``np.ascontiguousarray(x.transpose(1, 2, 3, 0))``, which copies only when it must."""
    return np.ascontiguousarray(batch_innermost(x))


def pad(x, padding, allocate):
    """A (C, H, W, N) batch with ``padding`` rows and columns of zeros around each image, gathered into one
    contiguous array; the batch itself when there is no padding and it is contiguous already.
    Plain: ``np.pad(x, ((0, 0), (ph, ph), (pw, pw), (0, 0)))``. ``allocate(shape, dtype)`` supplies the array,
    whose border is zero and is never written (a reused workspace keeps it zero)."""
    (ph, pw), (channels, height, width, batch) = padding, x.shape
    if not (ph or pw) and x.flags.c_contiguous:
        return x
    padded = allocate((channels, height + 2 * ph, width + 2 * pw, batch), x.dtype)
    padded[:, ph:ph + height, pw:pw + width] = x
    return padded


def unpad(x, padding):
    """The inside of a padded (C, H, W, N) array, a view: ``x[:, ph:H - ph, pw:W - pw]``."""
    (ph, pw), height, width = padding, x.shape[1], x.shape[2]
    return x[:, ph:height - ph, pw:width - pw]


# ---- scratch arrays --------------------------------------------------------------------------------------------


class Workspace:
    """Scratch arrays reused from batch to batch, one per (purpose, shape, dtype), so that large temporaries
    are not allocated and page-faulted afresh at every step. Plain: ``np.zeros(shape, dtype)`` at each call
(a new array starts at zero; a reused one keeps what it last held, so a caller writes every element it reads,
or, like a padded border, only ever writes the same elements).
    Never hand one of them out as a layer's result."""

    def __init__(self, limit=6):
        self.arrays = {}
        self.limit = limit

    def get(self, purpose, shape, dtype):
        key = (purpose, tuple(shape), np.dtype(dtype).str)
        array = self.arrays.get(key)
        if array is None:
            if len(self.arrays) >= self.limit:
                self.arrays.clear()
            array = self.arrays[key] = np.zeros(shape, dtype=dtype)   # zeros once: a padded border stays 0
        return array


# ---- the thread pool -------------------------------------------------------------------------------------------

class Workers:
    """Threads that each wait on a lock of their own for their part of a job. Handing a part over and
    waiting for it to finish takes about 15 µs, where a ``ThreadPoolExecutor``'s queue and futures take
    about 50: at some twenty jobs a training step, that is a millisecond. ``busy`` is held while a job runs;
    a job asked for meanwhile (from another thread, or from inside a part) runs whole in its caller's thread.
    Counts of parts handed out and finished, not the locks, say when a job is done: a Ctrl-C may stop the
    caller at any point, and the next job first waits for every part of the interrupted one (``settle``)."""

    def __init__(self, count):
        self.process = os.getpid()
        self.busy = threading.Lock()
        self.jobs, self.errors = [None] * count, [None] * count
        self.handed, self.finished, self.waiting = [0] * count, [0] * count, [False] * count
        self.start = [threading.Lock() for _ in range(count)]
        self.wake = [threading.Lock() for _ in range(count)]
        for lock in self.start + self.wake:
            lock.acquire()
        for index in range(count):
            threading.Thread(target=self.work, args=(index,), name=f"nnscratch-{index + 1}", daemon=True).start()

    def work(self, index):
        while True:
            self.waiting[index] = True
            self.start[index].acquire()
            self.waiting[index] = False
            job = self.jobs[index]
            if job is None:
                return
            function, first, last = job
            try:
                function(first, last)
            except BaseException as error:  # handed to the caller, which raises it
                self.errors[index] = error
            finally:
                self.finished[index] += 1
                if self.wake[index].locked():
                    self.wake[index].release()

    def run(self, function, bounds):
        """``function(bounds[k], bounds[k + 1])`` for every k, the calling thread taking k = 0."""
        self.settle()
        helpers = len(bounds) - 2
        for index in range(helpers):
            self.jobs[index] = (function, bounds[index + 1], bounds[index + 2])
            self.handed[index] += 1
            self.start[index].release()
        try:
            function(bounds[0], bounds[1])
        finally:
            self.settle()
        errors = [error for error in self.errors[:helpers] if error is not None]
        self.errors = [None] * len(self.errors)
        if errors:
            raise errors[0]

    def settle(self):
        """Wait until every part handed out has finished."""
        for index in range(len(self.jobs)):
            while self.finished[index] < self.handed[index]:
                woken = self.wake[index].acquire(timeout=0.1)
                if not woken and self.waiting[index] and self.start[index].locked():
                    self.handed[index] = self.finished[index]   # a Ctrl-C came between counting and handing

    def close(self):
        with self.busy:
            self.settle()
            for index in range(len(self.jobs)):
                self.jobs[index] = None
                self.start[index].release()


_pool = {"threads": None, "workers": None, "lock": threading.Lock()}


def set_threads(count=None):
    """How many threads ``in_parallel`` uses: ``1`` turns the pool off, ``None`` goes back to the default
    (the ``NNSCRATCH_THREADS`` environment variable, else the CPUs this process may run on, at most 8).
    Each choice gives the same bits run after run; different choices agree to float32 rounding, and to the bit
    under BLAS kernels that round each element of a product alike however it is split (OpenBLAS's SkylakeX
    kernels do; its Haswell kernels round by where an element falls in their blocks)."""
    if count is None:
        setting = os.environ.get("NNSCRATCH_THREADS", "").strip()
        if setting:
            try:
                count = int(setting)
            except ValueError:
                raise ValueError(f"NNSCRATCH_THREADS must be a whole number, got {setting!r}") from None
        else:
            cpus = os.sched_getaffinity(0) if hasattr(os, "sched_getaffinity") else range(os.cpu_count() or 1)
            count = min(len(cpus), 8)
    if int(count) < 1:
        raise ValueError(f"the number of threads must be at least 1, got {count}")
    with _pool["lock"]:
        if _pool["workers"] is not None and _pool["workers"].process == os.getpid():
            _pool["workers"].close()
        _pool["threads"], _pool["workers"] = int(count), None


def threads():
    """The number of threads ``in_parallel`` uses now (see ``set_threads``)."""
    if _pool["threads"] is None:
        set_threads()
    return _pool["threads"]


def in_parallel(function, count):
    """Run ``function(start, stop)`` over consecutive parts of ``range(count)``, one part per thread, the
    calling thread taking the first.
    Plain: ``function(0, count)``. NumPy releases the interpreter lock inside its loops, so element-wise
    work on disjoint blocks of channels runs on every core while OpenBLAS is idle between products; each
    output element is computed by the same operations in the same order either way, so the result is
    identical to the bit."""
    parts = max(1, min(threads(), count))
    if parts == 1:
        function(0, count)
        return
    with _pool["lock"]:
        workers = _pool["workers"]
        if workers is None or workers.process != os.getpid():     # none yet, or a forked child's copy
            workers = _pool["workers"] = Workers(threads() - 1)
    if not workers.busy.acquire(blocking=False):
        function(0, count)
        return
    try:
        workers.run(function, [count * part // parts for part in range(parts + 1)])
    finally:
        workers.busy.release()


def copy_in_parallel(out, source):
    """``np.copyto(out, source)`` (a transposing copy, say), the first axis of ``out`` shared among
    ``in_parallel``'s threads."""
    in_parallel(lambda first, last: np.copyto(out[first:last], source[first:last]), len(out))


# ---- the matrix products ---------------------------------------------------------------------------------------

SPLIT_WORK = 1 << 21   # multiply-adds below which a product is not worth splitting over threads
_products = {"depth": 0, "saved": None, "lock": threading.Lock()}


def openblas_threads():
    """OpenBLAS's (get, set) functions for its number of threads, found with ``ctypes`` among the libraries
    this process has loaded (NumPy's own, or the system's); None under another BLAS, which keeps its threads."""
    if "blas" not in _products:
        paths = glob.glob(os.path.join(os.path.dirname(np.__file__) + ".libs", "*openblas*"))
        try:
            with open("/proc/self/maps") as maps:
                paths += sorted({line.split()[-1] for line in maps if "openblas" in line and "/" in line})
        except OSError:
            pass
        found = None
        for path in paths:
            try:
                library = ctypes.CDLL(path)
            except OSError:
                continue
            for prefix, suffix in (("scipy_", "64_"), ("scipy_", ""), ("", "64_"), ("", "")):
                get = getattr(library, f"{prefix}openblas_get_num_threads{suffix}", None)
                set_ = getattr(library, f"{prefix}openblas_set_num_threads{suffix}", None)
                if get is not None and set_ is not None:
                    found = (get, set_)
                    break
            if found:
                break
        _products["blas"] = found
    return _products["blas"]


@contextmanager
def products_on_the_pool(model):
    """Within the block, for a ``model`` with layers that work on the pool (convolutions, poolings), OpenBLAS
    runs single-threaded and ``matmul`` splits each large product over ``in_parallel``'s threads; on leaving,
    OpenBLAS gets its threads back. Plain: nothing at all, OpenBLAS's own threads doing the products.

    Why: after a product, OpenBLAS's threads keep spinning for a while, waiting for the next one, on the very
    cores where the element-wise work between the products runs; one set of threads for both removes that
    contention (a training step of the ``cnn-best`` network: 44.8 ms with two sets, 42.5 ms with one). A network
    of dense layers has little work between its small products, which OpenBLAS's own waiting threads start
    sooner (the 784-100-10 network trains 45 % slower on the pool), so it keeps them. With one thread
    (``set_threads(1)``), or under another BLAS, the block changes nothing."""
    layers = getattr(model, "layers", [model])
    on_the_pool = any(getattr(layer, "works_on_the_pool", False) for layer in layers)
    blas = openblas_threads() if on_the_pool and threads() > 1 else None
    if blas is None:
        yield
        return
    get, set_ = blas
    with _products["lock"]:
        if _products["depth"] == 0:
            _products["saved"] = get()
            set_(1)
        _products["depth"] += 1
    try:
        yield
    finally:
        with _products["lock"]:
            _products["depth"] -= 1
            if _products["depth"] == 0:
                set_(_products["saved"])


def matmul(a, b, out=None):
    """The matrix product a @ b of two 2-D arrays, or of two stacks of matrices (3-D, the stack first), into
    ``out`` (a new array when None).

    Plain: ``np.matmul(a, b, out=out)``. Inside ``products_on_the_pool`` a large product is split over
    ``in_parallel``'s threads, each a single-threaded OpenBLAS product written straight into its part of
    ``out``: a long stack by its matrices, a short one by columns, a single product by blocks of rows of a (or
    of columns of b, whichever side of the result is longer)."""
    if not _products["depth"]:
        return np.matmul(a, b, out=out)
    if out is None:
        out = np.empty(np.broadcast_shapes(a.shape[:-2], b.shape[:-2]) + (a.shape[-2], b.shape[-1]),
                       np.result_type(a, b))
    rows, columns = out.shape[-2:]
    if out.size * a.shape[-1] < SPLIT_WORK:
        return np.matmul(a, b, out=out)
    if out.ndim == 3 and len(out) < 4 * threads():     # a short stack: every matrix, split by columns
        in_parallel(lambda first, last: np.matmul(a, b[..., first:last], out=out[..., first:last]), columns)
    elif out.ndim == 3:                               # a stack; a 2-D operand multiplies every matrix of it
        def part(first, last):
            np.matmul(a if a.ndim == 2 else a[first:last], b if b.ndim == 2 else b[first:last],
                      out=out[first:last])

        in_parallel(part, len(out))
    elif rows >= columns:
        in_parallel(lambda first, last: np.matmul(a[first:last], b, out=out[first:last]), rows)
    else:
        in_parallel(lambda first, last: np.matmul(a, b[:, first:last], out=out[:, first:last]), columns)
    return out


CACHE_BLOCK = 1 << 16   # values per block of element-wise work: 256 KiB of float32, well inside a core's L2 cache


def in_cache_sized_blocks(function, rows, row_length):
    """Run ``function(start, stop)`` over blocks of consecutive rows of a (rows, row_length) array, each block
    about ``CACHE_BLOCK`` values (at least one row), the blocks shared among ``in_parallel``'s threads.
    Plain: ``function(0, rows)``. Several element-wise passes over a block that stays in the cache cost little
    more than one pass over main memory; each row is computed the same way whatever the blocks, so the result
    is identical to the bit."""
    if rows * row_length <= CACHE_BLOCK:
        function(0, rows)
        return
    step = max(1, CACHE_BLOCK // max(1, row_length))

    def run(first, last):
        for start in range(first, last, step):
            function(start, min(start + step, last))

    in_parallel(run, rows)


# ---- unrolling the windows of a convolution ---------------------------------------------------------------------


def im2col(x, kernel, stride, out):
    """Copy every (C, kh, kw) window of a (C, H, W, N) batch into one column of ``out``.

    out: (C·kh·kw, OH·OW·N); row (c, i, j), column (oh, ow, n) holds x[c, oh·sh + i, ow·sw + j, n]. Plain:
    ``sliding_window_view(x, (kh, kw), axis=(1, 2))[:, ::sh, ::sw].transpose(0, 4, 5, 1, 2, 3).reshape(...)``,
    which this copies block of channels by block of channels, in parallel.
    """
    (kh, kw), (sh, sw) = kernel, stride
    windows = sliding_window_view(x, (kh, kw), axis=(1, 2))[:, ::sh, ::sw]      # (C, OH, OW, N, kh, kw)
    channels, out_h, out_w, batch = windows.shape[:4]
    rows = out.reshape(channels, kh, kw, out_h, out_w, batch)
    windows = windows.transpose(0, 4, 5, 1, 2, 3)

    def copy(first, last):
        np.copyto(rows[first:last], windows[first:last])

    in_parallel(copy, channels)
    return out


def col2im(cols, padded_shape, kernel, stride, out):
    """The adjoint of ``im2col``: add each column's window back onto the pixels it was read from.

    Plain: ``out.fill(0)``, then ``out[:, i:i + sh·OH:sh, j:j + sw·OW:sw] += cols6[:, i, j]`` for every
    kernel offset (i, j), cols6 being ``cols`` as (C, kh, kw, OH, OW, N). Here the threads share the
    channels, each running the same slice-adds on its own block. (Blocks small enough to stay in the cache
    measured no faster: the adds are bound by NumPy's loop, not by memory.)
    """
    (kh, kw), (sh, sw) = kernel, stride
    channels, height, width, batch = padded_shape
    out_h, out_w = output_size(height, kh, sh, 0), output_size(width, kw, sw, 0)
    cols = cols.reshape(channels, kh, kw, out_h, out_w, batch)

    def fold(first, last):
        block, pieces = out[first:last], cols[first:last]
        block.fill(0)
        for i in range(kh):
            for j in range(kw):
                block[:, i:i + sh * out_h:sh, j:j + sw * out_w:sw] += pieces[:, i, j]

    in_parallel(fold, channels)
    return out


SUM_BLOCK = 1 << 14   # columns of X̃ per partial product in weight_gradient


def weight_gradient(cols, grad):
    """G X̃ᵀ for G (C_out, M) and X̃ (K, M), with M (pixels × batch) far the longest side. Plain: ``grad @ cols.T``.

    Each product is computed as ``(cols @ grad.T).T``, the same numbers: OpenBLAS runs this operand order faster
    for these shapes. Where M is longer than ``SUM_BLOCK`` (a first layer's 24·24·128 columns, with K and C_out
    a few dozen), the product is the sum of the products of consecutive blocks of columns, computed in parallel
    and added in order: each thread reads only its own blocks once, where a split of the small result would
    have every thread read all of X̃ from memory. The blocks do not depend on the number of threads, so
    neither do the bits on the pool."""
    length = cols.shape[1]
    if length <= SUM_BLOCK:
        return matmul(cols, grad.T).T
    starts = range(0, length, SUM_BLOCK)
    partial = np.empty((len(starts), cols.shape[0], grad.shape[0]), np.result_type(cols, grad))

    def multiply(first, last):
        for block in range(first, last):
            columns = slice(starts[block], starts[block] + SUM_BLOCK)
            np.matmul(cols[:, columns], grad[:, columns].T, out=partial[block])

    in_parallel(multiply, len(starts))
    return partial.sum(axis=0).T


# ---- pooling windows -------------------------------------------------------------------------------------------


def window_views(x, kernel, stride, out_shape):
    """For each offset (i, j) inside the window, the (C, OH, OW, N) strided view of a (C, H, W, N) array at
    that offset, numbered row by row. Plain: ``x[:, i:i + sh·OH:sh, j:j + sw·OW:sw]`` for i, for j."""
    (kh, kw), (sh, sw), (out_h, out_w) = kernel, stride, out_shape
    return [x[:, i:i + sh * out_h:sh, j:j + sw * out_w:sw] for i in range(kh) for j in range(kw)]


def record_larger(argmax, larger, offset, scratch):
    """argmax ← offset where ``larger``, written as max(argmax, larger·offset): offsets only grow, and the
    branch-free arithmetic is many times faster than a masked copy on a random mask.
    Plain: ``argmax[larger] = offset``."""
    np.multiply(larger, argmax.dtype.type(offset), out=scratch)
    np.maximum(argmax, scratch, out=argmax)


def max_over_windows(x, kernel, stride, out_shape):
    """The largest value of each window of a (C, H, W, N) array and the offset of its first maximum.

    Plain: ``y = max(views)`` element-wise and ``argmax = np.argmax(np.stack(views), axis=0)``, with views
    from ``window_views``. Here one pass per offset over cache-sized blocks of channels, on every thread, and
    the argmax kept with ``record_larger``.
    """
    views = window_views(x, kernel, stride, out_shape)
    y = np.empty((x.shape[0],) + tuple(out_shape) + (x.shape[3],), dtype=x.dtype)
    argmax = np.zeros(y.shape, dtype=np.min_scalar_type(len(views) - 1))

    def pool(first, last):
        block, block_argmax = y[first:last], argmax[first:last]
        larger, candidate = np.empty(block.shape, dtype=bool), np.empty_like(block_argmax)
        np.copyto(block, views[0][first:last])
        for offset, view in enumerate(views[1:], start=1):
            np.greater(view[first:last], block, out=larger)   # strictly: a tie leaves the first maximum in place
            record_larger(block_argmax, larger, offset, candidate)
            np.maximum(block, view[first:last], out=block)

    in_cache_sized_blocks(pool, x.shape[0], y[0].size)
    return y, argmax


def scatter_to_argmax(grad_out, argmax, kernel, stride, out, overlapping):
    """dL/dx: each window's gradient sent to the offset its argmax names, zero elsewhere, into ``out``
    (C, H, W, N). Plain: ``out.fill(0)``, then ``views[k] += grad_out * (argmax == k)`` for every offset k.
    Where the windows do not overlap each pixel belongs to one window and is written, not added."""
    grads = window_views(out, kernel, stride, grad_out.shape[1:3])

    def scatter(first, last):
        gradient, block_argmax = grad_out[first:last], argmax[first:last]
        is_argmax = np.empty(gradient.shape, dtype=bool)
        for offset, grad_view in enumerate(grads):
            np.equal(block_argmax, offset, out=is_argmax)
            if overlapping:                            # windows share pixels: their gradients add up
                grad_view[first:last] += gradient * is_argmax
            else:
                np.multiply(gradient, is_argmax, out=grad_view[first:last])

    in_cache_sized_blocks(scatter, grad_out.shape[0], grad_out[0].size)
    return out
