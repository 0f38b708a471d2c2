"""Every shell block of the README runs, in order, as a newcomer would type it, in an empty temporary folder.

The commands are not edited. Only the data they train on is made small: a stand-in ``nnscratch`` first on
``PATH`` runs the real one and adds ``--train-size 1000`` to each ``train`` (with 2 epochs for ``cnn-best``,
whose five 30-epoch runs would take half an hour) and ``--trials 3`` to a new sweep; ``draw`` is started,
asked for its page and stopped. ``HOME`` is the temporary folder and holds the copies under ``~/Downloads``
that the Data section names (MNIST as IDX files, Kaggle's ``train.csv`` and ``test.csv``), made from the cached
MNIST. Blocks of ``make`` commands are skipped: they are the Makefile's own, and ``make test`` would run this
very test again.
"""
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[2]
FENCE = re.compile(r"^```([^\n`]*)\n(.*?)^```[ \t]*$", re.S | re.M)
NNSCRATCH = Path(sys.executable).with_name("nnscratch")

# The stand-in `nnscratch`: the real command with small data, and `draw` asked for its page, then stopped.
STAND_IN = textwrap.dedent(f"""\
    #!{sys.executable}
    import subprocess, sys, urllib.request
    real, args = {str(NNSCRATCH)!r}, sys.argv[1:]
    if args[:1] == ["train"]:
        args += ["--train-size", "1000"] + (["--epochs", "2"] if "cnn-best" in args else [])
    if args[:1] == ["sweep"] and "status" not in args:
        args += ["--trials", "3"]
    if args[:1] != ["draw"]:
        sys.exit(subprocess.call([real, *args]))
    server = subprocess.Popen([real, *args, "--no-browser", "--port", "0"], stdout=subprocess.PIPE, text=True)
    try:
        for line in server.stdout:
            print(line, end="")
            if "http://" in line:
                url = line[line.index("http://"):].split()[0]
                with urllib.request.urlopen(url, timeout=30) as page:
                    sys.exit(0 if page.status == 200 and b"<html" in page.read() else 1)
        sys.exit(1)
    finally:
        server.terminate()
        server.wait()
    """)


def shell_blocks(text):
    """The README's ``sh`` blocks, each as ``(first line number, code)``, but those of ``make`` commands."""
    blocks = [(text.count("\n", 0, match.start(2)) + 1, match.group(2))
              for match in FENCE.finditer(text) if match.group(1).strip() == "sh"]
    return [(line, code) for line, code in blocks
            if not all(command.startswith("make ") for command in code.splitlines() if command.strip())]


def test_shell_blocks_are_found_and_make_blocks_left_out():
    text = "```sh\nmake run\nmake test\n```\n\n```sh\nnnscratch presets\n```\n```python\nx = 1\n```\n"
    assert shell_blocks(text) == [(7, "nnscratch presets\n")]


def write_kaggle_csv(path, images, labels=None):
    """Kaggle's Digit Recognizer layout: a header row, then ``label,pixel0..pixel783`` (``test.csv``: no label)."""
    header = ",".join((["label"] if labels is not None else []) + [f"pixel{i}" for i in range(784)])
    rows = images.reshape(len(images), 784)
    if labels is not None:
        rows = np.column_stack([labels, rows])
    np.savetxt(path, rows, fmt="%d", delimiter=",", header=header, comments="")


def downloads(home):
    """~/Downloads as the Data section expects it: MNIST as IDX files, and Kaggle's two CSV files (its train.csv
    as large as Kaggle's, 42,000 rows)."""
    from nnscratch.datasets import fetch
    from nnscratch.datasets.convert import export
    from nnscratch.datasets.sources import get_spec

    raw, _ = fetch("mnist")
    export(raw, get_spec("mnist"), home / "Downloads" / "mnist", to="idx")
    kaggle = home / "Downloads" / "digit-recognizer"
    kaggle.mkdir(parents=True)
    write_kaggle_csv(kaggle / "train.csv", raw.x_train[:42000], raw.y_train[:42000])
    write_kaggle_csv(kaggle / "test.csv", raw.x_test[:20])


def my_digits(folder, raw, per_class=40):
    """A folder of one's own pictures, one sub-folder per class, as the Data section trains on."""
    from PIL import Image
    for label in range(10):
        (folder / str(label)).mkdir(parents=True)
        for number, index in enumerate(np.flatnonzero(raw.y_test == label)[:per_class]):
            Image.fromarray(255 - raw.x_test[index]).resize((84, 84)).save(folder / str(label) / f"{number}.png")


@pytest.mark.network
def test_every_shell_block_of_the_readme_runs_in_order(tmp_path):
    from nnscratch.datasets.cache import default_cache_dir

    home, work, bin_dir = tmp_path / "home", tmp_path / "work", tmp_path / "bin"
    for folder in (home, work, bin_dir):
        folder.mkdir()
    data_dir = os.environ.get("NNSCRATCH_DATA") or str(default_cache_dir())
    downloads(home)
    (bin_dir / "nnscratch").write_text(STAND_IN)
    (bin_dir / "nnscratch").chmod(0o755)
    Image = pytest.importorskip("PIL.Image")
    from nnscratch.datasets import fetch
    digit = 255 - fetch("mnist")[0].x_test[0].reshape(28, 28)
    photo = Image.fromarray(np.kron(digit, np.ones((8, 8), np.uint8)).astype(np.uint8))
    photo.save(work / "my-digit.png")
    (work / "photos").mkdir()
    photo.save(work / "photos" / "seven.png")
    my_digits(work / "my_digits", fetch("mnist")[0])

    env = {**os.environ, "HOME": str(home), "NNSCRATCH_DATA": data_dir, "MPLBACKEND": "Agg",
           "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}"}
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    blocks = shell_blocks(text)
    assert len(blocks) >= 8, f"expected the README's shell blocks, found {len(blocks)}"
    for line, code in blocks:
        done = subprocess.run(["bash", "-euo", "pipefail", "-c", code], cwd=work, env=env, capture_output=True,
                              text=True, timeout=900)
        assert done.returncode == 0, (f"README.md, the shell block at line {line} failed (exit {done.returncode}):"
                                      f"\n{code}\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
