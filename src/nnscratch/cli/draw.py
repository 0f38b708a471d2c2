"""``nnscratch draw [MODEL ...]``: a local web page where you draw a digit and watch the network answer, or train a
network and watch it learn (without a model, the page opens on its Train view). Several models answer as one
ensemble: their class probabilities are averaged. The page opens in your web browser, on the same address
each time; a menu on the page picks among the models in models/ and beside the given ones."""
import errno
import os
import sys
import threading
import webbrowser

from ..app import DrawServer, DrawService
from ..app.service import dataset_test_digits
from ..serialization import load_models
from . import CommandError

DEFAULT_MODEL = os.path.join("models", "mlp.npz")
DEFAULT_PORT = 8765
DESKTOP_VARIABLES = ("DISPLAY", "WAYLAND_DISPLAY", "BROWSER")


def add_parser(subparsers):
    parser = subparsers.add_parser("draw", help="draw a digit in the browser and watch the network answer",
                                   description=" ".join(__doc__.split()))
    parser.add_argument("models", metavar="MODEL", nargs="*",
                        help=f"a model file written by nnscratch train (default: {DEFAULT_MODEL}; without one, "
                             f"the page opens on Train); several answer as one ensemble, their probabilities "
                             f"averaged")
    parser.add_argument("--port", type=int, default=None,
                        help=f"port to listen on (default: {DEFAULT_PORT}, or a free one when that is taken; "
                             f"0: a free one)")
    parser.add_argument("--host", default="127.0.0.1",
                        help="address to listen on (default: 127.0.0.1, this computer only)")
    parser.add_argument("--no-browser", dest="browser", action="store_false",
                        help="do not open the page in the web browser (it opens by default)")
    parser.set_defaults(run=run)


def run(args):
    if args.port is not None and not 0 <= args.port <= 65535:
        raise CommandError(f"--port must be in 0..65535, got {args.port}")
    paths = args.models or [DEFAULT_MODEL]
    service = None
    if args.models or os.path.exists(DEFAULT_MODEL):
        service = draw_service(paths)
    server = listen(args, service, paths if service is not None else [])
    if server.host not in ("127.0.0.1", "localhost", "::1"):
        print(f"warning: listening on {args.host}: other computers on the network can use this page",
              file=sys.stderr)
    if service is None:
        print(f"No model yet ({DEFAULT_MODEL} does not exist): the page opens on Train, where you can train one "
              f"(runs are saved in {os.path.dirname(DEFAULT_MODEL)}/)", flush=True)
    print(f"Draw a digit at {server.url}  (Ctrl+C to stop)", flush=True)
    if args.browser:
        open_browser(server.url)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        finish_run(server)
        print("stopped")
    finally:
        server.server_close()
    return 0


def listen(args, service, paths):
    """The server on ``--port``; without one, on ``DEFAULT_PORT`` (the same address every time), or a free port
    when another program holds that one."""
    port = DEFAULT_PORT if args.port is None else args.port
    while True:
        try:
            return DrawServer(service, args.host, port, log=lambda line: print(line, file=sys.stderr),
                              models_dir=os.path.dirname(DEFAULT_MODEL), given_paths=paths)
        except OSError as error:
            if args.port is None and port == DEFAULT_PORT and error.errno == errno.EADDRINUSE:
                print(f"Port {DEFAULT_PORT} is in use (another nnscratch draw?): using a free one instead",
                      flush=True)
                port = 0
                continue
            raise CommandError(f"cannot listen on {args.host}:{port}: {error.strerror or error}") from None


def open_browser(url):
    """Open ``url`` in the web browser, in the background (a browser may take a while to start). On a machine
    without a desktop (no display, no $BROWSER) nothing is opened: a text browser would take over the terminal."""
    if sys.platform.startswith("linux") and not any(os.environ.get(name) for name in DESKTOP_VARIABLES):
        print("No desktop to open a browser on: open the address above in yours.", flush=True)
        return

    def opener():
        try:
            opened = webbrowser.open(url)
        except Exception:  # noqa: BLE001 - whatever the platform's browser does, the server goes on
            opened = False
        if not opened:
            print("Could not open a web browser: open the address above in yours.", flush=True)

    threading.Thread(target=opener, name="open-browser", daemon=True).start()


def draw_service(paths):
    """The page's model: one file, or several answering as an ensemble (models the page cannot take are refused
    in one line, naming the files)."""
    model, metadata = load_models(paths)
    name = os.path.basename(paths[0]) if len(paths) == 1 else f"ensemble of {len(paths)} models"
    try:
        return DrawService(model, metadata, name=name, test_set=lambda: dataset_test_digits(metadata))
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
