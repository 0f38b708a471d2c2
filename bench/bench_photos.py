"""How well a trained model reads photos of digits on paper, against the same digits clean.

Each MNIST test digit is pasted as dark ink onto a synthetic photo of a page: paper of a random grey, lit by a
soft gradient and a vignette, the digit at a random size, position and slight rotation, blurred a little (focus)
and with sensor noise, stored as 8-bit grey like a camera's picture. The photo goes through ``prepare_digit``,
as ``nnscratch predict IMAGE`` does, and the model's accuracy on the photos is compared with its accuracy on
the clean digits. Aim: within 1.5 points.

Usage: ``python bench/bench_photos.py MODEL... [--count 2000] [--seed 0] [--data PATH] [--examples DIR]``
(``--examples`` saves the first pages as PNG, to see what the model was shown).
"""
import argparse
import os
import sys
import time

import numpy as np
from PIL import Image, ImageFilter
from tabulate import tabulate

from nnscratch.datasets import load_dataset
from nnscratch.images.prepare import NoInkError, prepare_digit
from nnscratch.serialization import load_model


def photo_page(digit, rng):
    """A 28×28 digit (ink bright, values in [0, 1]) as a uint8 grey photo of dark ink on a lit page."""
    height, width = int(rng.integers(300, 601)), int(rng.integers(400, 801))
    rows, columns = np.mgrid[0:height, 0:width] / max(height, width)
    angle = rng.uniform(0, 2 * np.pi)
    ramp = np.cos(angle) * (rows - 0.5) + np.sin(angle) * (columns - 0.5)
    paper = rng.uniform(0.55, 0.92) + rng.uniform(0.05, 0.25) * ramp
    vignette = rng.uniform(0.0, 0.15) * ((rows - rows.mean()) ** 2 + (columns - columns.mean()) ** 2)
    paper = paper - vignette
    side = int(rng.uniform(0.25, 0.6) * height)               # the 28×28 field's size on the page
    glyph = Image.fromarray((255 * digit.reshape(28, 28)).astype(np.uint8)).resize((side, side),
                                                                                   Image.Resampling.BICUBIC)
    glyph = glyph.rotate(rng.uniform(-10, 10), resample=Image.Resampling.BICUBIC)
    ink = np.zeros((height, width))
    top, left = int(rng.integers(0, height - side + 1)), int(rng.integers(0, width - side + 1))
    ink[top:top + side, left:left + side] = np.asarray(glyph) / 255.0
    darkness = rng.uniform(0.6, 0.9)                            # how much light the ink absorbs
    page = paper * (1 - darkness * ink)
    page = Image.fromarray((255 * np.clip(page, 0, 1)).astype(np.uint8))
    page = page.filter(ImageFilter.GaussianBlur(rng.uniform(0.0, 1.5)))
    page = np.asarray(page, dtype=np.float64) + rng.normal(0, rng.uniform(0.005, 0.03) * 255, (height, width))
    return np.clip(np.round(page), 0, 255).astype(np.uint8)


def prepared_photos(x, rng, examples=None):
    """Each digit of ``x`` as a photo, prepared by ``prepare_digit``; a photo where no digit is found gives a
    row of NaN (counted as wrong)."""
    prepared = np.full((len(x), 784), np.nan, dtype=np.float32)
    for index, digit in enumerate(x):
        page = photo_page(digit, rng)
        if examples and index < 8:
            os.makedirs(examples, exist_ok=True)
            Image.fromarray(page).save(os.path.join(examples, f"photo-{index}.png"))
        try:
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


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("models", metavar="MODEL", nargs="+", help="model files to measure")
    parser.add_argument("--count", type=int, default=2000, help="how many test digits (default: 2000)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the digits chosen and their photos")
    parser.add_argument("--data", help="read MNIST from this path instead of the cache")
    parser.add_argument("--examples", metavar="DIR", help="save the first eight photos as PNG in DIR")
    args = parser.parse_args(argv)
    x, y = load_dataset("mnist", path=args.data, validation_size=0).test
    rng = np.random.default_rng(args.seed)
    chosen = rng.choice(len(x), size=min(args.count, len(x)), replace=False)
    x, y = x[chosen], y[chosen]
    start = time.perf_counter()
    photos = prepared_photos(x, rng, args.examples)
    seconds = time.perf_counter() - start
    found = int(np.count_nonzero(~np.isnan(photos).any(axis=1)))
    print(f"{len(x)} MNIST test digits as photos (seed {args.seed}); a digit was found on {found}; "
          f"{1000 * seconds / len(x):.1f} ms per photo to make and prepare\n")
    rows = []
    for path in args.models:
        model, metadata = load_model(path)
        clean, photo = accuracy(model, metadata, x, y), accuracy(model, metadata, photos, y)
        rows.append([path, f"{100 * clean:.2f} %", f"{100 * photo:.2f} %", f"{100 * (photo - clean):+.2f}"])
    print(tabulate(rows, headers=["model", "clean digits", "photos via prepare_digit", "difference (points)"],
                   tablefmt="simple", disable_numparse=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
