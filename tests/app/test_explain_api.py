"""The "look inside" API: every route answers JSON, bad requests are 4xx with one line, jobs report progress."""
import base64
import json
import time

import numpy as np
import pytest

from nnscratch import Network
from nnscratch.app import DrawService
from nnscratch.app.bodies import RequestError
from nnscratch.app.explain_api import explain_api_for


@pytest.fixture
def api():
    rng = np.random.default_rng(0)
    x, y = rng.uniform(0, 1, (200, 784)).astype(np.float32), rng.integers(0, 10, 200)
    model = Network([784, 12, 10], activation="relu", output=None, bias_init="normal", rng=0)
    service = DrawService(model, {"input_shape": [784]}, test_set=(x[:50], y[:50]))
    return explain_api_for(service, train_set=lambda: (x, y)), x


def post(api, route, request):
    return api.handle("POST", "/api/explain" + route, "", json.dumps(request).encode())


def test_every_view_answers(api):
    api, x = api
    pixels = [float(value) for value in x[3]]
    status, answer = post(api, "", {"pixels": pixels})
    assert status == 200 and answer["versus"]["class"] != answer["class"]
    assert sum(part["contribution"] for part in answer["contributions"]) + answer["bias"] == \
        pytest.approx(answer["logits"][answer["class"]], rel=1e-5)
    assert post(api, "/activations", {"pixels": pixels})[1]["layers"][0]["shape"] == [12]
    assert len(post(api, "/untrained", {"pixels": pixels, "class": 2})[1]["saliency"]) == 784
    ablated = post(api, "/ablate", {"pixels": pixels, "unit": 3, "scale": 0})[1]
    assert len(ablated["probabilities"]) == 10
    assert post(api, "/neighbours", {"pixels": pixels})[1]["pixels"][0]["index"] == 3
    assert post(api, "/probe", {"kind": "noise", "seed": 1})[1]["probe"] == "noise"
    status, weights = api.handle("GET", "/api/explain/weights")
    levels = np.frombuffer(base64.b64decode(weights["bytes"]), np.uint8)
    assert weights["shape"] == [12, 28, 28] and levels.size == 12 * 784 and levels.max() <= 254
    confusion = api.handle("GET", "/api/explain/mistakes")[1]["confusion"]
    assert sum(map(sum, confusion)) == 50
    cell = api.handle("GET", "/api/explain/mistakes/cell", "true=1&predicted=2")[1]
    assert cell["count"] == confusion[1][2] == len(cell["digits"])


def test_accuracy_without_a_unit_runs_as_a_job(api):
    api, _ = api
    status, job = post(api, "/ablation-accuracy", {"unit": 4})
    assert status == 202 and job["state"] == "running"
    deadline = time.monotonic() + 10
    while job["state"] == "running" and time.monotonic() < deadline:
        time.sleep(0.01)
        job = api.handle("GET", "/api/explain/ablation-accuracy", f"job={job['job']}")[1]
    assert job["state"] == "done" and job["done"] == job["total"] == 50
    assert 0 <= job["result"]["accuracy"] <= 1


@pytest.mark.parametrize("method, route, query, body, status, message", [
    ("POST", "", "", b"[1]", 400, "expected a JSON object"),
    ("POST", "", "", b"{", 400, "malformed JSON"),
    ("POST", "", "", b'{"pixels": [0.5]}', 400, "pixels must be a list of 784 numbers"),
    ("POST", "", "", json.dumps({"pixels": [2] * 784}).encode(), 400, r"in \[0, 1\]"),
    ("POST", "", "", json.dumps({"pixels": [0] * 784, "class": 10}).encode(), 400, "class must be from 0 to 9"),
    ("POST", "/ablate", "", json.dumps({"pixels": [0] * 784, "unit": 99}).encode(), 400, "unit must be from 0"),
    ("POST", "/probe", "", b'{"kind": "static"}', 400, "kind must be one of noise, blank, inverted"),
    ("GET", "/mistakes/cell", "true=1", b"", 400, "predicted must be a whole number"),
    ("GET", "/ablation-accuracy", "job=77", b"", 404, "no such job"),
    ("GET", "", "", b"", 405, "use POST"),
    ("POST", "/weights", "", b"{}", 405, "use GET"),
    ("GET", "/nothing", "", b"", 404, "no such page"),
])
def test_bad_requests(api, method, route, query, body, status, message):
    api, _ = api
    with pytest.raises(RequestError, match=message) as caught:
        api.handle(method, "/api/explain" + route, query, body)
    assert caught.value.status == status


def test_the_untrained_twin_explains_the_class_being_explained_not_class_0(api):
    api, x = api
    pixels = [float(value) for value in x[0]]
    explained = post(api, "", {"pixels": pixels})[1]
    assert explained["class"] != 0, "pick a digit the network does not call 0, or this test cannot fail"
    untrained = post(api, "/untrained", {"pixels": pixels})[1]
    assert untrained["class"] == explained["class"] == explained["prediction"], (untrained["class"], explained)
    other = (explained["class"] + 1) % 10
    chosen = post(api, "/untrained", {"pixels": pixels, "class": other})[1]
    assert chosen["class"] == other and chosen["saliency"] != untrained["saliency"], "the class asked for is ignored"
