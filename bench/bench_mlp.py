"""Seconds per training epoch of an MLP on MNIST: nnscratch against PyTorch on the CPU, interleaved in one run.

For each configuration the two frameworks take turns, epoch by epoch, so that both see the same machine load;
the table gives the median epoch time of each, their ratio, nnscratch's peak memory, and the GEMM-bound floor:
the epoch's floating-point operations in matrix products over the rate this machine reaches on those very
products. Usage: ``python bench/bench_mlp.py [--repeats 5] [--quick]``. PyTorch is optional.
"""
import argparse

import numpy as np
from benchlib import TorchEpochs, frameworks, interleaved_medians, mnist_training_set, peak_memory_mib, seconds

import nnscratch as nn

CONFIGS = [  # (layer sizes, batch size)
    ([784, 100, 10], 128),
    ([784, 100, 10], 32),
    ([784, 100, 10], 512),
    ([784, 256, 128, 10], 128),
]


class NnscratchRun:
    name = "nnscratch"

    def __init__(self, sizes, batch_size, x, y):
        self.model = nn.Network(sizes, activation="relu", output=None, rng=0)
        self.optimizer = nn.SGD(self.model, lr=0.1, momentum=0.9)
        self.loss = nn.SoftmaxCrossEntropy()
        self.batch_size, self.x, self.y = batch_size, x, y
        self.rng = np.random.default_rng(0)

    def epoch(self):
        nn.fit(self.model, self.x, self.y, self.loss, self.optimizer, epochs=1, batch_size=self.batch_size,
               rng=self.rng)


def torch_run(sizes, batch_size, x, y):
    import torch
    torch.manual_seed(0)
    layers = []
    for fan_in, fan_out in zip(sizes[:-1], sizes[1:], strict=True):
        layers += [torch.nn.Linear(fan_in, fan_out), torch.nn.ReLU()]
    model = torch.nn.Sequential(*layers[:-1])
    return TorchEpochs(model, torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9), x, y, batch_size)


def gemm_floor(sizes, batch_size, examples, repeats=20):
    """Seconds per epoch if the matrix products ran at the rate measured on the same shapes, and nothing else ran."""
    rng = np.random.default_rng(0)
    products, flops = [], 0
    for position, (fan_in, fan_out) in enumerate(zip(sizes[:-1], sizes[1:], strict=True)):
        x = rng.random((batch_size, fan_in), dtype=np.float32)
        W = rng.random((fan_in, fan_out), dtype=np.float32)
        g = rng.random((batch_size, fan_out), dtype=np.float32)
        products += [(x, W), (x.T, g)] + ([(g, W.T)] if position > 0 else [])
        flops += 2 * batch_size * fan_in * fan_out * (3 if position > 0 else 2)
    for a, b in products:  # warm up
        a @ b
    best = min(seconds(lambda: [a @ b for a, b in products]) for _ in range(repeats))
    return best * examples / batch_size


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=5, help="epochs per framework and configuration")
    parser.add_argument("--quick", action="store_true", help="the first configuration only")
    parser.add_argument("--train-size", type=int, default=None, help="train on the first N images only (smoke runs)")
    args = parser.parse_args()
    x, y, source = mnist_training_set()
    if args.train_size:
        x, y = x[:args.train_size], y[:args.train_size]
    runners, torch_version = frameworks(NnscratchRun, torch_run)
    print(f"data: {source} {x.shape}, NumPy {np.__version__}, PyTorch {torch_version}, "
          f"{args.repeats} interleaved epochs each\n")
    header = (f"{'network':<20} {'batch':>5} {'nnscratch s':>11} {'PyTorch s':>9} {'ratio':>6} "
              f"{'floor s':>7} {'vs floor':>8} {'peak MiB':>8}")
    print(header)
    print("-" * len(header))
    for sizes, batch_size in CONFIGS[:1] if args.quick else CONFIGS:
        runs = [framework(sizes, batch_size, x, y) for framework in runners]
        medians = interleaved_medians(runs, args.repeats)
        ours, theirs = medians["nnscratch"], medians.get("PyTorch", float("nan"))
        floor = gemm_floor(sizes, batch_size, len(x))
        peak = peak_memory_mib(runs[0])
        network = "-".join(map(str, sizes))
        print(f"{network:<20} {batch_size:>5} {ours:>11.3f} {theirs:>9.3f} {ours / theirs:>6.2f} "
              f"{floor:>7.3f} {ours / floor:>7.2f}x {peak:>8.1f}")


if __name__ == "__main__":
    main()
