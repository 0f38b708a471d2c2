"""RandomAffine: identity when nothing is drawn, exact sub-pixel shifts, background outside, reproducibility."""
import numpy as np
import pytest

from nnscratch.images.augment import RandomAffine, bilinear


def digits(count=4, seed=0):
    """Blobs of ink in the middle of 28x28 images, with nothing near the border."""
    images = np.zeros((count, 28, 28), dtype=np.float32)
    images[:, 8:20, 10:18] = np.random.default_rng(seed).random((count, 12, 8), dtype=np.float32)
    return images


def test_no_shift_rotation_or_scaling_returns_the_images_unchanged():
    images = digits()
    same = RandomAffine(shift=0, rotation=0, scale=0)(images.reshape(4, 784), np.random.default_rng(0))
    np.testing.assert_allclose(same, images.reshape(4, 784), atol=1e-6)


def test_bilinear_sampling_moves_by_whole_and_half_pixels_and_reads_background_outside():
    images = digits(2)
    rows, columns = np.meshgrid(np.arange(28.0), np.arange(28.0), indexing="ij")
    down = bilinear(images, rows[None] - 3.0, columns[None] + np.zeros((2, 1, 1)))
    np.testing.assert_allclose(down[:, 3:], images[:, :-3], atol=1e-6)
    assert np.all(down[:, :3] == 0)
    half = bilinear(images, rows[None] + np.zeros((2, 1, 1)), columns[None] + 0.5)
    np.testing.assert_allclose(half[:, :, :-1], (images[:, :, :-1] + images[:, :, 1:]) / 2, atol=1e-6)
    far = bilinear(images, rows[None] - 100.0 + np.zeros((2, 1, 1)), columns[None] + 0 * rows[None])
    assert np.all(far == 0)


def test_same_seed_same_images_and_shapes_and_dtype_are_kept():
    transform = RandomAffine(shift=2, rotation=15, scale=0.1)
    images = digits(8)
    for batch in (images.reshape(8, 784), images.reshape(8, 1, 28, 28), images):
        first = transform(batch, np.random.default_rng(5))
        again = transform(batch, np.random.default_rng(5))
        other = transform(batch, np.random.default_rng(6))
        assert first.shape == batch.shape and first.dtype == np.float32, f"got {first.shape} {first.dtype}"
        np.testing.assert_array_equal(first, again)
        assert not np.allclose(first, other), "different generators should draw different transformations"
        assert not np.allclose(first, batch), "the images should have moved"


def test_small_transformations_keep_most_of_the_ink():
    images = digits(16)
    moved = RandomAffine(shift=2, rotation=10, scale=0.1)(images, np.random.default_rng(1))
    ratio = moved.sum(axis=(1, 2)) / images.sum(axis=(1, 2))
    assert np.all((ratio > 0.75) & (ratio < 1.3)), f"ink ratios {ratio}"
    assert moved.min() >= 0 and moved.max() <= 1 + 1e-6


def test_bad_arguments_and_shapes_give_clear_errors():
    with pytest.raises(ValueError, match="0 <= scale < 1"):
        RandomAffine(scale=1.5)
    with pytest.raises(ValueError, match=r"expected images of shape \(N, 784\), \(N, H, W\) or \(N, 1, H, W\), "
                                         r"got shape \(2, 100\)"):
        RandomAffine()(np.zeros((2, 100), dtype=np.float32), np.random.default_rng(0))
