"""The page's Train API over real loopback connections: every control in every state, the event stream as a
client parses it, clients that go away, two clients racing, and a run that ends with the same weights as the
``train`` command's."""
import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time

import numpy as np
import pytest

from nnscratch.app import DrawServer
from nnscratch.app.training_session import TrainingSession
from nnscratch.cli import main
from nnscratch.runs import TrainingData
from nnscratch.runs import run as run_module
from nnscratch.serialization import load_model

SMALL = {"layers": "784,32,10", "train_size": 600, "batch_size": 20, "seed": 3}


def fake_digits(settings):
    """Ten noisy prototypes of 784 pixels: learnable in a few epochs, loaded in a millisecond."""
    prototypes = np.random.default_rng(0).random((10, 784), dtype=np.float32)

    def split(count, seed):
        rng = np.random.default_rng(seed)
        y = rng.integers(0, 10, count)
        x = prototypes[y] + 0.4 * rng.standard_normal((count, 784), dtype=np.float32)
        return np.clip(x, 0, 1).astype(np.float32), y

    splits = [split(settings.get("train_size") or 1000, 1), split(300, 2), split(300, 3)]
    if settings.get("architecture") == "cnn":
        splits = [(x.reshape(len(x), 1, 28, 28), y) for x, y in splits]
    return TrainingData("mnist", [str(digit) for digit in range(10)], *splits)


@pytest.fixture
def server(use_loader, tmp_path):
    use_loader(fake_digits)
    log = []
    session = TrainingSession(tmp_path / "models", log=log.append, publish_seconds=0.02, probe_every=5,
                              probe_share=1.0)
    server = DrawServer(None, "127.0.0.1", 0, log=log.append, training=session)
    session.on_saved = server.use_run
    server.keep_alive_seconds = 0.5
    server.errors = log
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server
    server.shutdown()
    server.server_close()
    assert not [line for line in log if "server error" in line or "failed" in line], log


def request(server, method, path, body=None, headers=None):
    """(status, headers, answer): JSON bodies are sent with Content-Type application/json unless told."""
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=20)
    headers = dict(headers or {})
    data = None
    if body is not None:
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        headers.setdefault("Content-Type", "application/json")
    try:
        connection.request(method, path, body=data, headers=headers)
        response = connection.getresponse()
        raw = response.read()
        kind = response.getheader("Content-Type", "")
        return response.status, response, json.loads(raw) if kind == "application/json" else raw
    finally:
        connection.close()


def post(server, path, body=None):
    status, _, answer = request(server, "POST", path, {} if body is None else body)
    return status, answer


def history(server):
    return request(server, "GET", "/api/train/history")[2]


def wait_for(server, predicate, timeout=20, what="the condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        answer = history(server)
        if predicate(answer):
            return answer
        time.sleep(0.01)
    raise AssertionError(f"{what} did not happen within {timeout} s; last: state {answer['state']}, step "
                         f"{answer['step']}")


class EventStream:
    """A Server-Sent Events client: ``next()`` returns ``(event, data)``, skipping keep-alive comments (counted)."""

    def __init__(self, server, timeout=20):
        self.connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=timeout)
        self.connection.request("GET", "/api/train/events")
        self.socket = self.connection.sock
        self.response = self.connection.getresponse()
        assert self.response.status == 200
        assert self.response.getheader("Content-Type").startswith("text/event-stream")
        self.keep_alives = 0

    def next(self):
        event, data = None, []
        while True:
            line = self.response.fp.readline()
            if not line:
                raise EOFError("the stream ended")
            line = line.decode().rstrip("\n")
            if line.startswith(":"):
                self.keep_alives += 1
            elif line.startswith("event: "):
                event = line[7:]
            elif line.startswith("data: "):
                data.append(line[6:])
            elif line == "" and event:
                return event, json.loads("\n".join(data))

    def until(self, *names):
        seen = []
        while True:
            event, data = self.next()
            seen.append((event, data))
            if event in names:
                return seen

    def close(self):
        self.socket.shutdown(socket.SHUT_RDWR)
        self.socket.close()
        self.response.close()


# ---- starting -------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("settings, message", [
    ({"lr": -1}, "lr must be positive, got -1"),
    ({"batch_size": 0}, "batch_size must be at least 1, got 0"),
    ({"epochs": 1.5}, "epochs expects a whole number, got 1.5"),
    ({"dropout": 1}, "dropout must be in [0, 1)"),
    ({"learning_rate": 0.1}, "unknown setting learning_rate"),
    ({"preset": "nope"}, "nope"),
    ({"out": "/etc/x.npz"}, "out cannot be set here"),
    ({"layers": "784,16,3"}, "layers 784,16,3 has 3 outputs, but mnist has 10 classes"),
])
def test_bad_settings_are_refused_with_the_train_commands_message(server, settings, message):
    status, answer = post(server, "/api/train", settings)
    assert status == 400 and message in answer["error"], (status, answer)
    assert history(server)["state"] == "idle"
    status, answer = post(server, "/api/train", {**SMALL, "epochs": 1})
    assert status == 202, answer


@pytest.mark.parametrize("body, headers, status", [
    (b"lr=0.1", {"Content-Type": "application/x-www-form-urlencoded"}, 415),
    (b"{}", {"Content-Type": "text/plain"}, 415),
    (b"[1, 2]", {}, 400),
    (b"{\"lr\": NaN}", {}, 400),
    (b"{\"lr\":", {}, 400),
    (b"{}", {"Origin": "http://evil.example"}, 403),
    (b"{}", {"Host": "evil.example"}, 403),
])
def test_malformed_or_foreign_requests_to_start_are_refused(server, body, headers, status):
    got, response, answer = request(server, "POST", "/api/train", body, headers)
    assert got == status and "error" in answer, (got, answer)
    assert history(server)["state"] == "idle"


def test_a_body_over_the_cap_and_unknown_train_routes_are_refused(server):
    status, _, answer = request(server, "POST", "/api/train", b"{}", {"Content-Length": str(10 ** 8)})
    assert status == 413, answer
    assert request(server, "GET", "/api/train/nothing")[0] == 404
    assert request(server, "GET", "/api/train/pause")[0] == 405
    assert request(server, "POST", "/api/train/events", {})[0] == 405
    assert request(server, "GET", "/api/train/weights?version=x")[0] == 400
    assert request(server, "GET", "/api/train/weights")[0] == 404  # nothing published yet


def test_controls_without_a_run_conflict_and_a_second_start_conflicts(server):
    for control in ("pause", "resume", "step", "stop"):
        status, answer = post(server, f"/api/train/{control}")
        assert status == 409 and "no run is training" in answer["error"], (control, status, answer)
    assert post(server, "/api/train/settings", {"lr": 0.1})[0] == 409
    status, answer = post(server, "/api/train", {**SMALL, "epochs": 50})
    assert status == 202 and answer["run"] == 1, answer
    status, answer = post(server, "/api/train", SMALL)
    assert status == 409 and "already" in answer["error"], answer
    assert post(server, "/api/train/stop")[0] == 202
    wait_for(server, lambda answer: answer["state"] == "stopped", what="stopping")
    assert post(server, "/api/train/stop")[0] == 409
    assert post(server, "/api/train", {**SMALL, "epochs": 1})[0] == 202  # after a run has ended, a new one starts


# ---- the controls ---------------------------------------------------------------------------------------------

def test_pause_step_change_resume_and_stop(server, tmp_path):
    assert post(server, "/api/train", {**SMALL, "epochs": 200})[0] == 202
    wait_for(server, lambda answer: answer["step"] >= 3, what="three batches")
    assert post(server, "/api/train/pause")[0] == 202
    paused = wait_for(server, lambda answer: answer["state"] == "paused", what="pausing")
    time.sleep(0.2)
    assert history(server)["step"] == paused["step"], "training went on while paused"
    assert post(server, "/api/train/pause")[0] == 202   # pausing twice is harmless
    assert post(server, "/api/train/step")[0] == 202
    stepped = wait_for(server, lambda answer: answer["step"] == paused["step"] + 1, what="one step")
    time.sleep(0.2)
    assert history(server)["step"] == stepped["step"] and history(server)["state"] == "paused"
    assert len(stepped["losses"]) == stepped["step"], "every batch's loss is in the history"

    status, answer = post(server, "/api/train/settings", {"lr": 0.05, "batch_size": 40})
    assert status == 202, answer
    changed = wait_for(server, lambda answer: answer["marks"], what="the change to be marked")
    assert changed["marks"] == [{"step": stepped["step"], "lr": 0.05, "batch_size": 40}]
    assert changed["lr"] == 0.05 and changed["batch_size"] == 40 and changed["state"] == "paused"

    assert post(server, "/api/train/resume")[0] == 202
    wait_for(server, lambda answer: answer["step"] >= stepped["step"] + 5 and answer["state"] == "running",
             what="resuming")
    assert post(server, "/api/train/stop")[0] == 202
    ended = wait_for(server, lambda answer: answer["state"] == "stopped", what="stopping")
    saved = tmp_path / "models" / ended["model"]
    assert saved.exists() and saved.with_suffix("").with_suffix(".history.json").exists(), ended
    assert ended["message"].startswith(f"saved as {ended['model']}")
    status, _, model = request(server, "GET", "/api/model")
    assert status == 200 and model["name"] == ended["model"], model
    assert request(server, "GET", "/api/test-digit?index=0")[0] == 200


@pytest.mark.parametrize("change, message", [
    ({"lr": 0}, "lr must be a positive number"), ({"lr": -0.1}, "lr must be"), ({"lr": "0.1"}, "lr must be"),
    ({"lr": True}, "lr must be"), ({"lr": 1e9}, "lr must be"), ({"batch_size": 0}, "batch_size must be"),
    ({"batch_size": 1.5}, "batch_size must be"), ({"batch_size": 601}, "in 1..600"),
    ({"momentum": 0.9}, "only lr, batch_size, steps_per_second can change"), ({}, "give lr, batch_size"),
    ({"steps_per_second": -1}, "steps_per_second must be"), ({"steps_per_second": "fast"}, "steps_per_second must"),
    ({"steps_per_second": 1e9}, "steps_per_second must be"),
])
def test_settings_out_of_range_are_refused_during_a_run(server, change, message):
    assert post(server, "/api/train", {**SMALL, "epochs": 200})[0] == 202
    assert post(server, "/api/train/pause")[0] == 202
    status, answer = post(server, "/api/train/settings", change)
    assert status == 400 and message in answer["error"], (status, answer)
    assert post(server, "/api/train/stop")[0] == 202
    ended = wait_for(server, lambda answer: answer["state"] == "stopped", what="stopping")
    assert ended["marks"] == []


def test_the_speed_control_holds_a_run_to_its_steps_per_second_and_can_be_lifted(server):
    assert post(server, "/api/train", {**SMALL, "epochs": 200})[0] == 202
    wait_for(server, lambda answer: answer["step"] >= 2, what="two batches")
    status, answer = post(server, "/api/train/settings", {"steps_per_second": 1})
    assert status == 202, answer
    limited = wait_for(server, lambda answer: answer["steps_per_second"] == 1, what="the limit to show")
    time.sleep(1.2)   # the step a snapshot shows may lag a few fast batches; at one batch a second, it catches up
    before = history(server)["step"]
    time.sleep(1.5)   # at most one batch a second: in 1.5 s at most two more, and one not yet shown before
    assert history(server)["step"] <= before + 3, (before, history(server)["step"])
    assert limited["marks"] == [], "a speed limit is not a setting of the run: it is not marked on the curves"
    assert post(server, "/api/train/settings", {"steps_per_second": 0})[0] == 202
    lifted = wait_for(server, lambda answer: answer["steps_per_second"] is None, what="the limit to go")
    wait_for(server, lambda answer: answer["step"] >= lifted["step"] + 20, what="full speed again")
    assert post(server, "/api/train/stop")[0] == 202
    wait_for(server, lambda answer: answer["state"] == "stopped", what="stopping")


def test_the_doctors_diagnoses_reach_the_health_strip(server):
    from nnscratch.doctor import CODES
    assert post(server, "/api/train", {"preset": "broken-lr", "train_size": 600, "epochs": 1})[0] == 202
    ended = wait_for(server, lambda answer: answer["state"] in ("done", "error"), what="the run to end")
    assert ended["diagnoses"], f"no diagnosis for lr 3.0 (the run ended {ended['state']}: {ended['message']})"
    first = ended["diagnoses"][0]
    assert set(first) == {"step", "epoch", "code", "message"} and first["code"] in CODES, first
    assert first["code"] == "lr-too-large", ended["diagnoses"]


def test_the_options_offer_every_architecture_the_presets_use(server):
    from nnscratch.presets import PRESETS
    options = request(server, "GET", "/api/train/options")[2]
    used = {preset.settings.get("architecture", "mlp") for preset in PRESETS.values()}
    assert used <= set(options["architectures"]), (used, options["architectures"])
    assert "cnn-small" in options["architectures"]


def test_step_at_the_end_and_stop_during_evaluation_conflict(server, monkeypatch):
    evaluating, release = threading.Event(), threading.Event()
    original = run_module.Run.evaluate

    def slow_evaluate(run):
        evaluating.set()
        release.wait(20)
        return original(run)

    monkeypatch.setattr(run_module.Run, "evaluate", slow_evaluate)
    assert post(server, "/api/train", {**SMALL, "epochs": 1})[0] == 202
    assert evaluating.wait(20)
    for control in ("stop", "pause", "step"):
        status, answer = post(server, f"/api/train/{control}")
        assert status == 409 and "evaluating" in answer["error"], (control, answer)
    assert post(server, "/api/train", SMALL)[0] == 409
    release.set()
    wait_for(server, lambda answer: answer["state"] == "done", what="the end")
    status, answer = post(server, "/api/train/step")
    assert status == 409 and "no run is training" in answer["error"], answer


# ---- the event stream -----------------------------------------------------------------------------------------

def test_the_event_stream_from_start_to_done(server, tmp_path):
    stream = EventStream(server)
    event, state = stream.next()
    assert event == "state" and state["state"] == "idle" and state["losses"] == []
    assert post(server, "/api/train", {**SMALL, "epochs": 3})[0] == 202
    events = stream.until("done", "stopped", "error")
    names = [name for name, _ in events]
    assert names[-1] == "done", names
    first = names.index("state")
    assert all(data["state"] == "starting" for _, data in events[:first]), events[:first]
    assert events[first][1]["run"] == 1 and events[first][1]["state"] == "running"
    events = events[first:]
    ticks = [data for name, data in events if name == "tick"]
    assert len(ticks) >= 3 and all(later["version"] > earlier["version"]
                                   for earlier, later in zip(ticks, ticks[1:], strict=False))
    assert ticks[-1]["step"] > ticks[0]["step"] and ticks[-1]["weights_shape"] == [32, 28, 28]
    assert all(tick["losses_from"] + len(tick["losses"]) - 1 == tick["step"] for tick in ticks), \
        "a tick's recent losses end at its step"
    assert ticks[-1]["health"][0]["name"] == "dense 784→32" and ticks[-1]["probes"]
    epochs = [data for name, data in events if name == "epoch"]
    saved = json.loads((tmp_path / "models" / events[-1][1]["model"].replace(".npz", ".history.json")).read_text())
    assert [record["epoch"] for record in epochs] == [1, 2, 3]
    assert epochs == saved["history"]["epochs"], "the epoch events are the history file's records"
    assert events[-1][1]["results"]["test"]["accuracy"] > 0.5
    stream.close()


def test_a_client_connecting_mid_run_first_gets_the_state_and_history(server):
    assert post(server, "/api/train", {**SMALL, "epochs": 200})[0] == 202
    wait_for(server, lambda answer: answer["records"] >= 1, what="the first epoch")
    assert post(server, "/api/train/pause")[0] == 202
    paused = wait_for(server, lambda answer: answer["state"] == "paused", what="pausing")
    stream = EventStream(server)
    event, state = stream.next()
    assert event == "state" and state["state"] == "paused" and state["step"] == paused["step"]
    assert len(state["losses"]) == paused["step"] and state["losses_from"] == 1
    assert len(state["history"]) >= 1 and state["history"][0]["epoch"] == 1
    assert post(server, "/api/train/step")[0] == 202
    event, tick = stream.next()
    assert event == "tick" and tick["step"] == paused["step"] + 1
    time.sleep(1.2)
    assert post(server, "/api/train/stop")[0] == 202
    events = stream.until("stopped")
    assert stream.keep_alives >= 1, "no keep-alive comment in a quiet second"
    assert events[-1][1]["model"]
    stream.close()


def test_clients_that_go_away_mid_stream_are_let_go_and_training_goes_on(server):
    assert post(server, "/api/train", {**SMALL, "epochs": 200})[0] == 202
    streams = [EventStream(server) for _ in range(5)]
    for stream in streams:
        assert stream.next()[0] == "state"
        stream.next()
    assert server.listeners == 5
    for stream in streams:
        stream.close()
    deadline = time.monotonic() + 5
    while server.listeners and time.monotonic() < deadline:
        time.sleep(0.05)
    assert server.listeners == 0, f"{server.listeners} streams still held after their clients left"
    before = history(server)["step"]
    wait_for(server, lambda answer: answer["step"] > before + 10, what="training to go on")
    assert post(server, "/api/train/stop")[0] == 202
    wait_for(server, lambda answer: answer["state"] == "stopped", what="stopping")


def test_pause_step_resume_and_stop_racing_from_two_clients(server):
    assert post(server, "/api/train", {**SMALL, "epochs": 200})[0] == 202
    wait_for(server, lambda answer: answer["step"] >= 2, what="two batches")
    statuses = []

    def client(controls):
        for control in controls:
            statuses.append(post(server, f"/api/train/{control}")[0])

    clients = [threading.Thread(target=client, args=(["pause", "step", "step", "resume", "pause", "step"] * 3,)),
               threading.Thread(target=client, args=(["step", "pause", "resume", "step", "settings"] * 3,))]
    for thread in clients:
        thread.start()
    for thread in clients:
        thread.join(20)
    assert set(statuses) <= {202, 400}, statuses   # settings without a body is a 400; nothing else fails
    client(["pause", "step", "stop", "stop", "resume"])
    ended = wait_for(server, lambda answer: answer["state"] == "stopped", what="stopping")
    assert statuses[-5:] == [202, 202, 202, 409, 409], statuses[-5:]
    assert ended["model"] and history(server)["state"] == "stopped"


def test_during_a_run_the_draw_view_predicts_with_the_last_published_weights(server):
    from nnscratch.images.prepare import prepare_digit
    assert post(server, "/api/train", {**SMALL, "epochs": 200})[0] == 202
    wait_for(server, lambda answer: answer["step"] >= 30, what="thirty batches")
    assert post(server, "/api/train/pause")[0] == 202
    wait_for(server, lambda answer: answer["state"] == "paused", what="pausing")
    status, _, model = request(server, "GET", "/api/model")
    assert status == 200 and model["name"].endswith(".npz (training)"), model
    image = np.zeros((280, 280))
    image[40:240, 130:150] = 255
    body = {"width": 280, "height": 280, "pixels": image.astype(int).reshape(-1).tolist()}
    status, answer = post(server, "/api/predict", body)
    _, _, state = server.training.live()
    expected_model = server.draw_service().model
    for name, array in state.items():
        assert np.array_equal(expected_model.state_dict()[name], array), f"{name} is not the published weights"
    expected = expected_model.predict_proba(prepare_digit(image / 255.0).reshape(1, -1))[0]
    assert status == 200 and np.allclose(answer["probabilities"], expected, atol=1e-5), answer
    assert post(server, "/api/train/stop")[0] == 202
    ended = wait_for(server, lambda answer: answer["state"] == "stopped", what="stopping")
    assert request(server, "GET", "/api/model")[2]["name"] == ended["model"]


# ---- the weights ----------------------------------------------------------------------------------------------

def test_the_weights_come_as_bytes_with_their_shape_and_a_replay(server):
    assert post(server, "/api/train", {**SMALL, "epochs": 4})[0] == 202
    ended = wait_for(server, lambda answer: answer["state"] == "done", what="the end")
    status, response, data = request(server, "GET", "/api/train/weights")
    shape = tuple(int(size) for size in response.getheader("X-Weights-Shape").split(","))
    assert status == 200 and shape == (32, 28, 28) and len(data) == 32 * 784
    assert response.getheader("Content-Type") == "application/octet-stream"
    images = np.frombuffer(data, np.uint8).reshape(shape).astype(int) - 127
    assert np.abs(images).reshape(32, -1).max(axis=1).tolist() == [127] * 32, "each image reaches its full scale"
    replay = [int(version) for version in response.getheader("X-Replay-Versions").split(",")]
    assert 2 <= len(replay) <= 100 and replay == sorted(replay)
    first = request(server, "GET", f"/api/train/weights?version={replay[0]}")[2]
    assert len(first) == len(data) and first != data, "the replay's first frame is not the last weights"
    assert request(server, "GET", "/api/train/weights?version=999999")[0] == 404
    model, _ = load_model(os.path.join(server.training.models_dir, ended["model"]))
    weights = model.layers[0].params["W"].T.reshape(32, 28, 28)
    expected = np.rint(weights / np.abs(weights).reshape(32, -1).max(axis=1)[:, None, None] * 127)
    assert np.abs(images - expected).max() <= 1, "the last weights published are not the saved model's"


def test_a_cnn_trains_and_shows_its_kernels_and_health(server):
    settings = {"architecture": "cnn", "hidden": 16, "train_size": 120, "batch_size": 20, "epochs": 1}
    assert post(server, "/api/train", settings)[0] == 202
    ended = wait_for(server, lambda answer: answer["state"] in ("done", "error"), timeout=120, what="the cnn run")
    assert ended["state"] == "done", ended["message"]
    status, response, data = request(server, "GET", "/api/train/weights")
    assert status == 200 and response.getheader("X-Weights-Shape") == "32,5,5" and len(data) == 32 * 25
    names = [layer["name"] for layer in ended["health"]]
    assert names == ["conv 5×5×32", "conv 5×5×64", "dense 1024→16", "dense 16→10"], names
    assert all(layer["dead_fraction"] is not None for layer in ended["health"][:3])
    status, _, model = request(server, "GET", "/api/model")
    assert model["name"] == ended["model"] and model["architecture"].startswith("conv 5×5×32"), model


# ---- the same run as the command line's ------------------------------------------------------------------------

def test_a_run_through_the_api_gives_the_same_weights_as_the_cli(server, tmp_path, capsys):
    settings = {**SMALL, "epochs": 3, "dropout": 0.2, "augment": 1, "optimizer": "adam", "lr": 0.002}
    flags = [item for name, value in settings.items() for item in (f"--{name.replace('_', '-')}", str(value))]
    assert main(["train", *flags, "--out", str(tmp_path / "cli.npz"), "--quiet"]) == 0, capsys.readouterr().err
    assert post(server, "/api/train", settings)[0] == 202
    ended = wait_for(server, lambda answer: answer["state"] == "done", what="the end")
    cli, _ = load_model(tmp_path / "cli.npz")
    page, metadata = load_model(tmp_path / "models" / ended["model"])
    assert metadata["epochs_trained"] == 3
    for name, array in cli.state_dict().items():
        assert np.array_equal(array, page.state_dict()[name]), f"{name} differs between the CLI and the page"


# ---- Ctrl-C ---------------------------------------------------------------------------------------------------

def test_ctrl_c_on_the_server_during_a_run_saves_it(tmp_path):
    # A shell's background job ignores Ctrl-C, and so would the server it starts: give the server the default.
    process = subprocess.Popen([sys.executable, "-m", "nnscratch", "draw", "--port", "0", "--no-browser"], cwd=tmp_path,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               env={**os.environ, "PYTHONUNBUFFERED": "1"},
                               preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    try:
        lines = [process.stdout.readline(), process.stdout.readline()]
        assert "opens on Train" in lines[0], lines
        port = int(lines[1].split("http://127.0.0.1:", 1)[1].split("/")[0])
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=20)
        settings = {"dataset": "lines", "layers": "256,16,2", "train_size": 500, "epochs": 1000}
        connection.request("POST", "/api/train", json.dumps(settings), {"Content-Type": "application/json"})
        assert connection.getresponse().status == 202
        time.sleep(1.0)
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=30)
    finally:
        process.kill()
    assert process.returncode == 0, err
    assert "Saving the run in progress" in out and "saved as page-mlp-" in out, out
    saved = list((tmp_path / "models").glob("page-mlp-*.npz"))
    assert len(saved) == 1 and len(list((tmp_path / "models").glob("*.history.json"))) == 1
    model, metadata = load_model(saved[0])
    assert metadata["dataset"] == "lines"


def test_the_health_hint_does_not_call_math_md_s_best_learning_rate_too_large():
    """SGD at lr 0.1 on 784-100-10 (math.md's best rate, 93.6 %) moves the weights by 0.9-1.8e-2 of their size per
    step; a rate five times larger measures 0.13 at first."""
    from nnscratch.app.watch import hints
    assert hints(1.8e-2, None) == []
    assert "too large" in hints(0.13, None)[0]


IN_PLACE_CHANGES = {"append", "extend", "insert", "remove", "pop", "clear", "update", "setdefault", "popitem", "add",
                    "discard", "sort", "reverse"}


def session_writes(source):
    """The lines of ``source`` that change a training session's fields from outside: ``session.x = ...``,
    ``session.x += ...``, ``session.x[k] = ...``, ``del session.x``, ``session.x.append(...)`` and its kin,
    ``setattr(session, ...)``. A session is a name ``session`` or an attribute ``.session`` or ``.training``
    (the server's); calling the session's own methods (``session.record_epoch_locked(...)``) is not a write."""
    import ast

    def is_session(node):
        return ((isinstance(node, ast.Name) and node.id == "session")
                or (isinstance(node, ast.Attribute) and node.attr in ("session", "training")))

    def in_a_session(node):
        """Whether ``node`` is a session's field or part of one: session.x, session.x.y, session.x[k]."""
        while isinstance(node, (ast.Attribute, ast.Subscript)):
            if isinstance(node, ast.Attribute) and is_session(node.value):
                return True
            node = node.value
        return False

    def unpacked(target):
        if isinstance(target, (ast.Tuple, ast.List)):
            for element in target.elts:
                yield from unpacked(element)
        elif isinstance(target, ast.Starred):
            yield from unpacked(target.value)
        else:
            yield target

    lines = source.splitlines()
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, (ast.Assign, ast.Delete)):
            targets = node.targets
        elif isinstance(node, (ast.AugAssign, ast.AnnAssign, ast.For, ast.AsyncFor)):
            targets = [node.target]
        else:
            targets = []
        written = any(in_a_session(target) for each in targets for target in unpacked(each))
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            written = node.func.attr in IN_PLACE_CHANGES and in_a_session(node.func.value)
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
            written = node.func.id in ("setattr", "delattr") and bool(node.args) and is_session(node.args[0])
        if written:
            found.append(node.lineno)
    return [f"line {number}: {lines[number - 1].strip()}" for number in sorted(found)]


def test_the_training_sessions_state_changes_only_through_its_own_methods():
    """No module of the app but training_session.py writes into a ``TrainingSession``'s fields: the training
    thread's ``PageControl`` (and anything else) calls the session's own methods, so every change is one the session
    names and documents, under the lock it says. The check itself catches each kind of write it looks for."""
    from pathlib import Path

    import nnscratch.app
    caught = session_writes("session.step_budget -= 1\nself.session.pending = {}\nsession.frames[version] = frame\n"
                            "session.paused, session.step_budget = True, 0\nself.session.all_probes.append(point)\n"
                            "server.training.losses.extend(losses)\ndel session.example\n"
                            "setattr(session, 'closed', True)\n")
    assert len(caught) == 8, caught
    assert session_writes("self.session = session\nsession.record_epoch_locked(record)\nx = session.snapshot.marks\n"
                          "self.session.hold_example_locked(None)\nsession.changed.wait()\n") == []
    folder = Path(nnscratch.app.__file__).parent
    modules = sorted(path for path in folder.glob("*.py") if path.name != "training_session.py")
    assert folder / "page_control.py" in modules and folder / "train_api.py" in modules, modules
    writes = {path.name: found for path in modules if (found := session_writes(path.read_text(encoding="utf-8")))}
    assert writes == {}, f"only training_session.py may change a session's fields; give the session a method: {writes}"
