"""Reading and writing files safely.

``atomic_write`` never leaves half a file: it writes beside the target, flushes to disk, then renames over it.
``read_json_object`` reads a JSON object and turns every way a file can be wrong into one readable line.
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
    (not the temporary file) and keeps the reason in ``strerror``.
    """
    path = os.fspath(path)
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


JAVASCRIPT_ASSIGNMENT = re.compile(r"^\(*\s*(?:(?:var|let|const)\s+)?[A-Za-z_$][\w$.]*\s*=\s*(\{.*\})\s*\)*\s*;?\s*$",
                                   re.S)


def read_json_object(path, error, javascript=False):
    """The JSON object in ``path``, or ``error`` (an exception class) with a one-line message.

    With ``javascript``, a file written as a JavaScript assignment is read too: ``name = {...};``,
    ``var name = {...}``, or in parentheses, ``(name = {...})``, as ibpme's web page ships its model.
    """
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise error(f"{path}: no such model file")
    try:
        with open(path, encoding="utf-8") as file:
            text = file.read().strip()
    except UnicodeDecodeError:
        raise error(f"{path}: not a text (JSON) file") from None
    except OSError as problem:
        raise error(f"{path}: cannot read it ({problem.strerror})") from None
    if javascript and (assignment := JAVASCRIPT_ASSIGNMENT.match(text)):
        text = assignment.group(1)
    try:
        document = json.loads(text)
    except json.JSONDecodeError as problem:
        raise error(f"{path}: not valid JSON ({problem})") from None
    if not isinstance(document, dict):
        raise error(f"{path}: expected a JSON object, got {type(document).__name__}")
    return document
