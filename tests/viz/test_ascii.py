"""ASCII art of digits (the ramp of ZimengXiong/NeuralNetworkFromScratch) and the probability bar chart."""
import numpy as np
import pytest

from nnscratch.viz.ascii import RAMP, image_to_ascii, probability_bars


def test_28_lines_of_28_characters_on_the_ramp():
    image = np.random.default_rng(0).uniform(0, 1, 784).astype(np.float32)
    lines = image_to_ascii(image).split("\n")
    assert len(lines) == 28 and all(len(line) == 28 for line in lines)
    assert set("".join(lines)) <= set(RAMP)


def test_levels_follow_int_of_v_times_9():
    pixels = np.arange(256, dtype=np.float32) / np.float32(255)        # as the data loaders scale them
    art = image_to_ascii(np.resize(pixels, 256).reshape(16, 16)).replace("\n", "")
    expected = "".join(RAMP[int(pixel / 255 * 9 + 1e-9)] for pixel in range(256))
    assert art == expected
    assert art[0] == " " and art[255] == "@" and art[254] == "%", "only full ink is '@', as in the original demo"


def test_image_shapes():
    assert image_to_ascii(np.ones((1, 28, 28))).count("@") == 784
    assert image_to_ascii(np.zeros(256)).count("\n") == 15        # 16×16 line images
    with pytest.raises(ValueError, match="square"):
        image_to_ascii(np.zeros(783))


def test_bars_mark_the_winner_and_the_truth():
    probabilities = np.array([0.05, 0.7, 0.25])
    lines = probability_bars(probabilities, ["a", "b", "c"], width=20, truth=2).split("\n")
    assert len(lines) == 3
    assert lines[1].endswith("<- prediction") and lines[2].endswith("<- true label") and "<-" not in lines[0]
    assert [line.count("#") for line in lines] == [1, 14, 5]
    assert "70.00 %" in lines[1]


def test_bars_need_one_name_per_class():
    with pytest.raises(ValueError, match="3 probabilities but 2 class names"):
        probability_bars([0.2, 0.3, 0.5], ["x", "y"])
