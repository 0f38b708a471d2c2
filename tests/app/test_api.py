"""The draw page's HTTP API over real loopback connections: answers, and every kind of request it must refuse."""
import http.client
import io
import json
import os
import socket
import subprocess
import sys
import threading

import numpy as np
import pytest
from PIL import Image

from nnscratch import Network
from nnscratch.app import MAX_BODY_BYTES, NOTHING_DRAWN, DrawServer, DrawService
from nnscratch.app.server import STATIC_FILES
from nnscratch.cli import main
from nnscratch.images.prepare import LOW_CONFIDENCE, prepare_digit
from nnscratch.serialization import save_model

SIDE = 280


def tiny_model():
    return Network([784, 16, 10], activation="relu", output=None, rng=0)


@pytest.fixture(scope="module")
def server():
    rng = np.random.default_rng(0)
    test_x, test_y = rng.random((5, 784), dtype=np.float32), np.array([3, 1, 4, 1, 5])
    service = DrawService(tiny_model(), {"test_accuracy": 0.25, "dataset": "mnist"}, name="tiny.npz",
                          test_set=(test_x, test_y))
    log = []
    server = DrawServer(service, "127.0.0.1", 0, log=log.append)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def request(server, method, path, body=None, headers=None, host="default"):
    """Send one request; return (status, headers, body parsed as JSON when it is JSON)."""
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    try:
        connection.putrequest(method, path, skip_host=True, skip_accept_encoding=True)
        if host == "default":
            host = f"127.0.0.1:{server.port}"
        if host is not None:
            connection.putheader("Host", host)
        for name, value in (headers or {}).items():
            connection.putheader(name, value)
        if body is not None and "Content-Length" not in (headers or {}):
            connection.putheader("Content-Length", str(len(body)))
        connection.endheaders(body)
        response = connection.getresponse()
        data = response.read()
        kind = response.getheader("Content-Type", "")
        is_json = kind == "application/json" and method != "HEAD"
        return response.status, response, json.loads(data) if is_json else data
    finally:
        connection.close()


def post_json(server, payload, **options):
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    return request(server, "POST", "/api/predict", body, {"Content-Type": "application/json"}, **options)


def raw_exchange(server, data, shut_write=False):
    """Send raw bytes on a socket and return the status line and the JSON body of the answer."""
    with socket.create_connection(("127.0.0.1", server.port), timeout=15) as connection:
        connection.sendall(data)
        if shut_write:
            connection.shutdown(socket.SHUT_WR)
        answer = b""
        while chunk := connection.recv(65536):
            answer += chunk
    head, _, body = answer.partition(b"\r\n\r\n")
    return int(head.split()[1]), json.loads(body)


def canvas(draw):
    """A black 280×280 canvas (0..255) with white ink where ``draw(rows, columns)`` is True."""
    rows, columns = np.mgrid[0:SIDE, 0:SIDE]
    return np.where(draw(rows, columns), 255, 0).astype(np.int64)


def vertical_bar(rows, columns):
    return (abs(columns - 140) < 11) & (rows > 40) & (rows < 240)


def seven(top, left, size):
    """A '7' with its bar and diagonal ``size`` pixels tall, placed at (top, left), strokes ~size/9 thick."""
    width = max(2, size // 9)

    def draw(rows, columns):
        bar = (rows >= top) & (rows < top + width) & (columns >= left) & (columns < left + size * 3 // 4)
        t = (rows - top) / size
        stem_column = left + size * 3 // 4 - t * size * 0.4
        stem = (t >= 0) & (t <= 1) & (abs(columns - stem_column) < width / 2 + 0.5)
        return bar | stem
    return draw


def drawing_payload(image):
    return {"width": image.shape[1], "height": image.shape[0], "pixels": image.reshape(-1).tolist()}


# ---- answers ---------------------------------------------------------------------------------------------------

def test_static_files_are_served_and_name_no_outside_host(server):
    for route, (name, kind) in STATIC_FILES.items():
        status, response, body = request(server, "GET", route)
        assert (status, response.getheader("Content-Type")) == (200, kind), f"GET {route}: {status}"
        text = body.decode()
        assert "http://" not in text and "https://" not in text, f"{name} refers to another host"
    status, response, _ = request(server, "GET", "/")
    assert "default-src 'self'" in response.getheader("Content-Security-Policy")
    assert response.getheader("X-Content-Type-Options") == "nosniff"


def test_model_description(server):
    status, _, body = request(server, "GET", "/api/model")
    assert status == 200
    assert body["name"] == "tiny.npz"
    assert body["architecture"] == "784 → 16 ReLU → 10"
    assert body["parameters"] == 784 * 16 + 16 + 16 * 10 + 10
    assert body["test_accuracy"] == 0.25
    assert body["class_names"] == [str(digit) for digit in range(10)]


def test_prediction_is_the_model_on_the_prepared_digit(server):
    image = canvas(vertical_bar)
    status, _, body = post_json(server, drawing_payload(image))
    assert status == 200, body
    digit = prepare_digit(image / 255.0)
    expected = server.service.model.predict_proba(digit[None])[0]
    assert body["status"] == "ok"
    np.testing.assert_allclose(body["preview"], digit, atol=1e-4)
    np.testing.assert_allclose(body["probabilities"], expected, atol=1e-5)
    assert body["prediction"] == int(np.argmax(expected)) and body["label"] == str(body["prediction"])
    assert 0 < body["milliseconds"] < 1000
    assert body["low_confidence"] == LOW_CONFIDENCE and body["unsure"] == (expected.max() < LOW_CONFIDENCE)
    assert body["unsure"], f"an untrained network's {expected.max():.0%} answer is not marked unsure"


def test_png_body_gives_the_same_answer_as_pixels(server):
    image = canvas(seven(50, 60, 180))
    buffer = io.BytesIO()
    Image.fromarray(image.astype(np.uint8)).save(buffer, format="PNG")
    _, _, from_png = request(server, "POST", "/api/predict", buffer.getvalue(), {"Content-Type": "image/png"})
    _, _, from_json = post_json(server, drawing_payload(image))
    assert from_png["status"] == "ok", from_png
    np.testing.assert_allclose(from_png["probabilities"], from_json["probabilities"], atol=1e-6)
    np.testing.assert_allclose(from_png["preview"], from_json["preview"], atol=1e-6)


def test_empty_canvas_answers_nothing_drawn_yet(server):
    status, _, body = post_json(server, drawing_payload(np.zeros((SIDE, SIDE), dtype=np.int64)))
    assert status == 200
    assert body == {"status": "empty", "message": NOTHING_DRAWN, "prediction": None, "probabilities": None,
                    "preview": None}


def difference_up_to_one_pixel(a, b):
    """Mean absolute difference of two 28×28 images, at the best relative shift of at most one pixel.

    Centring places the digit on whole pixels, so the same drawing at another position may land one pixel away.
    """
    a, b = np.reshape(a, (28, 28)), np.reshape(b, (28, 28))
    return min(np.abs(np.roll(a, (down, right), axis=(0, 1)) - b).mean()
               for down in (-1, 0, 1) for right in (-1, 0, 1))


def test_shifted_and_scaled_drawings_reach_the_network_as_nearly_the_same_image(server):
    previews = []
    for top, left, size in [(40, 50, 200), (10, 10, 120), (150, 140, 110), (60, 100, 60)]:
        _, _, body = post_json(server, drawing_payload(canvas(seven(top, left, size))))
        previews.append(np.array(body["preview"]))
    for index, preview in enumerate(previews[1:], 1):
        difference = difference_up_to_one_pixel(preview, previews[0])
        assert difference < 0.02, f"drawing {index}: mean difference {difference:.3f} from the first (want < 0.02)"
    _, _, bar = post_json(server, drawing_payload(canvas(vertical_bar)))
    unlike = difference_up_to_one_pixel(bar["preview"], previews[0])
    assert unlike > 0.05, f"a bar and a seven differ by only {unlike:.3f}: the measure cannot tell digits apart"


def test_test_digits(server):
    status, _, body = request(server, "GET", "/api/test-digit?index=2")
    assert status == 200 and body["index"] == 2 and body["label"] == 4
    np.testing.assert_allclose(body["pixels"], server.service.test_set()[0][2], atol=1e-4)
    indices = {request(server, "GET", "/api/test-digit")[2]["index"] for _ in range(12)}
    assert indices <= set(range(5)) and len(indices) > 1, f"random indices: {indices}"


def test_test_digits_that_cannot_be_loaded_answer_503():
    def failing_loader():
        raise OSError("disk on fire")
    service = DrawService(tiny_model(), {}, test_set=failing_loader)
    other = DrawServer(service, "127.0.0.1", 0)
    threading.Thread(target=other.serve_forever, daemon=True).start()
    try:
        status, _, body = request(other, "GET", "/api/test-digit")
        assert status == 503 and "disk on fire" in body["error"], body
        assert request(other, "GET", "/api/model")[0] == 200
    finally:
        other.shutdown()
        other.server_close()


def test_concurrent_predictions_all_get_the_right_answer(server):
    image = canvas(seven(30, 40, 200))
    _, _, expected = post_json(server, drawing_payload(image))
    results = [None] * 8

    def worker(slot):
        results[slot] = post_json(server, drawing_payload(image))[2]["probabilities"]
    threads = [threading.Thread(target=worker, args=(slot,)) for slot in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    for slot, probabilities in enumerate(results):
        np.testing.assert_allclose(probabilities, expected["probabilities"], atol=1e-6, err_msg=f"thread {slot}")


# ---- refusals --------------------------------------------------------------------------------------------------

def png_bytes(width, height):
    buffer = io.BytesIO()
    Image.new("L", (width, height)).save(buffer, format="PNG")
    return buffer.getvalue()


GOOD = drawing_payload(np.zeros((4, 4), dtype=np.int64))
HOSTILE_POSTS = [
    ("wrong content type", b"width=1", "application/x-www-form-urlencoded", 415),
    ("text/plain (what a form or a no-preflight fetch sends)", json.dumps(GOOD).encode(), "text/plain", 415),
    ("malformed JSON", b'{"width": 4, "height": 4, "pixels": [0, 0,', "application/json", 400),
    ("invalid UTF-8", b'{"width": "\xff\xfe"}', "application/json", 400),
    ("JSON nested 100,000 deep", b"[" * 100000 + b"]" * 100000, "application/json", 400),
    ("a JSON array, not an object", b"[1, 2, 3]", "application/json", 400),
    ("missing pixels", json.dumps({"width": 4, "height": 4}).encode(), "application/json", 400),
    ("pixels not a list", json.dumps({**GOOD, "pixels": "0" * 16}).encode(), "application/json", 400),
    ("too few pixels", json.dumps({**GOOD, "pixels": [0] * 15}).encode(), "application/json", 400),
    ("nested pixel rows", json.dumps({**GOOD, "pixels": [[0] * 4] * 4}).encode(), "application/json", 400),
    ("ragged nested pixels", json.dumps({**GOOD, "pixels": [[0]] * 15 + [[0, 0]]}).encode(), "application/json", 400),
    ("strings as pixels", json.dumps({**GOOD, "pixels": ["0"] * 16}).encode(), "application/json", 400),
    ("booleans as pixels", json.dumps({**GOOD, "pixels": [True] * 16}).encode(), "application/json", 400),
    ("width as a string", json.dumps({**GOOD, "width": "4"}).encode(), "application/json", 400),
    ("width zero", json.dumps({"width": 0, "height": 4, "pixels": []}).encode(), "application/json", 400),
    ("width too large", json.dumps({"width": 10 ** 6, "height": 1, "pixels": [0]}).encode(), "application/json", 400),
    ("NaN", b'{"width": 1, "height": 1, "pixels": [NaN]}', "application/json", 400),
    ("Infinity", b'{"width": 1, "height": 1, "pixels": [Infinity]}', "application/json", 400),
    ("-Infinity", b'{"width": 1, "height": 1, "pixels": [-Infinity]}', "application/json", 400),
    ("a number that overflows to infinity", b'{"width": 1, "height": 1, "pixels": [1e999]}', "application/json", 400),
    ("a 5000-digit integer", b'{"width": 1, "height": 1, "pixels": [' + b"9" * 5000 + b"]}", "application/json", 400),
    ("a negative pixel", json.dumps({**GOOD, "pixels": [-1] + [0] * 15}).encode(), "application/json", 400),
    ("a pixel over 255", json.dumps({**GOOD, "pixels": [256] + [0] * 15}).encode(), "application/json", 400),
    ("not a PNG", b"GIF89a not a png at all", "image/png", 400),
    ("a truncated PNG", png_bytes(10, 10)[:40], "image/png", 400),
    ("a PNG too large", png_bytes(5000, 1), "image/png", 413),
]


@pytest.mark.parametrize("what, body, content_type, status", HOSTILE_POSTS, ids=[case[0] for case in HOSTILE_POSTS])
def test_bad_drawings_are_refused_and_the_server_keeps_serving(server, what, body, content_type, status):
    got, response, answer = request(server, "POST", "/api/predict", body, {"Content-Type": content_type})
    assert got == status, f"{what}: expected {status}, got {got} {answer!r:.200}"
    assert response.getheader("Content-Type") == "application/json" and answer["error"], f"{what}: {answer!r:.200}"
    assert request(server, "GET", "/api/model")[0] == 200, f"the server stopped serving after {what}"


def test_body_over_the_size_cap_is_refused_before_it_is_read(server):
    head = (f"POST /api/predict HTTP/1.1\r\nHost: 127.0.0.1:{server.port}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {MAX_BODY_BYTES + 1}\r\n\r\n").encode()
    status, answer = raw_exchange(server, head)
    assert status == 413 and str(MAX_BODY_BYTES) in answer["error"], answer


HOSTILE_HEADERS = [
    ("missing Content-Length", {"Content-Type": "application/json"}, None, 411),
    ("chunked body", {"Content-Type": "application/json", "Transfer-Encoding": "chunked"}, None, 411),
    ("Content-Length not a number", {"Content-Type": "application/json", "Content-Length": "12abc"}, None, 400),
    ("Content-Length negative", {"Content-Type": "application/json", "Content-Length": "-5"}, None, 400),
    ("a web site's Host (DNS rebinding)", {"Content-Type": "application/json"}, "evil.example", 403),
    ("a web site's Host on our port", {"Content-Type": "application/json"}, "evil.example:{port}", 403),
    ("a look-alike Host", {"Content-Type": "application/json"}, "127.0.0.1.evil.example:{port}", 403),
    ("localhost on another port", {"Content-Type": "application/json"}, "localhost:1", 403),
    ("no Host at all", {"Content-Type": "application/json"}, None, 403),
    ("a web site's Origin", {"Content-Type": "application/json", "Origin": "http://evil.example"}, "default", 403),
]


@pytest.mark.parametrize("what, headers, host, status", HOSTILE_HEADERS, ids=[case[0] for case in HOSTILE_HEADERS])
def test_bad_headers_are_refused(server, what, headers, host, status):
    host = host.format(port=server.port) if host not in (None, "default") else host
    if what != "no Host at all" and host is None:
        host = "default"
    if "Content-Length" in headers or "Transfer-Encoding" in headers or what == "missing Content-Length":
        body = None
    else:
        body = json.dumps(GOOD).encode()
    got, _, answer = request(server, "POST", "/api/predict", body, headers, host=host)
    assert got == status, f"{what}: expected {status}, got {got} {answer!r:.200}"
    assert answer["error"]
    assert request(server, "GET", "/api/model")[0] == 200, f"the server stopped serving after {what}"


def test_the_local_names_are_accepted(server):
    for host in (f"localhost:{server.port}", f"127.0.0.1:{server.port}", "localhost"):
        assert request(server, "GET", "/api/model", host=host)[0] == 200, host
    origin = {"Origin": f"http://localhost:{server.port}", "Content-Type": "application/json"}
    assert request(server, "POST", "/api/predict", json.dumps(GOOD).encode(), origin)[0] == 200


HOSTILE_PATHS = [
    ("GET", "/nope", 404), ("GET", "/api/nope", 404), ("GET", "/index.html/../../server.py", 404),
    ("GET", "/../../../../etc/passwd", 404), ("GET", "/%2e%2e/%2e%2e/etc/passwd", 404),
    ("GET", "//etc/passwd", 404), ("GET", "/static/../server.py", 404), ("GET", "/app.js%00.py", 404),
    ("GET", "/api/test-digit?index=99", 400), ("GET", "/api/test-digit?index=-1", 400),
    ("GET", "/api/test-digit?index=abc", 400), ("GET", "/api/test-digit?file=/etc/passwd", 400),
    ("GET", "/api/predict", 405), ("POST", "/", 405), ("POST", "/etc/passwd", 404),
    ("PUT", "/api/predict", 405), ("DELETE", "/", 405), ("OPTIONS", "/api/predict", 405),
    ("PATCH", "/app.js", 405), ("HEAD", "/", 405), ("TRACE", "/", 405),
]


@pytest.mark.parametrize("method, path, status", HOSTILE_PATHS, ids=[f"{m} {p}" for m, p, _ in HOSTILE_PATHS])
def test_unknown_paths_and_methods_are_refused(server, method, path, status):
    body = b"{}" if method in ("POST", "PUT", "PATCH") else None
    got, response, answer = request(server, method, path, body, {"Content-Type": "application/json"})
    assert got == status, f"{method} {path}: expected {status}, got {got}"
    if method != "HEAD":
        assert response.getheader("Content-Type") == "application/json" and "root:" not in json.dumps(answer)
    assert request(server, "GET", "/api/model")[0] == 200


def test_unknown_method_too_many_headers_and_a_short_body_answer_json(server):
    status, answer = raw_exchange(server, b"BREW /pot HTTP/1.1\r\n\r\n")
    assert status == 501 and "BREW" in answer["error"], answer
    many_headers = "".join(f"X-{number}: {number}\r\n" for number in range(200))
    status, answer = raw_exchange(server, f"GET / HTTP/1.1\r\n{many_headers}\r\n".encode())
    assert status == 431 and answer["error"], answer
    head = (f"POST /api/predict HTTP/1.1\r\nHost: 127.0.0.1:{server.port}\r\nContent-Type: application/json\r\n"
            f"Content-Length: 500\r\n\r\n{{\"width\": 1").encode()
    status, answer = raw_exchange(server, head, shut_write=True)
    assert status == 400 and "ended after" in answer["error"], answer
    assert request(server, "GET", "/api/model")[0] == 200


# ---- the command ----------------------------------------------------------------------------------------------

def test_draw_with_a_missing_model_names_it(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert main(["draw", "missing.npz"]) == 2
    assert "missing.npz" in capsys.readouterr().err
    assert main(["draw", "--port", "70000"]) == 2
    assert "--port must be in 0..65535" in capsys.readouterr().err


def test_a_server_without_a_model_answers_that_there_is_none_yet():
    server = DrawServer(None, "127.0.0.1", 0)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        status, _, answer = request(server, "GET", "/api/model")
        assert status == 200 and answer["name"] is None and "Train view" in answer["message"], answer
        for method, path, status in [("GET", "/api/test-digit", 503), ("POST", "/api/predict", 503)]:
            body = json.dumps(drawing_payload(canvas(vertical_bar)))
            got, _, answer = request(server, method, path, body.encode() if method == "POST" else None,
                                     {"Content-Type": "application/json"})
            assert got == status and "train one in the Train view" in answer["error"], (path, got, answer)
    finally:
        server.shutdown()
        server.server_close()


def test_draw_command_serves_the_page(tmp_path):
    path = tmp_path / "tiny.npz"
    save_model(path, tiny_model(), {"test_accuracy": 0.5})
    process = subprocess.Popen([sys.executable, "-m", "nnscratch", "draw", str(path), "--port", "0", "--no-browser"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               env={**os.environ, "PYTHONUNBUFFERED": "1"})
    try:
        line = process.stdout.readline()
        assert "http://127.0.0.1:" in line, \
            f"no URL printed: {line!r} {process.stderr.read() if process.poll() else ''}"
        url = line.split("http://", 1)[1].split()[0]
        host, port = url.rstrip("/").split(":")
        connection = http.client.HTTPConnection(host, int(port), timeout=10)
        connection.request("GET", "/api/model")
        body = json.loads(connection.getresponse().read())
        assert body["name"] == "tiny.npz" and body["test_accuracy"] == 0.5
    finally:
        process.terminate()
        process.wait(10)


def test_the_look_inside_routes_answer_for_the_current_model(server):
    status, _, weights = request(server, "GET", "/api/explain/weights")
    assert status == 200 and weights["shape"][0] == 16, weights
    status, _, answer = post_json(server, drawing_payload(canvas(vertical_bar)))
    status, _, explained = request(server, "POST", "/api/explain", json.dumps({"pixels": answer["preview"]}).encode(),
                                   {"Content-Type": "application/json"})
    assert status == 200 and explained["prediction"] == answer["prediction"], explained
    assert request(server, "POST", "/api/explain", b"{}", {"Content-Type": "text/plain"})[0] == 415
    assert request(server, "GET", "/api/explain/nothing")[0] == 404


def test_the_page_scripts_are_modules_that_share_nothing_through_window(server):
    """The page's scripts are ES modules, with no build step: index.html loads each with type="module", no
    script puts a name on ``window`` (the views import what they share, from common.js and from each other), no
    inline ``on...=`` attribute calls a global, and the server sends every script it holds as JavaScript, without
    which a browser refuses to run a module."""
    import re

    from nnscratch.app.server import STATIC_DIR

    page = (STATIC_DIR / "index.html").read_text()
    tags = re.findall(r"<script\b[^>]*>", page)
    assert tags, "index.html loads no script"
    classic = [tag for tag in tags if 'type="module"' not in tag]
    assert not classic, f"index.html loads classic scripts, not modules: {classic}"
    assert not re.search(r"\son[a-z]+\s*=", page), "index.html has an inline event handler attribute"
    scripts = sorted(STATIC_DIR.glob("*.js"))
    assert scripts, f"no scripts in {STATIC_DIR}"
    for path in scripts:
        text = path.read_text()
        assigned = re.findall(r"\b(?:window|globalThis)\s*(?:\.\s*[\w$]+|\[[^\]]*\])\s*=(?!=)", text)
        assert not assigned, f"{path.name} assigns to window: {assigned}"
        assert not re.search(r"\son[a-z]+=", "\n".join(re.findall(r"`[^`]*`", text))), \
            f"{path.name} writes an inline event handler attribute into the page"
        for imported in re.findall(r"""\bfrom\s+["']\./([^"']+)["']""", text):
            assert (STATIC_DIR / imported).is_file(), f"{path.name} imports {imported}, which is not there"
        route = f"/{path.name}"
        assert route in STATIC_FILES, f"the server does not serve {path.name}"
        status, response, _ = request(server, "GET", route)
        kind = response.getheader("Content-Type")
        assert (status, kind.split(";")[0]) == (200, "text/javascript"), f"GET {route}: {status} {kind}"
