"""Peak memory of training the ``cnn-best`` network: nnscratch against PyTorch, each in a process of its own.

Both processes load MNIST the same way (``nnscratch.runs.data.load_data``: 50,000 training, 10,000 validation and
10,000 test images as float32), train the same network (the ``cnn-best`` preset's: conv 5×5×32, batch norm,
max-pool, ReLU, conv 5×5×64, batch norm, max-pool, ReLU, dense 256, batch norm, ReLU, dropout, dense 10) with Adam
at batch 128 on the same augmented batches for ``--steps`` steps, then measure every split in eval mode, as
``nnscratch train`` does at the end of a run (PyTorch in batches of 1,000 under ``torch.no_grad``). The figure is
each process's peak resident set (``ru_maxrss``), which includes the interpreter and the libraries: PyTorch's
own weigh about 300 MB before any data. Usage: ``python bench/bench_memory.py [--steps 100]``.
"""
import argparse
import os
import subprocess
import sys
import time

import numpy as np


def training_data():
    from nnscratch.runs import resolve
    from nnscratch.runs.data import load_data
    settings = resolve(preset="cnn-best")
    return settings, load_data(settings)


def measured_splits(data, size=None):
    """The splits that hold data, each cut to its first ``size`` examples (all of them when None)."""
    return [(name, (x[:size], y[:size])) for name, (x, y) in data.splits() if x is not None]


def batches(data, settings, steps):
    from nnscratch.runs.build import build_transform
    transform, rng = build_transform(settings), np.random.default_rng(0)
    x, y = data.train
    for _step in range(steps):
        rows = rng.choice(len(x), settings["batch_size"], replace=False)
        yield transform(x[rows], rng), y[rows]


def train_nnscratch(steps, eval_size):
    import nnscratch as nn
    from nnscratch.fast import faster
    from nnscratch.runs import resolve
    from nnscratch.runs.build import build_loss, build_model, build_optimizer
    settings, data = training_data()
    model = build_model(resolve(preset="cnn-best"), np.random.default_rng(0))
    loss, optimizer = build_loss(settings), build_optimizer(settings, model)
    with model.mode(training=True), faster(model):
        for x, y in batches(data, settings, steps):
            nn.train_step(model, x, y, loss, optimizer)
    for _, (x, y) in measured_splits(data, eval_size):
        nn.evaluate(model, x, y, loss)


def train_torch(steps, eval_size):
    import torch
    torch.set_num_threads(2)
    settings, data = training_data()
    nn = torch.nn
    model = nn.Sequential(nn.Conv2d(1, 32, 5), nn.BatchNorm2d(32), nn.MaxPool2d(2), nn.ReLU(),
                          nn.Conv2d(32, 64, 5), nn.BatchNorm2d(64), nn.MaxPool2d(2), nn.ReLU(), nn.Flatten(),
                          nn.Linear(1024, 256), nn.BatchNorm1d(256), nn.ReLU(), nn.Dropout(0.25), nn.Linear(256, 10))
    optimizer, loss = torch.optim.Adam(model.parameters(), lr=2e-3), nn.CrossEntropyLoss()
    model.train()
    for x, y in batches(data, settings, steps):
        optimizer.zero_grad(set_to_none=True)
        loss(model(torch.from_numpy(x)), torch.from_numpy(y.astype(np.int64))).backward()
        optimizer.step()
    model.eval()
    with torch.no_grad():
        for _, (x, _) in measured_splits(data, eval_size):
            for start in range(0, len(x), 1000):
                model(torch.from_numpy(x[start:start + 1000])).argmax(1)


def peak_of_child(framework, steps, eval_size):
    """Peak resident MiB and seconds of a child process training with ``framework``."""
    started = time.perf_counter()
    child = subprocess.Popen([sys.executable, __file__, "--child", framework, "--steps", str(steps),
                              *(["--eval-size", str(eval_size)] if eval_size else [])])
    _, status, usage = os.wait4(child.pid, 0)
    if status:
        raise SystemExit(f"the {framework} run failed (status {status})")
    return usage.ru_maxrss / 1024, time.perf_counter() - started


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=100, help="training steps before the evaluation")
    parser.add_argument("--eval-size", type=int, default=None, help="measure only the first N examples of each split")
    parser.add_argument("--child", choices=["nnscratch", "torch"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        (train_nnscratch if args.child == "nnscratch" else train_torch)(args.steps, args.eval_size)
        return
    try:
        import torch  # noqa: F401
        frameworks = ["nnscratch", "torch"]
    except ImportError:
        frameworks = ["nnscratch"]
    print(f"cnn-best network, batch 128, {args.steps} training steps, then every split measured in eval mode\n")
    print(f"{'framework':<10} {'peak MiB':>9} {'seconds':>8}")
    for framework in frameworks:
        peak, seconds = peak_of_child(framework, args.steps, args.eval_size)
        print(f"{framework:<10} {peak:>9.0f} {seconds:>8.1f}")


if __name__ == "__main__":
    main()
