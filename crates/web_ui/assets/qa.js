// The live protocol QA page of one station (issue 12): the verdicts so far from
// /api/qa, then each new one from the /api/qa/live WebSocket.
const $ = (id) => document.getElementById(id);
let station = new URLSearchParams(location.search).get("station") || "";

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, v);
  for (const c of children) node.append(c);
  return node;
}

const shown = (v) => (v === null || v === undefined ? "unknown" : Array.isArray(v) ? v.join(", ") : String(v));

function render(s) {
  const id = `qa-${s.station}-${s.series}`;
  const title = `${s.series}: ${s.verdict}` + (s.repeat > 1 ? ` (repeat ${s.repeat})` : "");
  const box = el("section", { class: "qa-series", id, "data-series": s.series, "data-verdict": s.verdict });
  box.append(el("h2", {}, el("span", { class: `qa-badge qa-${s.verdict}` }, title)));
  const against = s.check && s.check.template
    ? `template ${s.check.template.study_description} / ${s.check.template.series_description}`
    : "no template";
  box.append(el("p", { class: "muted" }, `first file ${s.first_file}, ${against}`));
  for (const skipped of s.skipped || []) box.append(el("p", { class: "muted" }, `skipped: ${skipped}`));
  if (s.error) box.append(el("p", { class: "qa-red" }, s.error));
  if (s.check) {
    const table = el("table", {}, el("tr", {}, ...["parameter", "series", "template", "tolerance", "verdict"].map((h) => el("th", {}, h))));
    for (const r of s.check.rows) {
      table.append(el("tr", { class: `qa-${r.verdict}`, "data-parameter": r.parameter, "data-verdict": r.verdict },
        el("td", {}, r.parameter), el("td", {}, shown(r.series)), el("td", {}, shown(r.template)),
        el("td", {}, r.tolerance), el("td", {}, r.verdict)));
    }
    box.append(table);
  }
  const old = document.getElementById(id);
  if (old) old.replaceWith(box); else $("qa-series").prepend(box);
}

async function load() {
  const response = await fetch(`/api/qa?station=${encodeURIComponent(station)}`, { credentials: "same-origin" });
  if (response.status === 401) {
    location.href = `/login?next=${encodeURIComponent(location.pathname + location.search)}`;
    return;
  }
  const data = await response.json();
  station = data.station;
  $("qa-station").textContent = station || "(none)";
  $("qa-series").replaceChildren();
  for (const s of data.series) render(s);
  const state = await fetch("/api/state", { credentials: "same-origin" }).then((r) => r.json()).catch(() => ({}));
  const streamers = ((state.connections || {}).streamers || []).map((s) => s.station);
  $("qa-stations").replaceChildren(...streamers.map((name) => el("a", { href: `/qa?station=${encodeURIComponent(name)}`, class: "chip" }, name)));
}

function connect() {
  const scheme = location.protocol === "https:" ? "wss:" : "ws:";
  const socket = new WebSocket(`${scheme}//${location.host}/api/qa/live?station=${encodeURIComponent(station)}`);
  socket.onopen = () => { $("qa-status").hidden = true; load(); };
  socket.onmessage = (m) => {
    const message = JSON.parse(m.data);
    if (message.type === "series") render(message.series);
    else if (message.type === "reload") load();
  };
  socket.onclose = () => {
    $("qa-status").textContent = "Live updates lost: reconnecting…";
    $("qa-status").hidden = false;
    setTimeout(connect, 2000);
  };
}

connect();
