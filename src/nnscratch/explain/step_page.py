"""The table of one step as a page: ``nnscratch step ... --out step.html``.

One self-contained HTML file (its style inline, nothing fetched), readable offline: a section for the forward
pass, the loss, the backward pass, the update and the loss after, and in each row the layer, the quantity and
its equation in docs/math.md's symbols, the value, and the function of nnscratch that computes it.
"""
import html

from ..files import atomic_write
from .step_table import SECTIONS, describe, layer_label, rows

STYLE = """
body { font: 15px/1.45 system-ui, sans-serif; margin: 2em auto; max-width: 78em; padding: 0 1em; color: #1d1d1f; }
h1 { font-size: 1.4em; } h2 { font-size: 1.1em; margin-top: 1.6em; }
p.note { margin: 0.2em 0; color: #444; }
table { border-collapse: collapse; width: 100%; }
th, td { text-align: left; vertical-align: top; padding: 0.3em 0.6em; border-bottom: 1px solid #ddd; }
th { background: #f3f3f5; font-weight: 600; }
td.layer, td.symbol { white-space: nowrap; }
td.equation { font-family: "STIX Two Math", "Cambria Math", serif; font-size: 1.08em; }
td.value, td.function { font-family: ui-monospace, monospace; font-size: 0.92em; }
td.value { word-break: break-word; } td.function { color: #555; white-space: nowrap; }
"""


def write_step_page(path, step, notes):
    """Write the page for ``step`` to ``path`` atomically; ``notes`` are the lines said above the table
    (the title first)."""
    with atomic_write(path) as file:
        file.write(page(step, notes).encode("utf-8"))
    return path


def page(step, notes):
    title = html.escape(notes[0] if notes else "One step of gradient descent")
    parts = ["<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
             '<meta name="viewport" content="width=device-width, initial-scale=1">',
             f"<title>{title}</title><style>{STYLE}</style></head><body>", f"<h1>{title}</h1>"]
    parts += [f'<p class="note">{html.escape(note.strip())}</p>' for note in notes[1:]]
    section = None
    for row in rows(step):
        if row.section != section:
            if section is not None:
                parts.append("</tbody></table>")
            section = row.section
            parts.append(f"<h2>{html.escape(SECTIONS[section])}</h2><table><thead><tr><th>layer</th>"
                         "<th>quantity</th><th>equation</th><th>value</th><th>computed by</th></tr></thead><tbody>")
        cells = [("layer", layer_label(row.layer)), ("symbol", row.symbol), ("equation", row.equation),
                 ("value", describe(row.value, row.path_entry)), ("function", row.function)]
        parts.append("<tr>" + "".join(f'<td class="{name}">{html.escape(text)}</td>' for name, text in cells)
                     + "</tr>")
    parts.append("</tbody></table></body></html>")
    return "\n".join(parts) + "\n"
