// The "look inside" views of the draw page: why the network said what it said, for the digit on the page.
// Everything is drawn inside <section id="explain">. The draw view tells this script about each new prepared
// digit with  document.dispatchEvent(new CustomEvent("nnscratch:digit", {detail: {pixels}}))  (784 values in
// [0, 1], the "preview" of /api/predict or a test digit's pixels); the script asks /api/explain/... and draws.
// It hears of each new model through "nnscratch:model" (the /api/model answer). An ensemble has no one hidden
// layer to look into: a chooser picks the member, and every request names it (?member=K).
"use strict";

(() => {
  const root = document.getElementById("explain");
  if (!root) return;
  const SIDE = 28;
  let pixels = null;
  let explained = null;   // the class whose logit is explained (null: the prediction)
  let weights = null;     // the first layer's weight images, fetched once per model
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
          <figcaption>∂z<sub id="x-class-label">c</sub>/∂x</figcaption></figure>
        <figure><canvas id="x-gxi" width="28" height="28"></canvas><figcaption>gradient × input</figcaption></figure>
        <figure><canvas id="x-untrained" width="28" height="28"></canvas>
          <figcaption><button id="x-untrained-button" type="button">Same network, untrained</button></figcaption></figure></div>
        <p id="x-completeness" class="note"></p>
        <div id="x-classes" class="classes" aria-label="Explain this class"></div></section>
      <section class="panel"><h3>Why this class</h3><p id="x-why" class="note"></p>
        <div id="x-split" class="split"></div><h3 id="x-versus-title"></h3><div id="x-versus" class="split"></div></section>
      <section class="panel"><h3>Ablation lab</h3>
        <p class="note">Click a unit above to silence it; the probabilities update at once.</p>
        <label>scale <input id="x-scale" type="range" min="-1" max="2" step="0.1" value="0"></label>
        <div id="x-ablation"></div>
        <button id="x-accuracy" type="button" disabled>Test accuracy without this unit</button>
        <progress id="x-progress" max="1" value="0" hidden></progress><p id="x-accuracy-result" class="note"></p></section>
      <section class="panel"><h3>Activations, layer by layer</h3><div id="x-layers"></div></section>
      <section class="panel"><h3>Nearest training digits</h3>
        <p class="note">In pixel space (drawn alike):</p><div id="x-near-pixels" class="digits"></div>
        <p class="note">In the last hidden layer (treated alike):</p><div id="x-near-hidden" class="digits"></div></section>
      <section class="panel"><h3>Mistakes explorer</h3><div id="x-confusion"></div><div id="x-cell" class="digits"></div></section>
      <section class="panel"><h3>Not a digit at all</h3>
        <button data-probe="noise" type="button">Random noise</button> <button data-probe="blank" type="button">Blank page</button>
        <button data-probe="inverted" type="button">Inverted digit</button><p id="x-probe" class="note"></p></section>
    </div>`;
  const $ = (id) => document.getElementById(id);
  let ablated = null;     // {layer, unit} chosen in the ablation lab

  // Bumped whenever the model or the member changes: an answer to a request made before is dropped, so that a
  // slow answer about the last member never overwrites the views of this one.
  let generation = 0;
  class Stale extends Error {}

  async function api(path, body) {
    const options = body === undefined ? {} :
      {method: "POST", headers: {"Content-Type": "application/json"}, body: JSON.stringify(body)};
    const which = member === null ? "" : `${path.includes("?") ? "&" : "?"}member=${member}`;
    const asked = generation;
    const response = await fetch(`/api/explain${path}${which}`, options);
    const answer = await response.json();
    if (asked !== generation) throw new Stale("answer for another model");
    if (!response.ok) throw new Error(answer.error || `HTTP ${response.status}`);
    return answer;
  }

  function draw(canvas, values, diverging) {
    const context = canvas.getContext("2d");
    const image = context.createImageData(SIDE, SIDE);
    const limit = Math.max(1e-12, ...values.map(Math.abs));
    values.forEach((value, i) => {
      const t = diverging ? value / limit : value;
      const [r, g, b] = diverging ? (t > 0 ? [255, 255 * (1 - t), 255 * (1 - t)] : [255 * (1 + t), 255 * (1 + t), 255])
        : [255 * t, 255 * t, 255 * t];
      image.data.set([r, g, b, 255], 4 * i);
    });
    context.putImageData(image, 0, 0);
  }

  function digitCanvas(values, title, onClick) {
    const canvas = document.createElement("canvas");
    canvas.width = canvas.height = SIDE;
    canvas.title = title;
    draw(canvas, values, false);
    if (onClick) canvas.addEventListener("click", onClick);
    return canvas;
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
      row.title = part ? `a = ${part.activation.toFixed(3)}, w = ${part.weight.toFixed(3)}; click to silence` : "";
      const bar = document.createElement("span");
      bar.className = "bar";
      bar.style.width = `${(50 * Math.abs(value)) / limit}%`;
      row.append(`${label} `, bar, ` ${value >= 0 ? "+" : ""}${value.toFixed(3)}`);
      if (part) row.addEventListener("click", () => chooseUnit(null, part.unit));
      container.append(row);
    }
  }

  async function explain() {
    if (!pixels) return;
    const answer = await api("", {pixels, class: explained});
    const c = answer.class;
    $("x-class-label").textContent = c;
    draw($("x-saliency"), answer.saliency, true);
    draw($("x-gxi"), answer.gradient_x_input, true);
    const k = answer.completeness;
    $("x-completeness").textContent = k.piecewise_linear
      ? `Σ gradient × input = ${k.gradient_x_input.toFixed(3)}, plus the bias terms ${k.bias_terms.toFixed(3)}, is ${k.sum.toFixed(3)}: exactly the logit z = ${k.logit.toFixed(3)}, because a ReLU network is piecewise linear.`
      : `Σ gradient × input = ${k.gradient_x_input.toFixed(3)}; this network is not piecewise linear, so it only approximates z = ${k.logit.toFixed(3)}.`;
    $("x-classes").replaceChildren(...answer.probabilities.map((p, index) => {
      const button = document.createElement("button");
      button.type = "button";
      button.textContent = `${index}: ${(100 * p).toFixed(1)} %`;
      button.className = index === c ? "chosen" : "";
      button.addEventListener("click", () => { explained = index; explain(); });
      return button;
    }));
    $("x-why").textContent = `z_${c} = Σ_j a_j · W[j, ${c}] + b_${c} = ${answer.logits[c].toFixed(3)}, unit by unit, largest first${answer.confident ? "" : " (an unsure answer)"}:`;
    bars($("x-split"), answer.contributions, answer.bias);
    const versus = answer.versus;
    $("x-versus-title").textContent = `Why ${c} rather than ${versus.class}: z_${c} − z_${versus.class} = ${versus.difference.toFixed(3)}`;
    bars($("x-versus"), versus.contributions, versus.bias);
  }

  async function chooseUnit(layer, unit) {
    ablated = {layer, unit};
    $("x-accuracy").disabled = false;
    $("x-accuracy-result").textContent = "";
    const answer = await api("/ablate", {pixels, layer, unit, scale: Number($("x-scale").value)});
    $("x-ablation").textContent = `Unit ${unit} of layer ${answer.layer} × ${answer.scale}: the network now says ` +
      `${answer.prediction} (${(100 * answer.probabilities[answer.prediction]).toFixed(1)} %).`;
  }

  async function accuracyWithout() {
    const job = await api("/ablation-accuracy", {...ablated, scale: Number($("x-scale").value)});
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

  async function layers() {
    const answer = await api("/activations", {pixels});
    weights = weights || await api("/weights").catch((error) => { if (error instanceof Stale) throw error; return null; });
    const container = $("x-layers");
    container.replaceChildren();
    for (const layer of answer.layers) {
      const title = document.createElement("p");
      title.className = "note";
      title.textContent = `Layer ${layer.name} (${layer.layer}), shape ${layer.shape.join("×")}`;
      const strip = document.createElement("div");
      strip.className = "activations";
      const units = layer.shape.length === 1 ? layer.values : [];
      const top = Math.max(...units, 1e-9);
      units.forEach((value, unit) => {
        const cell = document.createElement("span");
        cell.className = "unit";
        cell.style.opacity = String(0.1 + 0.9 * Math.max(0, value) / top);
        cell.title = `unit ${unit}: ${value.toFixed(3)} (click to silence)`;
        cell.addEventListener("click", () => chooseUnit(layer.name, unit));
        strip.append(cell);
      });
      if (layer.shape.length === 3) {
        const [, h, w] = layer.shape;
        for (let channel = 0; channel < Math.min(8, layer.shape[0]); channel++) {
          const maps = layer.values.slice(channel * h * w, (channel + 1) * h * w);
          const canvas = document.createElement("canvas");
          canvas.width = w; canvas.height = h; canvas.className = "map";
          canvas.title = `channel ${channel} (click to silence)`;
          canvas.addEventListener("click", () => chooseUnit(layer.name, channel));
          const top = Math.max(...maps, 1e-9);
          const image = canvas.getContext("2d").createImageData(w, h);
          maps.forEach((v, i) => image.data.set([255 * Math.max(0, v) / top, 255 * Math.max(0, v) / top, 255 * Math.max(0, v) / top, 255], 4 * i));
          canvas.getContext("2d").putImageData(image, 0, 0);
          strip.append(canvas);
        }
      }
      container.append(title, strip);
    }
  }

  async function neighbours() {
    const answer = await api("/neighbours", {pixels});
    for (const space of ["pixels", "hidden"]) {
      $(`x-near-${space}`).replaceChildren(...answer[space].map((digit) =>
        digitCanvas(digit.pixels, `training digit ${digit.index}, label ${digit.label}`)));
    }
  }

  async function mistakes() {
    const answer = await api("/mistakes");
    const table = document.createElement("table");
    table.className = "confusion";
    answer.confusion.forEach((row, truth) => {
      const tr = table.insertRow();
      row.forEach((count, predicted) => {
        const td = tr.insertCell();
        td.textContent = count;
        td.className = truth === predicted ? "diagonal" : count ? "mistake" : "";
        td.title = `true ${truth}, predicted ${predicted}: ${count}`;
        td.addEventListener("click", () => cell(truth, predicted));
      });
    });
    $("x-confusion").replaceChildren(table);
  }

  async function cell(truth, predicted) {
    const answer = await api(`/mistakes/cell?true=${truth}&predicted=${predicted}`);
    $("x-cell").replaceChildren(...answer.digits.map((digit) =>
      digitCanvas(digit.pixels, `test digit ${digit.index}: ${(100 * digit.confidence).toFixed(1)} % ${predicted}`,
        () => show(digit.pixels))));
  }

  async function probe(kind) {
    const answer = await api("/probe", {kind, pixels: pixels || new Array(784).fill(0)});
    const p = answer.probabilities[answer.prediction];
    $("x-probe").textContent = `${kind}: the network says ${answer.prediction} with ${(100 * p).toFixed(1)} %` +
      (answer.confident ? ". A softmax must share out all its probability, so it answers even when no digit is there." : ", below the 50 % line: shown as unsure.");
  }

  async function untrained() {
    if (!pixels) return;
    const answer = await api("/untrained", {pixels, class: explained ?? 0});
    draw($("x-untrained"), answer.saliency, true);
  }

  function report(error) { if (!(error instanceof Stale)) $("x-why").textContent = String(error.message || error); }

  // The views are computed only while the Look inside view is open: a digit drawn elsewhere is kept, and
  // explained when the view opens.
  let visible = location.hash.slice(1) === "explain";
  let stale = false;
  let mistakesShown = false;

  function show(values) {
    pixels = values.map(Number);
    explained = null;
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
    weights = null;
    ablated = null;
    explained = null;
    mistakesShown = false;
    $("x-accuracy").disabled = true;
    for (const id of ["x-cell", "x-ablation", "x-accuracy-result", "x-probe", "x-confusion"]) $(id).replaceChildren();
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
  root.querySelectorAll("[data-probe]").forEach((button) =>
    button.addEventListener("click", () => probe(button.dataset.probe).catch(report)));
  document.addEventListener("nnscratch:digit", (event) => show(event.detail.pixels));
  document.addEventListener("nnscratch:view", (event) => {
    visible = event.detail === "explain";
    if (visible && (stale || !mistakesShown)) refresh();
  });
  if (window.nnscratch && window.nnscratch.model) useModel(window.nnscratch.model);
  window.nnscratchExplain = {show};
})();
