"""The page's web server: the Python standard library's threading HTTP server, for one local user.

It serves the page's static files (the page, its scripts and its style sheet, read once at start-up; no path a
client sends ever reaches the file system) and a small API, one route table: ``ROUTES`` maps a path and a method to
a ``handler(request) -> (status, payload)``, ``PREFIXES`` a family of paths to the module that answers them, and
``request.Request`` is where what a request carries is read and checked. The draw view:

- ``GET /api/model``: the model's name, architecture, size and test accuracy (``{"name": null, "message"}`` while
  there is no model yet); for an ensemble of several models, ``members`` lists each (the page answers with the
  mean of their probabilities);
- ``GET /api/test-digit[?index=N]``: a random (or the N-th) MNIST test image and its label;
- ``POST /api/predict``: a drawing, as JSON ``{"width", "height", "pixels": [width*height grey values in
  0..255, row by row]}`` or as a PNG (``Content-Type: image/png``); the answer holds the probabilities, the
  prediction, whether it is ``unsure`` (below ``low_confidence``) and the 28×28 image the network received;
- ``GET /api/models`` and ``POST /api/model`` ``{"id"}``: the model picker (``picker``): the models the draw view
  can answer with, and choosing one.

The Train view (``train_api``, on a ``TrainingSession``; one run at a time, trained in a thread of its own):

- ``POST /api/train`` with a JSON object of settings (any setting of ``nnscratch train`` by its name, such as
  ``lr`` or ``batch_size``, plus ``preset``): ``202 {"run": id}``; ``409`` while a run is active; ``400
  {"error"}`` for a bad setting, with the ``train`` command's message. The run is saved in ``models/`` under a
  name of the page's choosing (``page-PRESET-DATE-TIME.npz`` and its ``.history.json``); once it ends or is
  stopped it joins the model picker, and the draw view keeps its model until the user picks another. A draw view
  without a model (or one whose user picked the run in training) follows the run instead: it predicts with a
  copy of the run's network holding its last published weights (refreshed about once a second), then with the
  model the run saves.
- ``POST /api/train/pause``, ``/resume``, ``/step`` (one batch, then paused), ``/stop`` (saves the run) with an
  empty body or ``{}``: ``202 {"state"}``, ``409`` when no run is training (or it is already saving);
  ``POST /api/train/settings`` ``{"lr"?, "batch_size"?}``: applied at the next batch and marked on the curves.
- ``GET /api/train/events``: a Server-Sent Events stream: ``state`` (the snapshot and the history so far, first,
  and again when a new run starts), ``tick`` (state, epoch, step, recent batch losses from ``losses_from``,
  validation-subset points, learning rate, batch size, ``weights_version``, the health strip), ``epoch`` (the
  epoch's record, as in the history file) and one ``done``, ``stopped`` or ``error`` per run; keep-alive
  comments between. Slow clients get the latest snapshot, never a backlog.
- ``GET /api/train/weights[?version=N]``: the first layer's weight images as raw ``uint8`` bytes (127 is zero;
  each image scaled to its largest magnitude), shape in ``X-Weights-Shape``, the replay's versions in
  ``X-Replay-Versions``; ``GET /api/train/history``: everything of the run so far; ``GET /api/train/options``:
  the presets and defaults.

The Step view (``step_api``, see its docstring): ``GET /api/step?example=NAME``, ``POST /api/step`` (every number of
one SGD step on the paused run's next example, a drawn digit, or Mazur's or the worked example) and
``POST /api/step/check`` (a learner's hand calculation of one entry, checked).

The "look inside" views: ``/api/explain...``, routed to ``explain_api`` (see its docstring) on a copy of the
current model; for an ensemble, on the member that ``?member=K`` names.

Whatever a client sends, the answer to a bad request is a 4xx with ``{"error": "..."}`` and the server goes on
serving: bodies over ``MAX_BODY_BYTES`` or short of their ``Content-Length`` (a 400 as soon as the body stops
arriving for ``BODY_PAUSE_SECONDS``), other content types, malformed JSON, wrong shapes, non-finite or
out-of-range numbers, unknown paths and methods, and a ``Host`` (or ``Origin``) that is not this server's own,
which keeps web sites out through DNS rebinding. The terminal stays quiet: a refusal is the client's to read,
and a client that goes away mid-answer or leaves a keep-alive connection idle is no news; only a server error
(a bug) is logged, in one line.
"""
import ipaddress
import json
import os
import socket
import sys
import threading
import traceback
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from . import picker, step_api, train_api
from .bodies import RequestError, read_body, read_drawing
from .request import Bytes, Request, whole_number_text
from .training_session import TrainingSession

STATIC_DIR = Path(__file__).resolve().parent / "static"
STATIC_FILES = {"/": ("index.html", "text/html; charset=utf-8"),
                "/common.js": ("common.js", "text/javascript; charset=utf-8"),
                "/app.js": ("app.js", "text/javascript; charset=utf-8"),
                "/train.js": ("train.js", "text/javascript; charset=utf-8"),
                "/explain.js": ("explain.js", "text/javascript; charset=utf-8"),
                "/explain.css": ("explain.css", "text/css; charset=utf-8"),
                "/style.css": ("style.css", "text/css; charset=utf-8"),
                "/terms.js": ("terms.js", "text/javascript; charset=utf-8"),
                "/step.js": ("step.js", "text/javascript; charset=utf-8"),
                "/step.css": ("step.css", "text/css; charset=utf-8")}
LOOPBACK_NAMES = {"localhost", "127.0.0.1", "::1"}
SECURITY_HEADERS = {
    "Cache-Control": "no-store",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'; "
                               "base-uri 'none'; form-action 'none'",
}


EXPLAIN = "/api/explain"
NO_MODEL = "there is no model yet: train one in the Train view"
# A client that went away (closed the tab, reloaded mid-answer) or stalled: nobody is left to answer, nothing to log.
CLIENT_GONE = (ConnectionError, TimeoutError)


class DrawServer(ThreadingHTTPServer):
    """Serves a ``DrawService`` (or None until a run in the Train view has saved one) on ``host:port`` (port 0
    picks a free one); ``url`` says where.

    ``log`` is a function taking one line; it hears server errors (a bug, in one line) and failed runs, never a
    refused request (its client has the answer) or a client that went away (None: silence). ``models_dir`` is
    where the Train view saves its runs; ``training`` a ``TrainingSession`` of the caller's (by default one that
    saves there and tells ``use_run``). ``given_paths``: the files ``service`` was read from; the model picker
    (``picker``) lists the files in their folders and in ``models_dir``.
    """

    daemon_threads = True
    request_queue_size = 128    # connections waiting to be accepted (the standard library's 5 resets a crowd)
    keep_alive_seconds = 15.0   # an event stream's comment line when nothing else was sent

    def __init__(self, service, host="127.0.0.1", port=0, log=None, models_dir="models", training=None,
                 given_paths=()):
        self.service = service
        self.given, self.given_paths = service, [os.fspath(path) for path in given_paths]
        self.current = picker.GIVEN if service is not None else None   # the picker's id of the draw view's model
        self.following_run = False      # the user picked the run in training: the draw view follows it
        self.test_sets, self.test_sets_lock = {}, threading.Lock()
        self.log = log
        self.training = training or TrainingSession(models_dir, on_saved=self.use_run, log=log)
        self.step_api = step_api.StepApi(self.training)
        self.shutting_down = False
        self.listeners, self.listeners_lock = 0, threading.Lock()
        self.explainers, self.services_lock = (None, None), threading.Lock()
        self.live_service = None
        self.static = {route: ((STATIC_DIR / name).read_bytes(), kind) for route, (name, kind) in STATIC_FILES.items()}
        if ":" in host:
            self.address_family = socket.AF_INET6
        super().__init__((host, port), DrawHandler)
        self.host, self.port = host, self.server_address[1]
        self.allowed_hosts = allowed_host_names(host)

    def use_run(self, path, run):
        """A run of the Train view saved its model at ``path``: it joins the picker's list, and becomes the draw
        view's model only when the draw view had none or was following the run. Returns a note for the run's
        closing message."""
        from ..serialization import load_model
        from .service import DIGIT_SIZE, DrawService
        name = os.path.basename(path)
        if not self.follows_run():
            return f"the Draw view keeps {self.service.name}: pick {name} in the model menu to draw with it"
        model, metadata = load_model(path)
        x, y = run.data.test
        test_set = (x.reshape(len(x), -1), y) if x[0].size == DIGIT_SIZE else None
        try:
            service = DrawService(model, metadata, name=name, test_set=test_set)
        except ValueError as error:
            return f"the Draw view cannot use it: {error}"
        self.use_model(service, os.fspath(path))
        return "the Draw view now uses it"

    def use_model(self, service, entry_id):
        """The draw view answers with ``service`` (the picker's entry ``entry_id``) from now on."""
        with self.services_lock:
            self.service, self.current, self.following_run = service, entry_id, False

    def follow_run(self):
        """The draw view follows the Train view's run: its weights while it trains, then the model it saves."""
        with self.services_lock:
            self.following_run = True

    def follows_run(self):
        return self.following_run or self.service is None

    def model_folders(self):
        """Where the picker looks for model files: the Train view's folder, then the given models' folders."""
        folders = [self.training.models_dir] + [os.path.dirname(path) or "." for path in self.given_paths]
        return list(dict.fromkeys(folders))

    def test_digits(self, metadata):
        """The test digits of the data set a model was trained on, as a function loading them once for every
        model of that data set (``service.dataset_test_digits``)."""
        from .explain_api import shared
        from .service import dataset_test_digits
        name = metadata.get("dataset") or "mnist"
        with self.test_sets_lock:
            if name not in self.test_sets:
                self.test_sets[name] = shared(lambda: dataset_test_digits({"dataset": name}))
            return self.test_sets[name]

    def draw_service(self):
        """The service the draw view predicts with: while it follows a run in training, a copy of the run's
        network with its last published weights; otherwise the page's model (None when there is none)."""
        live = self.training.live() if self.follows_run() else None
        if live is None:
            return self.service
        run, version, state = live
        with self.services_lock:
            cached = self.live_service
            if cached is None or cached[0] is not run:
                cached = self.live_service = (run, None, live_service(run))
            if cached[2] is None:
                return self.service
            if cached[1] != version:
                cached[2].use_weights(state)
                self.live_service = cached = (run, version, cached[2])
            return cached[2]

    def explain_api(self):
        """The "look inside" routes (``explain_api``) for the current model, built on first use after each change
        of model; None while there is no model."""
        service = self.service
        if service is None:
            return None
        with self.services_lock:
            if self.explainers[0] is not service:
                from .explain_api import explain_api_for
                self.explainers = (service, explain_api_for(service, log=self.log))
            return self.explainers[1]

    def handle_error(self, request, client_address):
        """What escaped a handler: a client that went away is no news; anything else is one line in the log
        (the standard library would print a traceback on the terminal)."""
        error = sys.exc_info()[1]
        if isinstance(error, CLIENT_GONE) or self.log is None:
            return
        self.log(f"{client_address[0]} server error: " + traceback.format_exc().strip().replace("\n", " | "))

    def shutdown(self):
        self.shutting_down = True
        self.training.close(wait=False)   # wakes every event stream; an active run is stopped and saved
        super().shutdown()

    def server_close(self):
        self.training.close(wait=True)
        super().server_close()

    @property
    def url(self):
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{'127.0.0.1' if host in ('0.0.0.0', '') else host}:{self.port}/"


def live_service(run):
    """A ``DrawService`` on a network shaped like ``run``'s, for predictions during the run once it is given the
    published weights (None when the draw view cannot use it, such as a network of 16×16 images)."""
    from ..serialization.npz import model_from_config
    from .service import DIGIT_SIZE, DrawService
    model = run.model   # only its configuration is read here: the training thread owns its arrays
    copy = model_from_config({"type": type(model).__name__, "config": model.config()}).astype(model.dtype)
    data = run.data
    x, y = data.test
    metadata = {"dataset": data.name, "input_shape": list(data.input_shape), "class_names": data.class_names,
                "preset": run.settings.get("preset")}
    try:
        return DrawService(copy, metadata, name=f"{os.path.basename(run.out)} (training)",
                           test_set=(x.reshape(len(x), -1), y) if x[0].size == DIGIT_SIZE else None)
    except ValueError:
        return None


def allowed_host_names(bound_host):
    """Loopback names always; an IP literal when bound beyond loopback (a name could be DNS-rebound)."""
    return set(LOOPBACK_NAMES) | {bound_host}


def host_is_allowed(server, host_header):
    """Whether a ``Host`` value (``name[:port]``) names this server by a name a web site cannot rebind."""
    if not host_header:
        return False
    parsed = urllib.parse.urlsplit(f"//{host_header}")
    try:
        name, port = parsed.hostname, parsed.port
    except ValueError:
        return False
    if port is not None and port != server.port:
        return False
    if name in server.allowed_hosts:
        return True
    if server.host not in LOOPBACK_NAMES:  # bound to a network address: plain IP addresses cannot be rebound
        try:
            ipaddress.ip_address(name or "")
            return True
        except ValueError:
            return False
    return False


# ---- the routes: each handler(request) -> (status, payload) -----------------------------------------------------

def describe_model(request):
    service = request.server.draw_service()
    return 200, service.describe() if service else {"name": None, "message": NO_MODEL}


def choose_model(request):
    entry_id = request.json('a JSON object {"id": ...}').get("id")
    if not isinstance(entry_id, str):
        raise RequestError(400, f"id must be one of the ids GET /api/models lists, got {str(entry_id)[:40]}")
    picker.choose(request.server, entry_id)
    service = request.server.draw_service()
    return 200, service.describe() if service else {"name": None}


def list_models(request):
    return 200, picker.listing(request.server)


def test_digit(request):
    fields = request.fields({"index"}, "the only query parameter is index=N")
    index = whole_number_text(fields["index"], "index") if "index" in fields else None
    try:
        return 200, draw_service(request, 503).test_digit(index)
    except IndexError as error:
        raise RequestError(400, str(error)) from None
    except LookupError as error:
        raise RequestError(503, str(error)) from None


def predict(request):
    image = read_drawing(request.content_type, request.body())
    service = draw_service(request, 503)
    try:
        return 200, service.predict(image)
    except ValueError as error:
        raise RequestError(400, f"cannot prepare this image: {error}") from None


def draw_service(request, status):
    service = request.server.draw_service()
    if service is None:
        raise RequestError(status, NO_MODEL)
    return service


def explain(request):
    api = request.server.explain_api()
    if api is None:
        raise request.refuse(503, NO_MODEL)
    return api.handle(request.method, request.path, request.query, request.body(), request.content_type)


def step(request):
    return request.server.step_api.handle(request)


ROUTES = {"/api/model": {"GET": describe_model, "POST": choose_model},
          "/api/models": {"GET": list_models},
          "/api/test-digit": {"GET": test_digit},
          "/api/predict": {"POST": predict}}
PREFIXES = {train_api.PREFIX: train_api.handle,   # each of these answers every method and sub-path itself
            step_api.PREFIX: step,
            EXPLAIN: explain}


def route_for(server, method, path):
    """The handler for ``method`` on ``path``; a ``RequestError`` (404 or 405) when there is none."""
    if path in server.static:
        if method == "GET":
            return static_file
        raise RequestError(405, f"cannot {method} {path[:100]}")
    if path in ROUTES:
        methods = ROUTES[path]
        if method not in methods:
            raise RequestError(405, f"use {' or '.join(methods)} for {path[:100]}")
        return methods[method]
    for prefix, handler in PREFIXES.items():
        if path == prefix or path.startswith(prefix + "/"):
            return handler
    raise RequestError(404, f"no such page: {path[:100]}")


def static_file(request):
    body, kind = request.server.static[request.path]
    return 200, Bytes(body, kind)


class DrawHandler(BaseHTTPRequestHandler):
    """Reads one request, finds its handler in the route table (``route_for``) and sends what it answers: JSON,
    or the bytes of a static file or of the weights."""

    protocol_version = "HTTP/1.1"
    server_version = "nnscratch-draw"
    timeout = 10  # seconds a slow client (or an idle keep-alive connection) may keep a thread waiting
    disable_nagle_algorithm = True  # headers and body go out in two writes; do not wait 40 ms between them

    def do_GET(self):
        self.handle_safely("GET")

    def do_POST(self):
        self.handle_safely("POST")

    def refuse_method(self):
        self.handle_safely(None)

    do_PUT = do_DELETE = do_PATCH = do_OPTIONS = do_HEAD = do_TRACE = do_CONNECT = refuse_method

    def handle_one_request(self):
        try:
            super().handle_one_request()
        except CLIENT_GONE:   # gone while we read its request or wrote the answer: nobody to answer
            self.close_connection = True

    def handle_safely(self, method):
        try:
            self.check_origin()
            if method is None:
                self.close_connection = True  # any body is left unread
                raise RequestError(405, f"method {self.command} is not allowed; use GET, or POST for "
                                        f"/api/predict and /api/train")
            parts = urllib.parse.urlsplit(self.path)
            try:
                handler = route_for(self.server, method, parts.path)
            except RequestError:
                if method == "POST":
                    self.close_connection = True  # the body is left unread
                raise
            status, payload = handler(Request(self, method, parts.path, parts.query))
            if isinstance(payload, Bytes):
                self.send_bytes(status, payload.body, payload.kind, payload.headers)
            elif payload is not None:   # None: the handler answered by itself (an event stream)
                self.send_json(status, payload)
        except RequestError as error:
            self.send_json(error.status, {"error": str(error)})
        except CLIENT_GONE:
            raise
        except Exception:  # a bug must not stop the server: answer 500, log it, keep serving
            self.log_line("server error: " + traceback.format_exc().strip().replace("\n", " | "))
            self.send_json(500, {"error": "internal server error"})

    def check_origin(self):
        if not host_is_allowed(self.server, self.headers.get("Host")):
            self.close_connection = True
            raise RequestError(403, f"Host header {self.headers.get('Host')!r} is not this server's local "
                                    f"address")
        origin = self.headers.get("Origin")
        if origin is not None and not host_is_allowed(self.server, urllib.parse.urlsplit(origin).netloc):
            self.close_connection = True
            raise RequestError(403, f"requests from origin {origin!r} are not allowed")

    def read_body(self):
        return read_body(self)

    def send_json(self, status, payload):
        self.send_bytes(status, json.dumps(payload, allow_nan=False).encode(), "application/json")

    def security_headers(self):
        return SECURITY_HEADERS

    def send_bytes(self, status, body, kind, headers=None):
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        for name, value in {**SECURITY_HEADERS, **(headers or {})}.items():
            self.send_header(name, value)
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def send_error(self, code, message=None, explain=None):
        # http.server's own refusals (a malformed request line, a header too long...) answer JSON too.
        self.close_connection = True
        self.send_json(code, {"error": message or explain or "bad request"})

    def log_request(self, code="-", size="-"):
        pass   # every answer, a refusal included, is the client's to read; server errors are logged where they occur

    def log_message(self, format, *args):
        self.log_line(format % args)

    def log_error(self, format, *args):
        # http.server calls this only for a connection that timed out (a browser's idle keep-alive connection,
        # or a client that stopped sending): it is closed, and that is no news
        self.close_connection = True

    def log_line(self, line):
        if self.server.log is not None:
            self.server.log(f"{self.address_string()} {line}")
