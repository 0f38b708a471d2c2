"""The explanation as one picture: the input, the answer, which pixels mattered, why this class, what every
hidden layer computed, and the nearest training digits.

Drawn with matplotlib's object interface on the Agg renderer (no display needed); the only module of the
explanation that imports matplotlib. Heat maps use a diverging scale centred on zero (red: raises the logit,
blue: lowers it, as every picture of the project), each scaled to its own largest magnitude, each with its
colour key.
"""
import math

import numpy as np
from matplotlib.figure import Figure
from matplotlib.gridspec import GridSpecFromSubplotSpec

from ..viz.pictures import COLOUR_KEY, DIVERGING
from ..viz.plots import save_figure

SHOWN_UNITS = 12
SHOWN_MAPS = 8


def draw_explanation(path, explainer, pixels, answer, neighbours=None):
    """Write the views of ``answer`` (from ``Explainer.explain``) for ``pixels`` to the PNG ``path``."""
    names = explainer.class_names
    layers = explainer.activations(pixels)
    rows = 3 + len(layers) + (2 if neighbours else 0)
    figure = Figure(figsize=(13, 2.3 * rows))
    heights = [3, 3, 3] + [1.6] * len(layers) + [1.3] * (2 if neighbours else 0)
    grid = figure.add_gridspec(rows, 4, height_ratios=heights,
                               hspace=0.7, wspace=0.3, top=1 - 1.1 / (2.3 * rows), bottom=0.02)
    explained = answer["class"]
    probability = answer["probabilities"][answer["prediction"]]
    figure.suptitle(f"The network says {names[answer['prediction']]} ({100 * probability:.1f} %); explaining "
                    f"class {names[explained]} (logit {answer['logits'][explained]:.3f})", fontsize=14,
                    y=1 - 0.25 / (2.3 * rows))
    draw_digit(figure.add_subplot(grid[0, 0]), answer["input"], "What the network sees (28×28)")
    draw_probabilities(figure.add_subplot(grid[0, 1]), answer, names)
    draw_heat(figure.add_subplot(grid[0, 2]), answer["saliency"], answer["input"],
              f"Saliency ∂z_{names[explained]}/∂x")
    completeness = answer["completeness"]
    note = (f"Σ = {completeness['gradient_x_input']:.2f}; + bias terms {completeness['bias_terms']:.2f} "
            f"= {completeness['sum']:.2f} = z" if completeness["piecewise_linear"] else
            f"Σ = {completeness['gradient_x_input']:.2f} (not exact: not piecewise linear)")
    draw_heat(figure.add_subplot(grid[0, 3]), answer["gradient_x_input"], None, f"Gradient × input\n{note}")
    draw_split(figure.add_subplot(grid[1, :2]), answer["contributions"], answer["bias"],
               f"Why {names[explained]}: z = Σ_j a_j·W[j,{explained}] + b, largest first")
    if "versus" in answer:
        versus = answer["versus"]
        draw_split(figure.add_subplot(grid[1, 2:]), versus["contributions"], versus["bias"],
                   f"Why {names[explained]} rather than {names[versus['class']]}: z_{explained} − "
                   f"z_{versus['class']} = {versus['difference']:.2f}")
    else:
        draw_templates(figure, grid[1, 2:], explainer, answer)
    draw_units(figure.add_subplot(grid[2, :]), answer["contributions"], names[explained])
    for row, layer in enumerate(layers, start=3):
        draw_layer(figure, grid[row, :], layer)
    if neighbours:
        for row, (space, title) in enumerate((("pixels", "Nearest training digits in pixel space"),
                                              ("hidden", "Nearest in the last hidden layer's space")),
                                             start=3 + len(layers)):
            draw_neighbours(figure, grid[row, :], neighbours[space], title, names)
    return save_figure(figure, path)


def as_image(values):
    return np.asarray(values, dtype=np.float64).reshape(28, 28)


def draw_digit(axes, pixels, title):
    axes.imshow(as_image(pixels), cmap="gray", vmin=0, vmax=1)
    axes.set_title(title, fontsize=10)
    axes.set_axis_off()


def draw_heat(axes, values, outline, title):
    image = as_image(values)
    limit = float(np.abs(image).max()) or 1.0
    shown = axes.imshow(image, cmap=DIVERGING, vmin=-limit, vmax=limit)
    colour_key(axes, shown, [-limit, 0, limit])
    if outline is not None:
        axes.contour(as_image(outline), levels=[0.5], colors="black", linewidths=0.6)
    axes.set_title(title, fontsize=10)
    axes.set_axis_off()


def colour_key(axes, image, ticks=None):
    """The key of a map beside it: its colours and the values they stand for."""
    key = axes.figure.colorbar(image, ax=axes, fraction=0.046, pad=0.03, ticks=ticks)
    key.ax.tick_params(labelsize=6)
    return key


def draw_probabilities(axes, answer, names):
    probabilities = np.asarray(answer["probabilities"])
    colours = ["tab:gray"] * len(probabilities)
    colours[answer["prediction"]] = "tab:green"
    axes.barh(range(len(probabilities)), probabilities, color=colours)
    axes.set_yticks(range(len(probabilities)), names, fontsize=8)
    axes.invert_yaxis()
    axes.set_xlim(0, 1)
    axes.set_title("Probabilities", fontsize=10)


def draw_split(axes, contributions, bias, title, count=SHOWN_UNITS):
    """The largest contributions as bars, then the rest summed, the bias and the total."""
    shown = contributions[:count]
    rest = sum(part["contribution"] for part in contributions[count:])
    labels = [f"unit {part['unit']}" for part in shown] + [f"{len(contributions) - len(shown)} others", "bias"]
    values = [part["contribution"] for part in shown] + [rest, bias]
    total = sum(part["contribution"] for part in contributions) + bias
    labels.append("total")
    values.append(total)
    colours = ["tab:red" if value > 0 else "tab:blue" for value in values[:-1]] + ["black"]
    axes.barh(range(len(values)), values, color=colours)
    axes.set_yticks(range(len(values)), labels, fontsize=7)
    axes.invert_yaxis()
    axes.axvline(0, color="black", linewidth=0.6)
    axes.set_title(title, fontsize=10)


def draw_templates(figure, cell, explainer, answer, count=6):
    """With one hidden layer, the first layer's weight image of each of the top units: what each looks for."""
    weights = explainer.first_layer_weights()
    top = answer["contributions"][:count]
    one_hidden = weights["kind"] == "templates" and weights["shape"][0] == len(answer["contributions"])
    inner = GridSpecFromSubplotSpec(1, count, subplot_spec=cell, wspace=0.1)
    for position, part in enumerate(top):
        axes = figure.add_subplot(inner[0, position])
        if one_hidden:
            image = weights["values"][part["unit"]].reshape(28, 28)
            limit = float(np.abs(image).max()) or 1.0
            axes.imshow(image, cmap=DIVERGING, vmin=-limit, vmax=limit)
        else:
            axes.text(0.5, 0.5, f"a = {part['activation']:.2f}", ha="center", va="center", fontsize=9)
        axes.set_title(f"unit {part['unit']}\n{part['contribution']:+.2f}", fontsize=8)
        axes.set_axis_off()
    if one_hidden:
        figure.text(0.75, cell.get_position(figure).y1 + 0.005, f"Their weight images (what each unit looks for; "
                    f"{COLOUR_KEY}, each on its own scale)", ha="center", fontsize=9)


def draw_units(axes, contributions, name):
    """Every unit's contribution, in unit order: most are small, a few decide."""
    parts = sorted(contributions, key=lambda part: part["unit"])
    values = [part["contribution"] for part in parts]
    axes.bar(range(len(values)), values, width=1.0, color=["tab:red" if v > 0 else "tab:blue" for v in values])
    axes.axhline(0, color="black", linewidth=0.6)
    axes.set_xlim(-0.5, len(values) - 0.5)
    axes.set_title(f"The contribution a_j·W[j,{name}] of every unit of the last hidden layer", fontsize=10)
    axes.set_xlabel("unit", fontsize=8)


def draw_layer(figure, cell, layer):
    """A dense layer's activations as a near-square grid; a convolution's first feature maps side by side; in the
    colours of every map (red positive, blue negative), each with its key."""
    values = np.asarray(layer["values"])
    title = f"{layer.get('title') or 'layer ' + layer['name']}, output shape {'×'.join(map(str, layer['shape']))}"
    if len(layer["shape"]) == 3:
        channels = layer["shape"][0]
        maps = values.reshape(layer["shape"])
        inner = GridSpecFromSubplotSpec(1, SHOWN_MAPS, subplot_spec=cell, wspace=0.05)
        for channel in range(min(SHOWN_MAPS, channels)):
            axes = figure.add_subplot(inner[0, channel])
            limit = float(np.abs(maps[channel]).max()) or 1.0
            shown = axes.imshow(maps[channel], cmap=DIVERGING, vmin=-limit, vmax=limit)
            axes.set_axis_off()
            if channel == min(SHOWN_MAPS, channels) - 1:
                colour_key(axes, shown)
            axes.set_title(f"map {channel}" + (f"  ({title})" if channel == 0 else ""), fontsize=7, loc="left")
        return
    axes = figure.add_subplot(cell)
    width = math.ceil(len(values) / max(1, math.ceil(len(values) / 64)))
    rows = math.ceil(len(values) / width)
    grid = np.full(rows * width, np.nan)
    grid[:len(values)] = values
    limit = float(np.nanmax(np.abs(values))) if len(values) and np.any(values) else 1.0
    shown = axes.imshow(grid.reshape(rows, width), cmap=DIVERGING, vmin=-limit, vmax=limit, aspect="auto",
                        interpolation="nearest")
    colour_key(axes, shown)
    axes.set_title(f"{title}: {int(np.sum(values > 0))} of {len(values)} units active", fontsize=9)
    axes.set_yticks([])
    axes.set_xticks([])


def draw_neighbours(figure, cell, digits, title, names):
    inner = GridSpecFromSubplotSpec(1, len(digits), subplot_spec=cell, wspace=0.1)
    for position, digit in enumerate(digits):
        axes = figure.add_subplot(inner[0, position])
        draw_digit(axes, digit["pixels"], f"{names[digit['label']]} (#{digit['index']})\nd {digit['distance']:.2f}")
        if position == 0:
            axes.text(0, 1.35, title, transform=axes.transAxes, fontsize=10, va="bottom")
