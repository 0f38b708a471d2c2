"""prepare_digit turns any picture of a digit into an MNIST-style 784-vector; load_image reads picture files."""
import numpy as np
import pytest
from PIL import Image

from nnscratch.images.prepare import FIELD, ImageError, NoInkError, load_image, prepare_digit


def ring(size, thickness):
    """A light-on-dark ring ("0") of the given size, off centre, as floats in [0, 1]."""
    rows, columns = np.mgrid[0:size, 0:size]
    centre_row, centre_column = 0.35 * size, 0.6 * size
    distance = np.hypot((rows - centre_row) / 1.4, columns - centre_column)
    radius = 0.2 * size
    return (np.abs(distance - radius) < thickness).astype(np.float64)


def ink_box(field):
    rows, columns = np.nonzero(field.reshape(FIELD, FIELD) > 0)
    return rows.max() - rows.min() + 1, columns.max() - columns.min() + 1


def aligned_difference(first, second):
    """Mean absolute difference per pixel, up to a shift of one pixel: digits are placed by whole pixels, as in
    MNIST, so a shape whose centre of mass falls half-way between two pixels may land on either."""
    first, second = first.reshape(FIELD, FIELD), second.reshape(FIELD, FIELD)
    return min(np.abs(first - np.roll(second, (down, right), axis=(0, 1))).mean()
               for down in (-1, 0, 1) for right in (-1, 0, 1))


def centre_of_mass(field):
    image = field.reshape(FIELD, FIELD).astype(np.float64)
    rows, columns = np.mgrid[0:FIELD, 0:FIELD]
    return (image * rows).sum() / image.sum(), (image * columns).sum() / image.sum()


def test_output_is_float32_784_in_unit_range():
    digit = prepare_digit(ring(200, 6))
    assert digit.shape == (784,) and digit.dtype == np.float32
    assert digit.min() >= 0.0 and digit.max() <= 1.0
    assert digit.max() > 0.9, f"the strongest ink should be near 1, got {digit.max()}"


def test_dark_on_light_equals_light_on_dark():
    light_on_dark = ring(150, 5)
    dark_on_light_uint8 = (255 * (1 - light_on_dark)).astype(np.uint8)
    np.testing.assert_allclose(prepare_digit(dark_on_light_uint8), prepare_digit(light_on_dark), atol=1e-6)


def test_ink_fits_20x20_keeping_the_aspect_ratio():
    tall = np.zeros((300, 300))
    tall[20:220, 100:200] = 1.0            # 200 high, 100 wide
    height, width = ink_box(prepare_digit(tall))
    assert (height, width) == (20, 10), f"expected a 20x10 box, got {height}x{width}"
    wide = tall.T.copy()
    assert ink_box(prepare_digit(wide)) == (10, 20)


def test_centre_of_mass_is_placed_in_the_middle():
    off_centre = np.zeros((120, 90))
    off_centre[5:40, 60:85] = 1.0
    off_centre[10:35, 65:85] = 0.0         # strokes: a "C" opening to the right, not symmetric
    off_centre[5:10, 60:62] = 0.0
    row, column = centre_of_mass(prepare_digit(off_centre))
    assert abs(row - 14) <= 0.5 and abs(column - 14) <= 0.5, f"centre of mass at ({row:.2f}, {column:.2f})"


def test_size_of_the_picture_does_not_matter_much():
    small, large = prepare_digit(ring(56, 2)), prepare_digit(ring(280, 10))
    difference = aligned_difference(small, large)
    assert difference < 0.05, f"the same shape at two sizes differs by {difference:.3f} per pixel"


def test_a_small_image_is_enlarged_to_the_box():
    tiny = np.zeros((8, 8), dtype=np.uint8)
    tiny[1:7, 3:5] = 255
    assert ink_box(prepare_digit(tiny))[0] == 20


@pytest.mark.parametrize("blank", [np.zeros((50, 40)), np.full((28, 28), 255, np.uint8), np.full((30, 30), 0.5)])
def test_blank_image_raises_no_ink_found(blank):
    with pytest.raises(NoInkError, match="no ink found"):
        prepare_digit(blank)


def test_faint_noise_is_not_ink():
    noise = np.random.default_rng(0).uniform(0.9, 0.95, size=(64, 64))  # light paper, slight grain
    with pytest.raises(NoInkError, match="no ink found"):
        prepare_digit(noise)


@pytest.mark.parametrize("bad", [np.zeros((3, 28, 28)), np.zeros(784), np.zeros((0, 5))])
def test_not_a_2d_image_is_a_clear_error(bad):
    with pytest.raises(ValueError, match="2-D grey image"):
        prepare_digit(bad)


def test_load_image_grey_colour_and_transparent(tmp_path):
    ink = (255 * ring(60, 3)).astype(np.uint8)
    Image.fromarray(255 - ink).save(tmp_path / "grey.png")
    Image.fromarray(np.stack([255 - ink] * 3, axis=-1)).convert("RGB").save(tmp_path / "colour.jpg", quality=95)
    rgba = np.zeros((60, 60, 4), np.uint8)
    rgba[..., 3] = ink                      # black strokes on a transparent background
    Image.fromarray(rgba, "RGBA").save(tmp_path / "transparent.png")
    expected = prepare_digit(ink)
    for name, tolerance in (("grey.png", 1e-6), ("transparent.png", 1e-6), ("colour.jpg", 0.03)):
        image = load_image(tmp_path / name)
        assert image.ndim == 2 and image.dtype == np.float32 and 0 <= image.min() <= image.max() <= 1
        difference = aligned_difference(prepare_digit(image), expected)
        assert difference <= tolerance, f"{name}: differs by {difference:.4f} per pixel"


def test_load_image_errors_are_one_line(tmp_path):
    (tmp_path / "notes.png").write_text("this is not a picture")
    truncated = tmp_path / "truncated.png"
    Image.fromarray(np.random.default_rng(0).integers(0, 256, (40, 40), dtype=np.uint8)).save(truncated)
    truncated.write_bytes(truncated.read_bytes()[:800])
    for path, message in ((tmp_path / "missing.png", "no such image file"), (tmp_path / "notes.png", "not an image"),
                          (tmp_path, "is a folder"), (truncated, "cannot read the image")):
        with pytest.raises(ImageError, match=message) as error:
            load_image(path)
        assert "\n" not in str(error.value)
