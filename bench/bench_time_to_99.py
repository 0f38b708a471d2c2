"""Time to 99 %: the whole ``nnscratch train --preset cnn-fast`` command against the same job in PyTorch.

Each seed runs both commands, one after the other (interleaved, so that a noisy neighbour costs both alike), as
whole processes timed from outside: start, load MNIST from the cache, train, evaluate on the 10,000 test images,
save. PyTorch's is ``bench/torch_cnn_fast.py`` (the same network, optimizer, schedule and batch size). Prints a
row per seed, then the means, the slowest nnscratch run and the ratio of the means.

    python bench/bench_time_to_99.py                 # seeds 0-9
    python bench/bench_time_to_99.py --seeds 0 --train-size 512   # the smoke run of the tests
    python bench/bench_time_to_99.py --keep runs/   # keep each model and its history (for make_recipe_curve.py)
"""
import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
NNSCRATCH = Path(sys.executable).with_name("nnscratch")


def timed(command):
    started = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True)
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        sys.exit(f"{' '.join(map(str, command))} failed ({done.returncode}):\n"
                 f"{done.stdout[-2000:]}{done.stderr[-2000:]}")
    return seconds, done.stdout


def run_nnscratch(seed, folder, preset, train_size):
    out = Path(folder) / f"nnscratch-{seed}.npz"
    size = ["--train-size", str(train_size)] if train_size else []
    seconds, _ = timed([NNSCRATCH, "train", "--preset", preset, "--seed", str(seed), "--out", out, "--force",
                        "--quiet", *size])
    results = json.loads(out.with_suffix(".history.json").read_text())["results"]
    return seconds, results["test"]["accuracy"]


def run_torch(seed, folder, train_size):
    size = ["--train-size", str(train_size)] if train_size else []
    seconds, output = timed([sys.executable, HERE / "torch_cnn_fast.py", "--seed", str(seed),
                             "--out", Path(folder) / f"torch-{seed}.pt", *size])
    fields = dict(part.split("=") for part in output.split())
    return seconds, float(fields["test_accuracy"])


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=list(range(10)))
    parser.add_argument("--preset", default="cnn-fast")
    parser.add_argument("--train-size", type=int, default=None, help="train on the first N images only")
    parser.add_argument("--no-torch", action="store_true", help="time nnscratch alone")
    parser.add_argument("--keep", metavar="DIR", help="keep the models and their histories in DIR")
    args = parser.parse_args()
    try:
        import torch
        torch_version = None if args.no_torch else torch.__version__
    except ImportError:
        torch_version = None
    print(f"time to 99 %: `nnscratch train --preset {args.preset}` against bench/torch_cnn_fast.py "
          f"(PyTorch {torch_version or 'not run'}), whole commands, interleaved")
    print("seed  nnscratch s  accuracy   PyTorch s  accuracy   ratio")
    rows = []
    with tempfile.TemporaryDirectory() as scratch:
        folder = args.keep or scratch
        Path(folder).mkdir(parents=True, exist_ok=True)
        for seed in args.seeds:
            ours = run_nnscratch(seed, folder, args.preset, args.train_size)
            theirs = run_torch(seed, folder, args.train_size) if torch_version else (float("nan"), float("nan"))
            rows.append((ours, theirs))
            print(f"{seed:4d}  {ours[0]:11.2f}  {ours[1]:7.2%}  {theirs[0]:10.2f}  {theirs[1]:7.2%}  "
                  f"{ours[0] / theirs[0]:6.2f}")
    mean = [statistics.fmean(row[side][which] for row in rows) for side in (0, 1) for which in (0, 1)]
    print(f"mean  {mean[0]:11.2f}  {mean[1]:7.2%}  {mean[2]:10.2f}  {mean[3]:7.2%}  {mean[0] / mean[2]:6.2f}")
    print(f"nnscratch: slowest {max(row[0][0] for row in rows):.2f} s, lowest accuracy "
          f"{min(row[0][1] for row in rows):.2%}")


if __name__ == "__main__":
    main()
