// Values in [0, 1] fill the bar from the bottom; values in [-1, 1] (ROI feedback) fill
// it from the middle line. Dict results show their "feedback" or "value" field.
"use strict";
const bar = document.getElementById("bar");
const zero = document.getElementById("zero");
const state = document.getElementById("state");
const message = document.getElementById("message");
let signed = false;

function numberOf(value) {
  if (value !== null && typeof value === "object") {
    value = "feedback" in value ? value.feedback : value.value;
  }
  const n = Number(value);
  return Number.isFinite(n) ? n : 0;
}

function show(value) {
  if (value < 0) signed = true;
  const v = Math.max(signed ? -1 : 0, Math.min(1, value));
  if (signed) {
    zero.style.bottom = "50%";
    bar.style.bottom = v >= 0 ? "50%" : (50 + v * 50) + "%";
    bar.style.height = Math.abs(v) * 50 + "%";
    bar.style.background = v >= 0 ? "#3c9" : "#c63";
  } else {
    zero.style.bottom = "0";
    bar.style.bottom = "0";
    bar.style.height = v * 100 + "%";
  }
}

function connect() {
  const token = new URLSearchParams(location.search).get("token") || "";
  const scheme = location.protocol === "https:" ? "wss:" : "ws:";
  const ws = new WebSocket(`${scheme}//${location.host}/feedback/ws?token=${encodeURIComponent(token)}`);
  ws.onopen = () => { state.textContent = "connected"; };
  ws.onmessage = (e) => {
    const event = JSON.parse(e.data);
    if (event.type === "result") {
      show(numberOf(event.value));
      state.textContent = `run ${event.run} · TR ${event.tr}`;
      document.body.dataset.lastTr = event.tr;
      document.body.dataset.lastValue = numberOf(event.value);
    } else if (event.type === "message") {
      message.textContent = event.text;
    }
  };
  ws.onclose = () => { state.textContent = "reconnecting…"; setTimeout(connect, 1000); };
}
connect();
