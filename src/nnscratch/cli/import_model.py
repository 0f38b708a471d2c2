"""``nnscratch import SOURCE OUT``: turn an ONNX model, or a model trained by an older from-scratch MNIST
project, into an nnscratch model.

Reads ONNX files (``.onnx``: single chains of the operators ``nnscratch export`` writes, and PyTorch's exports of
the same networks), the JSON of ibpme/NeuralNetworkFromScratch, the JSON of Outdatedcandy92/NeuralNetwork, and
the W1/b1/W2/b2 .dat files of ZimengXiong/NeuralNetworkFromScratch (give the folder or one of the files).
"""
import os

import numpy as np

from ..serialization import save_model
from ..serialization.json_export import export_json
from ..serialization.older_projects import FORMATS, read_older_project_model
from . import CommandError

OUT_EXTENSIONS = (".npz", ".json")


def add_parser(subparsers):
    formats = "; ".join(f"{name}: {text}" for name, text in {"onnx": "ONNX (.onnx)", **FORMATS}.items())
    parser = subparsers.add_parser("import", help="convert an ONNX model or a model of an older from-scratch project",
                                   description=__doc__.splitlines()[0], epilog=f"Formats: {formats}.")
    parser.add_argument("source", metavar="SOURCE", help="the model file (.onnx, .json), or the folder of .dat files")
    parser.add_argument("out", metavar="OUT", help="the nnscratch model to write (.npz, or .json)")
    parser.add_argument("--format", dest="kind", choices=["auto", "onnx", *FORMATS], default="auto",
                        help="the source format (default: .onnx by its extension, else detected from the file)")
    parser.add_argument("--dtype", choices=["float32", "float64"], default="float32",
                        help="precision of the converted weights (the old projects used float64)")
    parser.set_defaults(run=run)


def run(args):
    check_out(args.source, args.out)
    dtype = np.dtype(args.dtype)
    if args.kind == "onnx" or args.kind == "auto" and args.source.lower().endswith(".onnx"):
        model, metadata = read_onnx(args.source, dtype)
    else:
        model, metadata = read_older_project_model(args.source, args.kind, dtype)
    if args.out.lower().endswith(".json"):
        export_json(args.out, model, metadata)
    else:
        save_model(args.out, model, metadata)
    print(f"Imported {args.source} ({metadata['imported_from']}): "
          f"{' -> '.join(type(layer).__name__ for layer in model)}, {model.num_parameters():,} parameters")
    print(f"Saved it to {args.out}")
    return 0


def check_out(source, out):
    """OUT must be a model file name nnscratch writes, and never the SOURCE it is converted from."""
    if not out.lower().endswith(OUT_EXTENSIONS):
        raise CommandError(f"OUT must end in .npz or .json (the nnscratch model formats), got {out}")
    if os.path.abspath(out) == os.path.abspath(source) or \
            os.path.exists(out) and os.path.exists(source) and os.path.samefile(out, source):
        raise CommandError(f"OUT {out} is the SOURCE file itself; write the converted model to another file")


def read_onnx(source, dtype):
    try:
        from ..interop.onnx_import import import_onnx
    except ImportError as error:
        raise CommandError(f"ONNX import needs the onnx package ({error}); install nnscratch[onnx]") from None
    return import_onnx(source, dtype)
