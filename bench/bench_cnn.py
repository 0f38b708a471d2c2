"""Seconds per training epoch of a small CNN on MNIST: nnscratch against PyTorch on the CPU, interleaved.

The network is the ``cnn`` preset's: conv 5×5×32, max-pool 2, ReLU, conv 5×5×64, max-pool 2, ReLU, dense 128,
ReLU, dense 10, trained with Adam at batch 128 (pooling before the ReLU computes the same function as after it,
since the ReLU is monotonic, on a quarter of the values; both frameworks use that order). The two frameworks
take turns, epoch by epoch, so that both see the same machine load; both use two threads (OpenBLAS for NumPy,
intra-op threads for PyTorch; nnscratch's element-wise work between the products runs on the thread pool of
``nnscratch.fast``, which ``NNSCRATCH_THREADS=1`` turns off). The table gives the median epoch time
of each, their ratio and nnscratch's peak traced memory; a second table shows where nnscratch's time goes,
layer by layer. Usage:
``python bench/bench_cnn.py [--repeats 3] [--train-size N] [--profile-steps 30] [--blas-core NAME]``
(``--train-size 2560 --repeats 7`` is a quick interleaved ratio of 20-step turns; ``--profile-steps 0`` skips
the memory and layer tables). PyTorch is optional.

Nearly all of nnscratch's time is matrix products in OpenBLAS, so the header names the kernels OpenBLAS chose
for this CPU. An OpenBLAS that does not know a newer CPU falls back to older kernels (it runs AMD's Zen 5 with
its AVX2 "Haswell" kernels, half the speed of its AVX-512 ones); ``--blas-core SkylakeX`` sets
``OPENBLAS_CORETYPE`` for the run, as ``OPENBLAS_CORETYPE=SkylakeX`` in the environment does for training.
"""
import argparse
import os


def command_line():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=3, help="epochs per framework")
    parser.add_argument("--train-size", type=int, default=None, help="train on the first N images only")
    parser.add_argument("--profile-steps", type=int, default=30,
                        help="training steps timed layer by layer (0: no layer table and no memory figure)")
    parser.add_argument("--blas-core", default=None,
                        help="OpenBLAS kernels to use (OPENBLAS_CORETYPE), e.g. SkylakeX, Zen, Haswell")
    return parser.parse_args()


ARGS = command_line() if __name__ == "__main__" else None
os.environ.setdefault("OPENBLAS_NUM_THREADS", "2")  # both before NumPy loads OpenBLAS
if ARGS is not None and ARGS.blas_core:
    os.environ["OPENBLAS_CORETYPE"] = ARGS.blas_core

import ctypes  # noqa: E402
import glob  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402
from benchlib import TorchEpochs, frameworks, interleaved_medians, mnist_training_set, peak_memory_mib  # noqa: E402

import nnscratch as nn  # noqa: E402
from nnscratch import fast  # noqa: E402
from nnscratch.layers import Conv2D, MaxPool2D  # noqa: E402

BATCH_SIZE = 128


def openblas_core():
    """The kernel family NumPy's bundled OpenBLAS picked (e.g. "Haswell", "SkylakeX"), or "unknown"."""
    libraries = glob.glob(os.path.join(os.path.dirname(np.__file__) + ".libs", "*openblas*"))
    for path in libraries:
        library = ctypes.CDLL(path)
        for name in ("scipy_openblas_get_corename64_", "scipy_openblas_get_corename", "openblas_get_corename"):
            function = getattr(library, name, None)
            if function is not None:
                function.restype = ctypes.c_char_p
                return function().decode()
    return "unknown"


def nnscratch_cnn(rng):
    return nn.Sequential(Conv2D(1, 32, 5, rng=rng), MaxPool2D(2), nn.ReLU(),
                         Conv2D(32, 64, 5, rng=rng), MaxPool2D(2), nn.ReLU(),
                         nn.Flatten(), nn.Linear(64 * 4 * 4, 128, rng=rng), nn.ReLU(), nn.Linear(128, 10, rng=rng))


class NnscratchRun:
    name = "nnscratch"

    def __init__(self, x, y):
        self.model = nnscratch_cnn(np.random.default_rng(0))
        self.optimizer = nn.Adam(self.model, lr=1e-3)
        self.loss = nn.SoftmaxCrossEntropy()
        self.x, self.y = x, y
        self.rng = np.random.default_rng(0)

    def epoch(self):
        nn.fit(self.model, self.x, self.y, self.loss, self.optimizer, epochs=1, batch_size=BATCH_SIZE,
               rng=self.rng)


def torch_run(x, y):
    import torch
    torch.manual_seed(0)
    model = torch.nn.Sequential(
        torch.nn.Conv2d(1, 32, 5), torch.nn.MaxPool2d(2), torch.nn.ReLU(),
        torch.nn.Conv2d(32, 64, 5), torch.nn.MaxPool2d(2), torch.nn.ReLU(),
        torch.nn.Flatten(), torch.nn.Linear(64 * 4 * 4, 128), torch.nn.ReLU(), torch.nn.Linear(128, 10))
    return TorchEpochs(model, torch.optim.Adam(model.parameters(), lr=1e-3), x, y, BATCH_SIZE)


def layer_profile(x, y, steps=30):
    """Milliseconds per training step spent in each layer's forward and backward, and in the optimizer."""
    model = nnscratch_cnn(np.random.default_rng(0))
    model.layers[0].needs_input_grad = False  # the data needs no gradient, as in fit
    optimizer, loss = nn.Adam(model, lr=1e-3), nn.SoftmaxCrossEntropy()
    forward, backward, update = np.zeros(len(model)), np.zeros(len(model)), 0.0
    with fast.faster(model):      # as in fit: the fast layers, OpenBLAS single-threaded, products on the pool
        for step in range(steps + 3):                 # three warm-up steps are not counted
            counted = step >= 3
            start = (step * BATCH_SIZE) % max(1, len(x) - BATCH_SIZE)
            rows = slice(start, start + BATCH_SIZE)
            output = x[rows]
            for position, layer in enumerate(model):
                started = time.perf_counter()
                output = layer.forward(output)
                forward[position] += counted * (time.perf_counter() - started)
            _, grad = loss(output, y[rows])
            for position in reversed(range(len(model))):
                started = time.perf_counter()
                grad = model[position].backward(grad)
                backward[position] += counted * (time.perf_counter() - started)
            started = time.perf_counter()
            optimizer.step()
            update += counted * (time.perf_counter() - started)
    scale = 1000.0 / steps
    rows = [(f"{position} {type(layer).__name__}", forward[position] * scale, backward[position] * scale)
            for position, layer in enumerate(model)]
    return rows + [("optimizer (Adam)", 0.0, update * scale)]


def main(args):
    x, y, source = mnist_training_set(shape="image")
    if args.train_size:
        x, y = x[:args.train_size], y[:args.train_size]
    runners, torch_version = frameworks(NnscratchRun, torch_run)
    print(f"data: {source} {x.shape}, NumPy {np.__version__}, PyTorch {torch_version}, batch {BATCH_SIZE}, "
          f"Adam, OPENBLAS_NUM_THREADS={os.environ['OPENBLAS_NUM_THREADS']}, OpenBLAS kernels {openblas_core()}, "
          f"nnscratch threads {fast.threads()}, "
          f"{args.repeats} interleaved epochs each\n")
    runs = [framework(x, y) for framework in runners]
    medians = interleaved_medians(runs, args.repeats)
    ours, theirs = medians["nnscratch"], medians.get("PyTorch", float("nan"))
    peak = peak_memory_mib(runs[0]) if args.profile_steps else float("nan")
    header = f"{'network':<22} {'nnscratch s/epoch':>17} {'PyTorch s/epoch':>15} {'ratio':>6} {'peak MiB':>8}"
    print(header)
    print("-" * len(header))
    print(f"{'cnn (conv32-conv64)':<22} {ours:>17.2f} {theirs:>15.2f} {ours / theirs:>6.2f} {peak:>8.1f}\n")
    if not args.profile_steps:
        return
    profile = layer_profile(x, y, args.profile_steps)
    total = sum(forward + backward for _, forward, backward in profile)
    print(f"{'nnscratch, per step':<22} {'forward ms':>10} {'backward ms':>11} {'share':>6}")
    for name, forward, backward in profile:
        print(f"{name:<22} {forward:>10.2f} {backward:>11.2f} {(forward + backward) / total:>6.1%}")
    print(f"{'total':<22} {total:>22.2f}")


if __name__ == "__main__":
    main(ARGS)
