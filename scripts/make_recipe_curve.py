"""Draw docs/images/recipes.png: test error against training time, one point per recipe, so that a reader sees
what each extra minute of training buys.

    python scripts/make_recipe_curve.py runs/*.history.json \\
        --ensemble "5 × cnn-elastic" runs/cnn-elastic-?.npz \\
        --point "cnn-best (README)" 4.85 99.62 --out docs/images/recipes.png

Each ``.history.json`` written by ``nnscratch train`` carries its preset, its training seconds and its test
accuracy; the runs of one preset make one point at their mean (time and error), with a bar from the lowest to
the highest error. ``--ensemble LABEL MODEL...`` measures several saved models as one ensemble (their class
probabilities averaged, one more look at the test set) at the sum of their training times, read from their
histories. ``--point LABEL MINUTES ACCURACY`` adds a figure measured elsewhere (an earlier run's table), drawn
hollow so that it is told apart. Needs MNIST in the cache for ``--ensemble`` (``nnscratch data fetch``).
"""
import argparse
import json
import statistics
import sys
from collections import defaultdict
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import FixedLocator, FuncFormatter, NullFormatter

from nnscratch.datasets import DataError, load_mnist
from nnscratch.serialization import load_models
from nnscratch.viz.plots import save_figure


def read_run(path):
    """(preset, training minutes, test accuracy) of one ``.history.json``."""
    record = json.loads(Path(path).read_text())
    preset = record["settings"].get("preset") or "flags"
    minutes = sum(record["timings"]["epoch_seconds"]) / 60
    return preset, minutes, record["results"]["test"]["accuracy"]


def ensemble_point(label, models, test):
    """The ensemble of ``models`` (paths): its test accuracy and the members' training minutes added up."""
    x, y = test
    model, _ = load_models(models)
    accuracy = float(np.mean(model.predict(x) == y))
    minutes = sum(read_run(Path(path).with_suffix(".history.json"))[1] for path in models)
    return label, minutes, accuracy


def draw(groups, ensembles, reported, path):
    figure = Figure(figsize=(7.5, 4.6))
    axes = figure.subplots()
    for preset, runs in sorted(groups.items(), key=lambda item: statistics.fmean(r[0] for r in item[1])):
        minutes = statistics.fmean(run[0] for run in runs)
        errors = [100 * (1 - run[1]) for run in runs]
        mean = statistics.fmean(errors)
        axes.errorbar([minutes], [mean], yerr=[[mean - min(errors)], [max(errors) - mean]], fmt="o", capsize=3,
                      color="tab:blue")
        axes.annotate(f"{preset}\n{100 - mean:.2f} % ({len(runs)} seed{'s' if len(runs) > 1 else ''})", (minutes, mean),
                      textcoords="offset points", xytext=(6, 4), fontsize=8)
    for label, minutes, accuracy in ensembles:
        axes.plot([minutes], [100 * (1 - accuracy)], "s", color="tab:red")
        axes.annotate(f"{label}\n{100 * accuracy:.2f} %", (minutes, 100 * (1 - accuracy)),
                      textcoords="offset points", xytext=(6, 4), fontsize=8)
    for label, minutes, accuracy in reported:
        axes.plot([minutes], [100 - accuracy], "o", mfc="none", color="tab:gray")
        axes.annotate(f"{label}\n{accuracy:.2f} %", (minutes, 100 - accuracy), textcoords="offset points",
                      xytext=(6, -14), fontsize=8, color="dimgray")
    axes.set_xscale("log")
    axes.xaxis.set_major_locator(FixedLocator([0.1, 0.25, 0.5, 1, 2, 5, 10, 20, 60, 120]))
    axes.xaxis.set_major_formatter(FuncFormatter(lambda value, _: f"{value:g}"))
    axes.xaxis.set_minor_formatter(NullFormatter())
    axes.margins(x=0.25, y=0.15)
    axes.set_xlabel("training time on two CPU cores (minutes, log scale)")
    axes.set_ylabel("test error (% of the 10,000 test digits)")
    axes.set_title("What each minute of training buys: single networks (blue, mean and range over seeds),\n"
                   "ensembles (red squares), figures from earlier runs (hollow)", fontsize=9)
    axes.grid(True, which="both", alpha=0.3)
    figure.tight_layout()
    return save_figure(figure, path)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("histories", nargs="*", help=".history.json files written by nnscratch train")
    parser.add_argument("--ensemble", nargs="+", action="append", default=[], metavar="LABEL MODEL",
                        help="a label, then the model files measured as one ensemble")
    parser.add_argument("--point", nargs=3, action="append", default=[], metavar=("LABEL", "MINUTES", "ACCURACY"),
                        help="a figure measured elsewhere: minutes of training and test accuracy in %%")
    parser.add_argument("--out", default="docs/images/recipes.png", help="where to write the PNG")
    args = parser.parse_args(argv)
    try:
        groups = defaultdict(list)
        for path in args.histories:
            preset, minutes, accuracy = read_run(path)
            groups[preset].append((minutes, accuracy))
        reported = [(label, float(minutes), float(accuracy)) for label, minutes, accuracy in args.point]
        ensembles = []
        if args.ensemble:
            test = load_mnist(download=False, shape="image").test
            for label, *models in args.ensemble:
                if not models:
                    raise ValueError(f"--ensemble {label!r} names no model files")
                ensembles.append(ensemble_point(label, models, test))
    except (OSError, ValueError, KeyError, DataError) as error:
        print(f"make_recipe_curve: {error}", file=sys.stderr)
        return 2
    if not (groups or ensembles or reported):
        print("make_recipe_curve: nothing to draw: give .history.json files, --ensemble or --point", file=sys.stderr)
        return 2
    print(draw(groups, ensembles, reported, args.out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
