"""What the Train view shows of a network while it learns: the first layer's weights as small images, and the
health strip's numbers for every layer with weights.

- ``weight_image(model)``: the first layer's weights, one image per hidden unit (a dense layer on 784 inputs:
  28×28; a convolution: each kernel), each scaled to its own largest magnitude and sent as bytes 0..254 (127 is
  zero), with the shape of the stack.
- ``Health``: per layer, the size of the last update relative to the weights (‖ΔW‖ / ‖W‖; around 1e-3 is
  healthy), the fraction of ReLU units that never fire on the validation subset (dead units), and a histogram
  of the weights against their starting values, each with a plain-language hint when it signals trouble.
"""
import numpy as np

from ..inspection import flat_layers
from ..layers.activations import ReLU
from ..layers.conv import Conv2D
from ..layers.linear import Linear
from ..viz.pictures import first_weighted_layer, to_uint8, weight_images

HISTOGRAM_BINS = 24
UPDATES_TOO_LARGE = 5e-2     # ‖ΔW‖/‖W‖ above this: too large (SGD at lr 0.1, math.md's best, measures 0.9–1.8e-2)
UPDATES_VANISHING = 1e-5     # below this: the layer has all but stopped learning
DEAD_UNITS = 0.5             # a larger fraction of ReLU units that never fire is trouble


def weighted_layers(model):
    """``(dotted name, layer, label)`` of every dense and convolutional layer, in the order they run."""
    layers = []
    for name, layer in flat_layers(model):
        if isinstance(layer, Linear):
            layers.append((name, layer, f"dense {layer.in_features}→{layer.out_features}"))
        elif isinstance(layer, Conv2D):
            height, width = layer.kernel_size
            layers.append((name, layer, f"conv {height}×{width}×{layer.out_channels}"))
    return layers


def weight_image(model):
    """``(bytes, shape)``: the first layer's weight pictures (``viz.pictures.weight_images``), each scaled to its
    largest magnitude, as uint8 with 127 for zero (``viz.pictures.to_uint8``)."""
    images = weight_images(first_weighted_layer(model).params["W"])
    levels, _ = to_uint8(images)
    return levels.tobytes(), tuple(int(size) for size in images.shape)


class Health:
    """The health strip: built on the model at the start of training, it keeps the starting weights; ``before``
    copies the weights ahead of one update and ``measure`` reports, after it, every layer's numbers."""

    def __init__(self, model):
        self.model = model
        self.layers = weighted_layers(model)
        self.start = [layer.params["W"].copy() for _, layer, _ in self.layers]
        self.previous = None

    def before_update(self):
        self.previous = [layer.params["W"].copy() for _, layer, _ in self.layers]

    def measure(self, x):
        """Per layer: name, update ratio (None without a ``before_update``), dead ReLU fraction on ``x`` (None
        where no ReLU follows), histograms now and at the start on the same bins, and hints."""
        dead = self.dead_fractions(x)
        report = []
        for index, (name, layer, label) in enumerate(self.layers):
            weights = layer.params["W"]
            ratio = None
            if self.previous is not None:
                norm = float(np.linalg.norm(self.previous[index]))
                ratio = float(np.linalg.norm(weights - self.previous[index])) / norm if norm else None
            low = float(min(weights.min(), self.start[index].min()))
            high = float(max(weights.max(), self.start[index].max()))
            if not high > low:
                low, high = low - 0.5, high + 0.5
            now, _ = np.histogram(weights, bins=HISTOGRAM_BINS, range=(low, high))
            start, _ = np.histogram(self.start[index], bins=HISTOGRAM_BINS, range=(low, high))
            report.append({"name": label, "layer": name, "update_ratio": ratio, "dead_fraction": dead.get(index),
                           "histogram": {"low": low, "high": high, "now": now.tolist(), "start": start.tolist()},
                           "hints": hints(ratio, dead.get(index))})
        self.previous = None
        return report

    def dead_fractions(self, x):
        """For each weighted layer followed by a ReLU: the fraction of its units (or channels) that output zero
        for every example of ``x``, in eval mode."""
        dead, current = {}, None
        positions = {name: index for index, (name, _, _) in enumerate(self.layers)}
        with self.model.mode(training=False):
            for name, layer in flat_layers(self.model):
                x = layer.forward(x)
                if name in positions:
                    current = positions[name]
                elif isinstance(layer, ReLU) and current is not None and current not in dead:
                    fired = x.reshape(len(x), x.shape[1], -1).max(axis=(0, 2)) > 0 if x.ndim > 2 else x.max(axis=0) > 0
                    dead[current] = float(1.0 - fired.mean())
        return dead


def hints(ratio, dead):
    """Plain-language warnings for one layer's numbers (an empty list when all looks well)."""
    said = []
    if ratio is not None and ratio > UPDATES_TOO_LARGE:
        said.append(f"updates are {ratio:.0e} of the weights (healthy is about 1e-3 to 1e-2): the learning rate is too "
                    f"large for this layer")
    if ratio is not None and ratio < UPDATES_VANISHING:
        said.append("updates have all but vanished: this layer has stopped learning (learning rate too small, or "
                    "saturated units)")
    if dead is not None and dead > DEAD_UNITS:
        said.append(f"{dead:.0%} of its ReLU units never fire on the validation digits (dead units): try a smaller "
                    f"learning rate")
    return said
