"""Train every preset (or those named) on its data set and print the test accuracy and wall time of each.

    python scripts/measure_presets.py                 # all presets, one after another
    python scripts/measure_presets.py nielsen mlp     # just these
    python scripts/measure_presets.py --epochs 1      # a smoke run: every preset for one epoch
    python scripts/measure_presets.py cnn cnn-best --epochs 1 --train-size 500   # a quick smoke run of the CNNs

Timings depend on the machine and on what else runs on it; take them on a quiet one.
"""
import argparse
import io
import json
import os
import sys
import tempfile
import time
from contextlib import redirect_stdout

from nnscratch import cli
from nnscratch.presets import PRESETS


def measure(name, folder, extra):
    out = os.path.join(folder, f"{name}.npz")
    log = io.StringIO()
    started = time.perf_counter()
    with redirect_stdout(log):
        status = cli.main(["train", "--preset", name, "--quiet", "--out", out, *extra])
    seconds = time.perf_counter() - started
    if status != 0:
        return {"preset": name, "status": status, "seconds": seconds, "log": log.getvalue()[-2000:]}
    with open(out[:-4] + ".history.json") as file:
        run = json.load(file)
    test = run["results"]["test"]
    return {"preset": name, "status": 0, "test_accuracy": test["accuracy"], "test_correct": test["correct"],
            "test_total": test["total"], "best_epoch": run["best_epoch"], "epochs": len(run["history"]["epochs"]),
            "seconds": seconds}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("presets", nargs="*", default=list(PRESETS), help="preset names (default: all)")
    parser.add_argument("--epochs", help="override every preset's number of epochs (a smoke run)")
    parser.add_argument("--train-size", help="train every preset on only the first N examples (a smoke run)")
    parser.add_argument("--json", help="also write the results to this JSON file")
    parser.add_argument("--keep", metavar="DIR", help="keep the trained models in DIR (default: a temporary folder)")
    args = parser.parse_args(argv)
    extra = (["--epochs", args.epochs] if args.epochs else []) + (["--train-size", args.train_size]
                                                                  if args.train_size else [])
    results = []
    with tempfile.TemporaryDirectory() as temporary:
        folder = args.keep or temporary
        for name in args.presets:
            result = measure(name, folder, extra)
            results.append(result)
            if result["status"]:
                print(f"{name:14} failed (status {result['status']}):\n{result['log']}", flush=True)
            else:
                print(f"{name:14} test {result['test_correct']} / {result['test_total']} "
                      f"({100 * result['test_accuracy']:.2f} %), best epoch {result['best_epoch']} of "
                      f"{result['epochs']}, {result['seconds']:.0f} s", flush=True)
    if args.json:
        with open(args.json, "w") as file:
            json.dump(results, file, indent=2)
    return 0 if all(result["status"] == 0 for result in results) else 1


if __name__ == "__main__":
    sys.exit(main())
