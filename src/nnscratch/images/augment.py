"""Data augmentation: small random shifts, rotations, scalings and elastic distortions of each training image.

A network that sees every digit moved by a pixel or two, turned by a few degrees, made a little larger or
smaller and gently bent (as a hand's uncontrolled wobbles bend a stroke) learns features that do not depend on
those accidents, and errs less on new digits. Each batch is transformed at once: one random map per image,
applied by inverse mapping with bilinear interpolation, from an explicit ``np.random.Generator`` (so the same
seed gives the same images). Pixels that come from outside the image are background, 0.
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
        return as_images(x, self.image_shape, "RandomAffine")

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


def as_images(x, image_shape, name):
    """A batch of shape (N, H·W), (N, H, W) or (N, 1, H, W) as (N, H, W) images (a view); ``name`` is the
    transform named in the error for any other shape."""
    if x.ndim == 2 and x.shape[1] == image_shape[0] * image_shape[1]:
        return x.reshape(len(x), *image_shape)
    if x.ndim == 3 or (x.ndim == 4 and x.shape[1] == 1):
        return x.reshape(len(x), *x.shape[-2:])
    raise ValueError(f"{name} expected images of shape (N, {image_shape[0] * image_shape[1]}), (N, H, W) or "
                     f"(N, 1, H, W), got shape {x.shape}")


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


class ElasticDistortion:
    """``transform(x, rng) -> x'``: each image bent by a smooth random displacement field, as a coarse grid of
    random moves interpolated over the image (the ``random_distortion`` of Augmentor, 4 × 4 tiles and magnitude
    1, that ttdoucet's 99.7-99.8 % networks train on).

    The math. Control points sit on a (g+1) × (g+1) lattice over the image, at rows t_k = k·(H−1)/g and
    columns s_l = l·(W−1)/g (k, l = 0…g, g = ``grid``). Those on the border stay put; each inner one moves by
    c_kl = (cy, cx), both drawn uniformly in [−α, α] pixels (α = ``alpha``). Between the points the
    displacement is interpolated bilinearly: with the hat function h_k(i) = max(0, 1 − |i − t_k| / Δ),
    Δ = (H−1)/g, pixel (i, j) moves by d(i, j) = Σ_kl h_k(i) h_l(j) c_kl, one field per image and component,
    or D = P_H C P_Wᵀ as a product of small matrices (P_H[i, k] = h_k(i)). The image is then read where each
    pixel's displacement points: x'(p) = x(p + d(p)), sampled bilinearly, 0 outside.

    Scale: each moved control point has E|c| = α/2 per component and |c| ≤ α; over a 28 × 28 image with g = 4
    the displacement's root mean square is about 0.28·α per component (the fixed border and the interpolation
    pull it below the control points' α/√3 ≈ 0.58·α). A zero field (α = 0) returns the images exactly. The
    default α = 1.5 gives the moves about the spread of Augmentor's magnitude 1, whose moves are whole pixels
    −1, 0 or 1 (variance 2/3, which α²/3 matches at α ≈ 1.4), without its steps of a whole pixel.

    Why this field rather than Simard, Steinkraus and Platt's (2003: a displacement drawn for every pixel,
    smoothed by a Gaussian of width σ and multiplied by α): here α is the largest move in pixels, with no σ to
    trade it against (Simard's field has a root mean square of α / (2σ√(3π)) per component, so his α = 34 and
    σ = 4 move pixels by about 1.4); 2·(g−1)² = 18 random numbers per image (g = 4) instead of 2·H·W, and the
    field is two small matrix products, with no boundary rule to choose for a smoothing filter; and it is the
    distortion of the best honest single networks we compare with.

    Accepts batches of shape (N, H·W) (flat, with ``image_shape`` giving (H, W)), (N, H, W) or (N, 1, H, W);
    returns the same shape and dtype (float32 stays float32).
    """

    def __init__(self, alpha=1.5, grid=4, image_shape=(28, 28)):
        if not alpha >= 0 or int(grid) != grid or grid < 2:
            raise ValueError(f"ElasticDistortion needs alpha >= 0 pixels and a grid of at least 2 tiles, got "
                             f"alpha {alpha} and grid {grid}")
        self.alpha, self.grid = float(alpha), int(grid)
        self.image_shape = tuple(int(size) for size in image_shape)
        self.matrices = {}

    def __repr__(self):
        return f"ElasticDistortion(alpha={self.alpha}, grid={self.grid})"

    def control_points(self, count, rng, dtype=np.float32):
        """The moves c of every control point, (N, 2, g+1, g+1) (axis 1: rows, then columns): uniform in
        [−α, α] inside, 0 on the border."""
        inner = self.grid - 1
        moves = np.zeros((count, 2, self.grid + 1, self.grid + 1), dtype=dtype)
        moves[:, :, 1:-1, 1:-1] = rng.uniform(-self.alpha, self.alpha, (count, 2, inner, inner))
        return moves

    def interpolation(self, size, dtype):
        """P: the hat functions h_k(i) = max(0, 1 − |i − t_k| / Δ) as a (size, g+1) matrix, cached."""
        key = (size, np.dtype(dtype).str)
        if key not in self.matrices:
            spacing = (size - 1) / self.grid
            knots = np.arange(self.grid + 1) * spacing
            hats = np.maximum(0.0, 1.0 - np.abs(np.arange(size)[:, None] - knots[None, :]) / spacing)
            self.matrices[key] = hats.astype(dtype)
        return self.matrices[key]

    def fields(self, moves, height, width):
        """The displacements d = P_H C P_Wᵀ of every pixel, (N, 2, H, W), from the control points' moves."""
        rows, columns = self.interpolation(height, moves.dtype), self.interpolation(width, moves.dtype)
        return rows @ moves @ columns.T

    def warp(self, x, fields):
        """The images read at p + d(p): ``fields`` (N, 2, H, W) gives d's row and column components."""
        images = as_images(np.asarray(x), self.image_shape, "ElasticDistortion")
        count, height, width = images.shape
        if fields.shape != (count, 2, height, width):
            raise ValueError(f"ElasticDistortion expected fields of shape {(count, 2, height, width)}, got "
                             f"{fields.shape}")
        rows = np.arange(height, dtype=fields.dtype).reshape(height, 1)
        columns = np.arange(width, dtype=fields.dtype).reshape(1, width)
        moved = bilinear(images, rows + fields[:, 0], columns + fields[:, 1])
        return moved.astype(images.dtype, copy=False).reshape(np.shape(x))

    def __call__(self, x, rng):
        images = as_images(np.asarray(x), self.image_shape, "ElasticDistortion")
        count, height, width = images.shape
        dtype = images.dtype if images.dtype.kind == "f" else np.float32
        return self.warp(x, self.fields(self.control_points(count, rng, dtype), height, width))


class Compose:
    """``transform(x, rng) -> x'``: the given transforms applied in turn, each drawing from the same generator
    (for example ``Compose(ElasticDistortion(), RandomAffine())``: bend, then move, turn and scale)."""

    def __init__(self, *transforms):
        self.transforms = transforms

    def __repr__(self):
        return f"Compose({', '.join(map(repr, self.transforms))})"

    def __call__(self, x, rng):
        for transform in self.transforms:
            x = transform(x, rng)
        return x
