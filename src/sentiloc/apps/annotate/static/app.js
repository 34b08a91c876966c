// sentiloc annotate: point labels (one click per sentiment segment) with the keyboard.
// Every change goes to the server, which answers only once it is on disk; the page then redraws
// from the server's answer, so what is shown is what is saved.
"use strict";

const annotator = new URLSearchParams(location.search).get("annotator");
const $ = (id) => document.getElementById(id);
const video = $("video");
const canvas = $("timeline");
const state = { session: null, index: null, marks: [], othersClicks: 0, model: null, selected: null, pending: 0, opening: false };

function query() {
  return annotator ? `?annotator=${encodeURIComponent(annotator)}` : "";
}

async function api(method, path, body) {
  const options = { method, headers: {} };
  if (body !== undefined) {
    options.headers["Content-Type"] = "application/json";
    options.body = JSON.stringify({ annotator: state.session ? state.session.annotator : annotator, ...body });
  }
  const response = await fetch(path, options);
  const data = await response.json().catch(() => ({}));
  if (!response.ok) {
    throw new Error(data.error || `${method} ${path}: ${response.status}`);
  }
  return data;
}

function banner(text, ok = false) {
  const el = $("banner");
  el.textContent = text;
  el.className = ok ? "ok" : "";
  el.hidden = !text;
  if (ok) setTimeout(() => { if (el.textContent === text) el.hidden = true; }, 4000);
}

// Runs an action that talks to the server; state.pending counts those still running (tests wait for 0).
async function guarded(action, failure = "Not saved") {
  state.pending += 1;
  try {
    await action();
  } catch (err) {
    banner(`${failure}: ${err.message}`);
  } finally {
    state.pending -= 1;
  }
}

// ---- session and videos ----
function currentVideo() {
  return state.session.videos[state.index];
}

function classOf(name) {
  return state.session.classes.find((c) => c.name === name);
}

async function loadSession() {
  state.session = await api("GET", `/api/session${query()}`);
  $("who").textContent = `annotator: ${state.session.annotator}`;
  renderKeys();
  const resume = state.session.resume;
  await openVideo(resume.video, resume.time_s);
}

async function openVideo(index, time_s = 0) {
  await guarded(async () => {
    state.index = index;
    state.selected = null;
    state.model = null;
    const v = currentVideo();
    $("video-name").textContent = v.id;
    const loaded = seekWhenLoaded(`/api/videos/${index}/media`, time_s);
    await refreshMarks();
    await refreshModel();
    render();
    await loaded;
  }, "Could not open the video");
}

// Loads a video and seeks it to time_s once its metadata is in. Until then state.opening is true and the
// keys that read or move the clock are ignored: the seek would overwrite a step, and a click would land at 0.
function seekWhenLoaded(src, time_s) {
  state.opening = true;
  return new Promise((resolve) => {
    const finish = () => {
      video.removeEventListener("loadedmetadata", onLoaded);
      video.removeEventListener("error", finish);
      state.opening = false;
      resolve();
    };
    const onLoaded = () => {
      video.currentTime = Math.min(time_s, video.duration || time_s);
      finish();
    };
    video.addEventListener("loadedmetadata", onLoaded);
    video.addEventListener("error", finish);
    video.src = src;
  });
}

async function refreshMarks() {
  const data = await api("GET", `/api/videos/${state.index}/marks${query()}`);
  state.marks = data.marks;
  state.othersClicks = data.clicks_by_others;
  const v = currentVideo();
  v.clicks = clicks().length;
  v.done = state.marks.some((m) => m.kind === "done");
}

async function refreshModel() {
  if (state.session.has_model) {
    state.model = await api("GET", `/api/videos/${state.index}/model${query()}`);
  }
}

function clicks() {
  return state.marks.filter((m) => m.kind === "click").sort((a, b) => a.time_s - b.time_s);
}

function suggestions() {
  return state.model ? state.model.suggestions : [];
}

// ---- changes ----
async function addClick(label, time_s, kind = "click") {
  await guarded(async () => {
    const { mark } = await api("POST", "/api/marks", { video: state.index, kind, label, time_s });
    await refreshMarks();
    await refreshModel();
    if (kind === "click") state.selected = { type: "mark", id: mark.id, time_s: mark.time_s, label: mark.label };
    render();
  });
}

async function removeMark(id) {
  await guarded(async () => {
    await api("DELETE", `/api/marks/${encodeURIComponent(id)}`, {});
    if (state.selected && state.selected.id === id) state.selected = null;
    await refreshMarks();
    await refreshModel();
    render();
  });
}

async function relabel(id, label) {
  await guarded(async () => {
    await api("PATCH", `/api/marks/${encodeURIComponent(id)}`, { label });
    await refreshMarks();
    await refreshModel();
    render();
  });
}

async function setDone(index, done) {
  await api("PUT", `/api/videos/${index}/done`, { done });
  state.session.videos[index].done = done;
}

function activeSuggestion() {
  const found = suggestions();
  if (!found.length) return null;
  if (state.selected && state.selected.type === "suggestion") {
    const hit = found.find((s) => Math.abs(s.time_s - state.selected.time_s) < 1e-6 && s.label === state.selected.label);
    if (hit) return hit;
  }
  const t = video.currentTime;
  return found.reduce((best, s) => (Math.abs(s.time_s - t) < Math.abs(best.time_s - t) ? s : best));
}

async function decide(accept) {
  await guarded(async () => {
    const s = activeSuggestion();
    if (!s) {
      banner(state.session.has_model ? "No open suggestion in this video." : "No model: start with --checkpoint for suggestions.");
      return;
    }
    await addClick(s.label, s.time_s, accept ? "click" : "rejected");
    const next = suggestions().find((x) => x.time_s > s.time_s) || suggestions()[0];
    if (next) select({ type: "suggestion", time_s: next.time_s, label: next.label });
    render();
  });
}

// ---- navigation ----
function items() {
  const list = clicks().map((m) => ({ type: "mark", id: m.id, time_s: m.time_s, label: m.label }));
  suggestions().forEach((s) => list.push({ type: "suggestion", time_s: s.time_s, label: s.label }));
  return list.sort((a, b) => a.time_s - b.time_s);
}

function select(item, seek = true) {
  state.selected = item;
  if (item && seek) {
    video.pause();
    video.currentTime = item.time_s;
  }
  render();
}

function step(direction) {
  const all = items();
  if (!all.length) return;
  const t = video.currentTime;
  const current = state.selected ? all.findIndex((x) => x.type === state.selected.type && x.time_s === state.selected.time_s
    && x.label === state.selected.label) : -1;
  let target;
  if (current >= 0 && Math.abs(all[current].time_s - t) < 0.05) {
    target = all[Math.min(all.length - 1, Math.max(0, current + direction))];
  } else if (direction > 0) {
    target = all.find((x) => x.time_s > t + 1e-3) || all[all.length - 1];
  } else {
    target = [...all].reverse().find((x) => x.time_s < t - 1e-3) || all[0];
  }
  select(target);
}

async function nextVideo(direction) {
  await guarded(async () => {
    const order = state.session.order;
    const here = order.indexOf(state.index);
    if (direction < 0) {
      await openVideo(order[(here - 1 + order.length) % order.length]);
      return;
    }
    await setDone(state.index, true);
    const rest = order.slice(here + 1).concat(order.slice(0, here));
    const target = rest.find((i) => !state.session.videos[i].done);
    if (target === undefined) {
      banner("Every video is done. Export the points or keep reviewing.", true);
      render();
      return;
    }
    await openVideo(target);
  });
}

function onKey(event) {
  const tag = event.target.tagName;
  if (tag === "SELECT" || tag === "INPUT" || tag === "TEXTAREA" || event.ctrlKey || event.metaKey || event.altKey) return;
  const key = event.key;
  const cls = state.session && state.session.classes.find((c) => c.key === key.toLowerCase());
  const v = state.session && currentVideo();
  let handled = true;
  if (state.opening && (cls || key === "ArrowLeft" || key === "ArrowRight")) {
    event.preventDefault();  // the video is still loading: its clock is not yet where the page will put it
    return;
  }
  if (!state.session) {
    handled = false;
  } else if (cls) {
    addClick(cls.name, video.currentTime);
  } else if (key === "ArrowLeft" || key === "ArrowRight") {
    video.pause();
    const delta = (key === "ArrowLeft" ? -1 : 1) * v.snippet_s;
    video.currentTime = Math.max(0, Math.min(v.duration_s, video.currentTime + delta));
  } else if (key === "Delete") {
    if (state.selected && state.selected.type === "mark") removeMark(state.selected.id);
  } else if (key === "j" || key === "J") {
    step(-1);
  } else if (key === "k" || key === "K") {
    step(1);
  } else if (key === "Tab") {
    nextVideo(event.shiftKey ? -1 : 1);
  } else if (key === "Enter") {
    decide(true);
  } else if (key === "Backspace") {
    decide(false);
  } else if (key === " ") {
    if (video.paused) video.play(); else video.pause();
  } else {
    handled = false;
  }
  if (handled) {
    event.preventDefault();
    event.stopPropagation();
  }
}

// ---- drawing ----
const LAYOUT = { pad: 22, axis: 20, lane: 38 };

function fmt(t) {
  const m = Math.floor(t / 60);
  const s = t - 60 * m;
  return `${m}:${s.toFixed(1).padStart(4, "0")}`;
}

// The model panel's key, right-aligned at (right, top): a line per class (the track suggestions come
// from), W_sent, the threshold.
function drawLegend(g, right, top) {
  const entries = state.session.classes.map((c) => (
    { text: `${state.session.track_name} ${c.title}`, colour: c.colour, kind: "line" }));
  entries.push({ text: "W_sent", colour: "rgba(120, 130, 140, 0.35)", kind: "area" },
    { text: "threshold", colour: "#aab2bc", kind: "dash" });
  g.font = "11px system-ui, sans-serif";
  let x = right;
  for (const e of entries.reverse()) {
    const w = g.measureText(e.text).width;
    x -= w;
    g.fillStyle = "#6b7480";
    g.fillText(e.text, x, top + 9);
    x -= 20;
    g.strokeStyle = e.colour;
    g.fillStyle = e.colour;
    if (e.kind === "area") {
      g.fillRect(x, top + 2, 14, 8);
    } else {
      g.lineWidth = e.kind === "line" ? 2 : 1;
      g.setLineDash(e.kind === "dash" ? [4, 3] : []);
      g.beginPath();
      g.moveTo(x, top + 6);
      g.lineTo(x + 14, top + 6);
      g.stroke();
      g.setLineDash([]);
    }
    x -= 14;
  }
}

function drawTimeline() {
  const v = currentVideo();
  const ratio = window.devicePixelRatio || 1;
  const width = canvas.clientWidth;
  const height = state.session.has_model ? 184 : 80;
  canvas.style.height = `${height}px`;
  canvas.width = Math.round(width * ratio);
  canvas.height = Math.round(height * ratio);
  const g = canvas.getContext("2d");
  g.setTransform(ratio, 0, 0, ratio, 0, 0);
  g.clearRect(0, 0, width, height);
  const { pad, axis, lane } = LAYOUT;
  const x = (t) => pad + (t / v.duration_s) * (width - 2 * pad);
  const laneTop = height - axis - lane;
  const lineTop = state.model ? 20 : 4;  // markers' lines stop below the model panel's legend
  // model curves: W_sent as a grey area, the CAS of each class as a line, the threshold dashed
  if (state.model) {
    const top = 24;  // the legend's row above the curves
    const bottom = laneTop - 8;
    const y = (p) => bottom - p * (bottom - top);
    const dt = state.model.snippet_s;
    const w = state.model.w_sent;
    g.fillStyle = "rgba(120, 130, 140, 0.18)";
    g.beginPath();
    g.moveTo(x(0), y(0));
    w.forEach((p, i) => { g.lineTo(x((i + 0.5) * dt), y(p)); });
    g.lineTo(x(Math.min(v.duration_s, w.length * dt)), y(0));
    g.closePath();
    g.fill();
    g.setLineDash([4, 4]);
    g.strokeStyle = "#aab2bc";
    g.lineWidth = 1;
    g.beginPath();
    g.moveTo(x(0), y(state.session.threshold));
    g.lineTo(x(v.duration_s), y(state.session.threshold));
    g.stroke();
    g.setLineDash([]);
    state.session.classes.forEach((c) => {
      const curve = state.model.cas[c.name];
      g.strokeStyle = c.colour;
      g.lineWidth = 1.6;
      g.beginPath();
      curve.forEach((p, i) => { const px = x((i + 0.5) * dt); if (i) g.lineTo(px, y(p)); else g.moveTo(px, y(p)); });
      g.stroke();
    });
    drawLegend(g, width - pad - 4, 4);
    g.fillStyle = "#6b7480";
    g.font = "10px system-ui, sans-serif";
    g.textAlign = "right";
    [0, 0.5, 1].forEach((p) => g.fillText(p.toString(), pad - 1, y(p) + 3));
    g.textAlign = "left";
  }
  // lane with the marks
  g.fillStyle = "#f6f8fa";
  g.fillRect(pad, laneTop, width - 2 * pad, lane);
  const mid = laneTop + lane / 2;
  suggestions().forEach((s) => {
    const c = classOf(s.label);
    const selected = state.selected && state.selected.type === "suggestion" && state.selected.time_s === s.time_s
      && state.selected.label === s.label;
    g.setLineDash([3, 3]);
    g.strokeStyle = c.colour;
    g.globalAlpha = selected ? 0.95 : 0.55;
    g.lineWidth = selected ? 2 : 1.2;
    g.beginPath();
    g.moveTo(x(s.time_s), lineTop);
    g.lineTo(x(s.time_s), laneTop + lane);
    g.stroke();
    g.setLineDash([]);
    g.beginPath();
    g.arc(x(s.time_s), mid, selected ? 8 : 6, 0, 2 * Math.PI);
    g.fillStyle = "#fff";
    g.fill();
    g.stroke();
    g.globalAlpha = 1;
  });
  state.marks.filter((m) => m.kind === "rejected").forEach((m) => {
    const px = x(m.time_s);
    g.strokeStyle = "#9aa3ad";
    g.lineWidth = 1.5;
    g.beginPath();
    g.moveTo(px - 4, mid - 4); g.lineTo(px + 4, mid + 4);
    g.moveTo(px + 4, mid - 4); g.lineTo(px - 4, mid + 4);
    g.stroke();
  });
  clicks().forEach((m) => {
    const c = classOf(m.label) || { colour: "#000", key: "?" };
    const px = x(m.time_s);
    const selected = state.selected && state.selected.type === "mark" && state.selected.id === m.id;
    g.strokeStyle = c.colour;
    g.lineWidth = selected ? 3 : 2;
    g.beginPath();
    g.moveTo(px, lineTop);
    g.lineTo(px, laneTop + lane);
    g.stroke();
    g.beginPath();
    g.arc(px, mid, selected ? 9 : 7, 0, 2 * Math.PI);
    g.fillStyle = c.colour;
    g.fill();
    if (selected) { g.strokeStyle = "#1d232b"; g.lineWidth = 2; g.stroke(); }
    g.fillStyle = "#fff";
    g.font = "bold 10px system-ui, sans-serif";
    g.textAlign = "center";
    g.fillText(c.key.toUpperCase(), px, mid + 3.5);
    g.textAlign = "left";
  });
  // time axis
  g.fillStyle = "#6b7480";
  g.font = "11px system-ui, sans-serif";
  const ticks = Math.max(1, Math.ceil(v.duration_s / 8));
  const stepS = [1, 2, 5, 10, 15, 30, 60, 120, 300, 600].find((s) => s >= ticks) || 600;
  g.textAlign = "center";
  for (let t = 0; t <= v.duration_s + 1e-6; t += stepS) {
    g.fillRect(x(t), laneTop + lane, 1, 4);
    g.fillText(`${t}s`, Math.min(Math.max(x(t), pad + 8), width - pad - 8), height - 5);
  }
  g.textAlign = "left";
  // playhead
  g.fillStyle = "#1d232b";
  g.fillRect(x(video.currentTime || 0) - 1, 0, 2, laneTop + lane);
}

function renderClicks() {
  const body = $("clicks").tBodies[0];
  body.replaceChildren();
  const list = clicks();
  list.forEach((m) => {
    const row = body.insertRow();
    if (state.selected && state.selected.id === m.id) row.className = "selected";
    const time = row.insertCell();
    time.className = "time";
    time.textContent = fmt(m.time_s);
    time.title = "jump here";
    time.onclick = () => select({ type: "mark", id: m.id, time_s: m.time_s, label: m.label });
    const cell = row.insertCell();
    const swatch = document.createElement("span");
    swatch.className = "swatch";
    swatch.style.background = (classOf(m.label) || { colour: "#000" }).colour;
    const choose = document.createElement("select");
    state.session.classes.forEach((c) => choose.add(new Option(c.title, c.name, false, c.name === m.label)));
    choose.onchange = () => { relabel(m.id, choose.value); choose.blur(); };
    cell.append(swatch, choose);
    const actions = row.insertCell();
    const jump = document.createElement("button");
    jump.textContent = "Jump";
    jump.onclick = () => { select({ type: "mark", id: m.id, time_s: m.time_s, label: m.label }); jump.blur(); };
    const del = document.createElement("button");
    del.textContent = "Delete";
    del.onclick = () => { removeMark(m.id); del.blur(); };
    actions.append(jump, " ", del);
  });
  $("click-count").textContent = list.length ? `(${list.length})` : "";
  $("no-clicks").hidden = list.length > 0;
  const rejected = state.marks.filter((m) => m.kind === "rejected").length;
  const open = suggestions().length;
  const parts = [];
  if (state.session.has_model) parts.push(`${open} suggestion${open === 1 ? "" : "s"} open (Enter accepts, Backspace rejects)`);
  if (rejected) parts.push(`${rejected} rejected`);
  if (state.othersClicks) {
    parts.push(`${state.othersClicks} click${state.othersClicks === 1 ? "" : "s"} by other annotators`);
  }
  $("suggestion-line").textContent = parts.join(" · ");
}

function renderVideos() {
  const list = $("videos");
  list.replaceChildren();
  state.session.order.forEach((i) => {
    const v = state.session.videos[i];
    const item = document.createElement("li");
    item.className = `${i === state.index ? "current" : ""} ${v.done ? "done" : ""}`;
    item.append(v.id);
    const meta = document.createElement("span");
    meta.className = "meta";
    const bits = [`${v.clicks} click${v.clicks === 1 ? "" : "s"}`];
    if (v.done) bits.push("done");
    if (v.uncertainty !== null && v.uncertainty !== undefined) bits.push(`H ${v.uncertainty.toFixed(2)}`);
    meta.textContent = bits.join(" · ");
    item.append(meta);
    item.onclick = () => openVideo(i);
    list.append(item);
  });
  const videos = state.session.videos;
  const annotated = videos.filter((v) => v.done).length;
  $("progress-fill").style.width = `${(100 * annotated) / videos.length}%`;
  $("progress-text").textContent = `${annotated} of ${videos.length} done · ${videos.length - annotated} remaining`;
  const v = currentVideo();
  $("video-state").textContent = `${fmt(v.duration_s)} · ${v.fps.toFixed(2)} fps${v.done ? " · done" : ""}`;
}

function renderKeys() {
  const keys = $("keys");
  keys.replaceChildren();
  const rows = state.session.classes.map((c) => [c.key.toUpperCase(), `click: ${c.title}`]);
  rows.push(["← →", "one snippet (16 frames)"], ["Space", "play / pause"], ["J K", "previous / next click"],
    ["Del", "delete the selected click"], ["Enter", "accept the suggestion"], ["⌫", "reject the suggestion"],
    ["Tab", "video done, next one"], ["⇧ Tab", "previous video"]);
  rows.forEach(([key, what]) => {
    const dt = document.createElement("dt");
    const kbd = document.createElement("kbd");
    kbd.textContent = key;
    dt.append(kbd);
    const dd = document.createElement("dd");
    dd.textContent = what;
    keys.append(dt, dd);
  });
}

function renderClock() {
  const v = currentVideo();
  $("clock").textContent = `${fmt(video.currentTime || 0)} / ${fmt(v.duration_s)}`;
  const s = state.selected;
  $("hint").textContent = s ? `${s.type === "mark" ? "selected click" : "suggestion"}: ${classOf(s.label).title} at ${fmt(s.time_s)}` : "";
}

function render() {
  if (!state.session || state.index === null) return;
  drawTimeline();
  renderClicks();
  renderVideos();
  renderClock();
}

// ---- wiring ----
canvas.addEventListener("click", (event) => {
  const v = currentVideo();
  const rect = canvas.getBoundingClientRect();
  const px = event.clientX - rect.left;
  const t = ((px - LAYOUT.pad) / (rect.width - 2 * LAYOUT.pad)) * v.duration_s;
  const near = items().filter((item) => Math.abs(item.time_s - t) * (rect.width - 2 * LAYOUT.pad) / v.duration_s < 8);
  if (near.length) {
    select(near[0]);
  } else {
    video.currentTime = Math.max(0, Math.min(v.duration_s, t));
  }
});
$("export").addEventListener("click", async () => {
  $("export").blur();
  await guarded(async () => {
    const done = await api("POST", "/api/export", {});
    banner(`Wrote ${done.clicks} clicks to ${done.path}`, true);
  });
});
document.addEventListener("keydown", onKey, true);
video.addEventListener("timeupdate", render);
video.addEventListener("seeked", render);
window.addEventListener("resize", render);
function tick() {
  if (!video.paused) { drawTimeline(); renderClock(); }
  requestAnimationFrame(tick);
}
loadSession().then(() => requestAnimationFrame(tick)).catch((err) => banner(err.message));
