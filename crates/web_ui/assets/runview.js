// The Run tab's live views (issue 10): the brain view (three orthogonal slices of the
// latest volume with the ROI outline and the t-map over its threshold), the motion plot
// (six rigid parameters and FD with its threshold) and the latency plot (issue 14:
// each TR's whole timeline stacked, from the end of its acquisition on the scanner to
// its result shown on the stimulus PC: scanner, console, link, analyser, project,
// delivery; a TR's bar grows when its delivery is acknowledged). The state comes
// with /api/state (run_view); each TR adds `motion`, `latency` and `brain_view` events,
// and the brain view's slices are fetched from /api/brain-view.
import { linesSvg, stackedBarsSvg } from "./plot.js";

const $ = (id) => document.getElementById(id);
const PARAMS = [
  ["tx", "#1f5fbf"], ["ty", "#2e9d4f"], ["tz", "#b3261e"],
  ["rx", "#7a3fbf"], ["ry", "#c77800"], ["rz", "#00838f"],
];
// Scanner (grey: not ours), console, link, analyser, project, delivery.
const STAGE_COLOURS = ["#9aa0a6", "#f6c26b", "#8ab4f8", "#1f5fbf", "#2e9d4f", "#7a3fbf"];
// Canvas pixels per voxel.
const ZOOM = 4;

let view = { motion: [], latency: [], brain: null };
let frame = 0;
let fetching = false;
let wanted = null;

// The whole run view from /api/state (after a load or reload).
export function loadRunView(runView) {
  view = { motion: runView.motion || [], latency: runView.latency || [], brain: null };
  schedule();
  if (runView.brain) fetchBrain(runView.brain);
}

// A live event; true when it was one of the run view's.
export function runViewEvent(e) {
  switch (e.type) {
    // Drawn at once (a few small SVGs), so every TR is drawn even when two arrive
    // within one frame.
    case "motion":
      upsert(view.motion, e);
      renderPlots();
      return true;
    case "latency":
      upsert(view.latency, e);
      renderPlots();
      return true;
    case "brain_view":
      fetchBrain(e);
      return true;
    case "launch":
      // A new Run starts with empty views (as the analyser's session does).
      if (e.kind === "main" && !e.outcome) {
        view = { motion: [], latency: [], brain: null };
        schedule();
      }
      return false;
    default:
      return false;
  }
}

// Adds a TR's point, or replaces it when the state already had it (events that
// arrived while the state loaded).
function upsert(points, e) {
  const i = points.findIndex((p) => p.run === e.run && p.tr === e.tr);
  if (i >= 0) points[i] = e; else points.push(e);
}

function schedule() {
  if (!frame) frame = requestAnimationFrame(() => { frame = 0; renderPlots(); });
}

// Only the latest run of the launch is drawn (a launch may hold several runs).
function latestRun(points) {
  const run = points.length ? points[points.length - 1].run : null;
  return points.filter((p) => p.run === run);
}

function renderPlots() {
  const motion = latestRun(view.motion);
  const latency = latestRun(view.latency);
  const last = (points) => (points.length ? points[points.length - 1].tr : "");
  const run = motion.length ? motion[0].run : "";
  const motionBox = $("motion-plot");
  motionBox.dataset.tr = last(motion);
  motionBox.dataset.points = motion.length;
  const shown = (points, title) => {
    if (points.length) return false;
    const p = document.createElement("p");
    p.className = "muted";
    p.textContent = title;
    return p;
  };
  const empty = shown(motion, "No motion yet: the project's preprocessing shows it here each TR.");
  if (empty) motionBox.replaceChildren(empty);
  else {
    const trs = motion.map((p) => p.tr);
    const series = (from, to) => PARAMS.slice(from, to).map(([name, colour], k) => ({
      name, colour, points: motion.map((p, i) => [trs[i], p.params[from + k]]),
    }));
    const threshold = motion[motion.length - 1].fd_threshold_mm;
    motionBox.replaceChildren(
      linesSvg(series(0, 3), { id: "mm", title: `Translation — run ${run}`, x_label: "TR", y_label: "mm" },
        { "data-kind": "translation" }),
      linesSvg(series(3, 6), { id: "deg", title: `Rotation — run ${run}`, x_label: "TR", y_label: "degrees" },
        { "data-kind": "rotation" }),
      linesSvg([
        { name: "FD", colour: "#1b1f24", points: motion.map((p) => [p.tr, p.fd_mm]) },
        { name: `threshold ${threshold} mm`, colour: "#b3261e", dashed: true,
          points: [[trs[0], threshold], [trs[trs.length - 1], threshold]] },
      ], { id: "fd", title: `Framewise displacement — run ${run}`, x_label: "TR", y_label: "FD (mm)",
        y_include: [0, threshold * 1.2] }, { "data-kind": "fd" }),
    );
  }
  const latencyBox = $("latency-plot");
  latencyBox.dataset.tr = last(latency);
  latencyBox.dataset.points = latency.length;
  const noLatency = shown(latency, "No TR timed yet: each TR's timeline appears here when its result is made.");
  if (noLatency) latencyBox.replaceChildren(noLatency);
  else {
    const stages = latency[latency.length - 1].stages;
    // Each stage's median in the legend, so the scanner's own delay (often hundreds of
    // ms) reads next to ours (a few ms) even where our parts are thin bars.
    const names = stages.map((s) => s.name);
    const legend = names.map((n, i) => `${n} ${median(latency.map((l) => l.stages[i]?.ms ?? 0)).toFixed(1)} ms`);
    const bars = latency.map((l) => ({ tr: l.tr, parts: l.stages.map((s) => s.ms) }));
    const total = median(latency.map((l) => l.total_ms));
    latencyBox.replaceChildren(stackedBarsSvg(bars, names, STAGE_COLOURS, {
      id: "latency", title: `Timeline per TR, acquisition to shown (median ${total.toFixed(1)} ms) — run ${latency[0].run}`,
      x_label: "TR", y_label: "ms", legend,
    }, { "data-kind": "latency" }));
  }
}

function median(values) {
  return [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];
}

// Fetches the brain view of `which` ({run, tr}); one request at a time, the newest wins.
async function fetchBrain(which) {
  wanted = which;
  if (fetching) return;
  fetching = true;
  try {
    while (wanted) {
      wanted = null;
      const response = await fetch("/api/brain-view");
      if (!response.ok) break;
      const brain = await response.json();
      if (brain) drawBrain(brain);
    }
  } catch (e) {
    $("brain-view").dataset.error = e.message;
  } finally {
    fetching = false;
  }
}

// Red to yellow for t over the threshold, blue for t under minus it.
function tColour(t, threshold) {
  const a = Math.min(1, (Math.abs(t) - threshold) / (2 * threshold || 1));
  return t > 0 ? [255, Math.round(80 + 175 * a), 0] : [0, Math.round(120 + 135 * a), 255];
}

function drawSlice(slice, threshold) {
  const canvas = document.createElement("canvas");
  canvas.width = slice.width * ZOOM;
  canvas.height = slice.height * ZOOM;
  canvas.className = "slice";
  canvas.dataset.plane = slice.plane;
  canvas.setAttribute("role", "img");
  canvas.setAttribute("aria-label", `${slice.plane} slice`);
  const ctx = canvas.getContext("2d");
  const image = ctx.createImageData(slice.width, slice.height);
  const { width, height } = slice;
  const roi = (x, y) => x >= 0 && y >= 0 && x < width && y < height && slice.roi[y * width + x] === 1;
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const i = y * width + x;
      // Row 0 is the bottom of the slice: draw it last.
      const o = ((height - 1 - y) * width + x) * 4;
      let rgb = [slice.grey[i], slice.grey[i], slice.grey[i]];
      const t = slice.t.length ? slice.t[i] : 0;
      if (threshold > 0 && Math.abs(t) > threshold) rgb = tColour(t, threshold);
      image.data.set([...rgb, 255], o);
    }
  }
  // Drawn small, then scaled up without smoothing (one voxel = ZOOM pixels).
  const small = document.createElement("canvas");
  small.width = width;
  small.height = height;
  small.getContext("2d").putImageData(image, 0, 0);
  ctx.imageSmoothingEnabled = false;
  ctx.drawImage(small, 0, 0, canvas.width, canvas.height);
  // The ROI's outline: the voxel edges between ROI and non-ROI.
  if (slice.roi.length) {
    ctx.strokeStyle = "#00e5ff";
    ctx.lineWidth = 1.5;
    ctx.beginPath();
    const top = (y) => (height - 1 - y) * ZOOM;
    for (let y = 0; y < height; y++) {
      for (let x = 0; x < width; x++) {
        if (!roi(x, y)) continue;
        const px = x * ZOOM, py = top(y);
        if (!roi(x - 1, y)) { ctx.moveTo(px, py); ctx.lineTo(px, py + ZOOM); }
        if (!roi(x + 1, y)) { ctx.moveTo(px + ZOOM, py); ctx.lineTo(px + ZOOM, py + ZOOM); }
        if (!roi(x, y + 1)) { ctx.moveTo(px, py); ctx.lineTo(px + ZOOM, py); }
        if (!roi(x, y - 1)) { ctx.moveTo(px, py + ZOOM); ctx.lineTo(px + ZOOM, py + ZOOM); }
      }
    }
    ctx.stroke();
  }
  return canvas;
}

function drawBrain(brain) {
  const box = $("brain-view");
  const [i, j, k] = brain.position;
  const caption = document.createElement("p");
  caption.className = "muted brain-caption";
  const overlay = brain.t_threshold > 0 ? `, t-map over |t| ${brain.t_threshold}` : "";
  caption.textContent = `Run ${brain.run}, TR ${brain.tr}: slices through voxel (${i}, ${j}, ${k})` +
    `${brain.slices[0].roi.length ? ", ROI outlined" : ""}${overlay}`;
  const slices = document.createElement("div");
  slices.className = "slices";
  for (const slice of brain.slices) {
    const figure = document.createElement("figure");
    const label = document.createElement("figcaption");
    label.textContent = slice.plane;
    figure.append(drawSlice(slice, brain.t_threshold), label);
    slices.append(figure);
  }
  box.replaceChildren(caption, slices);
  box.dataset.tr = brain.tr;
  box.dataset.run = brain.run;
}
