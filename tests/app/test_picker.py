"""The page's model picker and how ``nnscratch draw`` starts: the list of models (the given one, the models folder,
the given model's folder, the run in training), choosing one, refusals that leave the draw view's model as it
was, a finished run that joins the list instead of replacing the model, and the browser and port the command
opens by default."""
import os
import socket
import threading
import time
from types import SimpleNamespace

import numpy as np
import pytest

from nnscratch import Linear, ReLU, Sequential
from nnscratch.app import DrawServer, DrawService
from nnscratch.app.training_session import TrainingSession
from nnscratch.cli import draw as draw_command
from nnscratch.cli import main
from nnscratch.serialization import load_model, save_model
from tests.app.test_api import canvas, drawing_payload, post_json, request, vertical_bar


def mlp(hidden, seed):
    return Sequential(Linear(784, hidden, rng=seed), ReLU(), Linear(hidden, 10, rng=seed + 1))


def save(path, hidden, seed=0, metadata=None):
    path.parent.mkdir(parents=True, exist_ok=True)
    save_model(path, mlp(hidden, seed), {"test_accuracy": 0.5, **(metadata or {})})
    return path


@pytest.fixture
def folders(tmp_path):
    """models/ with a.npz and (newer) b.npz; elsewhere/ with the given g.npz and h.npz beside it."""
    save(tmp_path / "models" / "a.npz", 8, 0)
    save(tmp_path / "models" / "b.npz", 12, 2)
    os.utime(tmp_path / "models" / "a.npz", (1_000_000, 1_000_000))
    given = save(tmp_path / "elsewhere" / "g.npz", 16, 4)
    save(tmp_path / "elsewhere" / "h.npz", 20, 6)
    return SimpleNamespace(root=tmp_path, models=tmp_path / "models", given=given)


def start(service, models_dir, given_paths=(), training=None):
    log = []
    server = DrawServer(service, "127.0.0.1", 0, log=log.append, models_dir=models_dir, given_paths=given_paths,
                        training=training)
    if training is not None:
        training.on_saved = server.use_run
    server.heard = log
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def stop(server):
    server.shutdown()
    server.server_close()
    assert server.heard == [], server.heard


@pytest.fixture
def server(folders):
    model, metadata = load_model(folders.given)
    server = start(DrawService(model, metadata, name="g.npz", test_set=None), str(folders.models), [folders.given])
    yield server
    stop(server)


def choose(server, entry_id, content_type="application/json"):
    import json
    body = entry_id if isinstance(entry_id, bytes) else json.dumps({"id": entry_id}).encode()
    status, _, answer = request(server, "POST", "/api/model", body, {"Content-Type": content_type})
    return status, answer


def listing(server):
    status, _, answer = request(server, "GET", "/api/models")
    assert status == 200, answer
    return answer


def answer_of(server, model):
    """The page's probabilities for a drawn bar, and what ``model`` says of the same prepared digit."""
    _, _, answer = post_json(server, drawing_payload(canvas(vertical_bar)))
    digit = np.array(answer["preview"], dtype=np.float32)[None]
    return np.array(answer["probabilities"]), model.predict_proba(digit)[0]


def test_the_list_holds_the_given_model_the_models_folder_newest_first_and_the_given_folder(server, folders):
    answer = listing(server)
    models = str(folders.models)
    elsewhere = str(folders.given.parent)
    assert [(entry["id"], entry["name"], entry["kind"]) for entry in answer["models"]] == [
        ("given", "g.npz", "given"), (os.path.join(models, "b.npz"), "b.npz", "file"),
        (os.path.join(models, "a.npz"), "a.npz", "file"), (os.path.join(elsewhere, "h.npz"), "h.npz", "file")]
    assert answer["current"] == "given"
    assert answer["models"][1]["folder"] == models


def test_choosing_a_model_makes_the_draw_view_answer_with_it(server, folders):
    b_id = os.path.join(str(folders.models), "b.npz")
    status, answer = choose(server, b_id)
    assert status == 200 and answer["name"] == "b.npz" and answer["architecture"] == "784 → 12 ReLU → 10", answer
    assert request(server, "GET", "/api/model")[2]["name"] == "b.npz"
    assert listing(server)["current"] == b_id
    page, expected = answer_of(server, load_model(folders.models / "b.npz")[0])
    np.testing.assert_allclose(page, expected, atol=1e-5)
    status, _, weights = request(server, "GET", "/api/explain/weights")   # Look inside follows the choice
    assert status == 200 and weights["shape"] == [12, 28, 28], weights
    status, answer = choose(server, "given")
    assert status == 200 and answer["name"] == "g.npz" and listing(server)["current"] == "given"


@pytest.mark.parametrize("entry_id, content_type, status, message", [
    ("nothing.npz", "application/json", 404, "no model 'nothing.npz' in the list"),
    ("../../../etc/passwd", "application/json", 404, "in the list"),
    ("run", "application/json", 409, "no run is training now"),
    (b'{"id": 3}', "application/json", 400, "id must be one of the ids"),
    (b"[1]", "application/json", 400, "expected a JSON object"),
    (b'{"id": "given"}', "text/plain", 415, "expected Content-Type application/json"),
])
def test_refused_choices_leave_the_model_as_it_was(server, entry_id, content_type, status, message):
    got, answer = choose(server, entry_id, content_type)
    assert got == status and message in answer["error"], (got, answer)
    assert request(server, "GET", "/api/model")[2]["name"] == "g.npz"


def test_files_that_cannot_answer_are_refused_in_one_line(server, folders):
    (folders.models / "broken.npz").write_bytes(b"not a model at all")
    save_model(folders.models / "small.npz", Sequential(Linear(256, 8, rng=0), ReLU(), Linear(8, 10, rng=1)))
    for name, says in (("broken.npz", "broken.npz cannot answer on this page"), ("small.npz", "28×28")):
        status, answer = choose(server, os.path.join(str(folders.models), name))
        assert status == 400 and says in answer["error"] and "\n" not in answer["error"], (name, answer)
        assert request(server, "GET", "/api/model")[2]["name"] == "g.npz"


def fake_run(path):
    x = np.random.default_rng(1).random((5, 784), dtype=np.float32)
    return SimpleNamespace(data=SimpleNamespace(test=(x, np.arange(5))), out=str(path))


def test_a_finished_run_joins_the_list_and_the_draw_view_keeps_its_model(server, folders):
    path = save(folders.models / "page-mlp-run.npz", 24, 8)
    note = server.use_run(str(path), fake_run(path))
    assert note == "the Draw view keeps g.npz: pick page-mlp-run.npz in the model menu to draw with it", note
    assert request(server, "GET", "/api/model")[2]["name"] == "g.npz"
    ids = [entry["id"] for entry in listing(server)["models"]]
    assert str(path) in ids, ids
    status, answer = choose(server, str(path))
    assert status == 200 and answer["name"] == "page-mlp-run.npz"


def test_without_a_model_the_first_run_becomes_the_draw_views(folders):
    server = start(None, str(folders.models))
    try:
        assert listing(server)["current"] is None
        path = save(folders.models / "page-mlp-run.npz", 24, 8)
        assert server.use_run(str(path), fake_run(path)) == "the Draw view now uses it"
        assert request(server, "GET", "/api/model")[2]["name"] == "page-mlp-run.npz"
        assert listing(server)["current"] == str(path)
        other = save(folders.models / "page-mlp-later.npz", 24, 10)   # now there is a model: the next run is listed
        assert "keeps page-mlp-run.npz" in server.use_run(str(other), fake_run(other))
    finally:
        stop(server)


def test_during_a_run_the_picker_offers_it_and_the_draw_view_follows_it_only_when_picked(folders, use_loader):
    from tests.app.test_train_api import SMALL, fake_digits, post, wait_for
    use_loader(fake_digits)
    model, metadata = load_model(folders.given)
    session = TrainingSession(folders.models, publish_seconds=0.02, probe_every=5, probe_share=1.0)
    server = start(DrawService(model, metadata, name="g.npz"), str(folders.models), [folders.given], session)
    try:
        assert post(server, "/api/train", {**SMALL, "epochs": 200})[0] == 202
        wait_for(server, lambda answer: answer["step"] >= 5, what="five batches")
        assert request(server, "GET", "/api/model")[2]["name"] == "g.npz", "the run replaced the model unasked"
        run = next(entry for entry in listing(server)["models"] if entry["kind"] == "run")
        assert run["id"] == "run" and run["name"].endswith(".npz (training now)"), run
        status, answer = choose(server, "run")
        assert status == 200 and answer["name"].endswith(".npz (training)"), answer
        assert listing(server)["current"] == "run"
        assert choose(server, "given")[1]["name"] == "g.npz"
        assert post(server, "/api/train/stop")[0] == 202
        ended = wait_for(server, lambda answer: answer["state"] == "stopped", what="stopping")
        assert f"the Draw view keeps g.npz: pick {ended['model']} in the model menu" in ended["message"], ended
        assert request(server, "GET", "/api/model")[2]["name"] == "g.npz"
        names = [entry["name"] for entry in listing(server)["models"]]
        assert ended["model"] in names and not any(name.endswith("(training now)") for name in names), names
    finally:
        stop(server)


# ---- how nnscratch draw starts ----------------------------------------------------------------------------------

@pytest.fixture
def interrupted(monkeypatch):
    """``nnscratch draw`` in this process, stopped as by Ctrl+C as soon as it serves; the URLs webbrowser was asked
    to open are in ``opened`` (as the browser thread adds them)."""
    opened, asked = [], threading.Event()

    def serve_forever(self, poll_interval=0.5):
        raise KeyboardInterrupt

    def open_url(url, *args, **kwargs):
        opened.append(url)
        asked.set()
        return True
    monkeypatch.setattr(DrawServer, "serve_forever", serve_forever)
    monkeypatch.setattr(draw_command.webbrowser, "open", open_url)
    return SimpleNamespace(opened=opened, asked=asked)


def url_port(out):
    return int(out.split("http://127.0.0.1:", 1)[1].split("/")[0])


def test_draw_opens_the_page_in_the_browser_unless_told_not_to(folders, interrupted, monkeypatch, capsys):
    monkeypatch.setenv("DISPLAY", ":0")
    assert main(["draw", str(folders.given), "--port", "0"]) == 0
    assert interrupted.asked.wait(10), "the browser was not asked to open the page"
    out = capsys.readouterr().out
    assert interrupted.opened == [f"http://127.0.0.1:{url_port(out)}/"], (interrupted.opened, out)
    interrupted.opened.clear()
    assert main(["draw", str(folders.given), "--port", "0", "--no-browser"]) == 0
    time.sleep(0.2)
    assert interrupted.opened == [], "--no-browser opened the browser"


def test_without_a_desktop_draw_says_where_to_go_instead_of_opening_a_browser(folders, interrupted, monkeypatch,
                                                                              capsys):
    for name in draw_command.DESKTOP_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(draw_command.sys, "platform", "linux")
    assert main(["draw", str(folders.given), "--port", "0"]) == 0
    out = capsys.readouterr().out
    assert "No desktop to open a browser on: open the address above in yours." in out, out
    time.sleep(0.2)
    assert interrupted.opened == []


def port_is_free(port):
    probe = socket.socket()
    try:
        probe.bind(("127.0.0.1", port))
        return True
    except OSError:
        return False
    finally:
        probe.close()


def test_draw_listens_on_the_same_port_every_time_and_on_a_free_one_when_that_is_taken(folders, interrupted,
                                                                                       capsys):
    command = ["draw", str(folders.given), "--no-browser"]
    if port_is_free(draw_command.DEFAULT_PORT):
        for _ in range(2):
            assert main(command) == 0
            assert url_port(capsys.readouterr().out) == draw_command.DEFAULT_PORT
    holder = socket.socket()
    try:
        holder.bind(("127.0.0.1", draw_command.DEFAULT_PORT))
        holder.listen()
    except OSError:
        pass   # another program holds it already: the same case
    try:
        assert main(command) == 0
        out = capsys.readouterr().out
        assert f"Port {draw_command.DEFAULT_PORT} is in use" in out and url_port(out) != draw_command.DEFAULT_PORT, out
        assert main([*command, "--port", str(draw_command.DEFAULT_PORT)]) == 2   # a port asked for is not replaced
        assert f"cannot listen on 127.0.0.1:{draw_command.DEFAULT_PORT}" in capsys.readouterr().err
    finally:
        holder.close()
