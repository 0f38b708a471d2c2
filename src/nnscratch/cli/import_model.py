"""``nnscratch import SOURCE OUT``: turn a model trained by an older from-scratch MNIST project into an nnscratch model.

Reads the JSON of ibpme/NeuralNetworkFromScratch, the JSON of Outdatedcandy92/NeuralNetwork, and the W1/b1/W2/b2
.dat files of ZimengXiong/NeuralNetworkFromScratch (give the folder or one of the files).
"""
import numpy as np

from ..serialization.json_export import export_json
from ..serialization.older_projects import FORMATS, read_older_project_model
from ..serialization import save_model


def add_parser(subparsers):
    formats = "; ".join(f"{name}: {text}" for name, text in FORMATS.items())
    parser = subparsers.add_parser("import", help="convert a model of an older from-scratch project",
                                   description=__doc__.splitlines()[0], epilog=f"Formats: {formats}.")
    parser.add_argument("source", metavar="SOURCE", help="the model file (.json), or the folder of .dat files")
    parser.add_argument("out", metavar="OUT", help="the nnscratch model to write (.npz, or .json)")
    parser.add_argument("--format", dest="kind", choices=["auto", *FORMATS], default="auto",
                        help="the source format (default: detected from the file)")
    parser.add_argument("--dtype", choices=["float32", "float64"], default="float32",
                        help="precision of the converted weights (the old projects used float64)")
    parser.set_defaults(run=run)


def run(args):
    model, metadata = read_older_project_model(args.source, args.kind, np.dtype(args.dtype))
    if args.out.lower().endswith(".json"):
        export_json(args.out, model, metadata)
    else:
        save_model(args.out, model, metadata)
    print(f"Imported {args.source} ({metadata['imported_from']}): "
          f"{' -> '.join(type(layer).__name__ for layer in model)}, {model.num_parameters():,} parameters")
    print(f"Saved it to {args.out}")
    return 0
