"""``sweep.png``: the metric against each parameter, and over the trials, with pruned and failed trials marked.

Complete trials are dots; a pruned trial is drawn at the last value it reported, as a hollow ring; a failed
trial has no value and is drawn as a red cross on the bottom edge. A parameter swept on a log scale is plotted
on one. Drawn with matplotlib's object interface on the Agg renderer (no display needed).
"""
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from ..files import atomic_write

STYLE = {"complete": dict(marker="o", color="tab:blue", label="complete"),
         "pruned": dict(marker="o", facecolors="none", edgecolors="tab:orange", label="pruned"),
         "failed": dict(marker="x", color="tab:red", label="failed")}


def plot_sweep(path, table, names, metric, study_attributes=None):
    space = (study_attributes or {}).get("nnscratch_sweep", {}).get("space", {})
    panels = len(names) + 1
    figure = Figure(figsize=(3.6 * panels, 3.4), layout="constrained")
    FigureCanvasAgg(figure)
    axes = figure.subplots(1, panels, squeeze=False)[0]
    values = [row["value"] for row in table if row["value"] is not None]
    low = min(values) if values else 0.0
    for axis, name in zip(axes[:-1], names, strict=True):
        draw_points(axis, table, lambda row, name=name: row[name], low)
        axis.set_xlabel(name)
        if str(space.get(name, "")).startswith("loguniform"):
            axis.set_xscale("log")
    draw_points(axes[-1], table, lambda row: row["trial"], low)
    best, line = None, []
    higher = not metric.endswith("loss")
    for row in sorted(table, key=lambda row: row["trial"]):
        if row["state"] == "complete" and row["value"] is not None:
            best = row["value"] if best is None else (max if higher else min)(best, row["value"])
        line.append((row["trial"], best))
    axes[-1].step(*zip(*[(trial, value) for trial, value in line if value is not None] or [(0, low)], strict=True),
                  where="post", color="tab:green", label="best so far")
    axes[-1].set_xlabel("trial")
    axes[0].set_ylabel(metric)
    handles = {label: handle for axis in axes for handle, label in zip(*axis.get_legend_handles_labels(), strict=True)}
    figure.legend(handles.values(), handles.keys(), loc="outside lower center", ncols=len(handles), frameon=False)
    figure.suptitle(f"{len(table)} trials: {metric} by parameter and over the trials")
    with atomic_write(path) as file:
        figure.savefig(file, format="png", dpi=100)


def draw_points(axis, table, x_of, low):
    for state, style in STYLE.items():
        chosen = [row for row in table if row["state"] == state and x_of(row) is not None]
        if not chosen:
            continue
        x = [x_of(row) for row in chosen]
        y = [row["value"] if row["value"] is not None and state != "failed" else low for row in chosen]
        if state == "failed":
            axis.scatter(x, y, s=40, clip_on=False, zorder=3, **style)
        else:
            axis.scatter(x, y, s=28, zorder=2, **style)
    axis.grid(alpha=0.3)
