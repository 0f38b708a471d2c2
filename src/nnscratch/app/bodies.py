"""What a request body may be, read strictly: exactly its ``Content-Length`` of at most ``MAX_BODY_BYTES``, arriving
without a pause of ``BODY_PAUSE_SECONDS``; for ``POST /api/predict``, JSON canvas pixels or a PNG within size limits.

Anything else becomes a ``RequestError`` holding the HTTP status and one line for the client.
"""
import io
import json

import numpy as np

from ..images.prepare import image_to_grey

MAX_BODY_BYTES = 2 * 1024 * 1024
BODY_PAUSE_SECONDS = 1.0   # a body that stops arriving for this long is short of its Content-Length: a 400
MAX_IMAGE_SIDE = 2048
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


class RequestError(Exception):
    """A request the server refuses: an HTTP status and one line for the client."""

    def __init__(self, status, message):
        super().__init__(message)
        self.status = status


def read_body(handler):
    """The body of the request that ``handler`` (an ``http.server`` handler) is answering, within the limits above;
    a refused body closes the connection, since what is left of it cannot be told from the next request."""
    if "chunked" in handler.headers.get("Transfer-Encoding", "").lower():
        handler.close_connection = True
        raise RequestError(411, "chunked bodies are not accepted; send a Content-Length")
    length = handler.headers.get("Content-Length")
    if length is None:
        handler.close_connection = True
        raise RequestError(411, "a Content-Length header is required")
    if not (length.isdigit() and len(length) < 16):
        handler.close_connection = True
        raise RequestError(400, f"Content-Length must be a whole number, got {length[:20]!r}")
    if int(length) > MAX_BODY_BYTES:
        handler.close_connection = True
        raise RequestError(413, f"the body is {int(length)} bytes; the limit is {MAX_BODY_BYTES}")
    body, paused = read_exactly(handler, int(length))
    if len(body) != int(length):
        handler.close_connection = True
        wait = f" (nothing more came for {BODY_PAUSE_SECONDS:g} s)" if paused else ""
        raise RequestError(400, f"the body ended after {len(body)} of {length} bytes{wait}")
    return body


def read_exactly(handler, length):
    """``(bytes, paused)``: up to ``length`` bytes of the body, read as they come; the reading stops early when the
    client closes its end or sends nothing for ``BODY_PAUSE_SECONDS`` (``paused``), rather than holding the thread
    until the connection's own timeout."""
    chunks, received, paused = [], 0, False
    handler.connection.settimeout(BODY_PAUSE_SECONDS)
    try:
        while received < length:
            chunk = handler.rfile.read1(length - received)
            if not chunk:
                break
            chunks.append(chunk)
            received += len(chunk)
    except TimeoutError:
        paused = True
    finally:
        handler.connection.settimeout(handler.timeout)
    return b"".join(chunks), paused


def read_drawing(content_type, body):
    """The drawing in a request body as a 2-D float array of grey values in [0, 1]."""
    if content_type == "application/json":
        return drawing_from_json(body)
    if content_type == "image/png":
        return drawing_from_png(body)
    raise RequestError(415, f"expected Content-Type application/json or image/png, got {content_type!r}")


def reject_constant(name):
    raise ValueError(f"non-finite number {name}")


def json_object(body, expected="a JSON object"):
    """The JSON object a request body holds; anything else (bad UTF-8, malformed or non-finite JSON, nesting
    deep enough to exhaust the parser, an array) is a 400 naming the problem."""
    try:
        value = json.loads(body.decode("utf-8"), parse_constant=reject_constant)
    except (UnicodeDecodeError, ValueError, RecursionError) as error:
        raise RequestError(400, f"malformed JSON: {str(error)[:120]}") from None
    if not isinstance(value, dict):
        raise RequestError(400, f"expected {expected}, got {type(value).__name__}")
    return value


def drawing_from_json(body):
    request = json_object(body, "a JSON object with width, height and pixels")
    width, height, pixels = request.get("width"), request.get("height"), request.get("pixels")
    for name, side in (("width", width), ("height", height)):
        if type(side) is not int or not 1 <= side <= MAX_IMAGE_SIDE:
            raise RequestError(400, f"{name} must be a whole number in 1..{MAX_IMAGE_SIDE}, got {str(side)[:20]}")
    if not isinstance(pixels, list) or len(pixels) != width * height:
        size = len(pixels) if isinstance(pixels, list) else type(pixels).__name__
        raise RequestError(400, f"pixels must be a flat list of width*height = {width * height} numbers, got {size}")
    try:
        image = np.array(pixels)
    except (ValueError, TypeError):
        raise RequestError(400, "pixels must be a flat list of numbers") from None
    if image.ndim != 1 or image.dtype.kind not in "iuf":
        raise RequestError(400, f"pixels must be a flat list of numbers, got {image.dtype.name} values of shape "
                                f"{image.shape}")
    image = image.astype(np.float64)
    if not np.isfinite(image).all():
        raise RequestError(400, "pixels must be finite numbers")
    if image.min() < 0 or image.max() > 255:
        raise RequestError(400, f"pixels must lie in 0..255, got {image.min():g}..{image.max():g}")
    return image.reshape(height, width) / 255.0


def drawing_from_png(body):
    """A PNG of at most ``MAX_IMAGE_SIDE`` on each side. Its size is read from the header before any pixel is
    decoded; a picture larger than Pillow's decompression-bomb limit is refused with the same 413, and Pillow's
    warning for one just below that limit never reaches the server's log."""
    import warnings

    from PIL import Image
    if not body.startswith(PNG_SIGNATURE):
        raise RequestError(400, "the body is not a PNG image")
    too_large = f"at most {MAX_IMAGE_SIDE}×{MAX_IMAGE_SIDE} is accepted"
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)  # the side is checked here
            picture = Image.open(io.BytesIO(body), formats=["PNG"])
        if max(picture.size) > MAX_IMAGE_SIDE:
            raise RequestError(413, f"the image is {picture.size[0]}×{picture.size[1]}; {too_large}")
        picture.load()
        return image_to_grey(picture)
    except RequestError:
        raise
    except Image.DecompressionBombError:
        raise RequestError(413, f"the image is far too large; {too_large}") from None
    except (OSError, ValueError, SyntaxError) as error:
        raise RequestError(400, f"unreadable PNG: {str(error)[:120]}") from None
