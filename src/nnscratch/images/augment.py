"""Data augmentation: small random shifts, rotations and scalings of each training image.

A network that sees every digit moved by a pixel or two, turned by a few degrees and made a little larger or
smaller learns features that do not depend on those accidents, and errs less on new digits. Each batch is
transformed at once: one random affine map per image, applied by inverse mapping with bilinear interpolation,
from an explicit ``np.random.Generator`` (so the same seed gives the same images). Pixels that come from
outside the image are background, 0.
"""
import math

import numpy as np


class RandomAffine:
    """``transform(x, rng) -> x'``: each image moved by up to ``shift`` pixels in each direction, rotated by
    up to ``rotation`` degrees and scaled by a factor in [1 - scale, 1 + scale], all drawn uniformly.

    Usable as ``fit(..., transform=RandomAffine())``. Accepts batches of shape (N, H·W) (flat, with
    ``image_shape`` giving (H, W)), (N, H, W) or (N, 1, H, W); returns the same shape and dtype.
    """

    def __init__(self, shift=2.0, rotation=10.0, scale=0.1, image_shape=(28, 28)):
        if shift < 0 or rotation < 0 or not 0 <= scale < 1:
            raise ValueError(f"RandomAffine needs shift >= 0, rotation >= 0 and 0 <= scale < 1, got "
                             f"{shift}, {rotation} and {scale}")
        self.shift, self.rotation, self.scale = float(shift), float(rotation), float(scale)
        self.image_shape = tuple(int(size) for size in image_shape)
        self.grids = {}

    def images(self, x):
        """The batch as (N, H, W) images (a view), checking its shape."""
        if x.ndim == 2 and x.shape[1] == self.image_shape[0] * self.image_shape[1]:
            return x.reshape(len(x), *self.image_shape)
        if x.ndim == 3 or (x.ndim == 4 and x.shape[1] == 1):
            return x.reshape(len(x), *x.shape[-2:])
        raise ValueError(f"RandomAffine expected images of shape (N, {self.image_shape[0] * self.image_shape[1]}),"
                         f" (N, H, W) or (N, 1, H, W), got shape {x.shape}")

    def grid(self, height, width, dtype):
        """Pixel coordinates relative to the image centre, (H, 1) and (1, W), cached per size."""
        key = (height, width, np.dtype(dtype).str)
        if key not in self.grids:
            rows = (np.arange(height, dtype=dtype) - (height - 1) / 2).reshape(height, 1)
            columns = (np.arange(width, dtype=dtype) - (width - 1) / 2).reshape(1, width)
            self.grids[key] = rows, columns
        return self.grids[key]

    def __call__(self, x, rng):
        images = self.images(np.asarray(x))
        count, height, width = images.shape
        dtype = images.dtype if images.dtype.kind == "f" else np.float32
        angle = rng.uniform(-self.rotation, self.rotation, count) * (math.pi / 180)
        zoom = rng.uniform(1 - self.scale, 1 + self.scale, count)
        shift = rng.uniform(-self.shift, self.shift, (count, 2))
        # Inverse map: output pixel p came from source q = R(-angle) (p - shift) / zoom + centre.
        cos = (np.cos(angle) / zoom).astype(dtype).reshape(count, 1, 1)
        sin = (np.sin(angle) / zoom).astype(dtype).reshape(count, 1, 1)
        rows, columns = self.grid(height, width, dtype)
        dy = rows - shift[:, 0].astype(dtype).reshape(count, 1, 1)            # (N, H, 1)
        dx = columns - shift[:, 1].astype(dtype).reshape(count, 1, 1)         # (N, 1, W)
        source_y = cos * dy + sin * dx + (height - 1) / 2                      # (N, H, W)
        source_x = cos * dx - sin * dy + (width - 1) / 2
        return bilinear(images, source_y, source_x).astype(dtype, copy=False).reshape(np.shape(x))


def bilinear(images, source_y, source_x):
    """Sample each image at fractional (y, x) positions, weighting the four neighbouring pixels by nearness;
    positions outside the image read 0."""
    count, height, width = images.shape
    # A ring of background, one pixel wide before the image and two after, so that every clipped position
    # has all four neighbours inside the array.
    padded = np.zeros((count, height + 3, width + 3), dtype=images.dtype)
    padded[:, 1:height + 1, 1:width + 1] = images
    flat = padded.reshape(-1)
    # Clipping to [-1, size] moves far-away positions onto the ring, where every neighbour that has weight is 0.
    source_y = np.clip(source_y, -1, height)
    source_x = np.clip(source_x, -1, width)
    top = np.floor(source_y)
    left = np.floor(source_x)
    weight_y = source_y - top
    weight_x = source_x - left
    stride = width + 3
    index_type = np.int32 if flat.size < 2**31 else np.intp          # smaller indices are faster to build
    base = (np.arange(count, dtype=index_type) * ((height + 3) * stride) + stride + 1).reshape(count, 1, 1)
    corner = (top * stride + left).astype(index_type)                   # exact: small whole numbers
    corner += base
    upper_left, upper_right = flat.take(corner), flat.take(corner + 1)
    lower_left, lower_right = flat.take(corner + stride), flat.take(corner + stride + 1)
    upper = upper_left + (upper_right - upper_left) * weight_x
    lower = lower_left + (lower_right - lower_left) * weight_x
    return upper + (lower - upper) * weight_y


class RandomShift:
    """Move each image by a random whole number of pixels, up to ``max_shift`` each way (no interpolation).

    Each row of a (N, side²) batch is padded with zeros and cropped back at a random offset, by one gathered
    index per pixel, with no loop over the images.
    """

    def __init__(self, max_shift, side=28):
        self.max_shift, self.side = int(max_shift), int(side)
        self.pixels = np.arange(self.side)

    def __call__(self, x, rng):
        shift, side = self.max_shift, self.side
        images = x.reshape(len(x), side, side)
        padded = np.pad(images, ((0, 0), (shift, shift), (shift, shift)))
        dy, dx = rng.integers(0, 2 * shift + 1, size=(2, len(x)))
        rows = (self.pixels[None, :] + dy[:, None])[:, :, None]
        columns = (self.pixels[None, :] + dx[:, None])[:, None, :]
        shifted = padded[np.arange(len(x))[:, None, None], rows, columns]
        return shifted.reshape(x.shape)

    def __repr__(self):
        return f"RandomShift(max_shift={self.max_shift})"
