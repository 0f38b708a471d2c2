// Words a learner may not know yet, explained where they stand, and a first-visit tour of the page's views.
// - Terms: an element with data-term="logit" (or any known word found in the views' headings, labels, notes and
//   numbers, which this script wraps in such an element) shows a short explanation when hovered, focused or
//   tapped. The explanations use docs/math.md's symbols (z, p, a, W, η, θ, g).
// - The tour: a few steps, one per view, shown on the first visit (remembered in localStorage, key
//   "nnscratch.tour"), dismissable at any step (× or Esc), and re-opened by the "?" button beside the tabs.
//   A browser driven by a script (navigator.webdriver) is not shown it unasked.

/** Each term the page explains, and its explanation. */
export const TERMS = {
  "logit": "A logit z_c is the network's raw score for class c, before the softmax turns the scores into " +
    "probabilities: z = a W + b in the last layer. The larger z_c, the more likely c.",
  "softmax": "Softmax turns the scores z into probabilities p_c = e^(z_c) / Σ_k e^(z_k): all positive, adding " +
    "up to 1. It always shares out all the probability, even for a picture that is no digit at all.",
  "saliency": "Saliency ∂z_c/∂x: for each pixel, how much the logit z_c would change if that pixel were a " +
    "little brighter. Red: brighter raises z_c; blue: brighter lowers it.",
  "gradient × input": "Gradient × input, x_i · ∂z_c/∂x_i: each pixel's share of the logit z_c. A black pixel " +
    "(x_i = 0) gets no share however sensitive z_c is to it. In a ReLU network the shares and the bias terms " +
    "add up to z_c exactly.",
  "update/weight": "The update/weight ratio ‖ΔW‖ / ‖W‖: how much one step changed a layer's weights, compared " +
    "with their size. About 10⁻³ is healthy; 10⁻² or more: the learning rate η is too large for that layer; " +
    "below 10⁻⁵ the layer has all but stopped learning.",
  "dead ReLU": "A dead ReLU unit outputs 0 for every validation digit: its input z is negative for all of " +
    "them, so its gradient is 0 and it cannot learn its way back. A few are normal; half a layer dead " +
    "usually means the learning rate η was too large.",
  "epoch": "An epoch is one pass through all the training digits, batch by batch. After each one the network " +
    "is measured on the validation digits.",
  "learning rate": "The learning rate η is the size of each step against the gradient g: θ ← θ − η g. Too " +
    "large and the loss jumps about or blows up; too small and nothing seems to change.",
  "validation": "Validation digits are held back from training: they show how the network does on digits it " +
    "has not learned from, while it learns. The test digits are kept for the very end.",
};
// Where the words are found in the page's text (first match of each term in each element is wrapped).
const PATTERNS = [
  ["gradient × input", /gradient × input/i],
  ["update/weight", /update\/weight|update relative to the weights/i],
  ["dead ReLU", /dead ReLU( units)?|dead units/i],
  ["logit", /\blogits?\b/i],
  ["softmax", /\bsoftmax\b/i],
  ["saliency", /\bsaliency\b/i],
  ["epoch", /\bepochs?\b/i],
  ["learning rate", /\blearning rate\b/i],
  ["validation", /\bvalidation\b/i],
];
const SCANNED = "main h2, main h3, main figcaption, main label, main th, main .tip, main .note, " +
                "main .health-numbers, main .hint, #curves-tip";
const SKIPPED = "#step-view, .term, [data-term], script, style, textarea, select, option, button";

// ---- the explanation bubble -----------------------------------------------------------------------------------
const tip = document.createElement("div");
tip.id = "term-tip";
tip.className = "term-tip";
tip.setAttribute("role", "tooltip");
tip.hidden = true;
document.body.append(tip);
let shownFor = null;

function explain(element) {
  const text = TERMS[element.dataset.term];
  if (!text) return;
  shownFor = element;
  tip.textContent = text;
  tip.hidden = false;
  element.setAttribute("aria-describedby", "term-tip");
  const box = element.getBoundingClientRect();
  const width = Math.min(320, window.innerWidth - 16);
  tip.style.maxWidth = `${width}px`;
  const left = Math.max(8, Math.min(box.left, window.innerWidth - width - 8));
  const below = box.bottom + 6 + tip.offsetHeight <= window.innerHeight || box.top < tip.offsetHeight + 6;
  tip.style.left = `${left + window.scrollX}px`;
  tip.style.top = `${(below ? box.bottom + 6 : box.top - 6 - tip.offsetHeight) + window.scrollY}px`;
}

function hide() {
  if (shownFor) shownFor.removeAttribute("aria-describedby");
  shownFor = null;
  tip.hidden = true;
}

const termOf = (target) => (target instanceof Element ? target.closest("[data-term]") : null);
document.addEventListener("mouseover", (event) => { const term = termOf(event.target); if (term) explain(term); });
document.addEventListener("mouseout", (event) => {
  const term = termOf(event.target);
  if (term && !term.contains(event.relatedTarget)) hide();
});
document.addEventListener("focusin", (event) => { const term = termOf(event.target); if (term) explain(term); });
document.addEventListener("focusout", (event) => { if (termOf(event.target)) hide(); });
document.addEventListener("click", (event) => {   // a tap on a touch screen
  const term = termOf(event.target);
  if (term && term.classList.contains("term")) { if (shownFor === term) hide(); else explain(term); }
  else if (!term) hide();
});

// ---- finding the words ----------------------------------------------------------------------------------------
function mark(element) {
  if (!element.classList.contains("term")) {
    element.classList.add("term");
    if (!element.hasAttribute("tabindex") && !element.matches("button, a, input, select")) element.tabIndex = 0;
  }
}

function wrapTerms(element) {
  if (element.closest(SKIPPED)) return;
  const found = new Set([...element.querySelectorAll("[data-term]")].map((each) => each.dataset.term));
  const walker = document.createTreeWalker(element, NodeFilter.SHOW_TEXT, {
    acceptNode: (node) => (node.parentElement.closest(SKIPPED) ? NodeFilter.FILTER_REJECT : NodeFilter.FILTER_ACCEPT),
  });
  const nodes = [];
  for (let node = walker.nextNode(); node; node = walker.nextNode()) nodes.push(node);
  for (let node of nodes) {
    for (const [term, pattern] of PATTERNS) {
      if (found.has(term)) continue;
      const match = pattern.exec(node.nodeValue);
      if (!match) continue;
      found.add(term);
      const word = node.splitText(match.index);
      const rest = word.splitText(match[0].length);
      const span = document.createElement("span");
      span.dataset.term = term;
      mark(span);
      word.replaceWith(span);
      span.append(word);
      node = rest;   // look on in what follows the word
    }
  }
}

/** Marks the known words in `root` (by default the whole page), so that they explain themselves. */
export function scan(root = document) {
  root.querySelectorAll("[data-term]").forEach(mark);
  root.querySelectorAll(SCANNED).forEach(wrapTerms);
}

let pending = false;
const observer = new MutationObserver(() => {
  if (pending) return;
  pending = true;
  requestAnimationFrame(() => { pending = false; scan(); });
});
scan();
observer.observe(document.body, { childList: true, subtree: true, characterData: true });

// ---- the tour -------------------------------------------------------------------------------------------------
const STEPS = [
  { target: "#tab-draw", title: "Draw",
    text: "Draw a digit with the mouse, a pen or a finger (or press T for a test digit). The network answers " +
          "as you draw, with its ten probabilities and the 28×28 picture it really sees." },
  { target: "#tab-train", title: "Train",
    text: "Train a network of your own and watch it learn: the loss after every batch, the first layer's " +
          "weights, each layer's health. Pause a run to see every number of one step." },
  { target: "#tab-explain", title: "Look inside",
    text: "Why the network said what it said: which pixels mattered, which hidden units pushed for the answer, " +
          "what happens when you silence one, and where it goes wrong." },
  { target: "#tour-open", title: "Words explained",
    text: "Words with a dotted underline, like logit or learning rate, explain themselves when you point at " +
          "them or tap them. This ? button brings the tour back." },
];
const STORAGE_KEY = "nnscratch.tour";

function remembered() {
  try { return localStorage.getItem(STORAGE_KEY) === "seen"; } catch { return false; }
}
function remember() {
  try { localStorage.setItem(STORAGE_KEY, "seen"); } catch { /* private mode: shown again next time */ }
}

const opener = document.createElement("button");
opener.id = "tour-open";
opener.type = "button";
opener.className = "tour-open";
opener.textContent = "?";
opener.title = "A short tour of the page's views";
opener.setAttribute("aria-label", "Show the tour of the page's views");
(document.querySelector(".tabs") || document.body).append(opener);

const card = document.createElement("section");
card.id = "tour";
card.className = "tour";
card.setAttribute("role", "dialog");
card.setAttribute("aria-label", "Tour of the page");
card.hidden = true;
card.innerHTML = `<button type="button" class="tour-close" aria-label="Close the tour" title="Close (Esc)">×</button>
  <h2 id="tour-title"></h2><p id="tour-text"></p>
  <div class="tour-buttons"><span id="tour-count" class="note"></span>
    <button type="button" id="tour-back">Back</button><button type="button" id="tour-next" class="primary">Next</button></div>`;
document.body.append(card);
let step = 0;

function showStep(index) {
  step = index;
  const { target, title, text } = STEPS[step];
  document.querySelectorAll(".tour-target").forEach((element) => element.classList.remove("tour-target"));
  const element = document.querySelector(target);
  if (element) element.classList.add("tour-target");
  card.querySelector("#tour-title").textContent = title;
  card.querySelector("#tour-text").textContent = text;
  card.querySelector("#tour-count").textContent = `${step + 1} of ${STEPS.length}`;
  card.querySelector("#tour-back").disabled = step === 0;
  card.querySelector("#tour-next").textContent = step === STEPS.length - 1 ? "Done" : "Next";
  scan(card);
}

export function openTour() {
  card.hidden = false;
  showStep(0);
  card.querySelector("#tour-next").focus();
}

export function closeTour() {
  card.hidden = true;
  document.querySelectorAll(".tour-target").forEach((element) => element.classList.remove("tour-target"));
  remember();
}

card.querySelector(".tour-close").addEventListener("click", closeTour);
card.querySelector("#tour-back").addEventListener("click", () => showStep(Math.max(0, step - 1)));
card.querySelector("#tour-next").addEventListener("click", () => {
  if (step === STEPS.length - 1) closeTour();
  else showStep(step + 1);
});
opener.addEventListener("click", () => (card.hidden ? openTour() : closeTour()));
document.addEventListener("keydown", (event) => {
  if (event.key !== "Escape") return;
  if (!tip.hidden) hide();
  if (!card.hidden) { event.stopImmediatePropagation(); closeTour(); }
}, true);

if (!remembered() && !navigator.webdriver) openTour();
