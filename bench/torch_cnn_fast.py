"""The job of ``nnscratch train --preset cnn-fast``, done in PyTorch: the yardstick of ``bench_time_to_99.py``.

The same whole job, timed from the start of the process as the shell sees it: import, load MNIST from
nnscratch's cache (the same ``mnist.npz``, read with NumPy), train the same network (conv 5×5×24, max-pool 2,
ReLU, conv 3×3×32, max-pool 2, ReLU, dense 256, ReLU, dense 10) with the same optimizer (Adam, lr 0.01, betas
0.7 and 0.9), the same one-cycle schedule stepped every batch, batch 256 and two epochs on all 60,000 training
images, evaluate on the 10,000 test images, and save the weights. PyTorch runs on two threads, as nnscratch
does on two cores. Prints one line: ``test_accuracy=0.9921 seconds=12.3``.

    python bench/torch_cnn_fast.py --seed 0 --out /tmp/torch-cnn-fast.pt
"""
import argparse
import os
import time

import numpy as np
import torch
from torch import nn

EPOCHS, BATCH_SIZE, LR, BETAS = 2, 256, 0.01, (0.7, 0.9)


def network():
    return nn.Sequential(nn.Conv2d(1, 24, 5), nn.MaxPool2d(2), nn.ReLU(),
                         nn.Conv2d(24, 32, 3), nn.MaxPool2d(2), nn.ReLU(), nn.Flatten(),
                         nn.Linear(32 * 5 * 5, 256), nn.ReLU(), nn.Linear(256, 10))


def load_mnist():
    cache = os.environ.get("NNSCRATCH_DATA") or os.path.join(os.path.expanduser("~"), ".cache", "nnscratch")
    with np.load(os.path.join(cache, "mnist.npz"), allow_pickle=False) as data:
        def images(name):
            return torch.from_numpy(data[name].astype(np.float32)[:, None] / np.float32(255))
        return (images("x_train"), torch.from_numpy(data["y_train"].astype(np.int64)),
                images("x_test"), torch.from_numpy(data["y_test"].astype(np.int64)))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default="torch-cnn-fast.pt")
    parser.add_argument("--train-size", type=int, default=None, help="train on the first N images only")
    args = parser.parse_args()
    torch.set_num_threads(2)
    torch.manual_seed(args.seed)
    x_train, y_train, x_test, y_test = load_mnist()
    x_train, y_train = x_train[:args.train_size], y_train[:args.train_size]
    model = network()
    optimizer = torch.optim.Adam(model.parameters(), lr=LR, betas=BETAS)
    steps = EPOCHS * -(-len(x_train) // BATCH_SIZE)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=LR, total_steps=steps, pct_start=0.3,
                                                   div_factor=25.0, final_div_factor=1e4, cycle_momentum=False)
    loss = nn.CrossEntropyLoss()
    for _ in range(EPOCHS):
        model.train()
        order = torch.randperm(len(x_train))
        for start in range(0, len(x_train), BATCH_SIZE):
            rows = order[start:start + BATCH_SIZE]
            optimizer.zero_grad(set_to_none=True)
            loss(model(x_train[rows]), y_train[rows]).backward()
            optimizer.step()
            schedule.step()
    model.eval()
    with torch.no_grad():
        correct = sum(int((model(x_test[start:start + 1000]).argmax(1) == y_test[start:start + 1000]).sum())
                      for start in range(0, len(x_test), 1000))
    torch.save(model.state_dict(), args.out)
    print(f"test_accuracy={correct / len(x_test):.4f} seconds={time.perf_counter() - STARTED:.2f}")


STARTED = time.perf_counter()
if __name__ == "__main__":
    main()
