"""What the benchmarks share: MNIST (or data of its shape), timing, interleaving and memory measurement."""
import statistics
import sys
import time
import tracemalloc

import numpy as np


def mnist_training_set(shape="flat"):
    """The 60,000 MNIST training images and labels, or random data of the same shape when MNIST is unavailable."""
    try:
        from nnscratch.datasets import load_mnist
        x, y = load_mnist(validation_size=0, shape=shape).train
        return x, y, "MNIST"
    except Exception as error:  # the benchmark still runs, on data of the same shape
        print(f"(real MNIST unavailable: {error}; using random data of the same shape)", file=sys.stderr)
        rng = np.random.default_rng(0)
        images = rng.random((60000, 784) if shape == "flat" else (60000, 1, 28, 28), dtype=np.float32)
        return images, rng.integers(0, 10, 60000), "random"


class TorchEpochs:
    """One PyTorch epoch as a plain training loop: a fresh random order, then zero_grad, forward, backward, step."""

    name = "PyTorch"

    def __init__(self, model, optimizer, x, y, batch_size):
        import torch
        self.torch, self.model, self.optimizer = torch, model, optimizer
        self.loss = torch.nn.CrossEntropyLoss()
        self.x, self.y = torch.from_numpy(x), torch.from_numpy(y.astype(np.int64))
        self.batch_size = batch_size

    def epoch(self):
        order = self.torch.randperm(len(self.x))
        for start in range(0, len(self.x), self.batch_size):
            rows = order[start:start + self.batch_size]
            self.optimizer.zero_grad(set_to_none=True)
            self.loss(self.model(self.x[rows]), self.y[rows]).backward()
            self.optimizer.step()


def frameworks(ours, torch_factory):
    """The runs to compare and PyTorch's version: ``[ours, torch_factory]`` with PyTorch at two threads, or
    ``[ours]`` where PyTorch is not installed."""
    try:
        import torch
    except ImportError:
        return [ours], "not installed"
    torch.set_num_threads(2)
    return [ours, torch_factory], torch.__version__


def seconds(function):
    started = time.perf_counter()
    function()
    return time.perf_counter() - started


def interleaved_medians(runs, repeats):
    """Median seconds per epoch of each run, the runs taking turns (in alternating order) after one warm-up."""
    for run in runs:
        run.epoch()  # first-touch allocations, thread pools
    times = {run.name: [] for run in runs}
    for repeat in range(repeats):
        for run in runs if repeat % 2 == 0 else runs[::-1]:
            times[run.name].append(seconds(run.epoch))
    return {name: statistics.median(values) for name, values in times.items()}


def peak_memory_mib(run):
    """Peak memory traced (NumPy's allocations included) during one epoch of ``run``."""
    tracemalloc.start()
    run.epoch()
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return peak / 2 ** 20
