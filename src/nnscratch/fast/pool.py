"""The thread pool: element-wise work split over blocks of channels, and blocks sized to stay in the cache.

NumPy releases the interpreter lock inside its loops, so element-wise work on disjoint blocks runs on every core
at once while OpenBLAS is idle between products. ``in_parallel`` hands consecutive parts of a range to a small
pool of threads, the calling thread taking the first; ``in_cache_sized_blocks`` cuts each part into blocks of
rows small enough that several passes over one block cost little more than one pass over main memory. Each
output element is computed by the same operations in the same order either way, so the result is the same to
the bit as the plain ``function(0, count)``.
"""
import os
import threading

import numpy as np


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

