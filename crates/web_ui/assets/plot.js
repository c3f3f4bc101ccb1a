// A small SVG line plot: one run's (TR, value) points with axes, ticks, title and
// labels. Fixed ranges come from the settings (plotXRangeLow/High, ...); without them
// the range fits the data.

const SVG = "http://www.w3.org/2000/svg";
const W = 640, H = 280;
const M = { left: 64, right: 16, top: 30, bottom: 44 };

function el(name, attrs, text) {
  const node = document.createElementNS(SVG, name);
  for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, v);
  if (text !== undefined) node.textContent = text;
  return node;
}

// About `count` round tick values covering [lo, hi].
function ticks(lo, hi, count) {
  const span = hi - lo;
  if (!(span > 0)) return [lo];
  const raw = span / count;
  const mag = Math.pow(10, Math.floor(Math.log10(raw)));
  const step = [1, 2, 5, 10].map((m) => m * mag).find((s) => s >= raw) || raw;
  const out = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9; v += step) {
    out.push(Math.abs(v) < step * 1e-9 ? 0 : v);
  }
  return out;
}

function label(v) {
  const a = Math.abs(v);
  if (a !== 0 && (a >= 1e5 || a < 1e-3)) return v.toExponential(1);
  return String(Math.round(v * 1000) / 1000);
}

function range(fixed, values, pad) {
  if (fixed) return fixed;
  if (values.length === 0) return [0, 1];
  let lo = Math.min(...values), hi = Math.max(...values);
  if (lo === hi) { lo -= 1; hi += 1; }
  const p = (hi - lo) * pad;
  return [lo - p, hi + p];
}

// Draws run `run`'s points into a new <svg>; cfg: {title, x_label, y_label, x_range, y_range}.
export function plotSvg(run, points, cfg) {
  const [x0, x1] = range(cfg.x_range, points.map((p) => p[0]), 0.05);
  const [y0, y1] = range(cfg.y_range, points.map((p) => p[1]), 0.1);
  const px = (x) => M.left + ((x - x0) / (x1 - x0)) * (W - M.left - M.right);
  const py = (y) => H - M.bottom - ((y - y0) / (y1 - y0)) * (H - M.top - M.bottom);
  const svg = el("svg", {
    viewBox: `0 0 ${W} ${H}`, class: "plot", role: "img", "data-run": run,
    "aria-label": `${cfg.title || "Plot"}, run ${run}: ${points.length} points`,
  });
  const clip = `clip-run-${run}`;
  const defs = el("defs");
  const clipPath = el("clipPath", { id: clip });
  clipPath.append(el("rect", { x: M.left, y: M.top, width: W - M.left - M.right, height: H - M.top - M.bottom }));
  defs.append(clipPath);
  svg.append(defs);
  svg.append(el("text", { x: W / 2, y: 18, class: "plot-title", "text-anchor": "middle" },
    `${cfg.title || "Run"} — run ${run}`));
  for (const t of ticks(x0, x1, 10)) {
    svg.append(el("line", { x1: px(t), x2: px(t), y1: M.top, y2: H - M.bottom, class: "grid" }));
    svg.append(el("text", { x: px(t), y: H - M.bottom + 16, "text-anchor": "middle", class: "tick" }, label(t)));
  }
  for (const t of ticks(y0, y1, 5)) {
    svg.append(el("line", { x1: M.left, x2: W - M.right, y1: py(t), y2: py(t), class: "grid" }));
    svg.append(el("text", { x: M.left - 6, y: py(t) + 4, "text-anchor": "end", class: "tick" }, label(t)));
  }
  svg.append(el("rect", { x: M.left, y: M.top, width: W - M.left - M.right, height: H - M.top - M.bottom, class: "frame" }));
  svg.append(el("text", { x: (M.left + W - M.right) / 2, y: H - 8, "text-anchor": "middle", class: "axis-label" }, cfg.x_label || ""));
  svg.append(el("text", {
    x: 14, y: (M.top + H - M.bottom) / 2, "text-anchor": "middle", class: "axis-label",
    transform: `rotate(-90 14 ${(M.top + H - M.bottom) / 2})`,
  }, cfg.y_label || ""));
  const g = el("g", { "clip-path": `url(#${clip})` });
  if (points.length > 1) {
    g.append(el("polyline", { points: points.map((p) => `${px(p[0])},${py(p[1])}`).join(" "), class: "line" }));
  }
  for (const [tr, value] of points) {
    const dot = el("circle", { cx: px(tr), cy: py(value), r: 3.5, class: "point", "data-tr": tr });
    dot.append(el("title", {}, `TR ${tr}: ${value}`));
    g.append(dot);
  }
  svg.append(g);
  return svg;
}
