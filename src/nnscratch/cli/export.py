"""``nnscratch export MODEL OUT``: a model as readable JSON (``OUT.json``), which nnscratch loads back wherever it
takes a model, or as a standard ONNX model (``OUT.onnx``) for onnxruntime and every other ONNX runtime.

The ONNX model takes float32 pixels in [0, 1] ((N, 784) rows, or (N, 1, 28, 28) images for a convolutional
network) and gives the class probabilities exactly as ``predict_proba`` does, or the logits with ``--logits``.
``--verify`` runs the written model in onnxruntime and prints the largest difference from nnscratch's own output.
"""
from ..serialization import input_shape_of, load_model
from ..serialization.json_export import export_json
from . import CommandError

FORMATS = (".json", ".onnx")


def add_parser(subparsers):
    parser = subparsers.add_parser("export", help="write a model as readable JSON or as ONNX",
                                   description=__doc__.splitlines()[0])
    parser.add_argument("model", metavar="MODEL", help="a model file (.npz or .json)")
    parser.add_argument("out", metavar="OUT", help="the file to write: .json (readable JSON) or .onnx (ONNX)")
    parser.add_argument("--logits", action="store_true",
                        help="ONNX only: output the last layer's pre-activation instead of probabilities")
    parser.add_argument("--verify", action="store_true",
                        help="ONNX only: run the written model in onnxruntime and compare it with nnscratch")
    parser.set_defaults(run=run)


def run(args):
    extension = "." + args.out.rsplit(".", 1)[-1].lower() if "." in args.out else ""
    if extension not in FORMATS:
        raise CommandError(f"the output file must end in .json or .onnx, got {args.out}")
    if extension == ".json" and (args.logits or args.verify):
        raise CommandError("--logits and --verify apply to ONNX exports (OUT.onnx) only")
    model, metadata = load_model(args.model)
    if extension == ".json":
        export_json(args.out, model, metadata)
    else:
        export_to_onnx(args, model, metadata)
    print(f"Exported {args.model} ({model.num_parameters():,} parameters) to {args.out}")
    return 0


def export_to_onnx(args, model, metadata):
    try:
        from ..interop.onnx_export import export_onnx, verify_onnx
    except ImportError as error:
        raise CommandError(f"ONNX export needs the onnx package ({error}); install nnscratch[onnx]") from None
    input_shape = input_shape_of(model, metadata)
    if input_shape is None:
        raise CommandError(f"{args.model}: the model's metadata does not say its input shape, and its first layer "
                           f"does not tell it")
    proto = export_onnx(args.out, model, input_shape, metadata, logits=args.logits)
    if args.verify:
        largest, same_argmax = verify_onnx(proto, model, input_shape, logits=args.logits)
        verdict = "every predicted class the same" if same_argmax else "SOME PREDICTED CLASSES DIFFER"
        print(f"Verified in onnxruntime on batches of 1 and 7: largest difference {largest:.2e}, {verdict}")
        if not same_argmax or largest > 1e-4:
            raise CommandError(f"{args.out} does not compute what {args.model} does (largest difference "
                               f"{largest:.2e})")
