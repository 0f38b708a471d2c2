"""The page's model picker: the models the draw view can answer with, and choosing one of them.

The list holds the model (or ensemble) given to ``nnscratch draw``, every ``*.npz`` file in the folder where the
Train view saves its runs and in the given models' folders (newest first), and, while the Train view trains, its
run as it learns. A finished run is added to the list and the draw view keeps its model until the user picks
another; only a draw view without a model (or one following the run) takes the run's model by itself. The client
names an entry by the ``id`` the list gave it, and only listed files are loaded: no path a client sends reaches
the file system.

- ``GET /api/models``: ``{"models": [{"id", "name", "kind": "given" | "file" | "run", "folder"?}], "current"}``;
- ``POST /api/model`` ``{"id"}``: the draw view answers with that entry from now on; the answer is the model's
  description, as ``GET /api/model`` gives it. ``404`` for an id that is not listed, ``400`` for a file that
  cannot be read or cannot answer on the page (the draw view keeps its model), ``409`` for the run when no run is
  training.
"""
import os

from .bodies import RequestError, json_object
from .training_session import ACTIVE

GIVEN, RUN = "given", "run"
MAX_FILES = 200


def model_files(server):
    """``(id, path)`` of each ``.npz`` file in the server's model folders, newest first in each folder; the id is
    the path as the folder was given (``models/NAME.npz``). A single given model is listed once, as ``given``."""
    skip = {os.path.realpath(path) for path in server.given_paths} if len(server.given_paths) == 1 else set()
    files = []
    for folder in server.model_folders():
        try:
            entries = [(entry.stat().st_mtime, entry.name, entry.path) for entry in os.scandir(folder)
                       if entry.name.endswith(".npz") and entry.is_file()]
        except OSError:   # no such folder yet (the first run creates it), or unreadable
            continue
        for _, name, path in sorted(entries, key=lambda entry: (-entry[0], entry[1])):
            real = os.path.realpath(path)
            if real not in skip:
                skip.add(real)
                files.append((os.path.join(folder, name), path))
    return files[:MAX_FILES]


def listing(server):
    """The picker's entries and the id of the one the draw view answers with (None when it has no model)."""
    entries = [] if server.given is None else [{"id": GIVEN, "name": server.given.name, "kind": "given"}]
    entries += [{"id": entry_id, "name": os.path.basename(path), "kind": "file",
                 "folder": os.path.dirname(entry_id) or "."} for entry_id, path in model_files(server)]
    live = server.training.live()
    if live is not None:
        entries.append({"id": RUN, "name": f"{os.path.basename(live[0].out)} (training now)", "kind": "run"})
    current = RUN if live is not None and server.follows_run() else server.current
    return {"models": entries, "current": current}


def choose(server, entry_id):
    """Make the entry ``entry_id`` the draw view's model; ``RequestError`` when it cannot be."""
    if entry_id == GIVEN and server.given is not None:
        return server.use_model(server.given, GIVEN)
    if entry_id == RUN:
        if server.training.latest().state not in ACTIVE:
            raise RequestError(409, "no run is training now: start one in the Train view")
        return server.follow_run()
    path = dict(model_files(server)).get(entry_id)
    if path is None:
        raise RequestError(404, f"no model {str(entry_id)[:100]!r} in the list (GET /api/models lists them)")
    return server.use_model(load_service(server, path), entry_id)


def load_service(server, path):
    """A ``DrawService`` for the model file at ``path``, with the test digits of the data set it was trained on."""
    from ..serialization import load_model
    from .service import DrawService
    name = os.path.basename(path)
    try:
        model, metadata = load_model(path)
        return DrawService(model, metadata, name=name, test_set=server.test_digits(metadata))
    except (ValueError, OSError) as error:   # ModelFileError is a ValueError
        raise RequestError(400, f"{name} cannot answer on this page: {str(error)[:200]}") from None


def handle(handler, method):
    """``GET /api/models`` and ``POST /api/model``."""
    server = handler.server
    if method == "GET":
        return handler.send_json(200, listing(server))
    if handler.headers.get_content_type() != "application/json":
        handler.close_connection = True
        raise RequestError(415, f"expected Content-Type application/json, got {handler.headers.get_content_type()!r}")
    entry_id = json_object(handler.read_body(), 'a JSON object {"id": ...}').get("id")
    if not isinstance(entry_id, str):
        raise RequestError(400, f"id must be one of the ids GET /api/models lists, got {str(entry_id)[:40]}")
    choose(server, entry_id)
    service = server.draw_service()
    return handler.send_json(200, service.describe() if service else {"name": None})
