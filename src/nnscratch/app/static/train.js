// The Train view: start a run with chosen settings, control it, and watch it learn through the server's event
// stream (/api/train/events): live loss and accuracy curves, the first layer's weights as a mosaic with a replay
// slider, and the health strip. Plain JavaScript and canvas; the server's snapshots are the only source of truth.
// A run that publishes weights or ends tells the header (app.js) to list the models and name its own again.
import { showModel, showModels } from "./app.js";
import { $, divergingDeep, element, fetchJSON } from "./common.js";

const SETTINGS = ["architecture", "layers", "activation", "optimizer", "lr", "batch_size", "epochs", "dropout",
                  "augment", "train_size"];
const NUMBERS = ["lr", "epochs", "dropout", "train_size"];
const SMOOTHING = 0.05;     // exponential moving average of the batch losses
const ACTIVE = ["starting", "running", "paused"];

// What the client knows of the current run; rebuilt from every `state` event.
let run = emptyRun();
let options = null, weights = null, weightsWanted = 0, weightsLoading = false, replay = [], replayIndex = -1;
let drawPending = false, hoverStep = null, tickCount = 0, pickerRun = 0;

function emptyRun() {
  return { id: 0, state: "idle", losses: [], probes: [], marks: [], records: [], epochEnds: [], snapshot: null };
}

// ---- settings form ------------------------------------------------------------------------------------------
async function loadOptions() {
  options = await fetchJSON("/api/train/options");
  const select = $("set-preset");
  for (const [name, description] of Object.entries(options.presets)) {
    const option = document.createElement("option");
    option.value = name;
    option.textContent = `${name}: ${description}`;
    select.append(option);
  }
  // every architecture the presets use (mlp, cnn, cnn-small, ...), as the server lists them
  const architectures = $("set-architecture");
  const labels = { mlp: "dense layers", cnn: "convolutions", "cnn-small": "smaller convolutions, faster" };
  architectures.replaceChildren();
  for (const name of options.architectures || ["mlp", "cnn"]) {
    const option = document.createElement("option");
    option.value = name;
    option.textContent = labels[name] ? `${name} (${labels[name]})` : name;
    architectures.append(option);
  }
  fillForm(options.defaults);
}

function isConvolutional(name) { return name !== "mlp"; }

function fillForm(settings) {
  for (const name of SETTINGS) {
    const value = settings[name];
    const field = $(`set-${name}`);
    if (value === undefined) continue;
    field.value = value === null ? "" : Array.isArray(value) ? value.join(",") : String(value);
  }
  $("set-layers").disabled = isConvolutional($("set-architecture").value);
}

$("set-preset").addEventListener("change", () => {
  const name = $("set-preset").value;
  fillForm({ ...options.defaults, ...(name ? options.preset_settings[name] : {}) });
});
$("set-architecture").addEventListener("change", () => {
  $("set-layers").disabled = isConvolutional($("set-architecture").value);
});

function formSettings() {
  const settings = {};
  const preset = $("set-preset").value;
  if (preset) settings.preset = preset;
  for (const name of SETTINGS) {
    const field = $(`set-${name}`);
    const text = field.value.trim();
    if (field.disabled || text === "") continue;
    settings[name] = NUMBERS.includes(name) && text !== "" && !Number.isNaN(Number(text)) ? Number(text) : text;
  }
  return settings;
}

function act(path, body = {}) {
  $("train-error").textContent = "";
  return fetchJSON(path, body).catch((error) => { $("train-error").textContent = error.message; });
}

$("train-start").addEventListener("click", () => act("/api/train", formSettings()));
for (const control of ["pause", "step", "resume", "stop"]) {
  $(`train-${control}`).addEventListener("click", () => act(`/api/train/${control}`));
}
$("change-apply").addEventListener("click", () => {
  const change = {};
  const lr = $("change-lr").value.trim(), batch = $("change-batch_size").value.trim();
  if (lr && Number(lr) !== run.snapshot?.lr) change.lr = Number(lr);
  if (batch && Number(batch) !== run.snapshot?.batch_size) change.batch_size = Number(batch);
  if (Object.keys(change).length) act("/api/train/settings", change);
});
// the speed control: at most this many batches a second (empty or 0: as fast as the machine goes)
$("change-speed").addEventListener("change", () => {
  const text = $("change-speed").value.trim();
  const speed = text === "" ? 0 : Number(text);
  if (run.snapshot && ACTIVE.includes(run.snapshot.state)) act("/api/train/settings", { steps_per_second: speed });
});

// ---- the event stream ---------------------------------------------------------------------------------------
function connect() {
  const events = new EventSource("/api/train/events");
  events.addEventListener("state", (event) => {
    const data = JSON.parse(event.data);
    run = emptyRun();
    run.id = data.run;
    run.losses = data.losses.slice();
    run.probes = data.probes.slice();
    run.records = data.history.slice();
    replay = [];
    replayIndex = -1;
    weights = null;
    update(data);
  });
  events.addEventListener("tick", (event) => update(JSON.parse(event.data)));
  events.addEventListener("epoch", (event) => { run.records.push(JSON.parse(event.data)); schedule(); });
  for (const end of ["done", "stopped", "error"]) {
    events.addEventListener(end, (event) => {
      const data = JSON.parse(event.data);
      update(data);
      // the saved model joins the picker; the header shows the Draw view's model, changed only if it had none
      showModel().catch(() => {});
    });
  }
}

function update(snapshot) {
  tickCount += 1;
  run.snapshot = snapshot;
  run.state = snapshot.state;
  snapshot.losses.forEach((value, offset) => { run.losses[snapshot.losses_from - 1 + offset] = value; });
  for (const point of snapshot.probes) {
    if (!run.probes.some((known) => known.step === point.step)) run.probes.push(point);
  }
  run.probes.sort((a, b) => a.step - b.step);
  run.marks = snapshot.marks;
  run.epochEnds = snapshot.epoch_ends;
  showStatus(snapshot);
  showHealth(snapshot.health);
  showDiagnoses(snapshot.diagnoses || []);
  // once a run has published its first weights it joins the header's model picker (the Draw view follows it
  // only if it is picked there, or if the Draw view has no model of its own)
  if (ACTIVE.includes(snapshot.state) && snapshot.weights_version && pickerRun !== run.id) {
    pickerRun = run.id;
    showModels().catch(() => {});
    showModel().catch(() => {});   // a Draw view that follows the run names it now
  }
  if (snapshot.weights_version && snapshot.weights_version !== weightsWanted) {
    weightsWanted = snapshot.weights_version;
    if (replayIndex < 0) loadWeights();
  }
  schedule();
}

function showStatus(snapshot) {
  const active = ACTIVE.includes(snapshot.state);
  let text = snapshot.state === "idle" ? "no run yet" : `${snapshot.state}`;
  const network = snapshot.settings && (snapshot.settings.preset || snapshot.settings.architecture);
  if (snapshot.state !== "idle" && network) text += ` · ${network}`;
  if (snapshot.state !== "idle" && snapshot.epochs) {
    text += ` · epoch ${snapshot.epoch} of ${snapshot.epochs} · batch ${snapshot.step}` +
            ` · lr ${formatNumber(snapshot.lr)} · batch size ${snapshot.batch_size}`;
    if (snapshot.steps_per_second) text += ` · at most ${snapshot.steps_per_second} batches/s`;
  }
  $("train-status").textContent = text;
  $("train-status").dataset.state = snapshot.state;
  $("train-status").dataset.step = String(snapshot.step);
  $("train-start").disabled = active || ["saving", "evaluating"].includes(snapshot.state);
  $("train-pause").disabled = !active || snapshot.state === "paused";
  $("train-resume").disabled = snapshot.state !== "paused";
  $("train-step").disabled = !active;
  $("train-stop").disabled = !active;
  $("change-apply").disabled = !active;
  $("change-speed").disabled = !active;
  $("step-open").disabled = snapshot.state !== "paused";   // the Step view steps on a paused run
  if (active && document.activeElement !== $("change-speed")) {
    $("change-speed").value = snapshot.steps_per_second ? String(snapshot.steps_per_second) : "";
  }
  if (active && document.activeElement !== $("change-lr") && document.activeElement !== $("change-batch_size")) {
    $("change-lr").value = formatNumber(snapshot.lr);
    $("change-batch_size").value = String(snapshot.batch_size);
  }
  const saved = $("train-saved");
  if (snapshot.state === "error") {
    saved.textContent = snapshot.message || "the run failed";
    saved.classList.add("error");
  } else {   // "saved as NAME; the Draw view now uses it" or "...; the Draw view keeps ...: pick NAME in the menu"
    saved.classList.remove("error");
    saved.textContent = snapshot.message || "";
  }
  saved.dataset.model = snapshot.model || "";
}

function formatNumber(value) {
  if (value === null || value === undefined) return "";
  return Math.abs(value) >= 0.001 ? String(Number(value.toPrecision(4))) : value.toExponential(2);
}

// ---- curves -------------------------------------------------------------------------------------------------
function schedule() {
  if (drawPending) return;
  drawPending = true;
  requestAnimationFrame(() => { drawPending = false; drawCurves(); });
}

function smoothed(values) {
  // an exponential moving average, debiased so that it starts where the losses start
  const out = new Array(values.length);
  let average = 0, weight = 0, last = null;
  // a plain loop: forEach skips the holes a sparse array has where ticks were missed, and out would keep them
  for (let index = 0; index < values.length; index++) {
    const value = values[index];
    if (value !== undefined && value !== null) {
      average = (1 - SMOOTHING) * average + SMOOTHING * value;
      weight = (1 - SMOOTHING) * weight + SMOOTHING;
      last = average / weight;
    }
    out[index] = last;
  }
  return out;
}

function curveGeometry(canvas) {
  const steps = Math.max(1, run.losses.length, run.snapshot ? run.snapshot.step : 0);
  const smooth = smoothed(run.losses);
  const finite = smooth.filter((value) => value !== null && Number.isFinite(value));
  const probeLosses = run.probes.map((point) => point.loss).filter((value) => value !== null);
  const top = Math.max(0.1, ...finite.slice(Math.floor(finite.length * 0.02)), ...probeLosses) * 1.1;
  const scale = textScale(canvas);
  const box = { left: 44 * scale, right: canvas.width - 44 * scale, top: 12, bottom: canvas.height - 26 * scale };
  return {
    steps, smooth, top, box, scale,
    x: (step) => box.left + (box.right - box.left) * step / steps,
    y: (loss) => box.bottom - (box.bottom - box.top) * Math.min(loss, top) / top,
    accuracy: (value) => box.bottom - (box.bottom - box.top) * value,
    stepAt: (pixel) => Math.round((pixel - box.left) / (box.right - box.left) * steps),
  };
}

function drawCurves() {
  const canvas = $("curves");
  const context = canvas.getContext("2d");
  const g = curveGeometry(canvas);
  context.clearRect(0, 0, canvas.width, canvas.height);
  const size = Math.round(11 * g.scale);
  context.font = `${size}px system-ui, sans-serif`;
  canvas.dataset.fontPixels = String(size);
  context.fillStyle = "#5d6778";
  context.strokeStyle = "#d5dae3";
  context.lineWidth = 1;
  context.strokeRect(g.box.left, g.box.top, g.box.right - g.box.left, g.box.bottom - g.box.top);
  context.textAlign = "right";
  context.fillText(formatNumber(g.top), g.box.left - 4, g.box.top + 8);
  context.fillText("0", g.box.left - 4, g.box.bottom);
  context.textAlign = "left";
  context.fillText("100 %", g.box.right + 4, g.box.top + 8);
  context.fillText("0 %", g.box.right + 4, g.box.bottom);
  context.textAlign = "center";
  context.fillText(`batch ${g.steps}`, g.box.right - 30 * g.scale, canvas.height - 8 * g.scale);
  context.fillText("loss (left) · accuracy (right)", (g.box.left + g.box.right) / 2, canvas.height - 8 * g.scale);
  // epoch boundaries and setting changes
  context.setLineDash([3, 3]);
  for (const step of run.epochEnds) line(context, g.x(step), g.box, "#b8c2d3");
  for (const mark of run.marks) {
    line(context, g.x(mark.step), g.box, "#c77d00");
    const what = [mark.lr !== undefined ? `lr ${formatNumber(mark.lr)}` : "",
                  mark.batch_size !== undefined ? `batch ${mark.batch_size}` : ""].filter(Boolean).join(", ");
    context.fillStyle = "#c77d00";
    context.textAlign = "left";
    context.fillText(what, g.x(mark.step) + 3, g.box.top + 20);
  }
  context.setLineDash([]);
  // raw losses, faint; smoothed, bold
  // Array.from visits every index: map would leave the holes of batches no tick carried, and a hole is no point
  polyline(context, Array.from(run.losses, (value, index) => [g.x(index + 1), value == null ? null : g.y(value)]),
           "rgba(47, 111, 223, 0.18)", 1);
  polyline(context, Array.from(g.smooth, (value, index) => [g.x(index + 1), value == null ? null : g.y(value)]),
           "#2f6fdf", 2);
  // validation subset points and epoch-end figures
  for (const point of run.probes) {
    if (point.loss !== null) dot(context, g.x(point.step), g.y(point.loss), "#d9480f", "circle");
    dot(context, g.x(point.step), g.accuracy(point.accuracy), "#2b8a3e", "square");
  }
  run.records.forEach((record, index) => {
    const accuracy = record.val_accuracy ?? record.accuracy;
    const step = run.epochEnds[index];
    if (accuracy !== undefined && step !== undefined) dot(context, g.x(step), g.accuracy(accuracy), "#1b5e20", "diamond");
  });
  if (hoverStep !== null) line(context, g.x(hoverStep), g.box, "rgba(0, 0, 0, 0.35)");
  canvas.dataset.points = String(run.losses.filter((value) => value != null).length);
  canvas.dataset.probes = String(run.probes.length);
}

// The canvas is drawn in its own pixels and shown scaled to the page's width: on a phone its 640 pixels become
// about 330, so its text is drawn larger in proportion, to stay about 11 px on the screen.
function textScale(canvas) {
  const shown = canvas.getBoundingClientRect().width || canvas.width;
  return Math.max(1, canvas.width / shown);
}

function line(context, x, box, colour) {
  context.strokeStyle = colour;
  context.beginPath();
  context.moveTo(x, box.top);
  context.lineTo(x, box.bottom);
  context.stroke();
}

function polyline(context, points, colour, width) {
  context.strokeStyle = colour;
  context.lineWidth = width;
  context.beginPath();
  let drawing = false;
  for (const point of points) {
    const [x, y] = point || [null, null];   // a gap (no point) breaks the line
    if (y === null || !Number.isFinite(y)) { drawing = false; continue; }
    if (drawing) context.lineTo(x, y); else context.moveTo(x, y);
    drawing = true;
  }
  context.stroke();
  context.lineWidth = 1;
}

function dot(context, x, y, colour, shape) {
  context.fillStyle = colour;
  context.beginPath();
  if (shape === "square") context.rect(x - 2.5, y - 2.5, 5, 5);
  else if (shape === "diamond") { context.moveTo(x, y - 5); context.lineTo(x + 5, y); context.lineTo(x, y + 5); context.lineTo(x - 5, y); }
  else context.arc(x, y, 3, 0, 2 * Math.PI);
  context.fill();
}

$("curves").addEventListener("pointermove", (event) => {
  const canvas = $("curves");
  const box = canvas.getBoundingClientRect();
  const g = curveGeometry(canvas);
  const step = Math.max(1, Math.min(g.steps, g.stepAt((event.clientX - box.left) * canvas.width / box.width)));
  hoverStep = step;
  const parts = [`batch ${step}`];
  const loss = run.losses[step - 1];
  if (loss !== undefined) parts.push(`loss ${formatNumber(loss)} (smoothed ${formatNumber(g.smooth[step - 1])})`);
  const probe = nearest(run.probes, step);
  if (probe) parts.push(`validation at batch ${probe.step}: loss ${formatNumber(probe.loss)}, accuracy ${(100 * probe.accuracy).toFixed(1)} %`);
  const epoch = run.epochEnds.findIndex((end) => end >= step);
  const record = run.records[epoch];
  if (record) parts.push(`epoch ${record.epoch}: validation accuracy ${record.val_accuracy !== undefined ? (100 * record.val_accuracy).toFixed(2) + " %" : "–"}`);
  $("curves-tip").textContent = parts.join(" · ");
  schedule();
});
$("curves").addEventListener("pointerleave", () => { hoverStep = null; schedule(); });

function nearest(points, step) {
  let best = null;
  for (const point of points) if (!best || Math.abs(point.step - step) < Math.abs(best.step - step)) best = point;
  return best;
}

// ---- the weight mosaic and its replay -----------------------------------------------------------------------
async function loadWeights(version) {
  if (weightsLoading) return;
  weightsLoading = true;
  try {
    const query = version === undefined ? "" : `?version=${version}`;
    const response = await fetch(`/api/train/weights${query}`);
    if (!response.ok) return;
    const shape = response.headers.get("X-Weights-Shape").split(",").map(Number);
    const versions = (response.headers.get("X-Replay-Versions") || "").split(",").filter(Boolean).map(Number);
    const bytes = new Uint8Array(await response.arrayBuffer());
    weights = { shape, bytes, version: Number(response.headers.get("X-Weights-Version")) };
    if (version === undefined) {
      replay = versions;
      const slider = $("replay");
      slider.max = String(replay.length);
      if (replayIndex < 0) slider.value = slider.max;
    }
    drawMosaic();
  } finally {
    weightsLoading = false;
    if (replayIndex < 0 && weights && weights.version < weightsWanted) setTimeout(() => loadWeights(), 50);
  }
}

function drawMosaic() {
  const [units, rows, columns] = weights.shape;
  const across = Math.ceil(Math.sqrt(units));
  const down = Math.ceil(units / across);
  const gap = 1;
  const image = new ImageData(across * (columns + gap), down * (rows + gap));
  image.data.fill(255);
  for (let unit = 0; unit < units; unit++) {
    const left = (unit % across) * (columns + gap), top = Math.floor(unit / across) * (rows + gap);
    for (let row = 0; row < rows; row++) {
      for (let column = 0; column < columns; column++) {
        const value = (weights.bytes[(unit * rows + row) * columns + column] - 127) / 127;
        const at = 4 * ((top + row) * image.width + left + column);
        // diverging colours, as the PNG plots draw them: red positive, white zero, blue negative
        image.data.set(divergingDeep(value), at);
      }
    }
  }
  const small = document.createElement("canvas");
  small.width = image.width;
  small.height = image.height;
  small.getContext("2d").putImageData(image, 0, 0);
  const canvas = $("mosaic");
  const context = canvas.getContext("2d");
  const scale = Math.max(1, Math.floor(Math.min(600 / image.width, 600 / image.height)));
  canvas.width = image.width * scale;
  canvas.height = image.height * scale;
  context.imageSmoothingEnabled = false;
  context.drawImage(small, 0, 0, canvas.width, canvas.height);
  canvas.dataset.version = String(weights.version);
  const where = replayIndex < 0 ? "live" : `replay frame ${replayIndex + 1} of ${replay.length}`;
  $("replay-label").textContent = `${units} units, ${rows}×${columns} each · ${where} · red: positive, blue: negative`;
}

$("replay").addEventListener("input", () => {
  const index = Number($("replay").value);
  if (index >= replay.length) { replayIndex = -1; loadWeights(); return; }
  replayIndex = index;
  weightsLoading = false;
  loadWeights(replay[index]);
});

// ---- the health strip ---------------------------------------------------------------------------------------
function showHealth(layers) {
  if (!layers || !layers.length) return;
  const strip = $("health");
  strip.replaceChildren();
  for (const layer of layers) {
    const row = document.createElement("div");
    row.className = "health-layer";
    const name = document.createElement("strong");
    name.textContent = layer.name;
    const numbers = document.createElement("span");
    numbers.className = "health-numbers";
    const ratio = layer.update_ratio === null ? "–" : layer.update_ratio.toExponential(1);
    const dead = layer.dead_fraction === null ? "" : ` · dead ReLU units ${(100 * layer.dead_fraction).toFixed(0)} %`;
    numbers.textContent = `update/weight ${ratio}${dead}`;
    const histogram = document.createElement("canvas");
    histogram.width = 120;
    histogram.height = 32;
    histogram.className = "histogram";
    histogram.title = `weights from ${formatNumber(layer.histogram.low)} to ${formatNumber(layer.histogram.high)}: now (blue) against the start (grey)`;
    drawHistogram(histogram, layer.histogram);
    row.append(name, numbers, histogram);
    for (const hint of layer.hints) {
      const warning = document.createElement("p");
      warning.className = "hint";
      warning.textContent = hint;
      row.append(warning);
    }
    strip.append(row);
  }
}

// the doctor's diagnoses: what the numbers mean when a run goes wrong, each with its cause and remedy
function showDiagnoses(diagnoses) {
  const box = $("diagnoses");
  if (box.childElementCount === diagnoses.length) return;
  box.replaceChildren();
  for (const diagnosis of diagnoses) {
    const line = element("p", "hint diagnosis");
    line.dataset.code = diagnosis.code;
    line.textContent = `epoch ${diagnosis.epoch}, batch ${diagnosis.step}: ${diagnosis.message}`;
    box.append(line);
  }
}

function drawHistogram(canvas, histogram) {
  const context = canvas.getContext("2d");
  const most = Math.max(1, ...histogram.now, ...histogram.start);
  const width = canvas.width / histogram.now.length;
  histogram.start.forEach((count, index) => {
    context.fillStyle = "rgba(120, 128, 140, 0.45)";
    context.fillRect(index * width, canvas.height * (1 - count / most), width - 0.5, canvas.height * count / most);
  });
  histogram.now.forEach((count, index) => {
    context.fillStyle = "rgba(47, 111, 223, 0.6)";
    context.fillRect(index * width + width * 0.25, canvas.height * (1 - count / most), width * 0.5, canvas.height * count / most);
  });
}

document.addEventListener("nnscratch:view", (event) => { if (event.detail === "train") schedule(); });
window.addEventListener("resize", schedule);   // the chart's text follows the canvas's displayed size
/** Settled once the settings form has the server's presets and defaults (or says why it has not). */
export const ready = loadOptions().catch((error) => {
  $("train-error").textContent = `cannot read the options: ${error.message}`;
});
connect();
drawCurves();

/** What the page knows of the current run (its losses, probes, marks, records and last snapshot), as the chart
 *  draws it; a script may change it and ask for a redraw with an "nnscratch:view" event for "train". */
export function state() { return run; }

/** How many snapshots (state and tick events) the page has taken in. */
export function ticks() { return tickCount; }
