"""The page's server keeps its terminal quiet and goes on serving: clients that go away mid-answer, bodies short of
their Content-Length, idle keep-alive connections and refused requests print nothing, and a short body gets its
400 at once. The first two run ``nnscratch draw`` itself and read everything it writes to stderr."""
import http.client
import json
import os
import socket
import struct
import subprocess
import sys
import threading
import time

import pytest

from nnscratch import Linear, ReLU, Sequential
from nnscratch.app import DrawServer, DrawService
from nnscratch.app.bodies import BODY_PAUSE_SECONDS
from nnscratch.app.server import DrawHandler
from nnscratch.serialization import save_model
from tests.app.test_api import request

DISCONNECTS = 50


def wide_model():
    """784-1024-10: its first layer's weight images make a GET /api/explain/weights answer of about a megabyte,
    more than a socket's buffers hold, so a client that stops reading leaves the server mid-answer."""
    return Sequential(Linear(784, 1024, rng=0), ReLU(), Linear(1024, 10, rng=1))


@pytest.fixture
def draw_process(tmp_path):
    """``nnscratch draw MODEL --port 0 --no-browser`` in its own folder: ``(process, port)``; stdout and stderr
    are piped and left unread until the test reads them."""
    path = tmp_path / "wide.npz"
    save_model(path, wide_model(), {"test_accuracy": 0.5})
    process = subprocess.Popen([sys.executable, "-m", "nnscratch", "draw", str(path), "--port", "0", "--no-browser"],
                               cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               env={**os.environ, "PYTHONUNBUFFERED": "1"})
    line = process.stdout.readline()
    if "http://127.0.0.1:" not in line:
        process.kill()
        pytest.fail(f"no URL printed: {line!r} {process.communicate(timeout=10)[1]}")
    yield process, int(line.split("http://127.0.0.1:", 1)[1].split("/")[0])
    process.kill()
    process.wait(10)


def stderr_of(process):
    """Everything the server wrote to stderr, once it is stopped."""
    process.terminate()
    _, err = process.communicate(timeout=20)
    return err


def get(port, path):
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=20)
    try:
        connection.request("GET", path)
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


def reset(connection):
    """Close with a TCP reset (SO_LINGER 0), as a browser tab that is closed mid-download does."""
    connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    connection.close()


def test_clients_that_disconnect_mid_response_leave_stderr_empty_and_the_server_serving(draw_process):
    process, port = draw_process
    status, body = get(port, "/api/explain/weights")
    assert status == 200 and len(body) > 1_000_000, (status, len(body))
    for attempt in range(DISCONNECTS):
        connection = socket.create_connection(("127.0.0.1", port), timeout=20)
        path = "/api/explain/weights" if attempt % 2 == 0 else "/"   # half mid-body, half before the answer
        connection.sendall(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n".encode())
        if attempt % 2 == 0:
            head = connection.recv(4096)
            assert head.startswith(b"HTTP/1.1 200"), head[:100]
        reset(connection)
    time.sleep(0.5)   # the server's threads meet the resets
    status, body = get(port, "/api/model")
    assert status == 200 and json.loads(body)["name"] == "wide.npz", (status, body[:200])
    status, body = get(port, "/api/explain/weights")
    assert status == 200 and len(body) > 1_000_000, "the server stopped answering in full"
    err = stderr_of(process)
    assert err == "", f"{DISCONNECTS} disconnects printed {len(err.splitlines())} lines:\n{err[:3000]}"


def test_a_body_short_of_its_content_length_gets_a_400_at_once_and_nothing_is_printed(draw_process):
    process, port = draw_process
    with socket.create_connection(("127.0.0.1", port), timeout=20) as connection:
        started = time.monotonic()
        connection.sendall(f"POST /api/predict HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: "
                           f"application/json\r\nContent-Length: 500\r\n\r\n{{\"width\": 1".encode())
        answer = b""
        while chunk := connection.recv(65536):   # the client keeps its end open: the server must not wait on it
            answer += chunk
        waited = time.monotonic() - started
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 400"), head[:100]
    error = json.loads(body)["error"]
    assert "ended after 11 of 500 bytes" in error and "nothing more came" in error, error
    assert waited < BODY_PAUSE_SECONDS + 1.5, f"the 400 came after {waited:.1f} s"
    assert get(port, "/api/model")[0] == 200
    assert stderr_of(process) == ""


@pytest.fixture
def quiet_server(monkeypatch):
    """An in-process server whose connections time out after half a second, and the lines its log heard."""
    monkeypatch.setattr(DrawHandler, "timeout", 0.5)
    log = []
    service = DrawService(wide_model(), {"test_accuracy": 0.5}, name="wide.npz", test_set=None)
    server = DrawServer(service, "127.0.0.1", 0, log=log.append)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    server.heard = log
    yield server
    server.shutdown()
    server.server_close()


def test_an_idle_keep_alive_connection_is_closed_without_a_word(quiet_server, capfd):
    with socket.create_connection(("127.0.0.1", quiet_server.port), timeout=20) as connection:
        connection.sendall(f"GET /api/model HTTP/1.1\r\nHost: 127.0.0.1:{quiet_server.port}\r\n\r\n".encode())
        answer = connection.makefile("rb")
        assert answer.readline().startswith(b"HTTP/1.1 200")
        headers = dict(line.decode().rstrip("\r\n").split(": ", 1) for line in iter(answer.readline, b"\r\n"))
        assert json.loads(answer.read(int(headers["Content-Length"])))["name"] == "wide.npz"
        started = time.monotonic()
        assert connection.recv(1) == b"", "the idle connection was not closed"   # blocks until the server closes
        assert time.monotonic() - started < 5
    time.sleep(0.2)
    assert quiet_server.heard == [], quiet_server.heard
    captured = capfd.readouterr()
    assert captured.err == "", captured.err


def test_refused_requests_are_answered_in_json_and_never_logged(quiet_server, capfd):
    for method, path, body, status in [("GET", "/nope", None, 404), ("POST", "/api/predict", b"[1]", 400),
                                       ("GET", "/api/test-digit", None, 503), ("PUT", "/", b"{}", 405)]:
        got, response, answer = request(quiet_server, method, path, body, {"Content-Type": "application/json"})
        assert got == status and answer["error"], (method, path, got, answer)
    got, _, answer = request(quiet_server, "GET", "/api/model", host="evil.example")
    assert got == 403 and answer["error"]
    assert request(quiet_server, "GET", "/api/model")[0] == 200
    assert quiet_server.heard == [], quiet_server.heard
    assert capfd.readouterr().err == ""


def test_a_server_error_is_one_line_in_the_log_and_the_client_gets_a_500(quiet_server, monkeypatch, capfd):
    def broken(self):
        raise RuntimeError("a bug")
    monkeypatch.setattr(DrawService, "describe", broken)
    got, _, answer = request(quiet_server, "GET", "/api/model")
    assert got == 500 and answer == {"error": "internal server error"}, answer
    assert len(quiet_server.heard) == 1 and "RuntimeError: a bug" in quiet_server.heard[0], quiet_server.heard
    assert "\n" not in quiet_server.heard[0]
    monkeypatch.undo()
    assert request(quiet_server, "GET", "/api/model")[0] == 200
    assert capfd.readouterr().err == ""
