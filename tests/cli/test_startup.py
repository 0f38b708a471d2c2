"""What a command loads before it starts: the heavy optional libraries only where the command uses them."""
import subprocess
import sys

HEAVY = ("scipy", "matplotlib", "sklearn", "torch", "onnx")


def test_training_loads_none_of_the_heavy_libraries():
    """Every command's parser and the training run's code leave SciPy (a quarter of a second to import), plotting,
    scikit-learn, PyTorch and ONNX unimported: `nnscratch train` pays for none of them."""
    code = ("import sys\n"
            "from nnscratch.cli import build_parser\n"
            "build_parser()\n"
            "import nnscratch.runs.run, nnscratch.cli.train, nnscratch.cli.predict\n"
            f"print(sorted({{name.split('.')[0] for name in sys.modules}} & set({HEAVY!r})))\n")
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert loaded == "[]"


def test_preparing_a_photo_still_finds_scipy():
    """The photo pipeline imports SciPy where it uses it: a digit is prepared as before."""
    import numpy as np

    from nnscratch.images import prepare_digit
    picture = np.zeros((56, 56))
    picture[10:46, 26:30] = 1.0                      # a bright vertical stroke on black: a "1"
    digit = prepare_digit(picture)
    assert digit.shape == (784,) and digit.max() > 0.5
