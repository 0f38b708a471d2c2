// The draw page: draw with pointer events, ask the server for a prediction (throttled while drawing, and once
// more when a stroke ends), show the answer, the ten probabilities and the 28×28 image the network received.
// It also switches between the page's views (#draw, the default; #train, run by train.js; and #explain, the
// "look inside" views of explain.js, which hear of every new digit through an "nnscratch:digit" event, and of
// every new model through "nnscratch:model"). Several models answer as one ensemble: the header names them.
// The header's model picker (/api/models) chooses the model the Draw view answers with; a run of the Train view
// joins it when it is saved, and the Draw view changes model only when the user picks another.
// The functions it exports are the ones its buttons use: the other views, scripts and tests drive the page with them.
import { $, fetchJSON, greyImage } from "./common.js";

// ---- views --------------------------------------------------------------------------------------------------
const VIEWS = ["draw", "train", "explain"];
export function showView(name) {
  if (!VIEWS.includes(name)) name = "draw";
  for (const view of VIEWS) {
    $(`view-${view}`).hidden = view !== name;
    $(`tab-${view}`).classList.toggle("current", view === name);
    if (view === name) $(`tab-${view}`).setAttribute("aria-current", "page");
    else $(`tab-${view}`).removeAttribute("aria-current");
  }
  document.dispatchEvent(new CustomEvent("nnscratch:view", { detail: name }));
}
window.addEventListener("hashchange", () => showView(location.hash.slice(1)));
showView(location.hash.slice(1));

const BRUSH_WIDTH = 22;    // on the 280×280 canvas: a stroke about 2 pixels wide once scaled to 20×20, as in MNIST
const THROTTLE_MS = 120;   // at most one prediction request this often while drawing
const DIGIT_SIDE = 28;

const canvas = $("canvas");
const context = canvas.getContext("2d", { willReadFrequently: true });
const preview = $("preview");
const previewContext = preview.getContext("2d");
const answer = $("answer");
const status = $("status");
const bars = $("bars");
const truth = $("truth");

let classNames = [];
let currentModel = null;   // the last /api/model answer (explain.js reads it, and hears "nnscratch:model")
let lastPoint = null;
let drawing = false;
// One request in flight at a time; `dirty` means the canvas changed since the last request was sent.
let inFlight = false, dirty = false, lastSent = 0, timer = null, lastAnswer = null;
let waiters = [];

// ---- drawing ------------------------------------------------------------------------------------------------
function clearCanvas() {
  context.fillStyle = "#000";
  context.fillRect(0, 0, canvas.width, canvas.height);
}

function canvasPoint(event) {
  // Canvas pixels, whatever size and position the canvas has on the page.
  const box = canvas.getBoundingClientRect();
  return { x: (event.clientX - box.left) * canvas.width / box.width,
           y: (event.clientY - box.top) * canvas.height / box.height };
}

function strokeTo(point) {
  context.strokeStyle = "#fff";
  context.fillStyle = "#fff";
  context.lineWidth = BRUSH_WIDTH;
  context.lineCap = "round";
  context.lineJoin = "round";
  if (lastPoint === null || (lastPoint.x === point.x && lastPoint.y === point.y)) {
    context.beginPath();
    context.arc(point.x, point.y, BRUSH_WIDTH / 2, 0, 2 * Math.PI);
    context.fill();
  } else {  // a straight segment from the last point: no gaps however fast the hand moves
    context.beginPath();
    context.moveTo(lastPoint.x, lastPoint.y);
    context.lineTo(point.x, point.y);
    context.stroke();
  }
  lastPoint = point;
}

canvas.addEventListener("pointerdown", (event) => {
  if (event.pointerType === "mouse" && event.button !== 0) return;
  event.preventDefault();
  canvas.setPointerCapture(event.pointerId);
  drawing = true;
  lastPoint = null;
  truth.textContent = "";
  strokeTo(canvasPoint(event));
  requestPrediction();
});

canvas.addEventListener("pointermove", (event) => {
  if (!drawing) return;
  const events = event.getCoalescedEvents ? event.getCoalescedEvents() : [];
  for (const each of (events.length ? events : [event])) strokeTo(canvasPoint(each));
  requestPrediction();
});

function endStroke() {
  if (!drawing) return;
  drawing = false;
  lastPoint = null;
  requestPrediction(true);
}
canvas.addEventListener("pointerup", endStroke);
canvas.addEventListener("pointercancel", endStroke);

// ---- predictions --------------------------------------------------------------------------------------------
function canvasPixels() {
  const rgba = context.getImageData(0, 0, canvas.width, canvas.height).data;
  const grey = new Array(canvas.width * canvas.height);
  for (let i = 0; i < grey.length; i++) grey[i] = rgba[4 * i];  // white ink on black: the red channel is the grey
  return { width: canvas.width, height: canvas.height, pixels: grey };
}

function requestPrediction(now = false) {
  dirty = true;
  if (now && timer !== null) { clearTimeout(timer); timer = null; }
  pump(now);
}

function pump(now = false) {
  if (inFlight || timer !== null || !dirty) return settle();
  const wait = now ? 0 : lastSent + THROTTLE_MS - performance.now();
  if (wait > 0) {
    timer = setTimeout(() => { timer = null; pump(); }, wait);
    return;
  }
  dirty = false;
  inFlight = true;
  lastSent = performance.now();
  fetchJSON("/api/predict", canvasPixels())
    .then(showAnswer)
    .catch((error) => showError(error.message))
    .finally(() => { inFlight = false; pump(); });
}

function settle() {
  if (inFlight || timer !== null || dirty) return;
  const waiting = waiters;
  waiters = [];
  waiting.forEach((resolve) => resolve(lastAnswer));
}

export function settled() {
  // A promise of the answer to the canvas as it is now, once no request is pending.
  return new Promise((resolve) => { waiters.push(resolve); settle(); });
}

// ---- showing the answer -------------------------------------------------------------------------------------
function showAnswer(result) {
  lastAnswer = result;
  status.classList.remove("error");
  if (result.status !== "ok") {
    answer.classList.remove("unsure");
    status.classList.remove("unsure");
    answer.textContent = "?";
    answer.classList.add("empty");
    status.textContent = result.message;
    showBars(null);
    showPreview(null);
    return;
  }
  const confidence = result.probabilities[result.prediction];
  answer.textContent = result.label;
  answer.classList.remove("empty");
  answer.classList.toggle("unsure", result.unsure);
  status.classList.toggle("unsure", result.unsure);
  status.textContent = result.unsure
    ? `unsure: only ${(100 * confidence).toFixed(1)} % (below ${Math.round(100 * result.low_confidence)} %)`
    : `${(100 * confidence).toFixed(1)} % sure · ${result.milliseconds.toFixed(1)} ms on the server`;
  showBars(result.probabilities, result.prediction);
  showPreview(result.preview);
  document.dispatchEvent(new CustomEvent("nnscratch:digit", { detail: { pixels: result.preview } }));
}

function showError(message) {
  lastAnswer = { status: "error", message };
  status.textContent = message;
  status.classList.add("error");
}

function showBars(probabilities, top) {
  bars.replaceChildren();
  classNames.forEach((name, index) => {
    const p = probabilities ? probabilities[index] : 0;
    const label = document.createElement("span");
    label.className = "bar-label";
    label.textContent = name;
    const bar = document.createElement("div");
    bar.className = "bar";
    const fill = document.createElement("div");
    fill.className = "fill";
    fill.style.width = `${(100 * p).toFixed(1)}%`;
    bar.append(fill);
    const value = document.createElement("span");
    value.className = "bar-value";
    value.textContent = probabilities ? `${(100 * p).toFixed(1)} %` : "";
    if (probabilities && index === top) [label, bar, value].forEach((element) => element.classList.add("top"));
    bars.append(label, bar, value);
  });
}

function showPreview(values) {
  previewContext.fillStyle = "#000";
  previewContext.fillRect(0, 0, DIGIT_SIDE, DIGIT_SIDE);
  if (values) previewContext.putImageData(greyImage(values, DIGIT_SIDE), 0, 0);
}

// ---- buttons, keys, test digits -----------------------------------------------------------------------------
export function clear() {
  clearCanvas();
  truth.textContent = "";
  return predictNow();
}

export function predictNow() {
  requestPrediction(true);
  return settled();
}

export async function showTestDigit(index) {
  const query = index === undefined ? "" : `?index=${index}`;
  let digit;
  try {
    digit = await fetchJSON(`/api/test-digit${query}`);
  } catch (error) {
    showError(error.message);
    return lastAnswer;
  }
  // Draw the 28×28 image onto the canvas ten times larger, each pixel a 10×10 square: what you see is exactly
  // the MNIST image, and you can draw over it.
  const small = document.createElement("canvas");
  small.width = small.height = DIGIT_SIDE;
  small.getContext("2d").putImageData(greyImage(digit.pixels, DIGIT_SIDE), 0, 0);
  clearCanvas();
  context.imageSmoothingEnabled = false;
  context.drawImage(small, 0, 0, canvas.width, canvas.height);
  const name = classNames[digit.label] ?? digit.label;
  truth.textContent = `MNIST test digit #${digit.index}, true label: ${name}`;
  truth.dataset.label = String(digit.label);
  truth.dataset.index = String(digit.index);
  return predictNow();
}

$("clear").addEventListener("click", () => clear());
$("test-digit").addEventListener("click", () => showTestDigit());
document.addEventListener("keydown", (event) => {
  if (event.ctrlKey || event.metaKey || event.altKey) return;
  const key = event.key.toLowerCase();
  if (key === "c" || key === "escape" || key === "delete" || key === "backspace") { event.preventDefault(); clear(); }
  if (key === "t") { event.preventDefault(); showTestDigit(); }
});

export async function showModel() {
  const model = await fetchJSON("/api/model");
  await showModels().catch((error) => pickerNote(`cannot list the models: ${error.message}`, true));
  if (model.name === null) {  // no model yet: train one
    $("model-name").textContent = "no model yet";
    $("model-architecture").textContent = "train one in the Train view";
    $("model-accuracy").textContent = "";
    if (!location.hash) location.hash = "#train";
    return;
  }
  classNames = model.class_names;
  currentModel = model;
  const members = model.members;
  const parameters = model.parameters.toLocaleString("en");
  $("model-name").textContent = members
    ? `${model.name}: ${members.map((member) => member.name).join(", ")}` : model.name;
  $("model-architecture").textContent = members
    ? `${new Set(members.map((member) => member.architecture)).size === 1 ? `each ${members[0].architecture}`
        : members.map((member) => member.architecture).join(" + ")} (${parameters} parameters in all), ` +
      "their probabilities averaged"
    : `${model.architecture} (${parameters} parameters)`;
  $("model-accuracy").textContent = model.test_accuracy === null
    ? `test accuracy${members ? " of the ensemble" : ""} not recorded`
    : `test accuracy ${(100 * model.test_accuracy).toFixed(2)} %`;
  $("answer-title").textContent = members ? "The ensemble's answer" : "The network's answer";
  showBars(null);
  document.dispatchEvent(new CustomEvent("nnscratch:model", { detail: model }));
}

// ---- the model picker ---------------------------------------------------------------------------------------
const picker = $("model-picker");

function pickerNote(text, error = false) {
  const note = $("picker-note");
  note.textContent = text;
  note.classList.toggle("error", error);
}

function entryLabel(entry) {
  if (entry.kind === "file") return `${entry.name} (${entry.folder}/)`;
  if (entry.kind === "given") return `${entry.name} (given to nnscratch draw)`;
  return `${entry.name}: follow the Train view`;
}

export async function showModels() {
  const list = await fetchJSON("/api/models");
  const options = list.models.map((entry) => {
    const option = document.createElement("option");
    option.value = entry.id;
    option.textContent = entryLabel(entry);
    return option;
  });
  if (list.current === null || !list.models.some((entry) => entry.id === list.current)) {
    const none = document.createElement("option");
    none.value = "";
    none.disabled = true;
    none.textContent = list.current === null ? "no model yet: pick one" : (currentModel ? currentModel.name : "");
    options.unshift(none);
  }
  picker.replaceChildren(...options);
  picker.value = list.current ?? "";
  picker.dataset.current = list.current ?? "";
  $("picker").hidden = list.models.length === 0;
  return list;
}

export async function chooseModel(id) {
  pickerNote("");
  let answer;
  try {
    answer = await fetchJSON("/api/model", { id });
  } catch (error) {
    pickerNote(error.message, true);
    await showModels().catch(() => {});
    return null;
  }
  await showModel();
  pickerNote(`the Draw view now answers with ${answer.name}`);
  // the drawing on the canvas gets the new model's answer
  return lastAnswer && lastAnswer.status === "ok" ? predictNow() : lastAnswer;
}

picker.addEventListener("change", () => { if (picker.value) chooseModel(picker.value); });

clearCanvas();
showPreview(null);
/** Settled once the page has read its model (or failed to, and said so). */
export const ready = showModel().catch((error) => showError(`cannot read the model: ${error.message}`));

/** The last /api/model answer: the model the Draw view answers with (null until it is known). */
export function shownModel() { return currentModel; }
