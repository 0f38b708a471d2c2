"""The page with several models: it answers with the mean of their probabilities, names them, looks inside one
member at a time, and refuses models that cannot answer as one."""
import http.client
import json
import os
import subprocess
import sys
import threading
import time
from types import SimpleNamespace

import numpy as np
import pytest

from nnscratch import Network
from nnscratch.app import DrawServer, DrawService
from nnscratch.cli import main
from nnscratch.images.prepare import prepare_digit
from nnscratch.serialization import Ensemble, save_model
from tests.app.test_api import canvas, drawing_payload, request, seven, vertical_bar

HIDDEN = (16, 12, 20)   # each member a different width, so that the weights tell which one answered


def members():
    return [Network([784, hidden, 10], activation="relu", output=None, bias_init="normal", rng=seed)
            for seed, hidden in enumerate(HIDDEN)]


@pytest.fixture(scope="module")
def ensemble():
    return Ensemble(members(), ["models/a.npz", "models/b.npz", "elsewhere/c.npz"])


def serve(service):
    server = DrawServer(service, "127.0.0.1", 0)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def stop(server):
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def server(ensemble):
    rng = np.random.default_rng(0)
    x, y = rng.random((40, 784), dtype=np.float32), rng.integers(0, 10, 40)
    service = DrawService(ensemble, {"input_shape": [784], "test_accuracy": 0.5, "dataset": "mnist"},
                          name="ensemble of 3 models", test_set=(x, y))
    server = serve(service)
    from nnscratch.app.explain_api import explain_api_for
    server.explainers = (service, explain_api_for(service, train_set=lambda: (x, y)))   # no MNIST needed
    yield server
    stop(server)


def post(server, path, payload):
    return request(server, "POST", path, json.dumps(payload).encode(), {"Content-Type": "application/json"})


def member_probabilities(image, models):
    """Each model's probabilities for the prepared drawing, computed one model at a time."""
    digit = prepare_digit(image.astype(np.float64))[None].astype(np.float32)
    return np.array([model.predict_proba(digit)[0] for model in models], dtype=np.float64)


def test_the_page_names_the_ensemble_and_each_member(server):
    status, _, body = request(server, "GET", "/api/model")
    assert status == 200 and body["name"] == "ensemble of 3 models", body
    assert [member["name"] for member in body["members"]] == ["a.npz", "b.npz", "c.npz"]
    assert [member["architecture"] for member in body["members"]] == [f"784 → {h} ReLU → 10" for h in HIDDEN]
    sizes = [784 * h + h + h * 10 + 10 for h in HIDDEN]
    assert [member["parameters"] for member in body["members"]] == sizes and body["parameters"] == sum(sizes)
    assert body["test_accuracy"] is None, "the first file's test accuracy is not the ensemble's"


@pytest.mark.parametrize("drawing", [vertical_bar, seven(50, 60, 170), seven(10, 10, 60)])
def test_the_answer_is_the_mean_of_the_members_probabilities(server, ensemble, drawing):
    image = canvas(drawing)
    status, _, answer = post(server, "/api/predict", drawing_payload(image))
    assert status == 200 and answer["status"] == "ok", answer
    each = member_probabilities(image, ensemble.members)
    expected = each.mean(axis=0)
    got = np.array(answer["probabilities"])
    assert np.abs(got - expected).max() <= 2e-6, f"served {got}, mean of the members {expected}"
    assert np.abs(each - expected).max(axis=1).min() > 1e-3, "the members agree: the test could not tell"
    assert answer["prediction"] == int(expected.argmax()) and answer["label"] == str(expected.argmax())


def test_look_inside_asks_which_member(server):
    status, _, answer = request(server, "GET", "/api/explain/weights")
    assert status == 400 and "ensemble of 3 models" in answer["error"] and "member=0..2" in answer["error"], answer
    for text in ("3", "-1", "x", "1.5"):
        status, _, answer = request(server, "GET", f"/api/explain/weights?member={text}")
        assert status == 400 and "member must be a whole number from 0 to 2" in answer["error"], (text, answer)
    for member, hidden in enumerate(HIDDEN):
        status, _, weights = request(server, "GET", f"/api/explain/weights?member={member}")
        assert status == 200 and weights["shape"] == [hidden, 28, 28], (member, weights)


def test_look_inside_explains_the_chosen_member(server, ensemble):
    _, _, drawn = post(server, "/api/predict", drawing_payload(canvas(vertical_bar)))
    pixels = np.array(drawn["preview"], dtype=np.float32)[None]
    for member, model in enumerate(ensemble.members):
        status, _, explained = post(server, f"/api/explain?member={member}", {"pixels": drawn["preview"]})
        assert status == 200, explained
        assert np.allclose(explained["probabilities"], model.predict_proba(pixels)[0], atol=1e-5), member
        assert explained["prediction"] == int(model.predict(pixels)[0])
        layers = post(server, f"/api/explain/activations?member={member}", {"pixels": drawn["preview"]})[2]
        assert layers["layers"][0]["shape"] == [HIDDEN[member]]
    cell = request(server, "GET", "/api/explain/mistakes/cell?true=1&predicted=2&member=2")
    assert cell[0] == 200 and cell[2]["count"] == len(cell[2]["digits"]), cell


def test_a_member_s_test_accuracy_job_is_found_under_that_member(server):
    status, _, job = post(server, "/api/explain/ablation-accuracy?member=1", {"unit": 4})
    assert status == 202 and job["state"] == "running", job
    deadline = time.monotonic() + 10
    while job["state"] == "running" and time.monotonic() < deadline:
        time.sleep(0.01)
        job = request(server, "GET", f"/api/explain/ablation-accuracy?job={job['job']}&member=1")[2]
    assert job["state"] == "done" and job["done"] == job["total"] == 40, job
    assert request(server, "GET", f"/api/explain/ablation-accuracy?job={job['job']}&member=0")[0] == 404


def test_a_trained_run_joins_the_picker_and_replaces_the_ensemble_once_chosen(tmp_path, ensemble):
    rng = np.random.default_rng(1)
    server = DrawServer(DrawService(ensemble, {"input_shape": [784]}, name="ensemble of 3 models"), "127.0.0.1", 0,
                        models_dir=str(tmp_path))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        path = tmp_path / "page-run.npz"
        trained = Network([784, 8, 10], activation="relu", output=None, rng=5)
        save_model(path, trained, {"test_accuracy": 0.75, "dataset": "mnist"})
        run = SimpleNamespace(data=SimpleNamespace(test=(rng.random((5, 784), dtype=np.float32), np.arange(5))))
        assert "the Draw view keeps ensemble of 3 models" in server.use_run(str(path), run)
        assert request(server, "GET", "/api/model")[2]["name"] == "ensemble of 3 models"
        status, _, answer = post(server, "/api/model", {"id": str(path)})
        assert status == 200 and answer["name"] == "page-run.npz", answer
        _, _, body = request(server, "GET", "/api/model")
        assert body["name"] == "page-run.npz" and body["members"] is None and body["test_accuracy"] == 0.75, body
        status, _, weights = request(server, "GET", "/api/explain/weights")
        assert status == 200 and weights["shape"] == [8, 28, 28], weights
    finally:
        stop(server)


# ---- the command ----------------------------------------------------------------------------------------------

def save_members(folder, metadata=None):
    paths = []
    for index, model in enumerate(members()[:2]):
        paths.append(str(folder / f"m{index}.npz"))
        save_model(paths[-1], model, {"test_accuracy": 0.5, **(metadata or {})})
    return paths


def test_draw_serves_several_models_as_one(tmp_path):
    paths = save_members(tmp_path)
    process = subprocess.Popen([sys.executable, "-m", "nnscratch", "draw", *paths, "--port", "0", "--no-browser"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               env={**os.environ, "PYTHONUNBUFFERED": "1"})
    try:
        line = process.stdout.readline()
        assert "http://127.0.0.1:" in line, \
            f"no URL printed: {line!r} {process.stderr.read() if process.poll() else ''}"
        host, port = line.split("http://", 1)[1].split()[0].rstrip("/").split(":")
        connection = http.client.HTTPConnection(host, int(port), timeout=10)
        connection.request("GET", "/api/model")
        body = json.loads(connection.getresponse().read())
        assert body["name"] == "ensemble of 2 models" and [m["name"] for m in body["members"]] == ["m0.npz", "m1.npz"]
    finally:
        process.terminate()
        process.wait(10)


def test_draw_refuses_models_that_cannot_answer_as_one(tmp_path, capsys):
    digits, letters = tmp_path / "digits.npz", tmp_path / "letters.npz"
    save_model(digits, members()[0], {"class_names": [str(k) for k in range(10)]})
    save_model(letters, members()[1], {"class_names": list("abcdefghij")})
    assert main(["draw", str(digits), str(letters)]) == 2
    error = capsys.readouterr().err.strip()
    assert len(error.splitlines()) == 1 and "letters.npz" in error and "class names" in error, error

    ten, five = tmp_path / "ten.npz", tmp_path / "five.npz"   # files that name no classes: their outputs count
    save_model(ten, members()[0])
    save_model(five, Network([784, 8, 5], activation="relu", output=None, rng=0))
    assert main(["draw", str(ten), str(five)]) == 2
    error = capsys.readouterr().err.strip()
    assert len(error.splitlines()) == 1 and "different numbers of classes" in error and "five.npz 5" in error, error


def test_draw_help_says_several_models_make_an_ensemble(capsys):
    assert main(["draw", "--help"]) == 0
    text = " ".join(capsys.readouterr().out.split())
    assert "Several models answer as one ensemble" in text and "several answer as one ensemble" in text, text
