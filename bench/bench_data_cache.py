"""How long loading MNIST takes: from the cache (the target is under half a second), and each step of it.

Run: python bench/bench_data_cache.py [--repeat N] [--small]. It fetches MNIST into the cache first if needed;
``--small`` times a 6,000-image copy in a temporary cache instead (a quick smoke run). Prints a table; never fails.
"""
import argparse
import tempfile
import time

import numpy as np
from tabulate import tabulate

from nnscratch.datasets import fetch, load_mnist, to_float
from nnscratch.datasets.cache import read_cache, write_cache


def best_of(repeat, function):
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return min(times), float(np.median(times))


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--small", action="store_true", help="time a 6,000-image copy (smoke run)")
    args = parser.parse_args()
    cache_dir = None
    raw, source = fetch("mnist")
    if args.small:
        cache_dir = tempfile.mkdtemp(prefix="nnscratch-bench-")
        raw = type(raw)(raw.x_train[:6000], raw.y_train[:6000], raw.x_test[:1000], raw.y_test[:1000])
        write_cache("mnist", raw, source, cache_dir)
    rows = []
    for label, function in (
            ("read cache .npz (uint8)", lambda: read_cache("mnist", cache_dir)),
            ("scale to float32 / 255", lambda: (to_float(raw.x_train), to_float(raw.x_test))),
            ("load_mnist() from cache", lambda: load_mnist(validation_size=len(raw.x_train) // 6, cache_dir=cache_dir)),
    ):
        best, median = best_of(args.repeat, function)
        rows.append([label, f"{best * 1000:.0f}", f"{median * 1000:.0f}"])
    print(f"MNIST: {len(raw.x_train)} + {len(raw.x_test)} images, source: {source}")
    print(tabulate(rows, headers=["step", "best ms", "median ms"], tablefmt="github"))
    total = float(rows[-1][1]) / 1000
    print(f"load_mnist() from the cache: {total:.3f} s (target: under 0.5 s) -> {'OK' if total < 0.5 else 'SLOW'}")


if __name__ == "__main__":
    main()
