"""``nnscratch draw [MODEL ...]``: a local web page where you draw a digit and watch the network answer, or train a
network and watch it learn (without a model, the page opens on its Train view). Several models answer as one
ensemble: their class probabilities are averaged."""
import os
import sys
import webbrowser

from ..app import DrawServer, DrawService
from ..serialization import load_models
from . import CommandError

DEFAULT_MODEL = os.path.join("models", "mlp.npz")
TEST_DATASETS = ("mnist", "fashion-mnist", "kmnist", "emnist-digits", "emnist-letters")


def add_parser(subparsers):
    parser = subparsers.add_parser("draw", help="draw a digit in the browser and watch the network answer",
                                   description=" ".join(__doc__.split()))
    parser.add_argument("models", metavar="MODEL", nargs="*",
                        help=f"a model file written by nnscratch train (default: {DEFAULT_MODEL}; without one, "
                             f"the page opens on Train); several answer as one ensemble, their probabilities "
                             f"averaged")
    parser.add_argument("--port", type=int, default=0, help="port to listen on (default: 0, a free one)")
    parser.add_argument("--host", default="127.0.0.1",
                        help="address to listen on (default: 127.0.0.1, this computer only)")
    parser.add_argument("--open", action="store_true", help="open the page in the web browser")
    parser.set_defaults(run=run)


def run(args):
    if not 0 <= args.port <= 65535:
        raise CommandError(f"--port must be in 0..65535, got {args.port}")
    paths = args.models or [DEFAULT_MODEL]
    service = None
    if args.models or os.path.exists(DEFAULT_MODEL):
        service = draw_service(paths)
    try:
        server = DrawServer(service, args.host, args.port, log=lambda line: print(line, file=sys.stderr),
                            models_dir=os.path.dirname(DEFAULT_MODEL))
    except OSError as error:
        raise CommandError(f"cannot listen on {args.host}:{args.port}: {error.strerror or error}") from None
    if server.host not in ("127.0.0.1", "localhost", "::1"):
        print(f"warning: listening on {args.host}: other computers on the network can use this page",
              file=sys.stderr)
    if service is None:
        print(f"No model yet ({DEFAULT_MODEL} does not exist): the page opens on Train, where you can train one "
              f"(runs are saved in {os.path.dirname(DEFAULT_MODEL)}/)", flush=True)
    print(f"Draw a digit at {server.url}  (Ctrl+C to stop)", flush=True)
    if args.open:
        webbrowser.open(server.url)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        finish_run(server)
        print("stopped")
    finally:
        server.server_close()
    return 0


def draw_service(paths):
    """The page's model: one file, or several answering as an ensemble (models the page cannot take are refused
    in one line, naming the files)."""
    model, metadata = load_models(paths)
    name = os.path.basename(paths[0]) if len(paths) == 1 else f"ensemble of {len(paths)} models"
    try:
        return DrawService(model, metadata, name=name, test_set=lambda: test_set(metadata))
    except ValueError as error:
        raise CommandError(f"{' '.join(paths)}: {error}") from None


def finish_run(server):
    """Ctrl-C during a run: stop it at the next batch and wait while it is saved (a second Ctrl-C is ignored
    until the file is written)."""
    if server.training.latest().state not in ("starting", "running", "paused", "saving", "evaluating"):
        return
    print("Saving the run in progress...", flush=True)
    while True:
        try:
            server.training.close(wait=True)
            break
        except KeyboardInterrupt:
            print("Still saving; please wait.", flush=True)
    print(server.training.latest().message or "")


def test_set(metadata):
    """The test split of the data set the model was trained on (MNIST when the model does not say)."""
    from ..datasets import load_dataset
    name = metadata.get("dataset") or "mnist"
    if name not in TEST_DATASETS:
        raise ValueError(f"the model was trained on {name!r}, which has no 28×28 test digits")
    return load_dataset(name, validation_size=0).test
