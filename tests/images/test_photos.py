"""Pictures from the real world: photos of digits on unevenly lit, grainy paper; dots and specks; pictures too
large to read whole; answers the network is unsure of."""
import importlib.util
import struct
import warnings
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from nnscratch import Network
from nnscratch.cli import main
from nnscratch.datasets.idx import write_idx
from nnscratch.images.prepare import (
    LOW_CONFIDENCE,
    WORK_SIDE,
    ImageError,
    NoInkError,
    TooLittleInkError,
    load_image,
    prepare_digit,
)
from nnscratch.serialization import save_model

FIELD = 28


def seven(side=200):
    """A clean '7' drawn light on dark, ``side`` pixels square, values in [0, 1]."""
    image = np.zeros((28, 28), np.float32)
    image[6:9, 6:22] = 1.0
    rows = np.arange(9, 24)
    for width in range(3):
        image[rows, 20 - (rows - 9) // 2 + width - 1] = 1.0
    return np.asarray(Image.fromarray(image).resize((side, side), Image.Resampling.BILINEAR), dtype=np.float64)


def photo(ink, height=400, width=600, top=150, left=330, seed=0, noise=0.02):
    """``ink`` (bright on dark) as dark ink on grey paper lit by a soft gradient, with sensor noise, off centre."""
    rng = np.random.default_rng(seed)
    rows, columns = np.mgrid[0:height, 0:width]
    paper = 0.55 + 0.3 * columns / width + 0.1 * rows / height
    page = paper.copy()
    page[top:top + ink.shape[0], left:left + ink.shape[1]] *= 1 - 0.8 * ink
    return np.clip(page + rng.normal(0, noise, page.shape), 0, 1)


def aligned_difference(first, second):
    first, second = first.reshape(FIELD, FIELD), second.reshape(FIELD, FIELD)
    return min(np.abs(first - np.roll(second, (down, right), axis=(0, 1))).mean()
               for down in (-1, 0, 1) for right in (-1, 0, 1))


def test_a_photo_of_a_seven_on_lit_grainy_paper_looks_like_the_clean_seven():
    clean = prepare_digit(seven())
    prepared = prepare_digit(photo(seven()))
    difference = aligned_difference(prepared, clean)
    assert difference < 0.06, f"the photo's digit differs from the clean one by {difference:.3f} per pixel"
    assert prepared[:28 * 3].max() == 0 and prepared.reshape(28, 28)[:, :3].max() == 0, \
        "the paper's shading around the digit should not be ink"


def test_a_flat_page_with_noise_has_no_ink():
    for noise in (0.01, 0.03):
        with pytest.raises(NoInkError, match="no ink found"):
            prepare_digit(photo(np.zeros((1, 1)), noise=noise, seed=int(100 * noise)))


def test_specks_far_from_the_digit_are_dropped():
    drawing = np.zeros((300, 300))
    drawing[50:250, 60:260] = seven()
    clean = prepare_digit(drawing)
    specks = drawing.copy()
    for row, column in ((10, 10), (280, 20), (290, 290), (15, 280)):
        specks[row:row + 3, column:column + 3] = 1.0
    difference = aligned_difference(prepare_digit(specks), clean)
    assert difference < 0.01, f"four specks changed the digit by {difference:.3f} per pixel"


@pytest.mark.parametrize("what", ["dot", "small dot", "tiny stroke", "short thick dash"])
def test_a_dot_or_a_tiny_stroke_is_too_little_ink(what):
    canvas = np.zeros((280, 280))
    rows, columns = np.mgrid[0:280, 0:280]
    if what == "dot":
        canvas[(rows - 140) ** 2 + (columns - 100) ** 2 < 12 ** 2] = 1.0
    elif what == "small dot":
        canvas[(rows - 40) ** 2 + (columns - 200) ** 2 < 3 ** 2] = 1.0
    elif what == "tiny stroke":
        canvas[100:102, 100:108] = 1.0
    else:
        canvas[140:160, 100:125] = 1.0
    with pytest.raises(TooLittleInkError, match="too little ink"):
        prepare_digit(canvas)
    with pytest.raises(NoInkError):  # what the page and predict catch
        prepare_digit(canvas)


def test_every_mnist_like_stroke_is_still_a_digit():
    one = np.zeros((28, 28))
    one[4:24, 13:16] = 1.0           # a plain '1'
    assert prepare_digit(one).max() > 0.9
    thick_zero = np.zeros((28, 28))
    rows, columns = np.mgrid[0:28, 0:28]
    distance = np.hypot((rows - 14) / 1.3, columns - 14)
    thick_zero[distance < 8] = 1.0
    thick_zero[distance < 2.5] = 0.0  # a heavy '0' with a small hole, as some MNIST writers make them
    assert prepare_digit(thick_zero).max() > 0.9


def huge_png(path, width, height):
    """A valid PNG header announcing ``width`` × ``height`` pixels, with almost no data (a decompression bomb)."""
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\0" * 64))
                     + chunk(b"IEND", b""))


@pytest.mark.parametrize("side", [13000, 20000, 100000])
def test_an_absurdly_large_picture_is_refused_in_one_line(tmp_path, side, capsys):
    path = tmp_path / "huge.png"
    huge_png(path, side, side)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(ImageError, match="too large to be a digit") as error:
            load_image(path)
    assert str(error.value).startswith(str(path)) and "\n" not in str(error.value)
    model = tmp_path / "model.npz"
    save_model(model, Network([784, 8, 10], output=None, rng=0), {"dataset": "mnist"})
    assert main(["predict", str(model), str(path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err and "Warning" not in err, err


def test_a_large_picture_is_read_shrunk(tmp_path):
    drawing = np.full((3000, 4000), 255, np.uint8)
    drawing[500:2500, 1000:3000] = (255 * (1 - seven(2000))).astype(np.uint8)
    Image.fromarray(drawing).save(tmp_path / "large.png")
    Image.fromarray(drawing).convert("RGB").save(tmp_path / "large.jpg", quality=90)
    expected = prepare_digit(seven(200))
    for name in ("large.png", "large.jpg"):
        image = load_image(tmp_path / name)
        assert max(image.shape) <= 2 * WORK_SIDE, f"{name} was read at {image.shape}, not shrunk"
        assert image.shape[1] / image.shape[0] == pytest.approx(4 / 3, rel=0.01)
        difference = aligned_difference(prepare_digit(image), expected)
        assert difference < 0.05, f"{name}: differs by {difference:.3f} per pixel from the small drawing"


def model_saying(tmp_path, probabilities_of_class_3):
    """A model whose answer is class 3 with the given probability, whatever the input."""
    model = Network([784, 4, 10], output=None, rng=0)
    model[-1].params["W"][:] = 0
    others = (1 - probabilities_of_class_3) / 9
    bias = np.full(10, np.log(others), np.float32)
    bias[3] = np.log(probabilities_of_class_3)
    model[-1].params["b"][:] = bias
    path = tmp_path / f"model-{probabilities_of_class_3}.npz"
    save_model(path, model, {"dataset": "mnist"})
    return str(path)


def test_predict_says_when_it_is_unsure(tmp_path, capsys):
    picture = tmp_path / "seven.png"
    Image.fromarray((255 * (1 - seven())).astype(np.uint8)).save(picture)
    assert main(["predict", model_saying(tmp_path, 0.3), str(picture)]) == 0
    line = capsys.readouterr().out.splitlines()[0]
    assert line.startswith(f"{picture}: prediction 3 (30.00 %, unsure: below {100 * LOW_CONFIDENCE:.0f} %"), line
    assert main(["predict", model_saying(tmp_path, 0.9), str(picture)]) == 0
    line = capsys.readouterr().out.splitlines()[0]
    assert line == f"{picture}: prediction 3 (90.00 %)", line


def test_predict_says_too_little_ink_for_a_dot(tmp_path, capsys):
    dot = np.full((280, 280), 255, np.uint8)
    rows, columns = np.mgrid[0:280, 0:280]
    dot[(rows - 140) ** 2 + (columns - 140) ** 2 < 12 ** 2] = 0
    Image.fromarray(dot).save(tmp_path / "dot.png")
    assert main(["predict", model_saying(tmp_path, 0.9), str(tmp_path / "dot.png")]) == 2
    captured = capsys.readouterr()
    assert "dot.png: too little ink" in captured.err and "prediction" not in captured.out, captured


def test_the_photo_benchmark_runs_on_tiny_sizes(tmp_path, capsys):
    spec = importlib.util.spec_from_file_location("bench_photos",
                                                  Path(__file__).parents[2] / "bench" / "bench_photos.py")
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    digits = np.stack([(255 * seven(28)).astype(np.uint8)] * 6)
    for name, array in (("train-images-idx3-ubyte", digits), ("train-labels-idx1-ubyte", np.full(6, 7, np.uint8)),
                        ("t10k-images-idx3-ubyte", digits), ("t10k-labels-idx1-ubyte", np.full(6, 7, np.uint8))):
        write_idx(tmp_path / name, array)
    model = model_saying(tmp_path, 0.9).replace("0.9", "0.9")
    assert bench.main([model, "--count", "4", "--data", str(tmp_path), "--examples", str(tmp_path / "pages")]) == 0
    out = capsys.readouterr().out
    assert "4 MNIST test digits as photos (seed 0) in each of 8 conditions" in out, out
    for condition in ("clean digits", "vignetting 40 %", "side shadow", "gradient", "EXIF rotation", "thin pen"):
        assert condition in out, f"no row for {condition}:\n{out}"
    assert "clean digits     4              0.00 %" in out, out   # class 3 for every 7: wrong clean and as photos
    assert out.count("+0.00") == 8, out
    assert len(list((tmp_path / "pages").glob("photo-*.png"))) == 4 * 8


@pytest.mark.parametrize("side", [10000, 20000])
def test_the_page_refuses_a_huge_png_with_413_and_no_warning(tmp_path, side):
    from nnscratch.app.bodies import RequestError, read_drawing
    huge_png(tmp_path / "huge.png", side, side)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(RequestError, match="at most 2048×2048") as error:
            read_drawing("image/png", (tmp_path / "huge.png").read_bytes())
    assert error.value.status == 413
