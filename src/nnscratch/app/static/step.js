// The Step view: every number of one SGD step (/api/step), on the paused run's next example, the drawn digit, or
// Mazur's and the worked example, along a path the learner picks (an input pixel, a hidden unit, an output). Every
// cell can be typed into: /api/step/check says whether the value is right to the precision typed and, when it is
// not, which slip it matches. The step runs on a copy on the server: nothing typed changes a model.
import { settled } from "./app.js";
import { $, divergingDeep, element, fetchJSON } from "./common.js";

const SCALE = 6;          // screen pixels per input pixel in the picker
let request = null;       // what the shown step was asked with: {source, pixels?, label?, path?}
let shown = null;         // the server's answer

/** Asks /api/step with `body` and shows every number of the step (or the server's one line on why not). */
export async function open(body) {
  request = body;
  const view = $("step-view");
  const opening = view.hidden;
  view.hidden = false;
  if (opening) view.scrollIntoView({ block: "start" });
  try {
    shown = await fetchJSON("/api/step", body);
    render();
  } catch (error) {
    $("step-body").replaceChildren(element("p", "status error", error.message));
  }
  view.dataset.step = shown ? String(shown.id) : "";
}

function pick(part, index) {
  const path = { ...(request.path || {}), ...(shown ? currentPath() : {}), [part]: index };
  open({ ...request, path });
}

function currentPath() {
  const path = { input: shown.path.input, output: shown.path.output };
  if (shown.path.hidden !== null) path.hidden = shown.path.hidden;
  return path;
}

// ---- drawing the view -----------------------------------------------------------------------------------------
function number(value) {
  if (value === null || value === undefined) return "–";
  return Number(value.toPrecision(6)).toString();
}

function render() {
  const body = $("step-body");
  body.replaceChildren();
  body.append(element("p", "step-title", shown.title), element("p", "note step-note", shown.note));
  body.append(element("p", "step-loss",
    `loss L = ${number(shown.loss)} (${shown.loss_name}) → after the step ${number(shown.loss_after)} · η = ${shown.lr}`));
  if (shown.pickable && !shown.whole) body.append(pickers());
  else if (!shown.whole) body.append(element("p", "note", "In a convolutional network the path follows the largest contributions."));
  const hide = element("label", "step-hide");
  const box = document.createElement("input");
  box.type = "checkbox";
  box.id = "step-hide";
  box.addEventListener("change", () => body.classList.toggle("hiding", box.checked));
  hide.append(box, " hide the numbers: work them out by hand, type yours in the boxes");
  body.append(hide, table());
}

function pickers() {
  const row = element("div", "step-pickers");
  // the input: a 28×28 picture (or a strip) of the example; a click picks the pixel
  const side = Math.round(Math.sqrt(shown.input.length));
  const square = side * side === shown.input.length;
  const canvas = document.createElement("canvas");
  canvas.id = "step-input";
  canvas.width = (square ? side : shown.input.length) * SCALE;
  canvas.height = (square ? side : 1) * SCALE;
  const context = canvas.getContext("2d");
  shown.input.forEach((value, index) => {
    const grey = Math.round(255 * (1 - Math.min(1, Math.max(0, value))));
    context.fillStyle = `rgb(${grey}, ${grey}, ${grey})`;
    const x = square ? index % side : index, y = square ? Math.floor(index / side) : 0;
    context.fillRect(x * SCALE, y * SCALE, SCALE, SCALE);
  });
  const chosen = shown.path.input;
  context.strokeStyle = "#d9480f";
  context.lineWidth = 2;
  context.strokeRect((square ? chosen % side : chosen) * SCALE, (square ? Math.floor(chosen / side) : 0) * SCALE,
                     SCALE, SCALE);
  canvas.addEventListener("click", (event) => {
    const box = canvas.getBoundingClientRect();
    const x = Math.floor((event.clientX - box.left) * canvas.width / box.width / SCALE);
    const y = Math.floor((event.clientY - box.top) * canvas.height / box.height / SCALE);
    pick("input", square ? y * side + x : x);
  });
  row.append(picker("input pixel " + chosen, canvas));
  if (shown.hidden) row.append(picker(`hidden unit ${shown.path.hidden} (its activation a)`, units("hidden", shown.hidden, shown.path.hidden)));
  row.append(picker(`output ${shown.path.output}`, units("output", shown.outputs, shown.path.output)));
  return row;
}

function picker(label, content) {
  const box = element("div", "step-picker");
  box.append(element("p", "note", `Path: ${label}`), content);
  return box;
}

function units(part, values, chosen) {
  const strip = element("div", `step-units step-units-${part}`);
  const most = Math.max(1e-12, ...values.map((value) => Math.abs(value ?? 0)));
  values.forEach((value, index) => {
    const unit = element("button", index === chosen ? "step-unit chosen" : "step-unit", part === "output" ? String(index) : "");
    unit.type = "button";
    unit.dataset.unit = String(index);
    unit.title = `${part === "output" ? "output" : "hidden unit"} ${index}: ${number(value)}`;
    // red positive, blue negative, as the mosaic
    unit.style.background = `rgb(${divergingDeep((value ?? 0) / most).join(", ")})`;
    unit.addEventListener("click", () => pick(part, index));
    strip.append(unit);
  });
  return strip;
}

function table() {
  const wrap = element("div", "step-table");
  let section = null, body = null;
  for (const row of shown.rows) {
    if (row.section !== section) {
      section = row.section;
      wrap.append(element("h3", "", shown.sections[section]));
      const grid = element("table", "");
      const head = element("tr", "");
      for (const title of ["layer", "quantity", "equation", "values (type yours beside each)", "computed by"]) head.append(element("th", "", title));
      const thead = element("thead", "");
      thead.append(head);
      body = element("tbody", "");
      grid.append(thead, body);
      wrap.append(grid);
    }
    const line = element("tr", "step-row");
    line.dataset.row = String(row.index);
    line.append(element("td", "layer", row.layer), element("td", "symbol", row.symbol),
                element("td", "equation", row.equation));
    const values = element("td", "values");
    if (!row.cells.length) values.append(element("span", "summary", row.summary));
    for (const cell of row.cells) values.append(cellBox(row, cell));
    if (row.cells.length && row.shape.reduce((a, b) => a * b, 1) > row.cells.length) {
      values.append(element("span", "summary", `(${row.summary})`));
    }
    line.append(values, element("td", "function", row.function));
    body.append(line);
  }
  return wrap;
}

function cellBox(row, cell) {
  const box = element("span", "cell");
  const where = cell.entry.length ? `[${cell.entry.join(", ")}]` : "";
  box.append(element("span", "entry", where), element("span", "value", number(cell.value)));
  const input = document.createElement("input");
  input.className = "typed";
  input.inputMode = "decimal";
  input.placeholder = "yours";
  input.size = 9;
  input.dataset.row = String(row.index);
  input.dataset.entry = JSON.stringify(cell.entry);
  input.setAttribute("aria-label", `your value of ${row.symbol}${where}`);
  const verdict = element("span", "verdict");
  verdict.setAttribute("role", "status");
  input.addEventListener("change", () => checkCell(row, cell, input, verdict));
  box.append(input, verdict);
  return box;
}

async function checkCell(row, cell, input, verdict) {
  const text = input.value.trim();
  verdict.textContent = "";
  delete verdict.dataset.right;
  if (!text) return;
  try {
    const answer = await fetchJSON("/api/step/check",
                                   { step: shown.id, row: row.index, entry: cell.entry, value: text });
    verdict.textContent = answer.right ? "✓ right" : `✗ ${answer.message}`;
    verdict.dataset.right = String(answer.right);
    verdict.dataset.code = answer.code || "";
    verdict.className = answer.right ? "verdict right" : "verdict wrong";
  } catch (error) {
    verdict.textContent = error.message;
    verdict.dataset.right = "false";
    verdict.dataset.code = "refused";
    verdict.className = "verdict wrong";
  }
}

// ---- the buttons -----------------------------------------------------------------------------------------------
$("step-open").addEventListener("click", async () => {
  const body = { source: "run" };
  if ($("step-drawing") && $("step-drawing").checked) {
    const answer = await settled();
    if (answer && answer.status === "ok" && answer.preview) {
      body.pixels = answer.preview;
      body.label = answer.prediction;
    }
  }
  open(body);
});
$("step-example-mazur").addEventListener("click", () => open({ source: "mazur" }));
$("step-example-worked").addEventListener("click", () => open({ source: "worked" }));

/** The server's answer for the step on show (null before the first). */
export function shownStep() { return shown; }
