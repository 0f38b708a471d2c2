"""Digits and predictions as plain text: a grey image as ASCII art, and class probabilities as a bar chart.

The art uses the ten-level ramp of ZimengXiong/NeuralNetworkFromScratch: a pixel v in [0, 1] becomes
``RAMP[int(v * 9)]``, so paper is a space and only full ink is ``@``.
"""
import math

import numpy as np

RAMP = " .:-=+*#%@"


def image_to_ascii(image, side=None):
    """A square grey image (N×N, or N² values) in [0, 1] as N lines of N characters of ``RAMP``."""
    image = np.asarray(image, dtype=np.float64)
    if image.ndim == 1 or (image.ndim == 3 and image.shape[0] == 1):
        side = side or math.isqrt(image.size)
        if side * side != image.size:
            raise ValueError(f"image_to_ascii expects a square image, got {image.size} values")
        image = image.reshape(side, side)
    if image.ndim != 2:
        raise ValueError(f"image_to_ascii expects a 2-D image or a flat square one, got shape {image.shape}")
    # The tiny epsilon keeps 1.0 stored as float32 (or 255/255) on '@' despite rounding.
    levels = np.clip(np.floor(image * (len(RAMP) - 1) + 1e-6), 0, len(RAMP) - 1).astype(np.int64)
    characters = np.array(list(RAMP))[levels]
    return "\n".join("".join(row) for row in characters)


def probability_bars(probabilities, class_names=None, width=40, truth=None):
    """One line per class: its name, a bar of ``#`` proportional to its probability, the percentage.

    The most likely class is marked ``<- prediction``; when ``truth`` (a class index) is given and differs,
    that line is marked ``<- true label``.
    """
    probabilities = np.asarray(probabilities, dtype=np.float64).reshape(-1)
    names = [str(name) for name in (class_names if class_names is not None else range(len(probabilities)))]
    if len(names) != len(probabilities):
        raise ValueError(f"probability_bars got {len(probabilities)} probabilities but {len(names)} class names")
    winner = int(probabilities.argmax())
    name_width = max(len(name) for name in names)
    lines = []
    for index, (name, p) in enumerate(zip(names, probabilities, strict=True)):
        bar = "#" * int(round(float(np.clip(p, 0, 1)) * width))
        mark = "  <- prediction" if index == winner else ("  <- true label" if index == truth else "")
        lines.append(f"{name:>{name_width}} |{bar:<{width}}| {100 * p:6.2f} %{mark}")
    return "\n".join(lines)
