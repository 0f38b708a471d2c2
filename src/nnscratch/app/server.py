"""The draw page's web server: the Python standard library's threading HTTP server, for one local user.

It serves three static files (the page, its script and its style sheet, read once at start-up; no path a
client sends ever reaches the file system) and a small JSON API:

- ``GET /api/model``: the model's name, architecture, size and test accuracy;
- ``GET /api/test-digit[?index=N]``: a random (or the N-th) MNIST test image and its label;
- ``POST /api/predict``: a drawing, as JSON ``{"width", "height", "pixels": [width*height grey values in
  0..255, row by row]}`` or as a PNG (``Content-Type: image/png``); the answer holds the probabilities, the
  prediction and the 28×28 image the network received.

Whatever a client sends, the answer to a bad request is a 4xx with ``{"error": "..."}`` and the server goes on
serving: bodies over ``MAX_BODY_BYTES``, other content types, malformed JSON, wrong shapes, non-finite or
out-of-range numbers, unknown paths and methods, and a ``Host`` (or ``Origin``) that is not this server's own,
which keeps web sites out through DNS rebinding.
"""
import ipaddress
import json
import socket
import traceback
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from .bodies import MAX_BODY_BYTES, RequestError, read_drawing

STATIC_DIR = Path(__file__).resolve().parent / "static"
STATIC_FILES = {"/": ("index.html", "text/html; charset=utf-8"),
                "/app.js": ("app.js", "text/javascript; charset=utf-8"),
                "/style.css": ("style.css", "text/css; charset=utf-8")}
LOOPBACK_NAMES = {"localhost", "127.0.0.1", "::1"}
SECURITY_HEADERS = {
    "Cache-Control": "no-store",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'; "
                               "base-uri 'none'; form-action 'none'",
}


class DrawServer(ThreadingHTTPServer):
    """Serves a ``DrawService`` on ``host:port`` (port 0 picks a free one); ``url`` says where.

    ``log`` is a function taking one line; it hears refused requests and server errors (None: silence).
    """

    daemon_threads = True

    def __init__(self, service, host="127.0.0.1", port=0, log=None):
        self.service = service
        self.log = log
        self.static = {route: ((STATIC_DIR / name).read_bytes(), kind) for route, (name, kind) in STATIC_FILES.items()}
        if ":" in host:
            self.address_family = socket.AF_INET6
        super().__init__((host, port), DrawHandler)
        self.host, self.port = host, self.server_address[1]
        self.allowed_hosts = allowed_host_names(host)

    @property
    def url(self):
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{'127.0.0.1' if host in ('0.0.0.0', '') else host}:{self.port}/"


def allowed_host_names(bound_host):
    """Loopback names always; an IP literal when bound beyond loopback (a name could be DNS-rebound)."""
    return set(LOOPBACK_NAMES) | {bound_host}


def host_is_allowed(server, host_header):
    """Whether a ``Host`` value (``name[:port]``) names this server by a name a web site cannot rebind."""
    if not host_header:
        return False
    parsed = urllib.parse.urlsplit(f"//{host_header}")
    try:
        name, port = parsed.hostname, parsed.port
    except ValueError:
        return False
    if port is not None and port != server.port:
        return False
    if name in server.allowed_hosts:
        return True
    if server.host not in LOOPBACK_NAMES:  # bound to a network address: plain IP addresses cannot be rebound
        try:
            ipaddress.ip_address(name or "")
            return True
        except ValueError:
            return False
    return False


class DrawHandler(BaseHTTPRequestHandler):
    """Routes one request; every answer is JSON except the three static files."""

    protocol_version = "HTTP/1.1"
    server_version = "nnscratch-draw"
    timeout = 10  # seconds a slow client may keep a thread waiting
    disable_nagle_algorithm = True  # headers and body go out in two writes; do not wait 40 ms between them

    def do_GET(self):
        self.handle_safely(self.get)

    def do_POST(self):
        self.handle_safely(self.post)

    def refuse_method(self):
        self.handle_safely(self.refuse)

    def refuse(self, path, query):
        self.close_connection = True  # any body is left unread
        raise RequestError(405, f"method {self.command} is not allowed; use GET, or POST for /api/predict")

    do_PUT = do_DELETE = do_PATCH = do_OPTIONS = do_HEAD = do_TRACE = do_CONNECT = refuse_method

    def handle_safely(self, route):
        try:
            self.check_origin()
            parts = urllib.parse.urlsplit(self.path)
            route(parts.path, parts.query)
        except RequestError as error:
            self.send_json(error.status, {"error": str(error)})
        except Exception:  # a bug must not stop the server: answer 500, log it, keep serving
            self.log_line("server error: " + traceback.format_exc().strip().replace("\n", " | "))
            self.send_json(500, {"error": "internal server error"})

    def check_origin(self):
        if not host_is_allowed(self.server, self.headers.get("Host")):
            self.close_connection = True
            raise RequestError(403, f"Host header {self.headers.get('Host')!r} is not this server's local "
                                    f"address")
        origin = self.headers.get("Origin")
        if origin is not None and not host_is_allowed(self.server, urllib.parse.urlsplit(origin).netloc):
            self.close_connection = True
            raise RequestError(403, f"requests from origin {origin!r} are not allowed")

    def get(self, path, query):
        if path in self.server.static:
            body, kind = self.server.static[path]
            return self.send_bytes(200, body, kind)
        if path == "/api/model":
            return self.send_json(200, self.server.service.describe())
        if path == "/api/test-digit":
            return self.send_json(200, self.test_digit(query))
        if path == "/api/predict":
            raise RequestError(405, "use POST for /api/predict")
        raise RequestError(404, f"no such page: {path[:100]}")

    def post(self, path, query):
        if path != "/api/predict":
            self.close_connection = True  # the body is left unread
            known = path in self.server.static or path in ("/api/model", "/api/test-digit")
            raise RequestError(405 if known else 404, f"cannot POST to {path[:100]}")
        image = read_drawing(self.headers.get_content_type(), self.read_body())
        try:
            answer = self.server.service.predict(image)
        except ValueError as error:
            raise RequestError(400, f"cannot prepare this image: {error}") from None
        self.send_json(200, answer)

    def test_digit(self, query):
        try:
            fields = urllib.parse.parse_qs(query, strict_parsing=bool(query), max_num_fields=4)
        except ValueError:
            raise RequestError(400, "malformed query string; expected ?index=N") from None
        if set(fields) - {"index"} or len(fields.get("index", [])) > 1:
            raise RequestError(400, "the only query parameter is index=N")
        index = None
        if "index" in fields:
            text = fields["index"][0]
            if not (text.isdigit() and len(text) < 10):
                raise RequestError(400, f"index must be a whole number, got {text[:20]!r}")
            index = int(text)
        try:
            return self.server.service.test_digit(index)
        except IndexError as error:
            raise RequestError(400, str(error)) from None
        except LookupError as error:
            raise RequestError(503, str(error)) from None

    def read_body(self):
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            self.close_connection = True
            raise RequestError(411, "chunked bodies are not accepted; send a Content-Length")
        length = self.headers.get("Content-Length")
        if length is None:
            self.close_connection = True
            raise RequestError(411, "a Content-Length header is required")
        if not (length.isdigit() and len(length) < 16):
            self.close_connection = True
            raise RequestError(400, f"Content-Length must be a whole number, got {length[:20]!r}")
        if int(length) > MAX_BODY_BYTES:
            self.close_connection = True
            raise RequestError(413, f"the body is {int(length)} bytes; the limit is {MAX_BODY_BYTES}")
        body = self.rfile.read(int(length))
        if len(body) != int(length):
            self.close_connection = True
            raise RequestError(400, f"the body ended after {len(body)} of {length} bytes")
        return body

    def send_json(self, status, payload):
        self.send_bytes(status, json.dumps(payload, allow_nan=False).encode(), "application/json")

    def send_bytes(self, status, body, kind):
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        for name, value in SECURITY_HEADERS.items():
            self.send_header(name, value)
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def send_error(self, code, message=None, explain=None):
        # http.server's own refusals (a malformed request line, a header too long...) answer JSON too.
        self.close_connection = True
        self.send_json(code, {"error": message or explain or "bad request"})

    def log_request(self, code="-", size="-"):
        if isinstance(code, int) and code >= 400 or str(code).startswith(("4", "5")):
            self.log_line(f"{getattr(self, 'command', None)} {str(getattr(self, 'path', ''))[:100]} -> {code}")

    def log_message(self, format, *args):
        self.log_line(format % args)

    def log_line(self, line):
        if self.server.log is not None:
            self.server.log(f"{self.address_string()} {line}")
