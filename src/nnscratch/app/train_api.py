"""The HTTP side of the page's Train view: the ``/api/train`` routes, on a ``TrainingSession``.

The server's route table hands every ``/api/train...`` request here (``handle(request) -> (status, payload)``)
after its Host and Origin checks; bodies are read with its size caps, must be JSON (``Content-Type:
application/json``) and hold a JSON object, and a bad request raises ``RequestError`` (a 4xx and one line).
The routes are listed in the server's module docstring.

``GET /api/train/events`` is a Server-Sent Events stream. It starts with a ``state`` event (the snapshot and the
whole history so far), then sends the latest snapshot as a ``tick`` whenever one is newer than the last it sent
(stale ones are skipped: a slow client never makes a queue grow), each new epoch record as an ``epoch`` event,
and one ``done``, ``stopped`` or ``error`` event when a run ends; a comment line every ``keep_alive_seconds``
keeps proxies and browsers from giving up. A new run on the same stream begins with a new ``state`` event. The
stream ends when the client goes away (noticed within half a second) or the server shuts down.
"""
import json
import select

from ..runs import SettingsError
from .bodies import RequestError
from .request import Bytes, whole_number_text
from .training_session import ENDED, Conflict

PREFIX = "/api/train"
CONTROLS = ("pause", "resume", "step", "stop")
GET_ROUTES = ("/events", "/weights", "/history", "/options")
POST_ROUTES = ("", "/settings", *(f"/{control}" for control in CONTROLS))
POLL_SECONDS = 0.5
CHANGEABLE = ("lr", "batch_size", "steps_per_second")


def routes(path):
    return path == PREFIX or path.startswith(PREFIX + "/")


def handle(request):
    """``(status, payload)`` for one ``/api/train...`` request (``request.Request``); the event stream answers by
    itself (payload None)."""
    route = request.path[len(PREFIX):]
    allowed = [verb for verb, known in (("GET", GET_ROUTES), ("POST", POST_ROUTES)) if route in known]
    if not allowed:
        raise request.refuse(404, f"no such page: {request.path[:100]}")
    if request.method not in allowed:
        raise request.refuse(405, f"use {' or '.join(allowed)} for {request.path[:100]}")
    session = request.server.training
    if request.method == "POST":
        return post(session, route, request.json(empty_is={}))
    if route == "/events":
        stream_events(request.handler, session)
        return 200, None
    if route == "/weights":
        return weights(session, request)
    if route == "/history":
        return 200, session.history()
    return 200, options()


def post(session, route, body):
    try:
        if route == "":
            run = session.start(body)
            return 202, {"run": run, "state": session.latest().state, "settings": session.latest().settings}
        if route == "/settings":
            unknown = sorted(set(body) - set(CHANGEABLE))
            if unknown:
                raise RequestError(400, f"only {', '.join(CHANGEABLE)} can change during a run, got "
                                        f"{', '.join(unknown)}")
            state = session.change(**{name: body.get(name) for name in CHANGEABLE})
            return 202, {"state": state, "applies": "at the next batch", **body}
        if body:
            raise RequestError(400, f"{route[1:]} takes no settings; send {{}}")
        state = getattr(session, route[1:])()
        return 202, {"state": state, "control": route[1:]}
    except SettingsError as error:
        raise RequestError(400, str(error)) from None
    except ValueError as error:
        raise RequestError(400, str(error)) from None
    except Conflict as error:
        raise RequestError(409, str(error)) from None
    except OSError as error:   # the data cannot be read or fetched
        raise RequestError(503, f"cannot load the data: {error}") from None


def weights(session, request):
    fields = request.fields({"version"})
    version = whole_number_text(fields["version"], "version", 11) if "version" in fields else None
    try:
        version, data, shape = session.weights(version)
    except KeyError as error:
        raise RequestError(404, error.args[0]) from None
    return 200, Bytes(data, "application/octet-stream",
                      {"X-Weights-Shape": ",".join(map(str, shape)), "X-Weights-Version": str(version),
                       "X-Replay-Versions": ",".join(map(str, session.replay_versions()))})


def options():
    """What the page's settings form offers: the presets and the defaults."""
    from ..presets import PRESETS
    from ..runs.build import ARCHITECTURES
    from ..runs.table import DEFAULTS, form
    return {"presets": {name: preset.description for name, preset in PRESETS.items()},
            "architectures": list(ARCHITECTURES),
            "preset_settings": {name: preset.settings for name, preset in PRESETS.items()},
            "defaults": {name: value for name, value in DEFAULTS.items() if name != "data"},
            "settings": [row for row in form() if row["name"] != "data"]}  # kind, default, help, choices


# ---- the event stream -----------------------------------------------------------------------------------------
def stream_events(handler, session):
    handler.close_connection = True  # the stream has no length: it ends when the connection closes
    handler.send_response(200)
    handler.send_header("Content-Type", "text/event-stream; charset=utf-8")
    for name, value in handler.security_headers().items():
        handler.send_header(name, value)
    handler.send_header("Connection", "close")
    handler.end_headers()
    server = handler.server
    with server.listeners_lock:
        server.listeners += 1
    try:
        follow(handler, session, server.keep_alive_seconds)
    except (BrokenPipeError, ConnectionResetError, ConnectionAbortedError, TimeoutError, OSError):
        pass  # the client went away
    finally:
        with server.listeners_lock:
            server.listeners -= 1


def follow(handler, session, keep_alive_seconds):
    history = session.history()
    snapshot = session.latest()
    send_event(handler, "state", {**history, **snapshot.public(), "losses": history["losses"],
                                  "losses_from": 1, "probes": history["probes"]})
    run, records = snapshot.run, len(history["history"])
    ended_sent = snapshot.state in ENDED
    version, quiet = snapshot.version, 0.0
    while not (handler.server.shutting_down or session.closed):
        snapshot = session.wait(version, POLL_SECONDS)
        if client_gone(handler):
            return
        if snapshot.version == version:
            quiet += POLL_SECONDS
            if quiet >= keep_alive_seconds:
                handler.wfile.write(b": keep-alive\n\n")
                handler.wfile.flush()
                quiet = 0.0
            continue
        quiet, version = 0.0, snapshot.version
        if snapshot.run != run:   # a new run: start afresh
            history = session.history()
            send_event(handler, "state", {**history, "losses_from": 1})
            run, records, ended_sent = snapshot.run, len(history["history"]), False
            continue
        for record in session.records_since(run, records):
            send_event(handler, "epoch", record)
            records += 1
        if snapshot.state in ENDED:
            if not ended_sent:
                send_event(handler, snapshot.state, snapshot.public())
                ended_sent = True
        else:
            send_event(handler, "tick", snapshot.public())


def send_event(handler, name, data):
    text = json.dumps(data, allow_nan=False, separators=(",", ":"))
    handler.wfile.write(f"event: {name}\ndata: {text}\n\n".encode())
    handler.wfile.flush()


def client_gone(handler):
    """Whether the client has closed its end (its socket reads as ready with nothing in it)."""
    try:
        readable, _, _ = select.select([handler.connection], [], [], 0)
        if not readable:
            return False
        import socket
        return handler.connection.recv(1, socket.MSG_PEEK) == b""
    except (OSError, ValueError):
        return True
