"""`nnscratch predict MODEL FOLDER`: a line per picture in the order of the names, a line with the reason for each
picture that cannot be answered, a CSV file on request, and exit status 1 when some were not answered."""
import csv

import numpy as np
import pytest
from PIL import Image

from nnscratch import Conv2D, Flatten, Linear, MaxPool2D, Network, ReLU, Sequential
from nnscratch.cli import main, predict
from nnscratch.images.prepare import load_image, prepare_digit
from nnscratch.serialization import save_model

CLASS_NAMES = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]


def stroke_digit(seed, size=120):
    """A dark digit-like stroke on light paper: a bar and a slanted stem, placed by ``seed``."""
    rng = np.random.default_rng(seed)
    image = np.full((size, size), 255, np.uint8)
    top, left = rng.integers(10, 30, 2)
    image[top:top + 10, left:left + 60] = 0
    for row in range(top + 10, top + 80):
        column = left + 55 - (row - top) // 3
        image[row, column - 5:column + 5] = 0
    return image


@pytest.fixture
def model_path(tmp_path):
    model = Network([784, 32, 10], activation="relu", output=None, rng=4)
    path = tmp_path / "model.npz"
    save_model(path, model, {"dataset": "mnist", "input_shape": [784], "class_names": CLASS_NAMES})
    return str(path), model


def make_folder(folder, good, blank=(), broken=(), others=()):
    folder.mkdir()
    for seed, name in enumerate(good):
        Image.fromarray(stroke_digit(seed)).save(folder / name)
    for name in blank:
        Image.fromarray(np.full((64, 64), 255, np.uint8)).save(folder / name)
    for name in broken:
        (folder / name).write_text("hello")
    for name in others:
        (folder / name).write_text("not a picture")
    return folder


def expected_answer(model, path):
    probabilities = model.predict_proba(prepare_digit(load_image(path))[None, :])[0]
    predicted = int(probabilities.argmax())
    return CLASS_NAMES[predicted], float(probabilities[predicted])


def test_one_line_per_picture_in_the_order_of_the_names(model_path, tmp_path, capsys):
    path, model = model_path
    folder = make_folder(tmp_path / "digits", good=["digit10.png", "digit2.png", "Digit1.jpg", "a.bmp"],
                         blank=["blank.png"], broken=["broken.png"], others=["notes.txt", ".hidden.png"])
    (folder / "inner").mkdir()
    assert main(["predict", path, str(folder)]) == 1
    captured = capsys.readouterr()
    lines = captured.out.splitlines()
    order = [line.split()[0] for line in lines]
    assert order == ["a.bmp", "blank.png", "broken.png", "Digit1.jpg", "digit2.png", "digit10.png"], captured.out
    for line in lines:
        name = line.split()[0]
        if name in ("blank.png", "broken.png"):
            continue
        label, probability = expected_answer(model, folder / name)
        assert line.split()[1:4] == [label, f"{100 * probability:.2f}", "%"], line
        assert line.endswith("  unsure") == (probability < 0.5), line
    assert lines[1].split(None, 1)[1].startswith("not answered: no ink found"), lines[1]
    assert lines[2].split(None, 1)[1].startswith("not answered: not an image"), lines[2]
    assert str(folder) not in captured.out, "the lines name the files, not the folder again"
    assert captured.err.count("\n") == 1, captured.err
    assert "4 of 6 pictures" in captured.err and "2 could not be read" in captured.err, captured.err
    assert "notes.txt" in captured.err and "inner/" in captured.err and ".hidden" not in captured.err


def test_every_picture_answered_gives_status_0_and_the_csv(model_path, tmp_path, capsys):
    path, model = model_path
    folder = make_folder(tmp_path / "digits", good=["b.png", "a.png", "c.png"])
    out = tmp_path / "answers" / "out.csv"
    assert main(["predict", path, str(folder), "--csv", str(out)]) == 0
    printed = capsys.readouterr().out.splitlines()
    with open(out, newline="") as file:
        rows = list(csv.DictReader(file))
    assert [row["file"] for row in rows] == ["a.png", "b.png", "c.png"]
    for row, line in zip(rows, printed, strict=True):
        label, probability = expected_answer(model, folder / row["file"])
        assert (row["prediction"], row["error"]) == (label, "")
        assert float(row["probability"]) == pytest.approx(probability, abs=1e-6)
        assert line.split()[:2] == [row["file"], label]


def test_the_csv_keeps_the_reasons_and_odd_names(model_path, tmp_path, capsys):
    path, _ = model_path
    folder = make_folder(tmp_path / "digits", good=["one, two.png"], broken=["bad.png"])
    out = tmp_path / "out.csv"
    assert main(["predict", path, str(folder), "--csv", str(out)]) == 1
    capsys.readouterr()
    with open(out, newline="") as file:
        rows = list(csv.DictReader(file))
    assert [row["file"] for row in rows] == ["bad.png", "one, two.png"]
    assert rows[0]["prediction"] == rows[0]["probability"] == "" and rows[0]["error"].startswith("not an image")
    assert rows[1]["prediction"] in CLASS_NAMES and rows[1]["error"] == ""


def test_pictures_are_predicted_in_chunks_with_the_same_answers(model_path, tmp_path, capsys, monkeypatch):
    path, _ = model_path
    folder = make_folder(tmp_path / "digits", good=[f"{index}.png" for index in range(5)], broken=["2b.png"])
    assert main(["predict", path, str(folder)]) == 1
    whole = capsys.readouterr().out
    monkeypatch.setattr(predict, "FOLDER_CHUNK", 2)
    assert main(["predict", path, str(folder)]) == 1
    assert capsys.readouterr().out == whole
    assert len(whole.splitlines()) == 6


def test_a_convolutional_model_gets_its_image_shape(tmp_path, capsys):
    rng = np.random.default_rng(1)
    model = Sequential(Conv2D(1, 3, 5, rng=rng), ReLU(), MaxPool2D(2), Flatten(), Linear(3 * 12 * 12, 10, rng=rng))
    path = tmp_path / "cnn.npz"
    save_model(path, model, {"input_shape": [1, 28, 28]})
    folder = make_folder(tmp_path / "digits", good=["x.png"])
    assert main(["predict", str(path), str(folder)]) == 0
    x = prepare_digit(load_image(folder / "x.png")).reshape(1, 1, 28, 28)
    probabilities = model.predict_proba(x)[0]
    line = capsys.readouterr().out.strip()
    assert line.split()[1:3] == [str(int(probabilities.argmax())), f"{100 * probabilities.max():.2f}"], line


@pytest.mark.parametrize("extra, message", [
    (["--csv", "out.csv"], "--csv writes the answers for a FOLDER"),
    (["--show-input"], "--show-input shows one picture at a time"),
])
def test_options_that_do_not_fit_are_one_line(model_path, tmp_path, capsys, extra, message):
    path, _ = model_path
    folder = make_folder(tmp_path / "digits", good=["a.png"])
    target = [str(folder / "a.png")] if extra[0] == "--csv" else [str(folder)]
    assert main(["predict", path, *target, *extra]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and message in err, err


def test_a_folder_among_pictures_or_without_pictures_is_one_line(model_path, tmp_path, capsys):
    path, _ = model_path
    folder = make_folder(tmp_path / "digits", good=["a.png"])
    empty = make_folder(tmp_path / "empty", good=[], others=["readme.txt"])
    for files, message in (([str(folder), str(folder / "a.png")], "give one FOLDER of pictures alone"),
                           ([str(empty)], "no picture files in the folder")):
        assert main(["predict", path, *files]) == 2
        captured = capsys.readouterr()
        assert captured.out == "" and captured.err.count("\n") == 1 and message in captured.err, captured.err
    assert main(["predict", path, str(folder), "--csv", str(tmp_path)]) == 2
    assert "is a folder" in capsys.readouterr().err
