"""Training from the user's own pictures sorted into class folders (``my_digits/0/*.png``): the arrays they become,
the test split taken from every class, training through the CLI, and one readable line for each folder that cannot
be read."""
import numpy as np
import pytest
from PIL import Image, ImageDraw

from nnscratch import cli
from nnscratch.datasets import folders, get_spec, load_dataset
from nnscratch.datasets.errors import DataError
from nnscratch.images import load_image, prepare_digit

MNIST = get_spec("mnist")


def draw_digit(label, side, rng, dark_on_light=True):
    """A simple drawn digit (1: a stroke, 4: three strokes, 7: a bar and a slant) on a ``side`` square."""
    paper, ink = (255, 0) if dark_on_light else (0, 255)
    image = Image.new("L", (side, side), paper)
    pen = ImageDraw.Draw(image)
    jitter = side * rng.uniform(-0.06, 0.06, size=4)
    left, top, right, bottom = side * 0.3 + jitter[0], side * 0.2 + jitter[1], side * 0.7 + jitter[2], side * 0.8
    width = max(2, side // 10)
    if label == 1:
        pen.line((side / 2 + jitter[0], top, side / 2 + jitter[2], bottom), fill=ink, width=width)
    elif label == 4:
        pen.line((left, top, left, side / 2 + jitter[3]), fill=ink, width=width)
        pen.line((left, side / 2 + jitter[3], right, side / 2 + jitter[3]), fill=ink, width=width)
        pen.line((right - width, top, right - width, bottom), fill=ink, width=width)
    else:
        pen.line((left, top, right, top), fill=ink, width=width)
        pen.line((right, top, side / 2 + jitter[3], bottom), fill=ink, width=width)
    return image


def make_folder(root, counts, side=64, suffix=".png", seed=0):
    """``root/<label>/<n><suffix>`` for ``counts = {label: how many}``; returns root."""
    rng = np.random.default_rng(seed)
    for label, count in counts.items():
        (root / str(label)).mkdir(parents=True)
        for number in range(count):
            draw_digit(label, side, rng).save(root / str(label) / f"{number:03d}{suffix}")
    return root


def run_cli(argv, capsys):
    status = cli.main(argv)
    return status, capsys.readouterr()


def test_the_pictures_become_uint8_digits_with_their_folders_labels(tmp_path):
    root = make_folder(tmp_path / "my_digits", {1: 9, 4: 8, 7: 4})
    raw = folders.read_folders(root, MNIST)
    assert raw.x_train.dtype == np.uint8 and raw.x_test.dtype == np.uint8, (raw.x_train.dtype, raw.x_test.dtype)
    assert raw.y_train.dtype == np.int64 and raw.y_test.dtype == np.int64, (raw.y_train.dtype, raw.y_test.dtype)
    assert raw.x_train.shape == (18, 28, 28) and raw.x_test.shape == (3, 28, 28), (raw.x_train.shape, raw.x_test.shape)
    labels = np.concatenate([raw.y_train, raw.y_test])
    assert np.bincount(labels, minlength=10)[[1, 4, 7]].tolist() == [9, 8, 4]
    first = load_image(root / "1" / "000.png")
    expected = np.rint(prepare_digit(first) * 255).astype(np.uint8).reshape(28, 28)
    position = [index for index, label in enumerate(raw.y_train) if label == 1][0]
    assert np.array_equal(raw.x_train[position], expected), "the first 1 should be prepared as predict prepares it"


def test_the_test_split_takes_its_share_of_every_class(tmp_path):
    root = make_folder(tmp_path / "my_digits", {1: 28, 4: 14})
    raw = folders.read_folders(root, MNIST)
    assert len(raw.y_test) == 6, f"expected a seventh of 42 pictures as the test split, got {len(raw.y_test)}"
    assert np.bincount(raw.y_test, minlength=5)[[1, 4]].tolist() == [4, 2], raw.y_test
    tail = raw.y_train[-6:]   # what a validation split of 6 would hold
    assert np.bincount(tail, minlength=5)[[1, 4]].tolist() == [4, 2], tail


def test_a_28_by_28_grey_picture_is_used_as_it_is_made_bright_on_dark(tmp_path):
    digit = np.zeros((28, 28), dtype=np.uint8)
    digit[6:22, 12:16] = 255    # a "1", where it stands (prepare_digit would move and rescale it)
    digit[6:9, 9:12] = 128
    for label, picture in ((1, 255 - digit), (7, digit)):   # a scan (dark on light) and an MNIST digit
        (tmp_path / "d" / str(label)).mkdir(parents=True)
        for number in range(7):
            Image.fromarray(picture).save(tmp_path / "d" / str(label) / f"{number}.png")
    raw = folders.read_folders(tmp_path / "d", MNIST)
    for x in np.concatenate([raw.x_train, raw.x_test]):
        assert np.array_equal(x, digit), f"expected the 28x28 picture unchanged (bright on dark), got {x.tolist()}"


def test_pictures_of_every_kind_and_size_are_read(tmp_path):
    rng = np.random.default_rng(1)
    root = tmp_path / "mixed"
    for label, (suffix, side, mode) in enumerate([(".jpg", 64, "RGB"), (".bmp", 48, "L"), (".gif", 28, "P"),
                                                  (".JPEG", 64, "L")]):
        (root / str(label)).mkdir(parents=True)
        for number in range(2):
            draw_digit((1, 4)[label % 2], side, rng).convert(mode).save(root / str(label) / f"{number}{suffix}")
    raw = folders.read_folders(root, MNIST)
    assert len(raw.y_train) + len(raw.y_test) == 8
    assert sorted(np.concatenate([raw.y_train, raw.y_test]).tolist()) == [0, 0, 1, 1, 2, 2, 3, 3]
    assert all(x.max() > 200 and x[0].max() == 0 for x in raw.x_train), "each digit bright on a dark border"


def test_train_from_a_folder_through_the_cli_saves_a_model(tmp_path, capsys):
    root = make_folder(tmp_path / "my_digits", {1: 12, 4: 12, 7: 12})
    model = tmp_path / "mine.npz"
    status, out = run_cli(["train", "--data", str(root), "--preset", "mlp", "--epochs", "1", "--validation-size",
                           "5", "--quiet", "--out", str(model)], capsys)
    assert status == 0, out.err
    assert model.is_file(), out.out
    assert f"read from {root}" in out.out, out.out
    data = load_dataset("mnist", path=root, validation_size=5)
    assert data.train[0].shape == (26, 784) and data.train[0].dtype == np.float32, data.train[0].shape
    assert data.validation[0].shape == (5, 784) and data.test[0].shape == (5, 784)


def test_fifty_pictures_with_the_default_validation_size_say_what_fits(tmp_path, capsys):
    root = make_folder(tmp_path / "my_digits", {1: 20, 4: 20, 7: 10})
    status, out = run_cli(["train", "--data", str(root), "--preset", "mlp", "--epochs", "1", "--out",
                           str(tmp_path / "m.npz")], capsys)
    assert status == 2, out
    assert out.err.count("\n") == 1, out.err
    assert "has 43 training examples" in out.err and "--validation-size 7" in out.err, out.err


def one_line_error(argv, capsys):
    status, out = run_cli(argv, capsys)
    assert status == 2, (status, out)
    assert out.err.count("\n") == 1 and "Traceback" not in out.err, out.err
    return out.err


def train_args(root, tmp_path):
    return ["train", "--data", str(root), "--preset", "mlp", "--epochs", "1", "--validation-size", "1", "--out",
            str(tmp_path / "m.npz")]


def test_an_empty_folder_is_one_line(tmp_path, capsys):
    (tmp_path / "my_digits").mkdir()
    err = one_line_error(train_args(tmp_path / "my_digits", tmp_path), capsys)
    assert "the folder is empty" in err and "0 to 9" in err, err


def test_class_folders_without_pictures_are_one_line(tmp_path, capsys):
    for label in ("3", "5"):
        (tmp_path / "my_digits" / label).mkdir(parents=True)
    (tmp_path / "my_digits" / "3" / ".DS_Store").write_bytes(b"\0\1")
    err = one_line_error(train_args(tmp_path / "my_digits", tmp_path), capsys)
    assert "hold no pictures" in err and "3, 5" in err, err


def test_sub_folders_not_named_after_classes_are_named(tmp_path, capsys):
    root = make_folder(tmp_path / "my_digits", {1: 3, 4: 3})
    (root / "zero").mkdir()
    (root / "12").mkdir()
    err = one_line_error(train_args(root, tmp_path), capsys)
    assert "12, zero" in err and "0 to 9" in err, err


def test_an_unreadable_picture_is_named(tmp_path, capsys):
    root = make_folder(tmp_path / "my_digits", {1: 3, 4: 3})
    broken = root / "1" / "broken.png"
    broken.write_bytes(b"\x89PNG\r\n\x1a\n not really")
    err = one_line_error(train_args(root, tmp_path), capsys)
    assert str(broken) in err and "remove or replace it" in err, err


def test_a_blank_picture_is_named(tmp_path, capsys):
    root = make_folder(tmp_path / "my_digits", {1: 3, 4: 3})
    Image.new("L", (50, 50), 255).save(root / "1" / "blank.png")
    Image.new("L", (28, 28), 0).save(root / "4" / "blank.png")
    err = one_line_error(train_args(root, tmp_path), capsys)
    assert f"{root / '1' / 'blank.png'}: no ink found" in err, err
    with pytest.raises(DataError, match="4/blank.png: no ink found"):
        folders.as_mnist_digit(root / "4" / "blank.png")


def test_a_file_that_is_not_a_picture_is_named(tmp_path, capsys):
    root = make_folder(tmp_path / "my_digits", {1: 3, 4: 3})
    (root / "1" / "notes.txt").write_text("drawn on Tuesday")
    err = one_line_error(train_args(root, tmp_path), capsys)
    assert "notes.txt: not a PNG, JPEG, BMP or GIF picture" in err, err


def test_too_many_pictures_are_refused_before_reading(tmp_path, monkeypatch):
    root = make_folder(tmp_path / "my_digits", {1: 3, 4: 3})
    monkeypatch.setattr(folders, "MAX_PICTURES", 5)
    read = []
    monkeypatch.setattr(folders, "as_mnist_digit", lambda file: read.append(file))
    with pytest.raises(DataError, match="more than 5 pictures"):
        folders.read_folders(root, MNIST)
    assert read == [], f"expected nothing read before the refusal, read {read}"


def test_a_single_picture_is_too_few(tmp_path):
    root = make_folder(tmp_path / "my_digits", {4: 1})
    with pytest.raises(DataError, match="1 picture; at least two are needed"):
        folders.read_folders(root, MNIST)
