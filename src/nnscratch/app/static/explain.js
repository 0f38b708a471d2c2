// The "look inside" views of the draw page: why the network said what it said, for the digit on the page.
// Everything is drawn inside <section id="explain">. The draw view tells this script about each new prepared
// digit with  document.dispatchEvent(new CustomEvent("nnscratch:digit", {detail: {pixels}}))  (784 values in
// [0, 1], the "preview" of /api/predict or a test digit's pixels); the script asks /api/explain/... and draws.
// It hears of each new model through "nnscratch:model" (the /api/model answer). An ensemble has no one hidden
// layer to look into: a chooser picks the member, and every request names it (?member=K).
// Every map follows the page's one colour convention (red positive, blue negative, white zero) and has its key;
// layers are numbered as a learner counts them (the server's "title": only the layers with weights count).
import { shownModel } from "./app.js";
import { $, diverging, fetchJSON, largest, paintGrey, paintMap } from "./common.js";

const root = $("explain");
const SIDE = 28;
let pixels = null;
let explained = null;   // the class whose logit is explained (null: the prediction)
let shownClass = null;  // the class the views explain now (the answer's "class": the prediction, or the one chosen)
let untrainedShown = false;   // "Same network, untrained" was asked for: it follows the class explained
let model = null;       // the page's model, as /api/model describes it (null until it is known)
let member = null;      // for an ensemble, the member looked inside (0, 1, ...); null for one model

root.innerHTML = `
  <h2>Look inside</h2>
  <p class="note">Draw a digit in the Draw view, or load a test digit there: these views explain the network's answer to it.</p>
  <p id="x-members" class="note members" hidden><label>Look inside <select id="x-member"></select></label>
    <span id="x-members-note"></span></p>
  <div class="explain-grid">
    <section class="panel"><h3>Which pixels mattered</h3>
      <div class="maps"><figure><canvas id="x-saliency" width="28" height="28"></canvas>
        <figcaption><span data-term="saliency">saliency</span> ∂z<sub id="x-class-label">c</sub>/∂x</figcaption>
        <div id="x-saliency-key" class="key"></div></figure>
      <figure><canvas id="x-gxi" width="28" height="28"></canvas>
        <figcaption><span data-term="gradient × input">gradient × input</span></figcaption>
        <div id="x-gxi-key" class="key"></div></figure>
      <figure><canvas id="x-untrained" width="28" height="28"></canvas>
        <figcaption><button id="x-untrained-button" type="button">Same network, untrained</button>
          <span id="x-untrained-class"></span></figcaption><div id="x-untrained-key" class="key"></div></figure></div>
      <p class="note key-words">Colours: <span class="positive">red</span> positive (raises the
        <span data-term="logit">logit</span> z), <span class="negative">blue</span> negative (lowers it), white
        zero; each map on its own scale, shown under it.</p>
      <p id="x-completeness" class="note"></p>
      <div id="x-classes" class="classes" aria-label="Explain this class"></div></section>
    <section class="panel"><h3>Why this class</h3><p id="x-hidden-title" class="note"></p><p id="x-why" class="note"></p>
      <div id="x-split" class="split"></div><h3 id="x-versus-title"></h3><div id="x-versus" class="split"></div></section>
    <section class="panel"><h3>Ablation lab</h3>
      <p id="x-ablation-hint" class="note">Click a unit in “Why this class” or in “Activations, layer by layer” to
        multiply its output by the scale below (0 silences it); the probabilities update at once.</p>
      <label>scale <input id="x-scale" type="range" min="-1" max="2" step="0.1" value="0">
        <output id="x-scale-value" for="x-scale">× 0</output></label>
      <div id="x-ablation"></div>
      <button id="x-accuracy" type="button" disabled>Test accuracy without this unit</button>
      <progress id="x-progress" max="1" value="0" hidden></progress><p id="x-accuracy-result" class="note"></p></section>
    <section class="panel"><h3>Activations, layer by layer</h3><p id="x-layers-counted" class="note"></p>
      <div id="x-layers"></div></section>
    <section class="panel"><h3>Nearest training digits</h3>
      <p class="note">In pixel space (drawn alike):</p><div id="x-near-pixels" class="digits"></div>
      <p class="note">In the last hidden layer (treated alike):</p><div id="x-near-hidden" class="digits"></div>
      <p class="note">Under each: its label, and d, its distance from your digit in that space (‖x − x′‖).</p></section>
    <section class="panel panel-mistakes"><h3>Mistakes explorer</h3>
      <p class="note">The test digits, by true class (rows) and predicted class (columns); click a count to see them.</p>
      <div id="x-confusion" class="confusion-box"></div><div id="x-cell" class="digits"></div></section>
    <section class="panel"><h3>Not a digit at all</h3>
      <button data-probe="noise" type="button">Random noise</button> <button data-probe="blank" type="button">Blank page</button>
      <button data-probe="inverted" type="button">Inverted digit</button><p id="x-probe" class="note"></p></section>
  </div>`;
let ablated = null;     // {layer, unit} chosen in the ablation lab

// Bumped whenever the model or the member changes: an answer to a request made before is dropped, so that a
// slow answer about the last member never overwrites the views of this one.
let generation = 0;
class Stale extends Error {}

async function api(path, body) {
  const which = member === null ? "" : `${path.includes("?") ? "&" : "?"}member=${member}`;
  const asked = generation;
  let answer, failure = null;
  try { answer = await fetchJSON(`/api/explain${path}${which}`, body); } catch (error) { failure = error; }
  if (asked !== generation) throw new Stale("answer for another model");
  if (failure) throw failure;
  return answer;
}

function number(value) {
  const size = Math.abs(value);
  return size !== 0 && (size < 0.01 || size >= 1000) ? value.toExponential(1) : value.toFixed(size < 1 ? 3 : 2);
}

// The key of a diverging map: its colours from −limit through 0 to +limit, with the numbers.
function colourKey(container, limit) {
  const bar = document.createElement("span");
  bar.className = "key-bar";
  const labels = document.createElement("span");
  labels.className = "key-labels";
  for (const text of [`−${number(limit)}`, "0", `+${number(limit)}`]) {
    const label = document.createElement("span");
    label.textContent = text;
    labels.append(label);
  }
  container.replaceChildren(bar, labels);
  container.title = `blue: −${number(limit)} (negative), white: 0, red: +${number(limit)} (positive)`;
  return container;
}

function newKey(limit) {
  const key = document.createElement("div");
  key.className = "key";
  return colourKey(key, limit);
}

function digitFigure(values, caption, title, onClick) {
  const figure = document.createElement("figure");
  const canvas = document.createElement("canvas");
  canvas.width = canvas.height = SIDE;
  canvas.title = title;
  paintGrey(canvas, values);
  if (onClick) canvas.addEventListener("click", onClick);
  figure.append(canvas);
  if (caption) {
    const text = document.createElement("figcaption");
    text.textContent = caption;
    figure.append(text);
  }
  return figure;
}

function bars(container, parts, bias, count = 12) {
  container.replaceChildren();
  const shown = parts.slice(0, count);
  const rest = parts.slice(count).reduce((sum, part) => sum + part.contribution, 0);
  const rows = shown.map((part) => [`unit ${part.unit}`, part.contribution, part])
    .concat([[`${parts.length - shown.length} others`, rest], ["bias", bias]]);
  const limit = Math.max(...rows.map((row) => Math.abs(row[1])), 1e-9);
  for (const [label, value, part] of rows) {
    const row = document.createElement("button");
    row.type = "button";
    row.className = "bar-row" + (value >= 0 ? " up" : " down");
    row.disabled = !part;
    row.title = part ? `a = ${part.activation.toFixed(3)}, w = ${part.weight.toFixed(3)}; click to scale it` : "";
    const bar = document.createElement("span");
    bar.className = "bar";
    bar.style.width = `${(50 * Math.abs(value)) / limit}%`;
    row.append(`${label} `, bar, ` ${value >= 0 ? "+" : ""}${value.toFixed(3)}`);
    if (part) row.addEventListener("click", () => chooseUnit(null, part.unit, "unit"));
    container.append(row);
  }
}

async function explain() {
  if (!pixels) return;
  const answer = await api("", {pixels, class: explained});
  const c = answer.class;
  shownClass = c;
  $("x-class-label").textContent = c;
  colourKey($("x-saliency-key"), paintMap($("x-saliency"), answer.saliency));
  colourKey($("x-gxi-key"), paintMap($("x-gxi"), answer.gradient_x_input));
  const k = answer.completeness;
  $("x-completeness").textContent = k.piecewise_linear
    ? `Σ gradient × input = ${k.gradient_x_input.toFixed(3)}, plus the bias terms ${k.bias_terms.toFixed(3)}, is ${k.sum.toFixed(3)}: exactly the logit z = ${k.logit.toFixed(3)}, because a ReLU network is piecewise linear.`
    : `Σ gradient × input = ${k.gradient_x_input.toFixed(3)}; this network is not piecewise linear, so it only approximates z = ${k.logit.toFixed(3)}.`;
  $("x-classes").replaceChildren(...answer.probabilities.map((p, index) => {
    const button = document.createElement("button");
    button.type = "button";
    button.textContent = `${index}: ${(100 * p).toFixed(1)} %`;
    button.className = index === c ? "chosen" : "";
    button.addEventListener("click", () => { explained = index; explain().catch(report); });
    return button;
  }));
  $("x-hidden-title").textContent = answer.hidden_layer
    ? `Its units a_j are those of ${answer.hidden_layer.title}.` : "";
  $("x-why").textContent = `z_${c} = Σ_j a_j · W[j, ${c}] + b_${c} = ${answer.logits[c].toFixed(3)}, unit by unit, largest first${answer.confident ? "" : " (an unsure answer)"}:`;
  bars($("x-split"), answer.contributions, answer.bias);
  const versus = answer.versus;
  $("x-versus-title").textContent = `Why ${c} rather than ${versus.class}: z_${c} − z_${versus.class} = ${versus.difference.toFixed(3)}`;
  bars($("x-versus"), versus.contributions, versus.bias);
  if (untrainedShown) await untrained();
}

function scale() { return Number($("x-scale").value); }

function showScale() {
  const value = scale();
  $("x-scale-value").textContent = `× ${value}${value === 0 ? " (silenced)" : value === 1 ? " (unchanged)" : ""}`;
}

let ablations = 0;   // only the answer to the last request is shown, however fast the slider moves
async function chooseUnit(layer, unit, noun) {
  ablated = {layer, unit, noun};
  $("x-accuracy").disabled = false;
  $("x-accuracy-result").textContent = "";
  const asked = ++ablations;
  const answer = await api("/ablate", {pixels, layer, unit, scale: scale()});
  if (asked !== ablations) return;
  const what = answer.scale === 0 ? "silenced (× 0)" : `multiplied by ${answer.scale}`;
  const name = noun === "channel" ? "Channel" : "Unit";
  const where = answer.title.replace(": ", " (") + (answer.title.includes(": ") ? ")" : "");
  $("x-ablation").textContent = `${name} ${unit} of ${where}, ${what}: the network now says ` +
    `${answer.prediction} (${(100 * answer.probabilities[answer.prediction]).toFixed(1)} %).`;
}

async function accuracyWithout() {
  const job = await api("/ablation-accuracy", {layer: ablated.layer, unit: ablated.unit, scale: scale()});
  const progress = $("x-progress");
  progress.hidden = false;
  for (let state = job; ; ) {
    progress.value = state.total ? state.done / state.total : 0;
    if (state.state !== "running") {   // "done", or "failed" with one line saying why
      progress.hidden = true;
      const result = $("x-accuracy-result");
      result.classList.toggle("error", state.state !== "done");
      result.textContent = state.state === "done"
        ? `Test accuracy ${(100 * state.result.accuracy).toFixed(2)} % (with the unit: ${(100 * state.result.accuracy_before).toFixed(2)} %)`
        : `The test accuracy could not be measured: ${state.error || state.state}`;
      return;
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
    state = await api(`/ablation-accuracy?job=${job.job}`);
  }
}

function valuesLine(values, noun) {
  // The numbers themselves, not only in tooltips: the range, how many are zero, and the largest few.
  const line = document.createElement("p");
  line.className = "note values";
  const zero = values.filter((value) => value === 0).length;
  const top = values.map((value, index) => [value, index]).sort((a, b) => Math.abs(b[0]) - Math.abs(a[0])).slice(0, 5);
  line.textContent = `${values.length} ${noun}s, from ${number(Math.min(...values))} to ${number(Math.max(...values))}` +
    `${zero ? `; ${zero} are exactly 0` : ""}; largest: ` + top.map(([value, index]) => `${noun} ${index} = ${number(value)}`).join(", ");
  return line;
}

async function layers() {
  const answer = await api("/activations", {pixels});
  const container = $("x-layers");
  container.replaceChildren();
  $("x-layers-counted").textContent = "Layer numbers: only the dense and convolutional layers (those with weights) " +
    "are counted; an activation or pooling belongs to the layer before it. Colours as in the maps: red " +
    "positive, blue negative.";
  for (const layer of answer.layers) {
    const title = document.createElement("p");
    title.className = "note layer-title";
    title.dataset.layer = layer.name;
    title.textContent = `${layer.title || `layer ${layer.name} (${layer.layer})`}, output shape ${layer.shape.join("×")}`;
    const strip = document.createElement("div");
    strip.className = "activations";
    container.append(title, strip);
    if (layer.shape.length === 1) {
      const limit = largest(layer.values);
      layer.values.forEach((value, unit) => {
        const cell = document.createElement("span");
        cell.className = "unit";
        cell.style.background = `rgb(${diverging(value / limit).map(Math.round).join(",")})`;
        cell.title = `unit ${unit}: ${value.toFixed(3)} (click to scale it)`;
        cell.addEventListener("click", () => chooseUnit(layer.name, unit, "unit").catch(report));
        strip.append(cell);
      });
      container.append(newKey(limit), valuesLine(layer.values, "unit"));
    }
    if (layer.shape.length === 3) {
      const [channels, h, w] = layer.shape;
      const peaks = [];
      for (let channel = 0; channel < Math.min(8, channels); channel++) {
        const maps = layer.values.slice(channel * h * w, (channel + 1) * h * w);
        const figure = document.createElement("figure");
        const canvas = document.createElement("canvas");
        canvas.width = w; canvas.height = h; canvas.className = "map";
        canvas.title = `channel ${channel} (click to scale it)`;
        canvas.addEventListener("click", () => chooseUnit(layer.name, channel, "channel").catch(report));
        const limit = paintMap(canvas, maps);
        peaks.push(limit);
        const caption = document.createElement("figcaption");
        caption.textContent = `channel ${channel}: max |a| ${number(limit)}`;
        figure.append(canvas, caption);
        strip.append(figure);
      }
      const note = document.createElement("p");
      note.className = "note values";
      note.textContent = `${Math.min(8, channels)} of ${channels} channels shown, each on its own scale ` +
        "(from −max |a| blue to +max |a| red, as the key says for the largest):";
      container.append(note, newKey(Math.max(...peaks)));
    }
  }
}

async function neighbours() {
  const answer = await api("/neighbours", {pixels});
  const names = (model && model.class_names) || [];
  for (const space of ["pixels", "hidden"]) {
    $(`x-near-${space}`).replaceChildren(...answer[space].map((digit) =>
      digitFigure(digit.pixels, `${names[digit.label] ?? digit.label} · d ${number(digit.distance)}`,
        `training digit ${digit.index}, label ${digit.label}, distance ${digit.distance.toFixed(3)}`)));
  }
}

async function mistakes() {
  const answer = await api("/mistakes");
  const names = answer.class_names || answer.confusion.map((_, index) => String(index));
  const table = document.createElement("table");
  table.className = "confusion";
  const head = table.createTHead();
  const over = head.insertRow();
  const corner = document.createElement("th");
  corner.rowSpan = 2;
  corner.className = "corner";
  corner.textContent = "true ↓";
  const predictedHead = document.createElement("th");
  predictedHead.colSpan = names.length;
  predictedHead.className = "axis";
  predictedHead.textContent = "predicted →";
  over.append(corner, predictedHead);
  const classesRow = head.insertRow();
  for (const name of names) {
    const th = document.createElement("th");
    th.scope = "col";
    th.textContent = name;
    classesRow.append(th);
  }
  const body = table.createTBody();
  answer.confusion.forEach((row, truth) => {
    const tr = body.insertRow();
    const th = document.createElement("th");
    th.scope = "row";
    th.textContent = names[truth];
    tr.append(th);
    row.forEach((count, predicted) => {
      const td = tr.insertCell();
      td.textContent = count;
      td.className = truth === predicted ? "diagonal" : count ? "mistake" : "";
      td.title = `true ${names[truth]}, predicted ${names[predicted]}: ${count}`;
      td.addEventListener("click", () => cell(truth, predicted).catch(report));
    });
  });
  $("x-confusion").replaceChildren(table);
}

async function cell(truth, predicted) {
  const answer = await api(`/mistakes/cell?true=${truth}&predicted=${predicted}`);
  $("x-cell").replaceChildren(...answer.digits.map((digit) =>
    digitFigure(digit.pixels, `${(100 * digit.confidence).toFixed(0)} %`,
      `test digit ${digit.index}: ${(100 * digit.confidence).toFixed(1)} % ${predicted}`, () => show(digit.pixels))));
}

async function probe(kind) {
  const answer = await api("/probe", {kind, pixels: pixels || new Array(784).fill(0)});
  const p = answer.probabilities[answer.prediction];
  $("x-probe").textContent = `${kind}: the network says ${answer.prediction} with ${(100 * p).toFixed(1)} %` +
    (answer.confident ? ". A softmax must share out all its probability, so it answers even when no digit is there." : ", below the 50 % line: shown as unsure.");
}

async function untrained() {
  if (!pixels) return;
  untrainedShown = true;
  // the class the views above explain (null before they have answered: the server takes the prediction)
  const answer = await api("/untrained", {pixels, class: shownClass ?? explained});
  colourKey($("x-untrained-key"), paintMap($("x-untrained"), answer.saliency));
  $("x-untrained-class").textContent = `∂z_${answer.class}/∂x`;
  $("x-untrained").dataset.class = String(answer.class);
}

function report(error) { if (!(error instanceof Stale)) $("x-why").textContent = String(error.message || error); }

// The views are computed only while the Look inside view is open: a digit drawn elsewhere is kept, and
// explained when the view opens.
let visible = location.hash.slice(1) === "explain";
let stale = false;
let mistakesShown = false;

/** Explains the digit `values` (784 grey values in [0, 1]) now, or when the view opens. */
export function show(values) {
  pixels = values.map(Number);
  explained = null;
  shownClass = null;
  if (visible) refresh();
  else stale = true;
}

function refresh() {
  if (!model) return;   // explained once the page knows its model
  stale = false;
  if (!mistakesShown) {
    mistakesShown = true;
    mistakes().catch((error) => {
      if (!(error instanceof Stale)) $("x-confusion").textContent = "no test digits for this model";
    });
  }
  if (pixels) Promise.all([explain(), layers(), neighbours()]).catch(report);
}

// A new model (or another member of the ensemble): forget what was fetched for the last one.
function restart() {
  generation += 1;
  ablated = null;
  explained = null;
  shownClass = null;
  untrainedShown = false;
  mistakesShown = false;
  $("x-accuracy").disabled = true;
  for (const id of ["x-cell", "x-ablation", "x-accuracy-result", "x-probe", "x-confusion", "x-untrained-key",
                    "x-untrained-class"]) $(id).replaceChildren();
  $("x-untrained").getContext("2d").clearRect(0, 0, SIDE, SIDE);
  if (visible) refresh();
  else stale = true;
}

function useModel(description) {
  model = description;
  const members = model.members || [];
  member = members.length ? 0 : null;
  $("x-members").hidden = !members.length;
  $("x-member").replaceChildren(...members.map((each, index) => {
    const option = document.createElement("option");
    option.value = String(index);
    option.textContent = `model ${index + 1} of ${members.length}: ${each.name} (${each.architecture})`;
    return option;
  }));
  $("x-members-note").textContent = members.length
    ? `The Draw view answers with the mean of the ${members.length} models' probabilities; these views look ` +
      "inside one of them at a time." : "";
  restart();
}

$("x-member").addEventListener("change", () => { member = Number($("x-member").value); restart(); });
document.addEventListener("nnscratch:model", (event) => useModel(event.detail));
$("x-untrained-button").addEventListener("click", () => untrained().catch(report));
$("x-accuracy").addEventListener("click", () => accuracyWithout().catch(report));
$("x-scale").addEventListener("input", () => {
  showScale();
  $("x-accuracy-result").textContent = "";
  if (ablated && pixels) chooseUnit(ablated.layer, ablated.unit, ablated.noun).catch(report);
});
showScale();
root.querySelectorAll("[data-probe]").forEach((button) =>
  button.addEventListener("click", () => probe(button.dataset.probe).catch(report)));
document.addEventListener("nnscratch:digit", (event) => show(event.detail.pixels));
document.addEventListener("nnscratch:view", (event) => {
  visible = event.detail === "explain";
  if (visible && (stale || !mistakesShown)) refresh();
});
if (shownModel()) useModel(shownModel());   // the page knew its model before this view listened
