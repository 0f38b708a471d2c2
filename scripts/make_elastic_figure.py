"""Draw docs/images/elastic.png: one MNIST test digit as it is, then under seven random elastic distortions.

    python scripts/make_elastic_figure.py                       # test digit 0, alpha 1.5 pixels, seed 0
    python scripts/make_elastic_figure.py --index 7 --alpha 3 --out /tmp/elastic.png

Each distorted panel is titled with the largest move of its field. Needs MNIST in the cache
(``nnscratch data fetch``).
"""
import argparse
import sys

import numpy as np
from matplotlib.figure import Figure

from nnscratch.datasets import DataError, load_mnist
from nnscratch.images.augment import ElasticDistortion
from nnscratch.viz.plots import save_figure

ROWS, COLUMNS = 2, 4  # the original and seven distorted copies


def draw(digit, label, path, alpha, seed):
    """``digit`` (28×28) and ``ROWS·COLUMNS − 1`` copies bent by ``ElasticDistortion(alpha)``, in a grid."""
    transform = ElasticDistortion(alpha=alpha)
    count = ROWS * COLUMNS - 1
    fields = transform.fields(transform.control_points(count, np.random.default_rng(seed)), 28, 28)
    bent = transform.warp(np.repeat(digit[None], count, axis=0), fields)
    largest = np.hypot(fields[:, 0], fields[:, 1]).max(axis=(1, 2))
    panels = [(digit, f"original: a {label}")]
    panels += [(image, f"moves ≤ {move:.2f} pixels") for image, move in zip(bent, largest, strict=True)]
    figure = Figure(figsize=(1.6 * COLUMNS, 1.75 * ROWS + 0.5))
    for axes, (image, title) in zip(figure.subplots(ROWS, COLUMNS).reshape(-1), panels, strict=True):
        axes.imshow(image, cmap="gray_r", vmin=0, vmax=1)
        axes.set_title(title, fontsize=8)
        axes.axis("off")
    figure.suptitle(f"Elastic distortions, α = {alpha:g}: a 4 × 4 grid of random moves\n"
                    f"(each uniform in [−α, α] pixels), interpolated over the digit", fontsize=9)
    figure.tight_layout()
    return save_figure(figure, path)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--index", type=int, default=0, help="which test digit (0 to 9999)")
    parser.add_argument("--alpha", type=float, default=ElasticDistortion().alpha, help="largest move, pixels")
    parser.add_argument("--seed", type=int, default=0, help="seed of the random fields")
    parser.add_argument("--out", default="docs/images/elastic.png", help="where to write the PNG")
    args = parser.parse_args(argv)
    try:
        data = load_mnist(download=False, shape="image")
    except DataError as error:
        print(f"make_elastic_figure: {error}", file=sys.stderr)
        return 2
    test_x, test_y = data.test
    if not 0 <= args.index < len(test_x):
        print(f"make_elastic_figure: --index must be 0 to {len(test_x) - 1}, got {args.index}", file=sys.stderr)
        return 2
    if not args.alpha >= 0:
        print(f"make_elastic_figure: --alpha must be 0 or more pixels, got {args.alpha}", file=sys.stderr)
        return 2
    print(draw(test_x[args.index, 0], int(test_y[args.index]), args.out, args.alpha, args.seed))
    return 0


if __name__ == "__main__":
    sys.exit(main())
