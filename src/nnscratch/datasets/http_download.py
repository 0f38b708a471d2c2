"""Downloading one file safely: a short connect timeout, a progress bar, size and SHA-256 checked.

The bytes go to ``<name>.part`` and are renamed to ``<name>`` only after the size and checksum match, so a
dropped connection, an interrupt or a wrong file never leaves anything under the final name.
"""
import hashlib
import http.client
import os
import sys
import urllib.parse

from .errors import DataError

CONNECT_TIMEOUT = 3.0  # seconds: an offline machine falls through to the next source quickly
READ_TIMEOUT = 60.0
MAX_REDIRECTS = 5
CHUNK_SIZE = 1 << 16


def _open(url, connect_timeout):
    """Open ``url`` with http.client, following redirects; return (connection, response)."""
    for _ in range(MAX_REDIRECTS + 1):
        parts = urllib.parse.urlsplit(url)
        if parts.scheme not in ("http", "https"):
            raise DataError(f"{url}: only http and https URLs can be downloaded")
        connection_class = http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
        connection = connection_class(parts.hostname, parts.port, timeout=connect_timeout)
        connection.connect()
        connection.sock.settimeout(READ_TIMEOUT)
        path = parts.path + (f"?{parts.query}" if parts.query else "")
        connection.request("GET", path or "/", headers={"User-Agent": "nnscratch"})
        response = connection.getresponse()
        if response.status in (301, 302, 303, 307, 308) and response.getheader("Location"):
            url = urllib.parse.urljoin(url, response.getheader("Location"))
            connection.close()
            continue
        if response.status != 200:
            connection.close()
            raise DataError(f"{url}: HTTP {response.status} {response.reason}")
        return connection, response
    raise DataError(f"{url}: more than {MAX_REDIRECTS} redirects")


def _progress(total, description):
    """A tqdm bar on a terminal, else a no-op object with the same ``update``/``close`` methods."""
    if sys.stderr.isatty():
        try:
            from tqdm import tqdm
            return tqdm(total=total, unit="B", unit_scale=True, desc=description, leave=False)
        except ImportError:
            pass
    return _Silent()


class _Silent:
    def update(self, count):
        pass

    def close(self):
        pass


def download(remote, directory, connect_timeout=CONNECT_TIMEOUT):
    """Fetch ``remote`` (a RemoteFile) into ``directory``, trying its URLs in order; return the final path.

    Raises DataError listing each URL and why it failed when none gives the expected file.
    """
    final = os.path.join(directory, remote.name)
    failures = []
    for url in remote.urls:
        try:
            _download_one(url, remote, final, connect_timeout)
            return final
        except (OSError, http.client.HTTPException, DataError) as error:
            failures.append(f"{url}: {_reason(error)}")
    raise DataError("; ".join(failures))


def _reason(error):
    if isinstance(error, DataError):
        return str(error).split(": ", 1)[-1]
    if isinstance(error, http.client.IncompleteRead):
        return f"connection dropped after {len(error.partial)} bytes"
    return f"{type(error).__name__}: {error}"


def _download_one(url, remote, final, connect_timeout):
    partial = final + ".part"
    hasher, received = hashlib.sha256(), 0
    connection, response = _open(url, connect_timeout)
    length = response.getheader("Content-Length")
    progress = _progress(remote.size or (int(length) if length and length.isdigit() else None), remote.name)
    try:
        with open(partial, "wb") as file:
            while True:
                chunk = response.read(CHUNK_SIZE)
                if not chunk:
                    break
                file.write(chunk)
                hasher.update(chunk)
                received += len(chunk)
                progress.update(len(chunk))
                if remote.size is not None and received > remote.size:
                    raise DataError(f"{url}: the server sent more than the expected {remote.size} bytes")
        if length and length.isdigit() and received != int(length):
            raise DataError(f"{url}: connection dropped after {received} of {length} bytes")
        if remote.size is not None and received != remote.size:
            raise DataError(f"{url}: got {received} bytes, expected {remote.size}")
        if hasher.hexdigest() != remote.sha256:
            raise DataError(f"{url}: checksum mismatch (SHA-256 {hasher.hexdigest()}, expected {remote.sha256}); "
                            f"the download was deleted")
        os.replace(partial, final)
    finally:
        progress.close()
        connection.close()
        if os.path.exists(partial):
            os.unlink(partial)
