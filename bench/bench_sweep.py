"""What a sweep costs over the trainings themselves, and how it scales with workers.

Runs a sweep of ``--trials`` one-epoch ``mlp`` trials (lr and seed swept, pruner off, a small training set) with
2 workers and with 1, then the very same trainings (the parameters the 2-worker sweep drew) by hand: 2 plain
processes, each single-threaded like a sweep worker, each training its half one after another with ``Run``,
the data loaded once per process. Prints the seconds of each and the ratios. Usage:
``python bench/bench_sweep.py [--trials 20] [--train-size 1000]``; needs Optuna and the MNIST cache.
"""
import argparse
import csv
import json
import os
import subprocess
import sys
import tempfile
import time

from nnscratch.sweep import sweep
from nnscratch.sweep.worker import BLAS_THREADS

SPACE = {"lr": "loguniform:1e-4:1e-2", "seed": "int:0:9"}


def settings(train_size):
    return {"preset": "mlp", "epochs": 1, "train_size": train_size, "validation_size": 1000}


def timed_sweep(folder, workers, options):
    started = time.perf_counter()
    sweep(SPACE, settings(options.train_size), trials=options.trials, out=folder, workers=workers, pruner="none",
          quiet=True, plot=False, seed=0)
    return time.perf_counter() - started


def by_hand(folder, options):
    """The sweep's trainings in 2 plain single-threaded processes; the seconds until both are done."""
    with open(os.path.join(folder, "trials.csv"), newline="") as file:
        drawn = [{"lr": float(row["lr"]), "seed": int(row["seed"])} for row in csv.DictReader(file)]
    halves = [drawn[0::2], drawn[1::2]]
    environment = {**os.environ, **{name: "1" for name in BLAS_THREADS}}
    started = time.perf_counter()
    processes = [subprocess.Popen([sys.executable, __file__, "--hand", json.dumps(half), "--train-size",
                                   str(options.train_size)], env=environment) for half in halves]
    if any(process.wait() for process in processes):
        raise SystemExit("a hand-run process failed")
    return time.perf_counter() - started


def hand_worker(trials, train_size):
    from nnscratch.runs import Run, load_data, resolve
    data = None
    with tempfile.TemporaryDirectory() as folder:
        for values in trials:
            run_settings = resolve({**settings(train_size), **values})
            data = data or load_data(run_settings)
            Run.start(run_settings, os.path.join(folder, "model.npz"), data=data).train()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=20)
    parser.add_argument("--train-size", type=int, default=1000)
    parser.add_argument("--hand", help=argparse.SUPPRESS)
    options = parser.parse_args()
    if options.hand:
        return hand_worker(json.loads(options.hand), options.train_size)
    with tempfile.TemporaryDirectory() as root:
        two = timed_sweep(os.path.join(root, "two"), 2, options)
        hand = by_hand(os.path.join(root, "two"), options)
        one = timed_sweep(os.path.join(root, "one"), 1, options)
    print(f"{options.trials} one-epoch mlp trials, {options.train_size} training examples, {os.cpu_count()} cores")
    print(f"sweep, 2 workers:                 {two:6.1f} s")
    print(f"same trainings by hand, 2 procs:  {hand:6.1f} s   sweep / by hand: {two / hand:.2f}x")
    print(f"sweep, 1 worker:                  {one:6.1f} s   speed-up with 2 workers: {one / two:.2f}x")


if __name__ == "__main__":
    main()
