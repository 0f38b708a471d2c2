// What the page's views share: asking the server for JSON (and reading its one error shape, {"error": "..."}),
// making elements, and painting arrays of numbers into canvases. Every view imports what it needs from here, so
// each of these is written once: a map of signed numbers follows the page's one colour convention (red positive,
// white zero, blue negative, each map on its own scale), and a digit is grey, white ink on black, as the network
// sees it.

export const $ = (id) => document.getElementById(id);

/** An element `tag` with class `className` (none if empty) and, when given, the text `text`. */
export function element(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

/** The JSON answer of `path`: a GET, or a POST of `body` as JSON when a body is given. An answer that is not a
 *  success throws an Error with the server's one line (its "error"), or with the status when it has none. */
export async function fetchJSON(path, body) {
  const options = body === undefined ? {} :
    { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) };
  const response = await fetch(path, options);
  const answer = await response.json();
  if (!response.ok) throw new Error(answer.error || `the server answered ${response.status}`);
  return answer;
}

// ---- colours ----------------------------------------------------------------------------------------------------

/** The colour of t in [−1, 1] on the maps of Look inside: white at 0, pure red at +1, pure blue at −1, as
 *  [r, g, b] (not rounded: an ImageData rounds what it is given). */
export function diverging(t) {
  return t > 0 ? [255, 255 * (1 - t), 255 * (1 - t)] : [255 * (1 + t), 255 * (1 + t), 255];
}

const DEEP_RED = [178, 24, 43], DEEP_BLUE = [33, 102, 172];   // the ends of matplotlib's RdBu, as the PNG plots

/** The colour of t in [−1, 1] (beyond it: the ends) on the weight mosaic and the Step view's units: white at 0,
 *  deepening to RdBu's red for positive values and its blue for negative ones, as rounded [r, g, b]. */
export function divergingDeep(t) {
  const strength = Math.min(1, Math.abs(t));
  return (t >= 0 ? DEEP_RED : DEEP_BLUE).map((end) => Math.round(255 + (end - 255) * strength));
}

/** The largest |value| (at least 1e-12, so that a map of zeros divides by something): a map's own scale. */
export function largest(values) { return Math.max(1e-12, ...values.map(Math.abs)); }

// ---- painting arrays ----------------------------------------------------------------------------------------------

/** A width×height ImageData of the grey values in [0, 1] (row by row): 0 black, 1 white. */
export function greyImage(values, width, height = width) {
  const image = new ImageData(width, height);
  for (let i = 0; i < width * height; i++) {
    const grey = Math.round(255 * values[i]);
    image.data.set([grey, grey, grey, 255], 4 * i);
  }
  return image;
}

/** Paints the grey values (row by row, width×height, by default the canvas's size) into `canvas`'s corner. */
export function paintGrey(canvas, values, width = canvas.width, height = canvas.height) {
  canvas.getContext("2d").putImageData(greyImage(values, width, height), 0, 0);
}

/** Paints a map of signed numbers (row by row, width×height, by default the canvas's size) in the diverging
 *  colours, on its own scale [−max|v|, +max|v|]; returns that max|v|, for the map's key. */
export function paintMap(canvas, values, width = canvas.width, height = canvas.height) {
  const context = canvas.getContext("2d");
  const image = context.createImageData(width, height);
  const limit = largest(values);
  values.forEach((value, i) => {
    image.data.set([...diverging(Math.max(-1, Math.min(1, value / limit))), 255], 4 * i);
  });
  context.putImageData(image, 0, 0);
  return limit;
}
