"""Reading and writing files safely.

``atomic_write`` never leaves half a file: it writes beside the target, flushes to disk, then renames over it.
``read_json_object`` reads a JSON object and turns every way a file can be wrong into one readable line;
``parse_json`` is its parser, which also refuses documents nested too deeply or with integers too long to convert
(each would otherwise raise deep inside the standard parser).
"""
import json
import os
import re
import tempfile
from contextlib import contextmanager

from ..errors import NNScratchError


@contextmanager
def atomic_write(path, mode="wb"):
    """Open a temporary file beside ``path``; when the block succeeds, rename it to ``path`` in one step.

    The folder is created if needed. If the block fails (or is interrupted), the temporary file is removed and
    whatever was at ``path`` stays. The new file gets the usual permissions (0666 less the umask), not the
    private ones of a temporary file. When the file cannot be created at all, the ``OSError`` names ``path``
    (not the temporary file) and keeps the reason in ``strerror``. A ``path`` that is a symbolic link stays one:
    the file it points to is replaced, beside itself.
    """
    path = os.fspath(path)
    if os.path.islink(path):
        path = os.path.realpath(path)
    directory = os.path.dirname(os.path.abspath(path))
    try:
        if not os.path.lexists(directory):  # (a file in the folder's place is left to mkstemp: "Not a directory")
            os.makedirs(directory, exist_ok=True)
        handle, temporary = tempfile.mkstemp(prefix=f".{os.path.basename(path)}.", suffix=".part", dir=directory)
    except OSError as error:
        raise cannot_write(path, error) from None
    try:
        with os.fdopen(handle, mode) as file:
            yield file
            file.flush()
            os.fsync(file.fileno())
        os.chmod(temporary, 0o666 & ~current_umask())
        os.replace(temporary, path)
    except BaseException:
        try:
            os.unlink(temporary)
        except FileNotFoundError:
            pass
        raise


def cannot_write(path, error):
    """``cannot write PATH: reason``, as an OSError of the same errno and strerror."""
    return WriteError(error.errno, error.strerror, f"cannot write {path}: {error.strerror or error}")


class WriteError(NNScratchError, OSError):
    """An OSError whose message names the file that could not be written (not a temporary file beside it)."""

    def __init__(self, errno, strerror, message):
        super().__init__(errno, strerror)
        self.message = message

    def __str__(self):
        return self.message


def current_umask():
    mask = os.umask(0)
    os.umask(mask)
    return mask


MAX_JSON_BYTES = 256 << 20   # 256 MiB: a JSON export of the largest preset network (mlp-large) takes 60 MB
MAX_JSON_DEPTH = 100         # levels of lists and objects: a model takes 4 per nested Sequential, 4 for weights
JAVASCRIPT_ASSIGNMENT = re.compile(r"^\(*\s*(?:(?:var|let|const)\s+)?[A-Za-z_$][\w$.]*\s*=\s*(\{.*\})\s*\)*\s*;?\s*$",
                                   re.S)


def read_json_object(path, error, javascript=False):
    """The JSON object in ``path``, or ``error`` (an exception class) with a one-line message.

    With ``javascript``, a file written as a JavaScript assignment is read too: ``name = {...};``,
    ``var name = {...}``, or in parentheses, ``(name = {...})``, as ibpme's web page ships its model. Files over
    ``MAX_JSON_BYTES`` are refused before they are read.
    """
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise error(f"{path}: no such model file")
    try:
        with open(path, "rb") as file:
            size = os.fstat(file.fileno()).st_size
            data = file.read() if size <= MAX_JSON_BYTES else b""
    except OSError as problem:
        raise error(f"{path}: cannot read it ({problem.strerror})") from None
    if max(size, len(data)) > MAX_JSON_BYTES:
        raise error(f"{path}: {max(size, len(data)):,} bytes, more than the {MAX_JSON_BYTES:,} a JSON model file "
                    f"may hold")
    try:
        text = data.decode("utf-8").strip()
    except UnicodeDecodeError:
        raise error(f"{path}: not a text (JSON) file") from None
    del data
    if javascript and (assignment := JAVASCRIPT_ASSIGNMENT.match(text)):
        text = assignment.group(1)
    document = parse_json(text, error, path)
    if not isinstance(document, dict):
        raise error(f"{path}: expected a JSON object, got {type(document).__name__}")
    return document


def parse_json(text, error, name):
    """``json.loads(text)``, or ``error`` with one line naming ``name``: for text that is not JSON, that nests
    lists and objects more than ``MAX_JSON_DEPTH`` levels deep, or that holds an integer of more digits than
    Python converts (``sys.get_int_max_str_digits()``, 4,300 by default)."""
    try:
        document = json.loads(text)
    except RecursionError:
        raise error(f"{name}: nested more than {MAX_JSON_DEPTH} levels deep (a model nests a dozen or so)") from None
    except json.JSONDecodeError as problem:
        raise error(f"{name}: not valid JSON ({problem})") from None
    except ValueError as problem:  # an integer too long to convert
        raise error(f"{name}: holds a number too long to read ({str(problem).split(';')[0]})") from None
    if nested_deeper_than(document, MAX_JSON_DEPTH):
        raise error(f"{name}: nested more than {MAX_JSON_DEPTH} levels deep (a model nests a dozen or so)")
    return document


def nested_deeper_than(document, limit):
    """Whether lists and objects nest more than ``limit`` levels deep in ``document``, walked without recursion."""
    stack = [(document, 1)]
    while stack:
        value, depth = stack.pop()
        if depth > limit:
            return True
        items = value.values() if isinstance(value, dict) else value if isinstance(value, list) else ()
        stack.extend((item, depth + 1) for item in items if isinstance(item, (dict, list)))
    return False
