"""nnscratch plot: training curves of one or more runs, or the first-layer weights of a model, as PNG.

``nnscratch plot HISTORY... --out curves.png`` overlays the loss and accuracy per epoch of each run (the
``.history.json`` files ``nnscratch train`` writes, or the model files themselves), named after their files or
``--names``. ``nnscratch plot --weights MODEL --out weights.png`` shows what each first-layer neuron looks for
(for a convolutional network: the kernels of its first convolution).
"""
from ..serialization import load_model
from . import CommandError


def add_parser(subparsers):
    parser = subparsers.add_parser("plot", help="draw training curves or first-layer weights as a PNG",
                                   description=__doc__.splitlines()[0])
    parser.add_argument("histories", metavar="HISTORY", nargs="*",
                        help="history files (.history.json) or model files of the runs to compare")
    parser.add_argument("--names", help="comma-separated names for the runs (default: their file names)")
    parser.add_argument("--weights", metavar="MODEL", help="draw this model's first-layer weights (or first "
                        "convolution's kernels) instead")
    parser.add_argument("--neurons", type=int, default=64, help="with --weights: how many neurons or kernels "
                        "(default: 64)")
    parser.add_argument("--title", help="a title over the curves")
    parser.add_argument("--out", help="the PNG file to write (default: curves.png, or weights.png with --weights)")
    parser.set_defaults(run=run)


def run(args):
    from ..viz.plots import plot_histories, plot_weights, read_history, run_name  # matplotlib loads only when needed

    if bool(args.histories) == bool(args.weights):
        raise CommandError("give either HISTORY files or --weights MODEL")
    if args.out and not args.out.lower().endswith(".png"):
        raise CommandError(f"--out must name a .png file, got {args.out}")
    if args.weights:
        if args.neurons < 1:
            raise CommandError(f"--neurons must be at least 1, got {args.neurons}")
        model, _ = load_model(args.weights)
        path = plot_weights(model, args.out or "weights.png", count=args.neurons)
        print(f"Saved the first-layer weights of {args.weights} to {path}")
        return 0
    names = [name.strip() for name in args.names.split(",")] if args.names else [run_name(path)
                                                                                 for path in args.histories]
    if len(names) != len(args.histories):
        raise CommandError(f"--names gives {len(names)} names for {len(args.histories)} runs")
    runs = [(name, read_history(path)) for name, path in zip(names, args.histories, strict=True)]
    path = plot_histories(runs, args.out or "curves.png", title=args.title)
    print(f"Saved the training curves of {', '.join(names)} to {path}")
    return 0
