"""nnscratch predict: a test digit as ASCII art with the probabilities, and pictures prepared as MNIST digits."""
import numpy as np
import pytest
from PIL import Image

from nnscratch import Network
from nnscratch.cli import main
from nnscratch.images.prepare import load_image, prepare_digit
from nnscratch.serialization import save_model


def seven():
    """A 28x28 '7' in [0, 1]: a top bar and a diagonal stroke."""
    image = np.zeros((28, 28), np.float32)
    image[6:9, 6:22] = 1.0
    rows = np.arange(9, 24)
    for width in range(3):
        image[rows, 20 - (rows - 9) // 2 + width - 1] = 1.0
    return image


@pytest.fixture
def model_path(tmp_path):
    model = Network([784, 16, 10], activation="relu", output=None, rng=3)
    path = tmp_path / "model.npz"
    save_model(path, model, {"dataset": "mnist", "input_shape": [784],
                             "class_names": [str(digit) for digit in range(10)]})
    return str(path), model


@pytest.fixture
def fake_mnist(use_mnist):
    rng = np.random.default_rng(0)
    x = rng.uniform(0, 0.3, (5, 784)).astype(np.float32)
    x[0] = seven().reshape(-1)
    y = np.array([7, 2, 1, 0, 4], dtype=np.int64)
    use_mnist(x, y)
    return x, y


def test_index_prints_art_prediction_truth_and_bars(model_path, fake_mnist, capsys):
    path, model = model_path
    assert main(["predict", path, "--index", "0"]) == 0
    lines = capsys.readouterr().out.split("\n")
    start = lines.index("Test digit 0 of mnist:") + 2
    art = lines[start:start + 28]
    assert all(len(line) == 28 for line in art)
    assert art[7][6:22] == "@" * 16, f"the top bar of the 7 should be full ink, got {art[7]!r}"
    probabilities = model.predict_proba(fake_mnist[0][:1])[0]
    predicted = int(probabilities.argmax())
    assert f"Prediction: {predicted}   True label: 7" in "\n".join(lines)
    bars = [line for line in lines if " |" in line and line.endswith(("%", "prediction", "label"))]
    assert len(bars) == 10
    assert bars[predicted].endswith("<- prediction")
    assert f"{100 * probabilities[predicted]:6.2f} %" in bars[predicted]


def test_random_with_seed_is_reproducible(model_path, fake_mnist, capsys):
    path, _ = model_path
    assert main(["predict", path, "--random", "--seed", "5"]) == 0
    first = capsys.readouterr().out
    assert main(["predict", path, "--random", "--seed", "5"]) == 0
    assert capsys.readouterr().out == first
    expected = int(np.random.default_rng(5).integers(5))
    assert first.startswith(f"Test digit {expected} of mnist:")


def test_bad_requests_are_one_line_errors(model_path, fake_mnist, tmp_path, capsys):
    path, _ = model_path
    assert main(["predict", path, "--index", "5"]) == 2
    assert "--index must be from 0 to 4, got 5" in capsys.readouterr().err
    assert main(["predict", path]) == 2
    assert "IMAGE files, --index N or --random" in capsys.readouterr().err
    assert main(["predict", str(tmp_path / "none.npz"), "--index", "0"]) == 2
    assert "no such model file" in capsys.readouterr().err


def write_drawing(path, dark_on_light=True, size=200):
    image = np.asarray(Image.fromarray((255 * seven()).astype(np.uint8)).resize((size, size)), dtype=np.uint8)
    Image.fromarray(255 - image if dark_on_light else image).save(path)


def test_image_files_are_prepared_and_predicted(model_path, tmp_path, capsys):
    path, model = model_path
    write_drawing(tmp_path / "paper.png")
    write_drawing(tmp_path / "screen.jpg", dark_on_light=False, size=90)
    assert main(["predict", path, str(tmp_path / "paper.png"), str(tmp_path / "screen.jpg"), "--show-input"]) == 0
    out = capsys.readouterr().out
    for name in ("paper.png", "screen.jpg"):
        x = prepare_digit(load_image(tmp_path / name))
        probabilities = model.predict_proba(x[None, :])[0]
        predicted = int(probabilities.argmax())
        assert f"{name}: prediction {predicted} ({100 * probabilities[predicted]:.2f} %" in out
    assert out.count("What the network sees") == 2
    art_lines = [line for line in out.split("\n") if len(line) == 28 and set(line) <= set(" .:-=+*#%@")]
    assert len(art_lines) >= 2 * 20


def test_blank_and_broken_images(model_path, tmp_path, capsys):
    path, _ = model_path
    Image.fromarray(np.full((64, 64), 255, np.uint8)).save(tmp_path / "blank.png")
    (tmp_path / "text.png").write_text("hello")
    write_drawing(tmp_path / "good.png")
    assert main(["predict", path, str(tmp_path / "blank.png"), str(tmp_path / "good.png")]) == 2
    captured = capsys.readouterr()
    assert "blank.png: no ink found" in captured.err and "good.png: prediction" in captured.out
    for name, message in (("text.png", "not an image"), ("missing.png", "no such image file")):
        assert main(["predict", path, str(tmp_path / name)]) == 2
        err = capsys.readouterr().err
        assert message in err and err.count("\n") == 1, err


def test_every_image_gets_its_answer_or_its_own_error(model_path, tmp_path, capsys):
    path, _ = model_path
    Image.fromarray(np.full((64, 64), 255, np.uint8)).save(tmp_path / "blank.png")
    (tmp_path / "text.png").write_text("hello")
    write_drawing(tmp_path / "one.png")
    write_drawing(tmp_path / "two.png")
    files = [str(tmp_path / name) for name in ("blank.png", "missing.png", "one.png", "text.png", "two.png")]
    assert main(["predict", path, *files]) == 2
    captured = capsys.readouterr()
    errors = captured.err.splitlines()
    expected = [f"{files[0]}: no ink found", f"{files[1]}: no such image file", f"{files[3]}: not an image"]
    assert len(errors) == len(expected), captured.err
    for line, start in zip(errors, expected, strict=True):
        assert line.startswith(f"nnscratch predict: error: {start}"), f"expected {start!r}, got {line!r}"
    answered = [line.split(": prediction")[0] for line in captured.out.splitlines() if ": prediction " in line]
    assert answered == [files[2], files[4]], captured.out
    assert not captured.out.startswith("\n"), "no blank line before the first answer"
