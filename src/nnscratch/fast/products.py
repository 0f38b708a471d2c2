"""The matrix products on the thread pool, OpenBLAS single-threaded meanwhile.

After a product, OpenBLAS's threads keep spinning for a while, waiting for the next one, on the very cores where
the element-wise work between the products runs. Within ``products_on_the_pool`` OpenBLAS runs single-threaded
(found and set through ``ctypes``) and ``matmul`` splits each large product over the pool's threads instead,
each part a single-threaded product written straight into its block of the result: one set of threads for
both kinds of work (a training step of the ``cnn-best`` network: 44.8 ms with two sets, 42.5 ms with one).
"""
import ctypes
import glob
import os
import threading
from contextlib import contextmanager

import numpy as np

from .pool import in_parallel, threads

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
def products_on_the_pool():
    """Within the block OpenBLAS runs single-threaded and ``matmul`` splits each large product over
    ``in_parallel``'s threads; on leaving, OpenBLAS gets its threads back (nested blocks restore once, at the
    outermost). Plain: nothing at all, OpenBLAS's own threads doing the products. With one thread
    (``set_threads(1)``), or under another BLAS, the block changes nothing."""
    blas = openblas_threads() if threads() > 1 else None
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

