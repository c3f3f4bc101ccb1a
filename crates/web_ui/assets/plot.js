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
  const xr = range(cfg.x_range, points.map((p) => p[0]), 0.05);
  const yr = range(cfg.y_range, points.map((p) => p[1]), 0.1);
  const { svg, g, px, py } = frame(
    { id: `run-${run}`, title: `${cfg.title || "Run"} — run ${run}`, x_label: cfg.x_label, y_label: cfg.y_label },
    xr, yr,
    { "data-run": run, "aria-label": `${cfg.title || "Plot"}, run ${run}: ${points.length} points` },
  );
  if (points.length > 1) {
    g.append(el("polyline", { points: points.map((p) => `${px(p[0])},${py(p[1])}`).join(" "), class: "line" }));
  }
  for (const [tr, value] of points) {
    const dot = el("circle", { cx: px(tr), cy: py(value), r: 3.5, class: "point", "data-tr": tr });
    dot.append(el("title", {}, `TR ${tr}: ${value}`));
    g.append(dot);
  }
  return svg;
}

// The frame of a plot: axes with ticks, title and labels, and a clipped group to draw
// into. Returns { svg, g, px, py }.
function frame(cfg, xr, yr, attrs) {
  const [x0, x1] = xr, [y0, y1] = yr;
  const px = (x) => M.left + ((x - x0) / (x1 - x0)) * (W - M.left - M.right);
  const py = (y) => H - M.bottom - ((y - y0) / (y1 - y0)) * (H - M.top - M.bottom);
  const svg = el("svg", { viewBox: `0 0 ${W} ${H}`, class: "plot", role: "img", ...attrs });
  const clip = `clip-${cfg.id}`;
  const defs = el("defs");
  const clipPath = el("clipPath", { id: clip });
  clipPath.append(el("rect", { x: M.left, y: M.top, width: W - M.left - M.right, height: H - M.top - M.bottom }));
  defs.append(clipPath);
  svg.append(defs);
  svg.append(el("text", { x: W / 2, y: 18, class: "plot-title", "text-anchor": "middle" }, cfg.title));
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
  svg.append(g);
  return { svg, g, px, py };
}

// Legend rows of (name, colour) at the top right, inside the frame, in reading order:
// entries that do not fit in a row's width go on the next row.
function legend(svg, entries) {
  const right = W - M.right - 6;
  const span = (name) => name.length * 6.2 + 4 + 18;
  const rows = [[]];
  let used = 0;
  for (const entry of entries) {
    if (rows[rows.length - 1].length > 0 && used + span(entry[0]) > right - M.left) {
      rows.push([]);
      used = 0;
    }
    rows[rows.length - 1].push(entry);
    used += span(entry[0]);
  }
  rows.forEach((row, r) => {
    const y = M.top + 14 + 16 * r;
    let x = right;
    for (const [name, colour] of [...row].reverse()) {
      svg.append(el("text", { x, y, "text-anchor": "end", class: "legend" }, name));
      x -= name.length * 6.2 + 4;
      svg.append(el("rect", { x: x - 10, y: y - 9, width: 10, height: 10, fill: colour }));
      x -= 18;
    }
  });
}

// Several named lines over TR: series [{name, colour, points: [[tr, v], ...], dashed}];
// cfg: {id, title, x_label, y_label}; attrs: extra attributes of the <svg>.
export function linesSvg(series, cfg, attrs) {
  const all = series.flatMap((s) => s.points);
  const xr = range(null, all.map((p) => p[0]), 0.03);
  const yr = range(null, all.map((p) => p[1]).concat(cfg.y_include || []), 0.1);
  const { svg, g, px, py } = frame(cfg, xr, yr, attrs);
  for (const s of series) {
    if (s.points.length === 0) continue;
    const attrs = { points: s.points.map((p) => `${px(p[0])},${py(p[1])}`).join(" "), class: "series", stroke: s.colour };
    if (s.dashed) attrs["stroke-dasharray"] = "6 4";
    g.append(el("polyline", attrs));
  }
  legend(svg, series.map((s) => [s.name, s.colour]));
  return svg;
}

// Stacked bars over TR: bars [{tr, parts: [v, ...]}], names and colours per part.
export function stackedBarsSvg(bars, names, colours, cfg, attrs) {
  const totals = bars.map((b) => b.parts.reduce((a, v) => a + Math.max(v, 0), 0));
  const xr = range(null, bars.map((b) => b.tr), 0.03);
  // Headroom for the legend (two rows when it carries long names).
  const yr = [0, Math.max(1, ...totals) * (cfg.legend ? 1.35 : 1.15)];
  const { svg, g, px, py } = frame(cfg, xr, yr, attrs);
  const width = Math.max(2, Math.min(14, (W - M.left - M.right) / Math.max(1, bars.length) * 0.7));
  for (const b of bars) {
    let base = 0;
    b.parts.forEach((v, i) => {
      const h = Math.max(v, 0);
      const rect = el("rect", {
        x: px(b.tr) - width / 2, y: py(base + h), width, height: Math.max(0, py(base) - py(base + h)),
        fill: colours[i % colours.length], "data-tr": b.tr,
      });
      rect.append(el("title", {}, `TR ${b.tr}: ${names[i]} ${v.toFixed(1)} ms`));
      g.append(rect);
      base += h;
    });
  }
  legend(svg, (cfg.legend || names).map((n, i) => [n, colours[i % colours.length]]));
  return svg;
}
