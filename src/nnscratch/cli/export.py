"""``nnscratch export MODEL OUT.json``: a model as readable JSON, which nnscratch loads back wherever it takes a model."""
from ..serialization.json_export import export_json
from ..serialization import load_model
from . import CommandError


def add_parser(subparsers):
    parser = subparsers.add_parser("export", help="write a model as readable JSON", description=__doc__.splitlines()[0])
    parser.add_argument("model", metavar="MODEL", help="a model file (.npz or .json)")
    parser.add_argument("out", metavar="OUT.json", help="the JSON file to write")
    parser.set_defaults(run=run)


def run(args):
    if not args.out.lower().endswith(".json"):
        raise CommandError(f"the output file must end in .json, got {args.out}")
    model, metadata = load_model(args.model)
    export_json(args.out, model, metadata)
    print(f"Exported {args.model} ({model.num_parameters():,} parameters) to {args.out}")
    return 0
