/* Charts for the campaigns dashboard, drawn as inline SVG with no library: a ring of
 * contacts by status, horizontal bars (outcomes, results) and columns per hour.
 *
 * Each chart replaces the ``.chart-body`` of its <figure>; every segment, bar and column
 * carries data-key / data-value (what it shows) and a <title> (its tooltip), and each
 * <svg> has role="img" with an aria-label listing the numbers for screen readers.
 */

const SVG_NS = "http://www.w3.org/2000/svg";
const COLORS = {
  pending: "#93c5fd", dialing: "#2563eb", completed: "#16a34a", opted_out: "#f59e0b",
  do_not_call: "#dc2626", exhausted: "#6b7280",
  answered: "#16a34a", no_answer: "#a3a3a3", busy: "#f59e0b", voicemail: "#8b5cf6",
  failed: "#dc2626", interrupted: "#475569",
};
export const OUTCOME_COLORS = ["#0f766e", "#2563eb", "#9333ea", "#db2777", "#ea580c",
                               "#65a30d", "#0891b2", "#4b5563"];

/** The colour of a contact status or an attempt result. */
export const colorOf = (key) => COLORS[key] || "#64748b";
const label = (key) => key.replaceAll("_", " ");
const sum = (items) => items.reduce((total, [, value]) => total + value, 0);
const describeItems = (items) => items.map(([key, value]) => `${label(key)} ${value}`).join(", ");
const hourOf = (iso) => new Date(iso).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });

/** An HTML element with attributes and children. */
export function h(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) node.setAttribute(name, value);
  node.append(...children);
  return node;
}

/** The same for an SVG element. */
function s(tag, attributes = {}, ...children) {
  const node = document.createElementNS(SVG_NS, tag);
  for (const [name, value] of Object.entries(attributes)) node.setAttribute(name, value);
  node.append(...children);
  return node;
}

/** A ring of contacts by status: one stroked circle per non-zero status, dashed to its
 * share of the ring; the legend lists every status, zeros greyed. */
export function donutChart(figure, items) {
  const total = sum(items);
  const radius = 70;
  const ring = 2 * Math.PI * radius;
  const svg = s("svg", { viewBox: "0 0 200 200", role: "img",
                         "aria-label": `Contacts by status: ${describeItems(items)}` },
    s("circle", { cx: 100, cy: 100, r: radius, fill: "none", stroke: "#eef0f4",
                  "stroke-width": 30 }));
  const shown = items.filter(([, value]) => value > 0);
  const gap = shown.length > 1 ? 2 : 0;  // a white seam between neighbouring segments
  let offset = 0;
  for (const [key, value] of shown) {
    const length = (ring * value) / total;
    const drawn = Math.max(length - gap, 0.5);
    svg.append(s("circle", {
      class: "segment", "data-key": key, "data-value": value, cx: 100, cy: 100, r: radius,
      fill: "none", stroke: colorOf(key), "stroke-width": 30,
      "stroke-dasharray": `${drawn} ${ring - drawn}`, "stroke-dashoffset": -offset,
      transform: "rotate(-90 100 100)",
    }, s("title", {}, `${label(key)}: ${value}`)));
    offset += length;
  }
  svg.append(
    s("text", { x: 100, y: 100, "text-anchor": "middle", class: "donut-total",
                "data-testid": "donut-total" }, String(total)),
    s("text", { x: 100, y: 124, "text-anchor": "middle", class: "axis" }, "contacts"));
  const legend = h("ul", { class: "legend" }, ...items.map(([key, value]) => h("li",
    { class: value ? "" : "zero", "data-key": key },
    h("span", { class: "swatch", style: `background:${colorOf(key)}` }),
    label(key), h("span", { class: "value" }, String(value)))));
  figure.querySelector(".chart-body").replaceChildren(h("div", { class: "donut" }, svg, legend));
}

/** Horizontal bars, one per item, labelled with its name and count. */
export function barChart(figure, items, colorFor, emptyText) {
  const body = figure.querySelector(".chart-body");
  if (!items.length) {
    body.replaceChildren(h("p", { class: "empty" }, emptyText));
    return;
  }
  const [width, rowHeight, labelWidth, valueWidth] = [380, 30, 112, 40];
  const most = Math.max(1, ...items.map(([, value]) => value));
  const svg = s("svg", { viewBox: `0 0 ${width} ${items.length * rowHeight + 6}`,
                         role: "img", "aria-label": `${figure.querySelector("figcaption")
                           .textContent}: ${describeItems(items)}` });
  items.forEach(([key, value], index) => {
    const middle = 3 + index * rowHeight + rowHeight / 2;
    const length = ((width - labelWidth - valueWidth) * value) / most;
    svg.append(s("g", { class: "bar", "data-key": key, "data-value": value },
      s("title", {}, `${label(key)}: ${value}`),
      s("text", { x: labelWidth - 10, y: middle, "text-anchor": "end",
                  "dominant-baseline": "middle", class: "bar-label" }, label(key)),
      s("rect", { x: labelWidth, y: middle - 10, width: value ? Math.max(length, 2) : 0,
                  height: 20, rx: 3, fill: colorFor(key, index) }),
      s("text", { x: labelWidth + length + 6, y: middle, "dominant-baseline": "middle",
                  class: "bar-value", "font-weight": 600 }, String(value))));
  });
  body.replaceChildren(svg);
}

/** Columns of finished attempts per hour, oldest on the left, in local time. */
export function hourChart(figure, hours) {
  const [width, height, left, bottom, top] = [380, 180, 34, 26, 14];
  const plotWidth = width - left - 8;
  const plotHeight = height - top - bottom;
  const most = Math.max(1, ...hours.map((hour) => hour.attempts));
  const slot = plotWidth / Math.max(hours.length, 1);
  const columnWidth = Math.min(34, slot * 0.72);
  const y = (value) => top + plotHeight - (plotHeight * value) / most;
  const svg = s("svg", { viewBox: `0 0 ${width} ${height}`, role: "img",
    "aria-label": `Finished attempts per hour: ${hours.map((hour) =>
      `${hourOf(hour.start)} ${hour.attempts}`).join(", ")}` });
  for (const value of [0, Math.ceil(most / 2), most]) {
    svg.append(s("line", { class: "grid", x1: left, x2: width - 8, y1: y(value), y2: y(value) }),
               s("text", { class: "axis", x: left - 6, y: y(value), "text-anchor": "end",
                           "dominant-baseline": "middle" }, String(value)));
  }
  const labelEvery = Math.ceil(hours.length / 8);
  hours.forEach((hour, index) => {
    const x = left + index * slot + (slot - columnWidth) / 2;
    const column = s("g", { class: "column", "data-start": hour.start, "data-value": hour.attempts },
      s("title", {}, `${hourOf(hour.start)}: ${hour.attempts} attempts`),
      s("rect", { x, y: y(hour.attempts), width: columnWidth, rx: 2, fill: "#2563eb",
                  height: top + plotHeight - y(hour.attempts) }));
    if (hour.attempts) {
      column.append(s("text", { x: x + columnWidth / 2, y: y(hour.attempts) - 4,
                                "text-anchor": "middle", class: "column-value" },
                      String(hour.attempts)));
    }
    if ((hours.length - 1 - index) % labelEvery === 0) {  // the latest hour always
      column.append(s("text", { class: "axis", x: x + columnWidth / 2, y: height - 8,
                                "text-anchor": "middle" }, hourOf(hour.start)));
    }
    svg.append(column);
  });
  figure.querySelector(".chart-body").replaceChildren(svg);
}
