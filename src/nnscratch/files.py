"""Writing files so that a crash never leaves half of one: write beside it, flush to disk, then rename over it."""
import os
import tempfile
from contextlib import contextmanager


@contextmanager
def atomic_write(path, mode="wb"):
    """Open a temporary file beside ``path``; when the block succeeds, rename it to ``path`` in one step.

    If the block fails (or is interrupted), the temporary file is removed and whatever was at ``path`` stays.
    The new file gets the usual permissions (0666 less the umask), not the private ones of a temporary file.
    """
    path = os.fspath(path)
    directory = os.path.dirname(os.path.abspath(path))
    handle, temporary = tempfile.mkstemp(prefix=f".{os.path.basename(path)}.", suffix=".part", dir=directory)
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


def current_umask():
    mask = os.umask(0)
    os.umask(mask)
    return mask
