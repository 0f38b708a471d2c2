"""RandomAffine and ElasticDistortion: identity when nothing moves, exact sub-pixel shifts, background outside,
the size of the elastic moves, reproducibility, one batch the same as its images one by one."""
import numpy as np
import pytest

from nnscratch.images.augment import Compose, ElasticDistortion, RandomAffine, bilinear


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


def test_a_zero_field_returns_the_images_exactly():
    images = digits(6)
    for batch in (images.reshape(6, 784), images.reshape(6, 1, 28, 28), images):
        same = ElasticDistortion(alpha=0)(batch, np.random.default_rng(0))
        np.testing.assert_array_equal(same, batch)
        assert same.shape == batch.shape and same.dtype == np.float32, f"got {same.shape} {same.dtype}"
        zero = np.zeros((6, 2, 28, 28), dtype=np.float32)
        np.testing.assert_array_equal(ElasticDistortion().warp(batch, zero), batch)


def test_a_uniform_field_of_whole_pixels_reads_each_pixel_that_far_away():
    images = digits(3)
    fields = np.zeros((3, 2, 28, 28), dtype=np.float32)
    fields[:, 0], fields[:, 1] = 2.0, -1.0                   # read 2 rows below and 1 column to the left
    moved = ElasticDistortion().warp(images, fields)
    np.testing.assert_array_equal(moved[:, :-2, 1:], images[:, 2:, :-1])
    assert np.all(moved[:, -2:] == 0) and np.all(moved[:, :, :1] == 0), "outside the image is background"


def test_control_points_move_up_to_alpha_inside_and_not_at_all_on_the_border():
    moves = ElasticDistortion(alpha=1.5, grid=4).control_points(3000, np.random.default_rng(0))
    assert moves.shape == (3000, 2, 5, 5) and moves.dtype == np.float32, f"got {moves.shape} {moves.dtype}"
    inner = moves[:, :, 1:-1, 1:-1]
    border = moves.copy()
    border[:, :, 1:-1, 1:-1] = 0
    assert np.all(border == 0), "the border's control points should stay put"
    assert np.abs(inner).max() <= 1.5
    mean = np.abs(inner).mean()
    assert abs(mean - 0.75) < 0.01, f"uniform moves in [-1.5, 1.5] should average |c| = 0.75, got {mean:.4f}"


def test_the_field_is_the_bilinear_interpolation_of_the_control_points():
    transform = ElasticDistortion(alpha=1.0, grid=4)
    moves = transform.control_points(3, np.random.default_rng(1), dtype=np.float64)
    fields = transform.fields(moves, 28, 28)
    knots, pixels = np.linspace(0, 27, 5), np.arange(28.0)
    for image, component in np.ndindex(3, 2):
        along_rows = np.stack([np.interp(pixels, knots, column) for column in moves[image, component].T], axis=1)
        expected = np.stack([np.interp(pixels, knots, row) for row in along_rows])       # (28, 28)
        np.testing.assert_allclose(fields[image, component], expected, atol=1e-12)


def ramps(count):
    """Images whose value is the row (first) or the column (second) over 27: reading one where a pixel's
    displacement points gives back that displacement, since bilinear interpolation is exact on a ramp."""
    rows, columns = np.meshgrid(np.arange(28.0), np.arange(28.0), indexing="ij")
    return np.broadcast_to(rows / 27, (count, 28, 28)).copy(), np.broadcast_to(columns / 27, (count, 28, 28)).copy()


def expected_rms(alpha, grid=4, size=28):
    """The root mean square of one component of the displacement over the image: the moves are independent,
    each of variance α²/3, so E d(i, j)² = α²/3 · Σ_k h_k(i)² · Σ_l h_l(j)² over the inner control points."""
    knots = np.linspace(0, size - 1, grid + 1)
    hats = np.stack([np.interp(np.arange(size), knots, np.eye(grid + 1)[k]) for k in range(1, grid)])
    squares = (hats ** 2).sum(axis=0)
    return alpha * np.sqrt(np.mean(np.outer(squares, squares)) / 3)


@pytest.mark.parametrize("alpha", [0.5, 1.0, 2.0])
def test_the_measured_displacement_of_the_pixels_matches_alpha(alpha):
    transform = ElasticDistortion(alpha=alpha)
    row_ramp, column_ramp = ramps(2000)
    dy = transform(row_ramp, np.random.default_rng(3)) * 27 - row_ramp * 27
    dx = transform(column_ramp, np.random.default_rng(3)) * 27 - column_ramp * 27     # the same fields
    for name, moved in (("rows", dy), ("columns", dx)):
        rms = np.sqrt(np.mean(moved.astype(np.float64) ** 2))
        assert abs(rms / expected_rms(alpha) - 1) < 0.03, (
            f"{name}: displacements of {rms:.4f} pixels (root mean square), expected {expected_rms(alpha):.4f}")
    assert abs(expected_rms(1.0) - 0.28) < 0.01, "the docstring says about 0.28·α"
    largest = np.hypot(dy, dx).max()
    assert 0.6 * alpha < largest <= np.sqrt(2) * alpha + 1e-5, f"largest move {largest:.3f} for alpha {alpha}"


def test_elastic_same_seed_same_images_shapes_and_dtype_kept_and_values_in_0_1():
    transform = ElasticDistortion(alpha=1.5)
    images = digits(8)
    for batch in (images.reshape(8, 784), images.reshape(8, 1, 28, 28), images):
        first = transform(batch, np.random.default_rng(5))
        again = transform(batch, np.random.default_rng(5))
        other = transform(batch, np.random.default_rng(6))
        assert first.shape == batch.shape and first.dtype == np.float32, f"got {first.shape} {first.dtype}"
        np.testing.assert_array_equal(first, again)
        assert not np.allclose(first, other), "different generators should draw different fields"
        assert not np.allclose(first, batch), "the images should have moved"
        assert first.min() >= 0 and first.max() <= 1 + 1e-6, f"values from {first.min()} to {first.max()}"


def test_elastic_distortion_keeps_most_of_the_ink():
    images = digits(64)
    bent = ElasticDistortion(alpha=1.0)(images, np.random.default_rng(2))
    ratio = bent.sum(axis=(1, 2)) / images.sum(axis=(1, 2))
    # A field stretches some parts and squeezes others (by up to about α/Δ = 15 % along each axis for α = 1,
    # Δ = 6.75 pixels between control points), so one image's ink can change a little, but not on average.
    assert np.all((ratio > 0.75) & (ratio < 1.3)), f"ink ratios from {ratio.min():.3f} to {ratio.max():.3f}"
    assert abs(ratio.mean() - 1) < 0.02, f"mean ink ratio {ratio.mean():.4f}, expected about 1"


def test_a_batch_is_bent_as_its_images_one_by_one():
    transform = ElasticDistortion(alpha=2.0)
    images = digits(5).reshape(5, 784)
    fields = transform.fields(transform.control_points(5, np.random.default_rng(7)), 28, 28)
    whole = transform.warp(images, fields)
    for index in range(5):
        np.testing.assert_array_equal(whole[index:index + 1], transform.warp(images[index:index + 1],
                                                                              fields[index:index + 1]))
    # The moves are drawn image after image, so one generator gives the same images to a batch or one by one.
    rng = np.random.default_rng(8)
    one_by_one = np.concatenate([transform(images[index:index + 1], rng) for index in range(5)])
    np.testing.assert_array_equal(transform(images, np.random.default_rng(8)), one_by_one)


def test_compose_applies_each_transform_in_turn_from_one_generator():
    images = digits(4)
    both = Compose(ElasticDistortion(1.0), RandomAffine())(images, np.random.default_rng(4))
    rng = np.random.default_rng(4)
    np.testing.assert_array_equal(both, RandomAffine()(ElasticDistortion(1.0)(images, rng), rng))
    assert repr(Compose(ElasticDistortion(1.0))) == "Compose(ElasticDistortion(alpha=1.0, grid=4))"


def test_elastic_bad_arguments_and_shapes_give_clear_errors():
    with pytest.raises(ValueError, match="alpha >= 0 pixels and a grid of at least 2 tiles, got alpha -1"):
        ElasticDistortion(alpha=-1)
    with pytest.raises(ValueError, match="got alpha 1.5 and grid 1"):
        ElasticDistortion(grid=1)
    with pytest.raises(ValueError, match=r"ElasticDistortion expected images of shape \(N, 784\)"):
        ElasticDistortion()(np.zeros((2, 100), dtype=np.float32), np.random.default_rng(0))
    with pytest.raises(ValueError, match=r"expected fields of shape \(2, 2, 28, 28\), got \(2, 28, 28\)"):
        ElasticDistortion().warp(np.zeros((2, 784), dtype=np.float32), np.zeros((2, 28, 28), dtype=np.float32))
