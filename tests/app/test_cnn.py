"""The page with a convolutional network: every Look inside route answers for a CNN as for an MLP, the test
accuracy without a unit (a dense unit or a convolution's channel) is measured and matches the network with that
unit's weights zeroed, and a job that fails says so in one line instead of running for ever."""
import json
import threading
import time

import numpy as np
import pytest

from nnscratch import Conv2D, Flatten, Linear, MaxPool2D, ReLU, Sequential
from nnscratch.app import DrawServer, DrawService
from nnscratch.app.explain_api import explain_api_for
from nnscratch.explain import Explainer
from nnscratch.serialization import load_model, save_model
from nnscratch.serialization.npz import model_from_config
from tests.app.test_api import canvas, drawing_payload, request, vertical_bar

TEST_DIGITS = 120


def tiny_cnn(seed=0):
    """conv 3×3×4, max-pool 2, ReLU, dense 676→16, ReLU, dense 16→10, with random weights."""
    rng = np.random.default_rng(seed)
    return Sequential(Conv2D(1, 4, 3, rng=rng), MaxPool2D(2), ReLU(), Flatten(), Linear(676, 16, rng=rng), ReLU(),
                      Linear(16, 10, rng=rng))


def digits(count, seed):
    """Random pictures of 784 pixels in [0, 1], mostly dark, as digits are."""
    rng = np.random.default_rng(seed)
    return rng.uniform(0, 1, (count, 784)).astype(np.float32) ** 3


def serve(tmp_path, metadata, test_set="own labels", log=None):
    """A server for a tiny CNN saved with ``save_model`` and read back, as ``nnscratch draw`` reads it. Its test
    labels are the network's own answers (so its accuracy is 100 % until a unit is silenced)."""
    path = tmp_path / "cnn.npz"
    save_model(path, tiny_cnn(), metadata)
    model, saved_metadata = load_model(path)
    x = digits(TEST_DIGITS, 1)
    if test_set == "own labels":
        test_set = (x, model.predict(x.reshape(-1, 1, 28, 28)))
    service = DrawService(model, saved_metadata, name="cnn.npz", test_set=test_set)
    server = DrawServer(service, "127.0.0.1", 0, log=log)
    # Look inside on training digits of the test's own (the server would load the data set's, MNIST)
    train_set = digits(300, 2), np.arange(300) % 10
    server.explainers = (service, explain_api_for(service, lambda: train_set, log=log))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


@pytest.fixture(params=[{"input_shape": [1, 28, 28], "dataset": "mnist"}, {"dataset": "mnist"}],
                ids=["input shape recorded", "no input shape recorded"])
def server(request, tmp_path):
    log = []
    server = serve(tmp_path, request.param, log=log.append)
    server.heard = log
    yield server
    server.shutdown()
    server.server_close()
    assert log == [], log


def post(server, path, payload):
    body = json.dumps(payload).encode()
    status, _, answer = request(server, "POST", path, body, {"Content-Type": "application/json"})
    return status, answer


def wait_for_job(server, job, timeout=20):
    deadline = time.monotonic() + timeout
    while job["state"] == "running" and time.monotonic() < deadline:
        time.sleep(0.02)
        status, _, job = request(server, "GET", f"/api/explain/ablation-accuracy?job={job['job']}")
        assert status == 200, job
    return job


def accuracy_with_zeroed(model, x, y, layer_index, unit):
    """The accuracy of a copy of ``model`` in which ``unit`` of layer ``layer_index`` can only output zero: a
    convolution's channel or a dense layer's unit has its weights and bias zeroed; for the output layer, the
    outgoing weights (the row) of the hidden unit before it are zeroed instead."""
    copy = model_from_config({"type": type(model).__name__, "config": model.config()}, initialize=False)
    copy.load_state_dict({name: array.copy() for name, array in model.state_dict().items()})
    layer = copy.layers[layer_index]
    if isinstance(layer, Conv2D):
        layer.params["W"][unit] = 0
        layer.params["b"][unit] = 0
    elif layer_index == len(copy.layers) - 1:
        layer.params["W"][unit, :] = 0
    else:
        layer.params["W"][:, unit] = 0
        layer.params["b"][unit] = 0
    return float(np.mean(copy.predict(x.reshape(-1, 1, 28, 28)) == y))


def test_the_draw_view_and_every_look_inside_route_answer_for_a_cnn(server):
    status, _, model = request(server, "GET", "/api/model")
    assert status == 200 and model["architecture"].startswith("conv 3×3×4"), model
    status, answer = post(server, "/api/predict", drawing_payload(canvas(vertical_bar)))
    assert status == 200 and answer["status"] == "ok", answer
    pixels = answer["preview"]
    expected = server.service.model.predict_proba(np.array(pixels, np.float32).reshape(1, 1, 28, 28))[0]
    np.testing.assert_allclose(answer["probabilities"], expected, atol=1e-5)

    status, explained = post(server, "/api/explain", {"pixels": pixels})
    assert status == 200 and explained["prediction"] == answer["prediction"], explained
    assert explained["completeness"]["piecewise_linear"]
    assert explained["completeness"]["sum"] == pytest.approx(explained["completeness"]["logit"], abs=1e-3)
    status, layers = post(server, "/api/explain/activations", {"pixels": pixels})
    shapes = [layer["shape"] for layer in layers["layers"]]
    assert status == 200 and shapes[0] == [4, 26, 26] and shapes[-1] == [16], shapes
    for route, payload in [("/untrained", {"pixels": pixels, "class": 3}),
                           ("/ablate", {"pixels": pixels, "unit": 2}),
                           ("/ablate", {"pixels": pixels, "layer": "0", "unit": 1}),
                           ("/neighbours", {"pixels": pixels}), ("/probe", {"kind": "noise", "seed": 2}),
                           ("/probe", {"kind": "inverted", "pixels": pixels})]:
        status, answer = post(server, "/api/explain" + route, payload)
        assert status == 200, (route, answer)
    status, _, weights = request(server, "GET", "/api/explain/weights")
    assert status == 200 and weights["kind"] == "kernels" and weights["shape"] == [4, 1, 3, 3], weights
    status, _, mistakes = request(server, "GET", "/api/explain/mistakes")
    assert status == 200 and mistakes["accuracy"] == 1.0 and sum(map(sum, mistakes["confusion"])) == TEST_DIGITS
    status, _, cell = request(server, "GET", "/api/explain/mistakes/cell?true=1&predicted=1")
    assert status == 200 and cell["count"] == mistakes["confusion"][1][1]


@pytest.mark.parametrize("layer, layer_index", [(None, 6), ("4", 4), ("0", 0)],
                         ids=["the last hidden layer's unit", "a dense layer's unit", "a conv channel"])
def test_the_test_accuracy_without_a_unit_of_a_cnn_is_measured(server, layer, layer_index):
    x, y = server.service.test_set()
    model = server.service.model
    units = range(4) if layer == "0" else range(16)
    # the unit whose loss changes the most answers: the job must measure that change, not the accuracy before
    expected = {unit: accuracy_with_zeroed(model, x, y, layer_index, unit) for unit in units}
    unit = min(expected, key=expected.get)
    assert expected[unit] < 1.0, f"silencing no unit changes an answer: {expected}"
    payload = {"unit": unit} if layer is None else {"layer": layer, "unit": unit}
    status, job = post(server, "/api/explain/ablation-accuracy", payload)
    assert status == 202 and job["state"] == "running", job
    job = wait_for_job(server, job)
    assert job["state"] == "done" and job["done"] == job["total"] == TEST_DIGITS, job
    result = job["result"]
    assert result["accuracy_before"] == 1.0 and result["test_digits"] == TEST_DIGITS, result
    assert result["accuracy"] == pytest.approx(expected[unit], abs=1e-9), (result, expected[unit])


def test_a_job_that_fails_reports_it_in_one_line_and_prints_nothing(tmp_path, monkeypatch, capfd):
    log = []
    server = serve(tmp_path, {"input_shape": [1, 28, 28]}, log=log.append)
    try:
        def broken(self, *args, **kwargs):
            raise RuntimeError("the digits went missing\nsomewhere")
        monkeypatch.setattr(Explainer, "accuracy_without", broken)
        status, job = post(server, "/api/explain/ablation-accuracy", {"unit": 1})
        assert status == 202, job
        job = wait_for_job(server, job)
        assert job["state"] == "failed", job
        assert job["error"] == "the test-accuracy job failed: RuntimeError: the digits went missing somewhere", job
        assert len(log) == 1 and "RuntimeError" in log[0] and "\n" not in log[0], log
        monkeypatch.undo()
        status, job = post(server, "/api/explain/ablation-accuracy", {"unit": 1})   # a failed job blocks no other
        assert status == 202 and wait_for_job(server, job)["state"] == "done"
    finally:
        server.shutdown()
        server.server_close()
    assert capfd.readouterr().err == ""


def test_a_job_without_test_digits_fails_with_the_reason(tmp_path, capfd):
    server = serve(tmp_path, {"input_shape": [1, 28, 28]}, test_set=None)
    try:
        status, job = post(server, "/api/explain/ablation-accuracy", {"unit": 1})
        assert status == 202, job
        job = wait_for_job(server, job)
        assert job["state"] == "failed" and job["error"] == "no test digits are available for this model", job
    finally:
        server.shutdown()
        server.server_close()
    assert capfd.readouterr().err == ""


def test_every_look_inside_feature_works_in_the_browser_for_a_cnn_as_for_an_mlp(browser, tmp_path):
    """The walk of tests/app/test_look_inside.py (colour keys, the untrained twin's class, labelled views, the
    ablation scale, the confusion matrix in its card), on a convolutional network in Chromium."""
    look_inside = pytest.importorskip("tests.app.test_look_inside", reason="the walk needs Chromium and playwright")
    model = tiny_cnn()
    server, _, labels = look_inside.serve(model, {"dataset": "mnist", "input_shape": [1, 28, 28]}, (1, 28, 28))
    try:
        page = look_inside.open_page(browser, server)
        look_inside.walk_look_inside(page, server, int(np.flatnonzero(labels != 0)[0]), [
            "layer 1 of 3: conv 3×3×4", "layer 1 of 3: conv 3×3×4, after max-pool 2 and ReLU",
            "layer 2 of 3: dense 676→16, after ReLU"], conv=True)
        page.screenshot(path=str(tmp_path / "look-inside-cnn.png"), full_page=True)
        page.context.close()
        assert not page.errors, page.errors
    finally:
        server.shutdown()
        server.server_close()
