"""Milliseconds of each "look inside" view on the server, for the ``mlp`` preset's network (784-1024-512-10).

The views are answered by ``ExplainAPI.handle``, as the draw server routes them, JSON encoding included; the
time of the network is what it is for any weights, so an untrained network of the preset stands in unless a
MODEL is given. The one-off work (the nearest-neighbour indices over the 60,000 training digits, the test
set's predictions) is timed on its own: the page does it when it starts.
Usage: ``python bench/bench_explain.py [MODEL] [--repeats 30]``.
"""
import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import numpy as np
from tabulate import tabulate

sys.path.insert(0, str(Path(__file__).resolve().parent))
from benchlib import mnist_training_set  # noqa: E402

from nnscratch.app import DrawService  # noqa: E402
from nnscratch.app.explain_api import explain_api_for  # noqa: E402
from nnscratch.runs import resolve  # noqa: E402
from nnscratch.runs.build import build_model  # noqa: E402
from nnscratch.serialization import load_model  # noqa: E402


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model", nargs="?", help="a model file (default: the untrained mlp preset)")
    parser.add_argument("--repeats", type=int, default=30)
    args = parser.parse_args()
    untrained = (build_model(resolve(preset="mlp"), np.random.default_rng(0)), {"input_shape": [784]})
    model, metadata = load_model(args.model) if args.model else untrained
    x, y, source = mnist_training_set()
    test = (x[-10000:], y[-10000:])
    service = DrawService(model, metadata, test_set=test)
    api = explain_api_for(service, train_set=lambda: (x, y))
    start = time.perf_counter()
    api.explainer.warm_up()
    warm_up = time.perf_counter() - start
    pixels = [round(float(value), 4) for value in x[7]]

    def post(route, request):
        body = json.dumps(request).encode()
        return lambda: json.dumps(api.handle("POST", "/api/explain" + route, "", body)[1])

    def get(route, query=""):
        return lambda: json.dumps(api.handle("GET", "/api/explain" + route, query)[1])

    views = [("explain (prediction, split, versus, saliency)", post("", {"pixels": pixels})),
             ("activations", post("/activations", {"pixels": pixels})),
             ("untrained saliency", post("/untrained", {"pixels": pixels, "class": 3})),
             ("ablate one unit", post("/ablate", {"pixels": pixels, "unit": 5, "scale": 0})),
             ("nearest training digits (2 × 60,000)", post("/neighbours", {"pixels": pixels})),
             ("mistakes: confusion matrix", get("/mistakes")),
             ("mistakes: one cell", get("/mistakes/cell", "true=4&predicted=9")),
             ("probe: noise", post("/probe", {"kind": "noise", "seed": 1})),
             ("first-layer weights (once per model)", get("/weights"))]
    rows = []
    for name, call in views:
        call()
        times = []
        for _ in range(args.repeats):
            start = time.perf_counter()
            call()
            times.append(1000 * (time.perf_counter() - start))
        times.sort()
        rows.append([name, f"{statistics.median(times):.1f}", f"{times[int(0.9 * (len(times) - 1))]:.1f}"])
    start = time.perf_counter()
    api.explainer.accuracy_without(None, 5)
    rows.append(["test accuracy without a unit (background job)", f"{1000 * (time.perf_counter() - start):.0f}", ""])
    print(f"mlp preset, {source} training digits ({len(x)}), {args.repeats} repeats; one-off warm-up "
          f"(indices and test predictions): {warm_up:.1f} s")
    print(tabulate(rows, headers=["view", "median ms", "p90 ms"], tablefmt="github"))


if __name__ == "__main__":
    main()
