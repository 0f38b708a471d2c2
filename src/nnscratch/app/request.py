"""One request to the page's server, and the one place where what it carries is read and checked.

A ``Request`` is what every route's handler receives (``handler(request) -> (status, payload)``): the method, the
path, the query, and, read on demand with the size and time limits of ``bodies``, the body. Its readers refuse a
bad request with a ``RequestError`` (a 4xx and one line for the client): ``query`` (only the names a route
knows, each once), ``whole_number_text`` (a number in a query: digits only), ``whole_number`` (a number in a JSON
body: an int, not a bool or a float), ``json`` (a JSON object, sent as ``Content-Type: application/json``).

A payload is a JSON-ready dict, or ``Bytes`` (a binary answer with its content type and headers), or None when
the handler has answered by itself (the event stream, which writes as it goes).
"""
import urllib.parse
from dataclasses import dataclass, field

from .bodies import RequestError, json_object, read_body


@dataclass(frozen=True)
class Bytes:
    """A binary answer: the body, its content type and extra headers."""

    body: bytes
    kind: str = "application/octet-stream"
    headers: dict = field(default_factory=dict)


class Request:
    """One request: ``method``, ``path``, ``query`` (the raw query string), ``server`` (the ``DrawServer``) and
    ``handler`` (the ``http.server`` handler, for reading the body and for answers that stream)."""

    def __init__(self, handler, method, path, query):
        self.handler, self.server = handler, handler.server
        self.method, self.path, self.query = method, path, query
        self._body = None

    @property
    def content_type(self):
        return self.handler.headers.get_content_type()

    def body(self):
        """The body's bytes, read once within the limits of ``bodies.read_body``."""
        if self._body is None:
            self._body = read_body(self.handler) if self.method == "POST" else b""
        return self._body

    def refuse(self, status, message):
        """A ``RequestError`` that also closes the connection (whatever is left of the body goes unread)."""
        self.handler.close_connection = True
        return RequestError(status, message)

    def json(self, expected="a JSON object", empty_is=None):
        """The body as a JSON object, sent as ``application/json`` (415 otherwise); an empty body is
        ``empty_is`` when given (``{}`` for the controls), a 400 otherwise."""
        if self.content_type != "application/json" or "Content-Type" not in self.handler.headers:
            raise self.refuse(415, f"expected Content-Type application/json, got "
                                   f"{self.handler.headers.get('Content-Type')!r}")
        body = self.body()
        if empty_is is not None and not body.strip():
            return empty_is
        return json_object(body, expected)

    def fields(self, names, usage=None):
        """The query's fields (``query(self.query, names, usage)``)."""
        return query(self.query, names, usage)


def query(text, names, usage=None):
    """The fields of a query string as ``{name: value}``: only ``names``, each at most once; a 400 naming what a
    route takes (``usage``, such as ``?index=N``) for anything else."""
    usage = usage or f"the query may hold only {', '.join(sorted(names))}, once each"
    try:
        fields = urllib.parse.parse_qs(text, strict_parsing=bool(text), max_num_fields=max(4, 2 * len(names)))
    except ValueError:
        raise RequestError(400, f"malformed query string; {usage}") from None
    if set(fields) - set(names) or any(len(values) > 1 for values in fields.values()):
        raise RequestError(400, usage)
    return {name: values[0] for name, values in fields.items()}


def whole_number_text(text, name, digits=9):
    """A whole number written in a query (digits only, at most ``digits`` of them)."""
    if not (text.isdigit() and len(text) <= digits):
        raise RequestError(400, f"{name} must be a whole number, got {text[:20]!r}")
    return int(text)


def whole_number(value, name, largest):
    """A whole number from a JSON body: an int from 0 to ``largest`` (not a bool, not 1.0)."""
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= largest:
        raise RequestError(400, f"{name} must be a whole number from 0 to {largest}, got {str(value)[:20]}")
    return value
