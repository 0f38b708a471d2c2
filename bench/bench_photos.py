"""How well a trained model reads photos of digits on paper, against the same digits clean, per lighting condition.

Each MNIST test digit is pasted as dark ink onto a synthetic photo of a page: paper of a random grey, the digit at
a random size, position and slight rotation, blurred a little (focus) and with sensor noise, stored as 8-bit grey
like a camera's picture. Each condition lights or stores the page differently:

- ordinary: a soft gradient and a slight vignette;
- vignetting 20 / 30 / 40 %: corners that much darker than the centre, (1 - v·d²) with d the distance from the
  centre over the distance of a corner;
- side shadow: a shadow 30 to 60 % deep over one side, its edge (5 to 40 pixels soft) in the middle of the page;
- gradient: the light falling by 30 to 60 % from one side to the other, in a random direction;
- EXIF rotation: the ordinary page stored sideways or upside down in a JPEG whose orientation tag (3, 6 or 8)
  says how to show it, read back through ``load_image``;
- thin pen: the ordinary page, the digit's strokes thinned to a third of their width or less (a fine pen).

The photo goes through ``prepare_digit``, as ``nnscratch predict IMAGE`` does, and the model's accuracy on the
photos is compared with its accuracy on the clean digits. Aim: within 2 points in every condition.

Usage: ``python bench/bench_photos.py [MODEL...] [--count 2000] [--seed 0] [--data PATH] [--examples DIR]``
(with no MODEL, ``cnn-fast`` is trained into a temporary folder first, about 20 s; ``--examples`` saves the
first pages of each condition as PNG, to see what the model was shown).
"""
import argparse
import os
import subprocess
import sys
import tempfile
import time

import numpy as np
from PIL import Image, ImageFilter
from scipy import ndimage
from tabulate import tabulate

from nnscratch.datasets import load_dataset
from nnscratch.images.prepare import NoInkError, load_image, prepare_digit
from nnscratch.serialization import load_model

EXIF_ORIENTATION = 0x0112
# A picture stored this way round (np.rot90's number of quarter turns, anticlockwise) is shown upright by a
# viewer that applies the tag: 6 means "turn 90° clockwise to show it".
STORED_TURNS = {3: 2, 6: 1, 8: -1}


def ordinary_light(rows, columns, rng):
    """The paper's light: a soft gradient in a random direction and a slight vignette."""
    angle = rng.uniform(0, 2 * np.pi)
    ramp = np.cos(angle) * (rows - 0.5) + np.sin(angle) * (columns - 0.5)
    vignette = rng.uniform(0.0, 0.15) * ((rows - rows.mean()) ** 2 + (columns - columns.mean()) ** 2)
    return rng.uniform(0.55, 0.92) + rng.uniform(0.05, 0.25) * ramp - vignette


def vignetted_light(strength):
    def light(rows, columns, rng):
        squared = (rows - rows.mean()) ** 2 + (columns - columns.mean()) ** 2
        return rng.uniform(0.6, 0.92) * (1 - strength * squared / squared.max())
    return light


def shadowed_light(rows, columns, rng):
    """Paper with a shadow over one side: its edge a soft step (a logistic of the distance from a line)."""
    angle = rng.uniform(0, 2 * np.pi)
    across = np.cos(angle) * (rows - rows.mean()) + np.sin(angle) * (columns - columns.mean())
    edge = rng.uniform(-0.15, 0.15)
    softness = rng.uniform(5, 40) / max(rows.shape)
    shade = 1 / (1 + np.exp(-np.clip((across - edge) / softness, -50, 50)))
    return rng.uniform(0.6, 0.92) * (1 - rng.uniform(0.3, 0.6) * shade)


def gradient_light(rows, columns, rng):
    """The light falling by 30 to 60 % from one side of the page to the other."""
    angle = rng.uniform(0, 2 * np.pi)
    across = np.cos(angle) * (rows - rows.mean()) + np.sin(angle) * (columns - columns.mean())
    across = (across - across.min()) / (across.max() - across.min())
    return rng.uniform(0.6, 0.92) * (1 - rng.uniform(0.3, 0.6) * across)


CONDITIONS = {
    "ordinary": ordinary_light,
    "vignetting 20 %": vignetted_light(0.2),
    "vignetting 30 %": vignetted_light(0.3),
    "vignetting 40 %": vignetted_light(0.4),
    "side shadow": shadowed_light,
    "gradient": gradient_light,
    "EXIF rotation": ordinary_light,
    "thin pen": ordinary_light,
}


def glyph_ink(digit, side, rng, thin=False):
    """The 28×28 digit enlarged to ``side`` × ``side`` pixels and slightly rotated, as ink in [0, 1]; a thin
    pen's strokes are eroded to about a third of their width."""
    glyph = Image.fromarray((255 * digit.reshape(28, 28)).astype(np.uint8)).resize((side, side),
                                                                                   Image.Resampling.BICUBIC)
    glyph = np.asarray(glyph.rotate(rng.uniform(-10, 10), resample=Image.Resampling.BICUBIC)) / 255.0
    if thin:
        strokes = ndimage.binary_erosion(glyph > 0.5, iterations=max(1, round(0.03 * side)))
        if strokes.any():
            glyph = ndimage.gaussian_filter(strokes.astype(np.float64), 1.0)
    return glyph


def photo_page(digit, rng, condition="ordinary"):
    """A 28×28 digit (ink bright, values in [0, 1]) as a uint8 grey photo of dark ink on a page lit as
    ``condition`` says."""
    height, width = int(rng.integers(300, 601)), int(rng.integers(400, 801))
    rows, columns = np.mgrid[0:height, 0:width] / max(height, width)
    paper = CONDITIONS[condition](rows, columns, rng)
    side = int(rng.uniform(0.25, 0.6) * height)               # the 28×28 field's size on the page
    ink = np.zeros((height, width))
    top, left = int(rng.integers(0, height - side + 1)), int(rng.integers(0, width - side + 1))
    ink[top:top + side, left:left + side] = glyph_ink(digit, side, rng, thin=condition == "thin pen")
    darkness = rng.uniform(0.6, 0.9)                            # how much light the ink absorbs
    page = paper * (1 - darkness * ink)
    page = Image.fromarray((255 * np.clip(page, 0, 1)).astype(np.uint8))
    page = page.filter(ImageFilter.GaussianBlur(rng.uniform(0.0, 1.5)))
    page = np.asarray(page, dtype=np.float64) + rng.normal(0, rng.uniform(0.005, 0.03) * 255, (height, width))
    return np.clip(np.round(page), 0, 255).astype(np.uint8)


def stored_sideways(page, rng, folder, index):
    """``page`` written as a JPEG stored turned, with the orientation tag that says how to show it upright."""
    orientation = int(rng.choice(sorted(STORED_TURNS)))
    exif = Image.Exif()
    exif[EXIF_ORIENTATION] = orientation
    path = os.path.join(folder, f"sideways-{index}.jpg")
    Image.fromarray(np.ascontiguousarray(np.rot90(page, STORED_TURNS[orientation]))).save(path, quality=92,
                                                                                          exif=exif)
    return path


def prepared_photos(x, rng, condition="ordinary", examples=None):
    """Each digit of ``x`` as a photo, prepared by ``prepare_digit``; a photo where no digit is found gives a
    row of NaN (counted as wrong)."""
    prepared = np.full((len(x), 784), np.nan, dtype=np.float32)
    with tempfile.TemporaryDirectory() as folder:
        for index, digit in enumerate(x):
            page = photo_page(digit, rng, condition)
            if examples and index < 4:
                os.makedirs(examples, exist_ok=True)
                name = condition.replace(" ", "-").replace("%", "percent")
                Image.fromarray(page).save(os.path.join(examples, f"photo-{name}-{index}.png"))
            try:
                if condition == "EXIF rotation":
                    page = load_image(stored_sideways(page, rng, folder, index))
                prepared[index] = prepare_digit(page)
            except NoInkError:
                pass
    return prepared


def accuracy(model, metadata, x, y):
    """The share of rows of ``x`` the model gets right (rows of NaN count as wrong)."""
    found = ~np.isnan(x).any(axis=1)
    shape = metadata.get("input_shape")
    rows = x[found].reshape(-1, *shape) if shape and len(shape) > 1 else x[found]
    predicted = model.predict(rows.astype(model.dtype)) if found.any() else np.zeros(0, dtype=np.int64)
    return np.count_nonzero(predicted == y[found]) / len(y)


def trained_model(folder):
    """A ``cnn-fast`` model trained for this benchmark into ``folder`` (about 20 s), for a run given no model."""
    path = os.path.join(folder, "photos-model.npz")
    print("No model given: training cnn-fast for this benchmark (about 20 s)", flush=True)
    subprocess.run([sys.executable, "-m", "nnscratch", "train", "--preset", "cnn-fast", "--out", path],
                   check=True, stdout=subprocess.DEVNULL)
    return path


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("models", metavar="MODEL", nargs="*", help="model files to measure (none: train cnn-fast)")
    parser.add_argument("--count", type=int, default=2000, help="how many test digits (default: 2000)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the digits chosen and their photos")
    parser.add_argument("--data", help="read MNIST from this path instead of the cache")
    parser.add_argument("--examples", metavar="DIR", help="save the first four photos of each condition in DIR")
    args = parser.parse_args(argv)
    x, y = load_dataset("mnist", path=args.data, validation_size=0).test
    rng = np.random.default_rng(args.seed)
    chosen = rng.choice(len(x), size=min(args.count, len(x)), replace=False)
    x, y = x[chosen], y[chosen]
    photos, found, seconds = {}, {}, {}
    for condition in CONDITIONS:
        start = time.perf_counter()
        photos[condition] = prepared_photos(x, rng, condition, args.examples)
        seconds[condition] = time.perf_counter() - start
        found[condition] = int(np.count_nonzero(~np.isnan(photos[condition]).any(axis=1)))
    print(f"{len(x)} MNIST test digits as photos (seed {args.seed}) in each of {len(CONDITIONS)} conditions; "
          f"{1000 * sum(seconds.values()) / (len(x) * len(CONDITIONS)):.1f} ms per photo to make and prepare\n")
    with tempfile.TemporaryDirectory() as folder:
        for path in args.models or [trained_model(folder)]:
            model, metadata = load_model(path)
            clean = accuracy(model, metadata, x, y)
            rows = [["clean digits", f"{len(x)}", f"{100 * clean:.2f} %", ""]]
            for condition in CONDITIONS:
                photo = accuracy(model, metadata, photos[condition], y)
                rows.append([condition, f"{found[condition]}", f"{100 * photo:.2f} %",
                             f"{100 * (photo - clean):+.2f}"])
            print(f"model {path if args.models else 'cnn-fast (trained for this run)'}")
            print(tabulate(rows, headers=["condition", "digit found", "accuracy", "difference (points)"],
                           tablefmt="simple", disable_numparse=True))
            print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
