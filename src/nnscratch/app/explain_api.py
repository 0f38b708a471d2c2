"""The JSON API of the page's "look inside" views, for the draw server to route ``/api/explain/...`` to.

``ExplainAPI(explainer).handle(method, path, query, body, content_type)`` returns ``(status, payload)``; a bad
request raises ``RequestError`` (status and one line), as the server's own handlers do. Pixels are the 784
values in [0, 1] of the prepared digit (the ``preview`` that ``POST /api/predict`` returns, or a test digit).

- ``POST /api/explain`` ``{"pixels", "class"?, "versus"?}``: prediction, probabilities, logits, the split of
  z_class into the last hidden layer's units, the versus split (default: the runner-up), saliency, gradient ×
  input and the completeness check;
- ``POST /api/explain/activations`` ``{"pixels"}``: every hidden layer's output;
- ``GET /api/explain/weights``: the first layer's weight images (or kernels), each scaled to its largest
  magnitude and sent as base64 bytes (0..254, 127 is zero);
- ``POST /api/explain/untrained`` ``{"pixels", "class"?}``: the saliency map of the same network untrained, for
  the class explained (default: the trained network's prediction, as ``POST /api/explain``);
- ``POST /api/explain/ablate`` ``{"pixels", "layer"?, "unit", "scale"?}``: probabilities with a unit scaled;
- ``POST /api/explain/ablation-accuracy`` ``{"layer"?, "unit", "scale"?}``: starts the test accuracy without the
  unit in the background, ``202 {"job"}``; ``GET /api/explain/ablation-accuracy?job=N``: its progress and result
  (``state`` is ``running``, ``done`` with ``result``, or ``failed`` with ``error``, one line);
- ``POST /api/explain/neighbours`` ``{"pixels"}``: the 8 nearest training digits in pixels and in the hidden layer;
- ``GET /api/explain/mistakes``: the confusion matrix; ``GET /api/explain/mistakes/cell?true=I&predicted=J``:
  that cell's test digits, most confident first;
- ``POST /api/explain/probe`` ``{"kind": "noise" | "blank" | "inverted", "pixels"?, "seed"?}``.

When the page's model is an ensemble, every route takes ``?member=K`` and answers for that member
(``EnsembleExplainAPI``): an ensemble has no single hidden layer, weight image or logit to split. Without it the
answer is a 400 that says so. The members share the page's test digits and one copy of the training digits.
"""
import base64
import itertools
import threading
import time
import traceback
import urllib.parse

import numpy as np

from ..explain import PROBES, ExplainError
from ..viz.pictures import to_uint8
from .bodies import RequestError, json_object
from .service import DrawService, is_ensemble

PREFIX = "/api/explain"
MAX_JOBS = 8
GET_ROUTES = {"/weights", "/ablation-accuracy", "/mistakes", "/mistakes/cell"}
POST_ROUTES = {"", "/activations", "/untrained", "/ablate", "/ablation-accuracy", "/neighbours", "/probe"}


class ExplainAPI:
    """The "look inside" routes for one ``Explainer``; jobs (test accuracy without a unit) run in threads."""

    def __init__(self, explainer, log=None):
        self.explainer = explainer
        self.log = log
        self.jobs = {}
        self.job_ids = itertools.count(1)
        self.jobs_lock = threading.Lock()

    def routes(self, path):
        return path == PREFIX or path.startswith(PREFIX + "/")

    def warm_up_in_background(self):
        """Build the nearest-neighbour indices and the test predictions now, in a daemon thread (a failure is left
        for the view that needs them to report)."""
        def warm_up():
            try:
                self.explainer.warm_up()
            except Exception:  # noqa: BLE001 - the views that need these report the same error when asked
                pass
        thread = threading.Thread(target=warm_up, name="explain-warm-up", daemon=True)
        thread.start()
        return thread

    def handle(self, method, path, query="", body=b"", content_type="application/json"):
        route = path[len(PREFIX):]
        if route not in GET_ROUTES | POST_ROUTES:
            raise RequestError(404, f"no such page: {path[:100]}")
        allowed = [verb for verb, routes in (("GET", GET_ROUTES), ("POST", POST_ROUTES)) if route in routes]
        if method not in allowed:
            raise RequestError(405, f"use {' or '.join(allowed)} for {path[:100]}")
        start = time.perf_counter()
        try:
            if method == "GET":
                status, payload = self.get(route, parse_query(query))
            else:
                if content_type != "application/json":
                    raise RequestError(415, f"expected Content-Type application/json, got {content_type!r}")
                status, payload = self.post(route, json_object(body))
        except ExplainError as error:
            raise RequestError(400, str(error)) from None
        except LookupError as error:       # no training or test digits for this model
            raise RequestError(503, str(error)) from None
        payload["milliseconds"] = round((time.perf_counter() - start) * 1000, 3)
        return status, payload

    def get(self, route, fields):
        explainer = self.explainer
        if route == "/weights":
            return 200, encode_weights(explainer.first_layer_weights())
        if route == "/mistakes":
            return 200, explainer.mistakes()
        if route == "/mistakes/cell":
            return 200, explainer.mistake_cell(whole(fields, "true"), whole(fields, "predicted"))
        return 200, self.job(whole(fields, "job"))

    def post(self, route, request):
        explainer = self.explainer
        if route == "":
            versus = request.get("versus", "runner-up")
            return 200, explainer.explain(pixels_of(request), optional_whole(request, "class"),
                                          versus if versus == "runner-up" else optional_whole(request, "versus"))
        if route == "/activations":
            return 200, {"layers": explainer.activations(pixels_of(request))}
        if route == "/untrained":
            return 200, explainer.untrained_saliency(pixels_of(request), optional_whole(request, "class"))
        if route == "/ablate":
            return 200, explainer.ablate(pixels_of(request), request.get("layer"), required_whole(request, "unit"),
                                         scale_of(request))
        if route == "/ablation-accuracy":
            return 202, self.start_job(request.get("layer"), required_whole(request, "unit"), scale_of(request))
        if route == "/neighbours":
            return 200, explainer.neighbours(pixels_of(request))
        kind = request.get("kind")
        if kind not in PROBES:
            raise RequestError(400, f"kind must be one of {', '.join(PROBES)}, got {str(kind)[:20]!r}")
        pixels = pixels_of(request) if kind == "inverted" else None
        return 200, explainer.probe(kind, pixels, optional_whole(request, "seed"))

    def start_job(self, layer, unit, scale):
        layer = None if layer is None else str(layer)
        self.explainer.ablate(np.zeros(784), layer, unit, scale)     # a bad layer or unit is refused now
        with self.jobs_lock:
            running = [job for job in self.jobs.values() if job["state"] == "running"]
            if running:
                raise RequestError(409, "a test-accuracy job is already running; wait for it to finish")
            job_id = next(self.job_ids)
            job = self.jobs[job_id] = {"job": job_id, "state": "running", "done": 0, "total": None, "result": None}
            for old in sorted(self.jobs)[:-MAX_JOBS]:
                del self.jobs[old]

        def progress(done, total):
            job["done"], job["total"] = done, total

        def work():
            try:
                job["result"] = self.explainer.accuracy_without(layer, unit, scale, progress=progress)
                job["state"] = "done"
            except (ExplainError, LookupError) as error:
                job["error"], job["state"] = one_line(error), "failed"
            except Exception as error:  # a bug: the job says it failed (never "running" for ever), the log hears it
                job["error"], job["state"] = f"the test-accuracy job failed: {one_line(error, named=True)}", "failed"
                if self.log is not None:
                    self.log("test-accuracy job failed: " + traceback.format_exc().strip().replace("\n", " | "))

        started = dict(job)
        threading.Thread(target=work, name=f"explain-job-{job_id}", daemon=True).start()
        return started

    def job(self, job_id):
        with self.jobs_lock:
            if job_id not in self.jobs:
                raise RequestError(404, f"no such job: {job_id}")
            return dict(self.jobs[job_id])


def one_line(error, named=False):
    """An exception as one line of at most 300 characters (``Type: message`` with ``named``)."""
    text = " ".join(str(error).split()) or type(error).__name__
    return (f"{type(error).__name__}: {text}" if named else text)[:300]


def parse_query(query):
    try:
        fields = urllib.parse.parse_qs(query, strict_parsing=bool(query), max_num_fields=4)
    except ValueError:
        raise RequestError(400, "malformed query string") from None
    if any(len(values) > 1 for values in fields.values()):
        raise RequestError(400, "each query parameter may appear once")
    return {name: values[0] for name, values in fields.items()}


def whole(fields, name):
    text = fields.get(name)
    if text is None or not (text.isdigit() and len(text) < 10):
        raise RequestError(400, f"{name} must be a whole number, got {str(text)[:20]!r}")
    return int(text)


def optional_whole(request, name):
    value = request.get(name)
    if value is not None and (type(value) is not int or not -2 ** 31 < value < 2 ** 31):
        raise RequestError(400, f"{name} must be a whole number, got {str(value)[:20]}")
    return value


def required_whole(request, name):
    if request.get(name) is None:
        raise RequestError(400, f"{name} is required")
    return optional_whole(request, name)


def scale_of(request):
    scale = request.get("scale", 0.0)
    if type(scale) not in (int, float) or not -10.0 <= scale <= 10.0:
        raise RequestError(400, f"scale must be a number from -10 to 10, got {str(scale)[:20]}")
    return float(scale)


def pixels_of(request):
    pixels = request.get("pixels")
    if not isinstance(pixels, list) or len(pixels) != 784:
        size = len(pixels) if isinstance(pixels, list) else type(pixels).__name__
        raise RequestError(400, f"pixels must be a list of 784 numbers in [0, 1], got {size}")
    try:
        values = np.array(pixels, dtype=np.float64)
    except (ValueError, TypeError):
        raise RequestError(400, "pixels must be a list of 784 numbers in [0, 1]") from None
    if any(type(value) not in (int, float) for value in pixels) or not np.all((values >= 0) & (values <= 1)):
        raise RequestError(400, "pixels must be a list of 784 numbers in [0, 1]")
    return values


def encode_weights(weights):
    """Each weight picture (or kernel) scaled to its largest magnitude, as bytes 0..254 (127: zero), with its scale
    (``viz.pictures.to_uint8``)."""
    levels, scale = to_uint8(weights["values"])
    return {"layer": weights["layer"], "kind": weights["kind"], "shape": weights["shape"],
            "scale": scale.tolist(), "bytes": base64.b64encode(levels.tobytes()).decode()}


def explain_api_for(service, train_set=None, log=None):
    """An ``ExplainAPI`` for a ``DrawService``'s model, with its test digits and ``train_set`` (a function
    returning the training digits, or None for those of the data set the model was trained on). The explainer
    works on a copy of the model, so that it never disturbs the draw view's predictions. For an ensemble, an
    ``EnsembleExplainAPI``: the same routes, for the member that ``?member=K`` names."""
    from ..explain import Explainer
    from ..serialization.npz import model_from_config
    if is_ensemble(service.model):   # one member at a time, chosen with ?member=K
        return EnsembleExplainAPI(service, train_set, log)
    if train_set is None:
        train_set = lambda: training_digits(service.metadata)  # noqa: E731
    # A copy of its own: layers keep their forward state, and the draw view predicts with the original.
    model = model_from_config({"type": type(service.model).__name__, "config": service.model.config()},
                              initialize=False).astype(service.model.dtype)
    model.load_state_dict(service.model.state_dict())
    metadata = {**service.metadata, "input_shape": list(service.input_shape)}   # as the draw view feeds it
    explainer = Explainer(model, metadata, train_set=train_set, test_set=service.test_set,
                          class_names=service.class_names)
    return ExplainAPI(explainer, log)


def training_digits(metadata):
    from ..datasets import load_dataset
    name = metadata.get("dataset") or "mnist"
    return load_dataset(name, validation_size=0).train


class EnsembleExplainAPI:
    """The Look inside routes for an ensemble's ``DrawService``: ``?member=K`` picks the member, whose own
    ``ExplainAPI`` (built on first use) answers the request."""

    def __init__(self, service, train_set=None, log=None):
        self.service, self.log = service, log
        members = service.model.members
        metadata = {key: value for key, value in service.metadata.items()
                    if key not in ("ensemble", "test_accuracy", "training")}
        self.member_services = [DrawService(member, metadata, name=name, test_set=service.test_set)
                                for name, member in zip(service.model.names, members, strict=True)]
        self.train_set = shared(train_set or (lambda: training_digits(service.metadata)))
        self.apis = [None] * len(members)
        self.lock = threading.Lock()

    def handle(self, method, path, query="", body=b"", content_type="application/json"):
        fields = parse_query(query)
        count = len(self.apis)
        text = fields.pop("member", None)
        if text is None:
            raise RequestError(400, f"the page's model is an ensemble of {count} models; Look inside explains one "
                                    f"member at a time: add member=0..{count - 1} to the query")
        if not (text.isdigit() and int(text) < count):
            raise RequestError(400, f"member must be a whole number from 0 to {count - 1}, got {text[:20]!r}")
        return self.api(int(text)).handle(method, path, urllib.parse.urlencode(fields), body, content_type)

    def api(self, member):
        with self.lock:
            if self.apis[member] is None:
                self.apis[member] = explain_api_for(self.member_services[member], self.train_set, self.log)
            return self.apis[member]


def shared(load):
    """``load``, called once however many members ask (the training digits are tens of megabytes)."""
    lock, result = threading.Lock(), []

    def once():
        with lock:
            if not result:
                result.append(load())
            return result[0]
    return once
