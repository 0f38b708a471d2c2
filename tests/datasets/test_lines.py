"""The synthetic line images: one full horizontal or vertical line, reproducible from a Generator."""
import numpy as np
import pytest

from nnscratch.datasets import make_lines


def test_each_image_holds_one_full_line_of_its_class():
    x, y = make_lines(200, np.random.default_rng(0))
    assert x.shape == (200, 256) and x.dtype == np.float32 and y.dtype == np.int64
    images = x.reshape(-1, 16, 16)
    full_rows = (images == 1).all(axis=2).sum(axis=1)
    full_columns = (images == 1).all(axis=1).sum(axis=1)
    np.testing.assert_array_equal(full_rows, (y == 0).astype(int))
    np.testing.assert_array_equal(full_columns, (y == 1).astype(int))
    assert images.sum(axis=(1, 2)).tolist() == [16.0] * 200  # nothing else is lit
    assert 60 < y.sum() < 140 and set(np.unique(images)) == {0.0, 1.0}


def test_same_seed_same_images_and_options():
    a = make_lines(50, np.random.default_rng(7), size=8, noise=0.1, thickness=2)
    b = make_lines(50, np.random.default_rng(7), size=8, noise=0.1, thickness=2)
    np.testing.assert_array_equal(a[0], b[0])
    assert a[0].shape == (50, 64) and 0.0 <= a[0].min() and a[0].max() <= 1.0
    clean, labels = make_lines(50, np.random.default_rng(7), size=8, thickness=2)
    assert clean.reshape(-1, 8, 8).sum(axis=(1, 2)).tolist() == [16.0] * 50


def test_bad_arguments():
    with pytest.raises(TypeError, match="expected rng to be a numpy.random.Generator, got int"):
        make_lines(3, 0)
    with pytest.raises(ValueError, match=r"expected 1 <= thickness <= size \(16\), got 17"):
        make_lines(3, np.random.default_rng(0), thickness=17)
