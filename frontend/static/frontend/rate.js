// The rating page: one item at a time, keyboard first (1-5, Backspace, Enter), mouse and touch too.
// The page shell comes from frontend/views/annotate.py; everything else goes through the REST API.
import { SubmitQueue, api, errorText } from "./rate-api.js";

const cfg = JSON.parse(document.getElementById("rate-config").textContent);
const $ = (id) => document.getElementById(id);
const call = (method, path, body) => api(cfg.apiBase, method, path, body);

const HEARTBEAT_MS = (cfg.heartbeatSeconds || 60) * 1000;
const ACTIVE_WINDOW_MS = 5 * 60_000; // heartbeat only while the annotator did something recently
const LABELS = Object.fromEntries(cfg.scales.map((s) => [s.dimension, s.label]));
const ANCHORS = Object.fromEntries(cfg.scales.map((s) => [
  s.dimension,
  Object.fromEntries(s.levels.map((l) => [l.score, `${l.score} ${l.word}: ${l.anchor}`])),
]));
const scaleEls = Object.fromEntries([...document.querySelectorAll(".scale")].map((el) => [el.dataset.dimension, el]));

const state = {
  phase: "loading", // loading | rating | draining | summary | nowork | error
  batch: null,
  todo: [], // tasks still to rate in this batch, in order
  index: 0,
  task: null,
  dims: cfg.dimensions,
  scores: {},
  cur: 0, // index into dims of the scale that keys 1-5 set
  locked: false, // require_full_video and the video has not played to its end yet
  shownAt: 0,
  rated: 0,
  total: 0,
  finishTried: false,
  lastInteraction: Date.now(),
};

// ---- status lines -------------------------------------------------------------------------------
function setStatus(text, kind = "error") {
  const el = $("status");
  el.textContent = text || "";
  el.className = `rate-status ${text ? kind : ""}`;
}

function setConnection({ offline, waiting, reason }) {
  const el = $("connection");
  if (offline) {
    el.textContent = `${reason || "offline - will retry"} (${waiting} rating${waiting === 1 ? "" : "s"} waiting)`;
    el.className = "rate-connection offline";
  } else {
    el.textContent = waiting ? `Saving… (${waiting} waiting)` : "";
    el.className = "rate-connection";
  }
}

const queue = new SubmitQueue({
  base: cfg.apiBase,
  storageKey: `qeval-rate-queue:${cfg.user}:${cfg.slug}`,
  onState: setConnection,
  onSaved: () => {},
  onDropped: (entry, res) => {
    if (entry.batchId === state.batch?.id) state.rated = Math.max(0, state.rated - 1);
    updateProgress();
    if (res.status === 410) {
      setStatus("Time for one item ran out (its lease expired) before your rating was saved, "
        + "so that rating was not counted. Carry on with the next item.", "warn");
      refreshAfterGone();
    } else {
      setStatus(`A rating could not be saved: ${errorText(res.status, res.data)}`);
    }
  },
});

// ---- progress -----------------------------------------------------------------------------------
function updateProgress() {
  const { rated, total } = state;
  $("progress-text").textContent = total ? `${rated} / ${total}` : "– / –";
  const bar = $("progress-bar");
  bar.setAttribute("aria-valuemax", String(total || 0));
  bar.setAttribute("aria-valuenow", String(rated));
  $("progress-fill").style.width = total ? `${Math.min(100, (100 * rated) / total)}%` : "0";
}

function show(phase) {
  state.phase = phase;
  $("rating-panel").hidden = phase !== "rating";
  $("summary").hidden = !(phase === "summary" || phase === "draining");
  $("no-work").hidden = phase !== "nowork";
  $("finish-early").hidden = phase !== "rating";
  $("retry").hidden = phase !== "error";
}

// ---- batches ------------------------------------------------------------------------------------
async function requestBatch() {
  show("loading");
  setStatus("");
  await queue.whenIdle(); // ratings from before (even from an earlier visit) land first
  let res;
  try {
    res = await call("POST", `/campaigns/${cfg.slug}/batches/`, { mode: cfg.mode });
  } catch {
    setStatus("Cannot reach the server: check the connection. Trying again in 5 seconds.");
    setTimeout(requestBatch, 5000);
    return;
  }
  if (res.status === 204) {
    show("nowork");
    return;
  }
  if (res.status !== 200 && res.status !== 201) {
    setStatus(`Could not get a batch: ${errorText(res.status, res.data)}`);
    show("error");
    $("retry").focus();
    return;
  }
  await startBatch(res.data);
}

async function startBatch(batch) {
  state.batch = batch;
  const tasks = batch.tasks || [];
  state.todo = tasks.filter((t) => !["rated", "expired", "returned"].includes(t.status));
  state.total = batch.progress?.total ?? tasks.length;
  state.rated = batch.progress?.rated ?? tasks.filter((t) => t.status === "rated").length;
  updateProgress();
  if (!state.todo.length) {
    // An open batch with nothing left to rate (leases ran out): close it and ask again, once.
    if (batch.status === "open" && !state.finishTried) {
      state.finishTried = true;
      await call("POST", `/batches/${batch.id}/finish/`).catch(() => null);
      return requestBatch();
    }
    return showSummary();
  }
  state.finishTried = false;
  showItem(0);
}

// After a 410 other leases of the batch may have run out too (an idle tab): ask the server again. It
// marks dead leases expired and answers with the same batch (drop the expired items from what is left
// to rate), a new batch (the old one closed), or 204 (nothing left).
let refreshing = false;
async function refreshAfterGone() {
  if (refreshing || state.phase !== "rating" || !state.batch) return;
  refreshing = true;
  try {
    const res = await call("POST", `/campaigns/${cfg.slug}/batches/`, { mode: cfg.mode });
    if (state.phase !== "rating") return;
    if (res.status === 204) {
      showSummary();
    } else if ((res.status === 200 || res.status === 201) && res.data) {
      if (res.data.id !== state.batch.id) {
        await startBatch(res.data);
        return;
      }
      const live = new Set(res.data.tasks.filter((t) => t.status === "leased").map((t) => t.id));
      const rest = state.todo.slice(state.index).filter((t) => live.has(t.id));
      if (rest.length === state.todo.length - state.index) return; // nothing else expired
      const current = state.task;
      state.todo = rest;
      state.index = 0;
      if (!rest.length) showSummary();
      else if (rest[0] !== current) showItem(0);
      else prefetch(rest[1]);
    }
  } catch {
    // offline: the next save will tell
  } finally {
    refreshing = false;
  }
}

async function showSummary() {
  show("draining");
  $("summary-title").textContent = "Saving your last ratings…";
  $("summary-text").textContent = "";
  $("next-batch").disabled = true;
  await queue.whenIdle();
  let batch = state.batch;
  try {
    const res = await call("GET", `/batches/${state.batch.id}/`);
    if (res.status === 200 && res.data) batch = res.data;
  } catch {
    // keep what we know locally
  }
  const rated = batch.progress?.rated ?? state.rated;
  const total = batch.progress?.total ?? state.total;
  state.rated = rated;
  state.total = total;
  updateProgress();
  $("summary-title").textContent = "Batch done - thank you";
  $("summary-text").textContent = `You rated ${rated} of ${total} items in this batch. `
    + "Press Enter or the button for the next batch.";
  $("next-batch").disabled = false;
  show("summary");
  $("next-batch").focus();
  if (cfg.mode !== "expert") showOutcome(state.batch.id);
}

const DECISION_WORDS = { approved: "Approved", rejected: "Rejected", pending: "Being checked" };

/** The batch's decision (scrutiny runs on the workers a moment after the batch closes) and the
 * annotator's standing, in plain words. Polls a few times, then leaves it to My batches. */
async function showOutcome(batchId, tries = 8) {
  $("summary-outcome").textContent = "Checking this batch…";
  for (let i = 0; i < tries; i += 1) {
    try {
      const res = await call("GET", `/batches/${batchId}/`);
      if (res.status === 200 && res.data && (res.data.decision !== "pending" || res.data.reason)) {
        const word = DECISION_WORDS[res.data.decision] || res.data.decision;
        $("summary-outcome").textContent = res.data.reason ? `${word}. ${res.data.reason}` : `${word}.`;
        $("summary-outcome").className = `decision ${res.data.decision}`;
        break;
      }
    } catch {
      break; // offline: My batches will tell later
    }
    if (i === tries - 1) $("summary-outcome").textContent = "Still being checked: see My batches later.";
    else await new Promise((resolve) => { setTimeout(resolve, 1500); });
  }
  try {
    const res = await call("GET", `/campaigns/${cfg.slug}/standing/`);
    if (res.status === 200 && res.data) $("summary-standing").textContent = `Your record here: ${res.data.text}.`;
  } catch {
    // not essential
  }
}

// ---- one item -----------------------------------------------------------------------------------
function mediaElement(task, { prefetch = false } = {}) {
  if (task.media_type === "video") {
    const v = document.createElement("video");
    v.muted = true;
    v.preload = "auto";
    v.playsInline = true;
    if (!prefetch) {
      v.autoplay = true;
      v.loop = true;
      v.controls = true;
    }
    v.src = task.media_url;
    return v;
  }
  if (prefetch) {
    const img = new Image();
    img.src = task.media_url;
    return null;
  }
  const img = document.createElement("img");
  img.alt = "The image to rate";
  img.decoding = "async";
  img.src = task.media_url;
  return img;
}

function unlock() {
  if (!state.locked) return;
  state.locked = false;
  $("video-note").hidden = true;
  document.querySelectorAll(".score-button").forEach((b) => { b.disabled = false; });
  focusScale(state.cur);
  updateSubmit();
}

function lock() {
  state.locked = true;
  $("video-note").hidden = false;
  document.querySelectorAll(".score-button").forEach((b) => { b.disabled = true; });
}

function watchToEnd(video) {
  // With `loop` the `ended` event never fires, so also count a jump back to the start, or reaching
  // the last quarter-second, as "played through once".
  let last = 0;
  video.addEventListener("ended", unlock);
  video.addEventListener("timeupdate", () => {
    const t = video.currentTime;
    const d = video.duration;
    if ((Number.isFinite(d) && d > 0 && t >= d - 0.25) || t + 0.3 < last) unlock();
    last = t;
  });
}

function showItem(i) {
  state.index = i;
  const task = state.todo[i];
  state.task = task;
  state.dims = (task.dimensions || cfg.dimensions).filter((d) => scaleEls[d]);
  state.scores = {};
  state.cur = 0;
  for (const [dim, el] of Object.entries(scaleEls)) {
    el.hidden = !state.dims.includes(dim);
    el.querySelectorAll(".score-button").forEach((b) => b.setAttribute("aria-pressed", "false"));
    el.querySelector(".scale-anchor").textContent = "";
  }
  const media = $("media");
  const el = mediaElement(task);
  el.addEventListener("error", () => {
    if (state.task !== task) return; // the annotator has already moved on
    setStatus("This item could not be loaded (its lease may have run out, or the file is broken). "
      + "You can still rate it, or finish the batch.");
    unlock();
  });
  media.replaceChildren(el);
  $("prompt").textContent = task.prompt || "";
  $("prompt-line").hidden = !state.dims.includes("alignment");
  state.locked = false;
  $("video-note").hidden = true;
  document.querySelectorAll(".score-button").forEach((b) => { b.disabled = false; });
  if (task.media_type === "video" && cfg.requireFullVideo) {
    lock();
    watchToEnd(el);
  }
  show("rating");
  focusScale(0);
  updateSubmit();
  updateProgress();
  prefetch(state.todo[i + 1]);
  state.shownAt = performance.now();
}

function prefetch(task) {
  const box = $("prefetch");
  box.replaceChildren();
  if (!task) return;
  const el = mediaElement(task, { prefetch: true });
  if (el) box.appendChild(el); // a hidden <video preload="auto">; images warm the cache via new Image()
}

// ---- scales -------------------------------------------------------------------------------------
function focusScale(i) {
  state.cur = Math.max(0, Math.min(i, state.dims.length - 1));
  for (const [dim, el] of Object.entries(scaleEls)) el.classList.toggle("current", dim === state.dims[state.cur]);
  if (state.locked) return;
  const el = scaleEls[state.dims[state.cur]];
  const pressed = el.querySelector('.score-button[aria-pressed="true"]');
  (pressed || el.querySelector(".score-button")).focus({ preventScroll: true });
}

function setScore(dim, score, { fromKey }) {
  if (state.locked) {
    setStatus("Please watch the video to its end first: rating unlocks then.", "warn");
    return;
  }
  state.scores[dim] = score;
  const el = scaleEls[dim];
  el.querySelectorAll(".score-button").forEach((b) => {
    b.setAttribute("aria-pressed", String(Number(b.dataset.score) === score));
  });
  el.querySelector(".scale-anchor").textContent = ANCHORS[dim][score];
  const idx = state.dims.indexOf(dim);
  let next = idx + 1;
  if (!fromKey) {
    const unset = state.dims.findIndex((d) => state.scores[d] == null);
    next = unset === -1 ? idx : unset;
  }
  focusScale(Math.min(next, state.dims.length - 1));
  updateSubmit();
  if ($("status").classList.contains("warn") || $("status").classList.contains("hint")) setStatus("");
}

function clearScore(dim) {
  delete state.scores[dim];
  const el = scaleEls[dim];
  el.querySelectorAll(".score-button").forEach((b) => b.setAttribute("aria-pressed", "false"));
  el.querySelector(".scale-anchor").textContent = "";
}

function back() {
  const dim = state.dims[state.cur];
  if (state.scores[dim] != null) {
    clearScore(dim);
  } else if (state.cur > 0) {
    clearScore(state.dims[state.cur - 1]);
    state.cur -= 1;
  }
  focusScale(state.cur);
  updateSubmit();
}

function allSet() {
  return state.dims.every((d) => state.scores[d] != null);
}

function updateSubmit() {
  $("submit").disabled = state.locked || !allSet();
}

function submit() {
  if (state.phase !== "rating") return;
  if (state.locked) {
    setStatus("Please watch the video to its end first: rating unlocks then.", "warn");
    return;
  }
  const missing = state.dims.filter((d) => state.scores[d] == null);
  if (missing.length) {
    setStatus(`Give a score for ${missing.map((d) => LABELS[d]).join(" and ")} first (keys 1-5).`, "hint");
    focusScale(state.dims.indexOf(missing[0]));
    return;
  }
  const body = { duration_ms: Math.max(0, Math.round(performance.now() - state.shownAt)) };
  for (const d of state.dims) body[d] = state.scores[d];
  queue.push({ taskId: state.task.id, batchId: state.batch.id, body });
  state.rated += 1;
  updateProgress();
  if (!$("status").classList.contains("error")) setStatus("");
  if (state.index + 1 < state.todo.length) showItem(state.index + 1);
  else showSummary();
}

// ---- input --------------------------------------------------------------------------------------
document.addEventListener("keydown", (e) => {
  state.lastInteraction = Date.now();
  if (e.ctrlKey || e.metaKey || e.altKey) return;
  if (e.target.closest && e.target.closest("input, textarea, select, [contenteditable]")) return;
  // Enter on a link or another button (Instructions, Finish batch) keeps its own meaning.
  const other = e.target.closest && e.target.closest("a, button:not(.score-button):not(#submit):not(#next-batch)");
  if (state.phase === "rating") {
    if (/^[1-5]$/.test(e.key)) {
      e.preventDefault();
      setScore(state.dims[state.cur], Number(e.key), { fromKey: true });
    } else if (e.key === "Backspace") {
      e.preventDefault();
      back();
    } else if (e.key === "Enter" && !other) {
      e.preventDefault();
      // Enter only ever saves (or says what is missing): the focus sits on a score button after every
      // key, and Enter there must not quietly give that score. Space presses a focused button.
      if (!e.repeat) submit(); // a held Enter must not skip through items
    }
  } else if (state.phase === "summary" && e.key === "Enter" && !other && !e.repeat) {
    e.preventDefault();
    requestBatch();
  }
});

document.querySelectorAll(".score-button").forEach((b) => {
  b.addEventListener("click", () => {
    state.lastInteraction = Date.now();
    if (state.phase !== "rating") return;
    setScore(b.closest(".scale").dataset.dimension, Number(b.dataset.score), { fromKey: false });
  });
});
$("submit").addEventListener("click", submit);
$("next-batch").addEventListener("click", () => state.phase === "summary" && requestBatch());
$("retry").addEventListener("click", requestBatch);
$("finish-early").addEventListener("click", async () => {
  if (!window.confirm("Finish this batch now? Items you have not rated go back to the pool.")) return;
  show("draining");
  await queue.whenIdle();
  const res = await call("POST", `/batches/${state.batch.id}/finish/`).catch(() => null);
  if (!res || res.status >= 400) {
    setStatus(`Could not finish the batch: ${res ? errorText(res.status, res.data) : "no connection"}`);
  }
  showSummary();
});
document.addEventListener("pointerdown", () => { state.lastInteraction = Date.now(); });
window.addEventListener("beforeunload", (e) => {
  if (queue.size) e.preventDefault(); // ratings are kept in localStorage anyway; this just warns
});

// Keep leases alive while the annotator is working; an idle tab lets them lapse.
setInterval(() => {
  if (state.phase !== "rating" || !state.batch) return;
  if (Date.now() - state.lastInteraction > ACTIVE_WINDOW_MS) return;
  call("POST", `/batches/${state.batch.id}/heartbeat/`).catch(() => null);
}, HEARTBEAT_MS);

if (queue.size) queue.kick(); // ratings left from an earlier visit
requestBatch();
