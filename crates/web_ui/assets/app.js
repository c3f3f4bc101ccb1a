// The experimenter's page. The state comes from GET /api/state (so a reload loses
// nothing); changes arrive on one WebSocket (/api/live); every POST carries the CSRF
// token from the state. Plain DOM, no framework; text is always set with
// textContent, never parsed as HTML.
import { plotSvg } from "./plot.js";
import { loadRunView, runViewEvent } from "./runview.js";

const $ = (id) => document.getElementById(id);
const LAUNCH_FILES = ["results.tsv", "config.toml", "log.txt", "plot.tsv", "status.json"];
const MAX_LOG_NODES = 5000;

let state = null;
let socket = null;
let queued = [];
let loggingOut = false;
let lastLogSeq = 0;
let lastActivity = Date.now();
let reportedActivity = Date.now();
let plotFrame = 0;
let files = { station: "", dir: "" };

// ------------------------------------------------------------------ server calls

function toLogin() {
  loggingOut = true;
  location.assign("/login?next=" + encodeURIComponent("/" + location.hash));
}

async function api(method, path, body) {
  const headers = {};
  if (method !== "GET") {
    headers["X-CSRF-Token"] = state ? state.csrf : "";
    headers["Content-Type"] = "application/json";
  }
  const response = await fetch(path, {
    method, headers, body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (response.status === 401) {
    toLogin();
    throw new Error("not logged in");
  }
  const data = await response.json().catch(() => ({}));
  if (!response.ok) throw new Error(data.error || `the analyser answered ${response.status}`);
  return data;
}

function connect() {
  const scheme = location.protocol === "https:" ? "wss:" : "ws:";
  state = null;
  queued = [];
  socket = new WebSocket(`${scheme}//${location.host}/api/live`);
  socket.onopen = loadState;
  socket.onmessage = (m) => {
    const event = JSON.parse(m.data);
    if (state) onEvent(event); else queued.push(event);
  };
  socket.onclose = () => {
    if (loggingOut) return;
    liveStatus("Live updates lost: reconnecting…");
    setTimeout(connect, 2000);
  };
}

// Loads the whole state once the socket is open, then applies what arrived meanwhile.
async function loadState() {
  try {
    state = await api("GET", "/api/state");
  } catch (e) {
    liveStatus(`Cannot load the session: ${e.message}`);
    return;
  }
  liveStatus(null);
  lastLogSeq = 0;
  for (const line of state.logs) lastLogSeq = Math.max(lastLogSeq, line.seq);
  renderAll();
  for (const event of queued) onEvent(event);
  queued = [];
}

function liveStatus(text) {
  $("live-status").hidden = !text;
  $("live-status").textContent = text || "";
}

// ------------------------------------------------------------------ live events

function onEvent(e) {
  if (runViewEvent(e)) return;
  switch (e.type) {
    case "plot": {
      const points = (state.plots[e.run] ||= []);
      const i = points.findIndex((p) => p[0] >= e.tr);
      if (i >= 0 && points[i][0] === e.tr) points[i][1] = e.value;
      else if (i >= 0) points.splice(i, 0, [e.tr, e.value]);
      else points.push([e.tr, e.value]);
      schedulePlots();
      break;
    }
    case "plot_cleared":
      if (e.run === null || e.run === undefined) state.plots = {};
      else delete state.plots[e.run];
      schedulePlots();
      break;
    case "log":
      if (e.seq <= lastLogSeq) break;
      lastLogSeq = e.seq;
      state.logs.push(e);
      appendLog(e);
      if (isOutput(e, shownLaunch())) appendOutput(e);
      break;
    case "launch": {
      const i = state.launches.findIndex((l) => l.number === e.number);
      const before = shownLaunch();
      if (i >= 0) state.launches[i] = e; else state.launches.push(e);
      renderRun();
      if (shownLaunch() !== before) renderOutput();
      renderHistory();
      break;
    }
    case "user_error":
      state.user_error = e.text;
      renderUserError();
      break;
    case "result":
      state.lastResult = e;
      renderRun();
      break;
    case "settings":
      state.settings = e.settings;
      state.plot = e.plot;
      renderSettings();
      schedulePlots();
      break;
    case "connections":
      state.connections = e;
      renderConnections();
      renderStations();
      break;
    case "reload":
      loadState();
      break;
    case "logged_out":
      toLogin();
      break;
  }
}

// ------------------------------------------------------------------ rendering

function renderAll() {
  $("project").textContent = `project ${state.project}`;
  $("user").textContent = state.user;
  $("session-dir").textContent = state.session_dir;
  renderConnections();
  renderUserError();
  renderRun();
  renderOutput();
  renderPlots();
  loadRunView(state.run_view);
  renderSettings();
  renderLogs();
  renderStations();
  renderHistory();
}

function chip(text, ok, attrs) {
  const span = document.createElement("span");
  span.className = `chip ${ok ? "ok" : "bad"}`;
  span.textContent = text;
  for (const [k, v] of Object.entries(attrs || {})) span.setAttribute(k, v);
  return span;
}

function renderConnections() {
  const c = state.connections;
  const box = $("connections");
  box.replaceChildren();
  const streamers = c.streamers || [];
  if (streamers.length === 0) {
    box.append(chip(c.data_station ? `streamer ${c.data_station}: not connected` : "no streamer connected", false,
      { "data-kind": "streamer" }));
  }
  for (const s of streamers) {
    box.append(chip(`streamer ${s.station}: ${s.connected ? "connected" : "disconnected"}`, s.connected,
      { "data-kind": "streamer", "data-station": s.station, "data-connected": s.connected, title: s.peer || "" }));
  }
  const listeners = c.listeners || [];
  if (listeners.length === 0) box.append(chip("no listener connected", false, { "data-kind": "listener" }));
  for (const l of listeners) {
    box.append(chip(`listener ${l.name}: ${l.connected ? "connected" : "disconnected"}`, l.connected,
      { "data-kind": "listener", "data-connected": l.connected }));
  }
}

function renderUserError() {
  $("user-error").hidden = !state.user_error;
  $("user-error").textContent = state.user_error ? `Error: ${state.user_error}` : "";
}

function running() {
  return state.launches.find((l) => l.outcome === null || l.outcome === undefined);
}

// The launch whose output the Run tab shows: the running one, else the last.
function shownLaunch() {
  const r = running();
  if (r) return r.number;
  const last = state.launches[state.launches.length - 1];
  return last ? last.number : null;
}

function time(secs) {
  return secs ? new Date(secs * 1000).toLocaleTimeString() : "";
}

function renderRun() {
  const r = running();
  for (const id of ["run", "initialize", "finalize"]) $(id).disabled = !!r;
  $("stop").disabled = !r;
  const status = $("run-status");
  if (r) {
    status.className = "run-status running";
    status.textContent = `Running: ${r.kind} script (launch ${r.number}, runs ${r.runs.join(", ")}) since ${time(r.started_at)}`;
  } else {
    const last = state.launches[state.launches.length - 1];
    status.className = `run-status ${last ? (last.succeeded ? "good" : "failed") : ""}`;
    status.textContent = last
      ? `Idle. Last: ${last.kind} script (launch ${last.number}) ended: ${last.outcome}`
      : "Idle. Nothing run yet in this session.";
  }
  status.dataset.state = r ? "running" : "idle";
  if (state.lastResult) {
    const v = state.lastResult;
    const value = typeof v.value === "number" ? Number(v.value.toPrecision(6)) : JSON.stringify(v.value);
    status.textContent += ` · last result: run ${v.run} TR ${v.tr} = ${value}`;
  }
}

function isOutput(line, launch) {
  return launch !== null && line.launch === launch && ["user", "stdout", "stderr", "error"].includes(line.kind);
}

function renderOutput() {
  const launch = shownLaunch();
  const out = $("output");
  out.replaceChildren();
  for (const line of state.logs) if (isOutput(line, launch)) appendOutput(line);
}

function appendOutput(line) {
  const out = $("output");
  const atEnd = out.scrollTop + out.clientHeight >= out.scrollHeight - 4;
  const span = document.createElement("span");
  span.className = `line ${line.kind}`;
  span.textContent = line.text + "\n";
  out.append(span);
  while (out.childNodes.length > MAX_LOG_NODES) out.firstChild.remove();
  if (atEnd) out.scrollTop = out.scrollHeight;
}

function schedulePlots() {
  if (!plotFrame) plotFrame = requestAnimationFrame(() => { plotFrame = 0; renderPlots(); });
}

function renderPlots() {
  const box = $("plots");
  box.replaceChildren();
  const runs = Object.keys(state.plots).map(Number).sort((a, b) => a - b);
  if (runs.length === 0) {
    const p = document.createElement("p");
    p.className = "muted";
    p.textContent = "No data yet: points appear here as the project plots them.";
    box.append(p);
  }
  for (const run of runs) box.append(plotSvg(run, state.plots[run], state.plot));
}

function renderSettings() {
  const body = $("settings-body");
  body.replaceChildren();
  for (const field of state.settings) {
    const row = document.createElement("tr");
    const label = document.createElement("label");
    const id = `setting-${field.key}`;
    label.htmlFor = id;
    label.textContent = field.key;
    const input = document.createElement("input");
    input.id = id;
    input.name = field.key;
    input.dataset.key = field.key;
    input.dataset.kind = field.kind;
    input.dataset.original = field.text;
    if (field.kind === "boolean") {
      input.type = "checkbox";
      input.checked = field.text === "true";
    } else {
      input.type = field.kind === "integer" || field.kind === "float" ? "number" : "text";
      if (field.kind === "integer") input.step = "1";
      if (field.kind === "float") input.step = "any";
      input.value = field.text;
      input.readOnly = field.kind === "other";
    }
    const kind = document.createElement("span");
    kind.className = "muted";
    kind.textContent = field.kind === "array" ? "list, comma separated" : field.kind;
    const error = document.createElement("span");
    error.className = "error-text";
    error.id = `error-${field.key}`;
    const cells = [label, input, kind, error].map((node) => {
      const td = document.createElement("td");
      td.append(node);
      return td;
    });
    row.append(...cells);
    body.append(row);
  }
}

function inputText(input) {
  return input.type === "checkbox" ? String(input.checked) : input.value;
}

async function saveSettings(event) {
  event.preventDefault();
  const message = $("settings-message");
  const inputs = [...$("settings-body").querySelectorAll("input")]
    .filter((i) => !i.readOnly && inputText(i) !== i.dataset.original);
  if (inputs.length === 0) {
    message.textContent = "Nothing changed.";
    return;
  }
  let failed = 0;
  let latest = null;
  for (const input of inputs) {
    const error = $(`error-${input.dataset.key}`);
    try {
      latest = await api("POST", "/api/settings", { key: input.dataset.key, value: inputText(input) });
      error.textContent = "";
    } catch (e) {
      failed += 1;
      error.textContent = e.message;
    }
  }
  if (failed === 0) {
    if (latest) { state.settings = latest.settings; state.plot = latest.plot; }
    renderSettings();
    renderPlots();
    message.className = "good";
    message.textContent = `Saved ${inputs.length} change(s): the next Run uses them.`;
  } else {
    message.className = "error-text";
    message.textContent = `${failed} value(s) not saved: see the fields.`;
  }
}

function logNode(line) {
  const row = document.createElement("div");
  row.className = `log ${line.kind}`;
  row.dataset.kind = line.kind;
  const at = document.createElement("span");
  at.className = "at";
  at.textContent = time(line.at);
  const kind = document.createElement("span");
  kind.className = "kind";
  kind.textContent = line.kind;
  const text = document.createElement("span");
  text.className = "text";
  text.textContent = line.text;
  row.append(at, kind, text);
  return row;
}

function renderLogs() {
  const box = $("logs");
  box.replaceChildren(...state.logs.slice(-MAX_LOG_NODES).map(logNode));
  applyLogFilter();
  box.scrollTop = box.scrollHeight;
}

function appendLog(line) {
  const box = $("logs");
  const atEnd = box.scrollTop + box.clientHeight >= box.scrollHeight - 4;
  const node = logNode(line);
  node.hidden = !shownKinds().has(line.kind);
  box.append(node);
  while (box.childNodes.length > MAX_LOG_NODES) box.firstChild.remove();
  if (atEnd) box.scrollTop = box.scrollHeight;
}

function shownKinds() {
  return new Set([...document.querySelectorAll(".log-filter input:checked")].map((i) => i.dataset.kind));
}

function applyLogFilter() {
  const kinds = shownKinds();
  for (const row of $("logs").children) row.hidden = !kinds.has(row.dataset.kind);
}

function renderStations() {
  const select = $("station");
  const connected = (state.connections.streamers || []).filter((s) => s.connected).map((s) => s.station);
  const current = select.value;
  select.replaceChildren(...connected.map((s) => new Option(s, s)));
  if (connected.length === 0) {
    select.append(new Option("no streamer connected", ""));
    $("files-list").replaceChildren();
    files.station = "";
  } else if (connected.includes(current)) {
    select.value = current;
  } else {
    select.value = connected[0];
  }
}

async function browse(dir) {
  const station = $("station").value;
  const message = $("files-message");
  if (!station) return;
  message.textContent = "";
  let listing;
  try {
    listing = await api("GET", `/api/files?station=${encodeURIComponent(station)}&dir=${encodeURIComponent(dir)}`);
  } catch (e) {
    message.className = "error-text";
    message.textContent = e.message;
    return;
  }
  files = { station, dir: listing.dir };
  $("files-dir").textContent = listing.dir || "allowed folders";
  const list = $("files-list");
  list.replaceChildren();
  const folder = (label, target) => {
    const li = document.createElement("li");
    const b = document.createElement("button");
    b.type = "button";
    b.className = "folder";
    b.textContent = label;
    b.addEventListener("click", () => browse(target));
    li.append(b);
    list.append(li);
  };
  if (listing.parent !== null) folder("⬑ up", listing.parent);
  for (const d of listing.dirs) folder(`📁 ${d}`, d);
  for (const f of listing.files) {
    const li = document.createElement("li");
    const label = document.createElement("label");
    const box = document.createElement("input");
    box.type = "checkbox";
    box.value = f;
    label.append(box, ` ${f.split("/").pop()}`);
    li.append(label);
    list.append(li);
  }
  if (listing.dirs.length === 0 && listing.files.length === 0) {
    const li = document.createElement("li");
    li.className = "muted";
    li.textContent = "empty folder";
    list.append(li);
  }
}

async function copyFiles() {
  const paths = [...$("files-list").querySelectorAll("input:checked")].map((i) => i.value);
  const message = $("files-message");
  if (paths.length === 0) {
    message.className = "error-text";
    message.textContent = "Choose files to copy first.";
    return;
  }
  try {
    const r = await api("POST", "/api/files/copy", { station: files.station, paths });
    message.className = r.failed.length ? "error-text" : "good";
    message.textContent = `Copied ${r.copied.length} file(s) into ${r.into}` +
      (r.failed.length ? `; ${r.failed.length} failed: ${r.failed.map((f) => `${f.path}: ${f.error}`).join("; ")}` : "");
  } catch (e) {
    message.className = "error-text";
    message.textContent = e.message;
  }
}

function renderHistory() {
  const body = $("history-body");
  body.replaceChildren();
  for (const l of [...state.launches].reverse()) {
    const row = document.createElement("tr");
    const outcome = l.outcome ?? "running";
    const cells = [String(l.number), l.kind, l.runs.join(", "), time(l.started_at), time(l.ended_at), outcome];
    for (const text of cells) {
      const td = document.createElement("td");
      td.textContent = text;
      row.append(td);
    }
    row.lastChild.className = l.succeeded === false ? "failed" : l.succeeded ? "good" : "running";
    const links = document.createElement("td");
    for (const name of LAUNCH_FILES) {
      const a = document.createElement("a");
      a.href = `/api/launches/${l.number}/${name}`;
      a.download = `launch-${String(l.number).padStart(3, "0")}-${l.kind}-${name}`;
      a.textContent = name;
      links.append(a, " ");
    }
    row.append(links);
    body.append(row);
  }
  if (state.launches.length === 0) {
    const row = document.createElement("tr");
    const td = document.createElement("td");
    td.colSpan = 7;
    td.className = "muted";
    td.textContent = "No runs yet in this session.";
    row.append(td);
    body.append(row);
  }
}

// ------------------------------------------------------------------ tabs and actions

const TABS = ["run", "settings", "logs", "files", "history"];

function showTab(name, focus) {
  if (!TABS.includes(name)) name = "run";
  for (const t of TABS) {
    const tab = $(`tab-${t}`);
    tab.setAttribute("aria-selected", String(t === name));
    tab.tabIndex = t === name ? 0 : -1;
    $(`panel-${t}`).hidden = t !== name;
  }
  if (focus) $(`tab-${name}`).focus();
  if (location.hash !== `#${name}`) history.replaceState(null, "", `#${name}`);
  if (name === "files" && state && !files.station) browse("");
  if (name === "logs") $("logs").scrollTop = $("logs").scrollHeight;
}

function setUp() {
  for (const t of TABS) {
    const tab = $(`tab-${t}`);
    tab.addEventListener("click", () => showTab(t));
    tab.addEventListener("keydown", (e) => {
      const i = TABS.indexOf(t);
      const to = { ArrowRight: i + 1, ArrowLeft: i - 1, Home: 0, End: TABS.length - 1 }[e.key];
      if (to === undefined) return;
      e.preventDefault();
      showTab(TABS[(to + TABS.length) % TABS.length], true);
    });
  }
  showTab(location.hash.slice(1));
  for (const id of ["run", "initialize", "finalize"]) {
    $(id).addEventListener("click", async () => {
      $("run-message").hidden = true;
      try {
        await api("POST", "/api/run", { kind: $(id).dataset.kind });
      } catch (e) {
        $("run-message").textContent = e.message;
        $("run-message").hidden = false;
      }
    });
  }
  $("stop").addEventListener("click", async () => {
    $("stop").disabled = true;
    $("run-status").textContent = "Stopping…";
    try {
      await api("POST", "/api/stop");
    } catch (e) {
      $("run-message").textContent = e.message;
      $("run-message").hidden = false;
    }
  });
  $("clear-plots").addEventListener("click", () => api("POST", "/api/plots/clear", {}).catch(() => {}));
  $("settings-form").addEventListener("submit", saveSettings);
  $("reset-settings").addEventListener("click", async () => {
    try {
      const r = await api("POST", "/api/settings/reset");
      state.settings = r.settings;
      state.plot = r.plot;
      renderSettings();
      renderPlots();
      $("settings-message").className = "good";
      $("settings-message").textContent = "Back to the file's values.";
    } catch (e) {
      $("settings-message").className = "error-text";
      $("settings-message").textContent = e.message;
    }
  });
  for (const box of document.querySelectorAll(".log-filter input")) box.addEventListener("change", applyLogFilter);
  $("station").addEventListener("change", () => browse(""));
  $("copy-files").addEventListener("click", copyFiles);
  $("logout").addEventListener("click", async () => {
    loggingOut = true;
    try { await api("POST", "/api/logout"); } catch (e) { /* the session is gone either way */ }
    location.assign("/login");
  });
  // The session idles out after 30 minutes without use; using the page counts.
  for (const kind of ["keydown", "pointerdown", "pointermove", "wheel"]) {
    document.addEventListener(kind, () => { lastActivity = Date.now(); }, { passive: true });
  }
  setInterval(() => {
    if (lastActivity > reportedActivity && socket && socket.readyState === WebSocket.OPEN) {
      socket.send("active");
      reportedActivity = Date.now();
    }
  }, 60000);
  connect();
}

setUp();

// Protocol QA (issue 12): a banner on the Run tab while the project station's newest
// series deviates from its reference protocol (details on the station's QA page).
function watchProtocolQa() {
  const scheme = location.protocol === "https:" ? "wss:" : "ws:";
  const socket = new WebSocket(`${scheme}//${location.host}/api/qa/live`);
  socket.onmessage = (m) => {
    const { type, series: s } = JSON.parse(m.data);
    if (type !== "series") return;
    const red = (s.check ? s.check.rows : []).filter((r) => r.verdict === "red").map((r) => r.parameter);
    const banner = $("qa-banner");
    banner.hidden = s.verdict !== "red";
    banner.textContent = `Protocol QA: series ${s.series} deviates from its protocol (${red.join(", ")}). `;
    const link = document.createElement("a");
    link.href = `/qa?station=${encodeURIComponent(s.station)}`;
    link.textContent = "Details";
    banner.append(link);
  };
  socket.onclose = () => setTimeout(watchProtocolQa, 5000);
}
watchProtocolQa();
