// The rating page: one item at a time, keyboard first, mouse and touch too.
//   1-5 score the current scale · Backspace fixes · Enter saves · s skips or flags the item
//   + / - / 0 zoom (drag to pan) · f full size · i instructions
//   videos: space play/pause · , and . one frame back / on · [ and ] slower / faster
// The page shell comes from frontend/views/annotate.py; everything else goes through the REST API.
import { SubmitQueue, api, errorText } from "./rate-api.js";

const cfg = JSON.parse(document.getElementById("rate-config").textContent);
const $ = (id) => document.getElementById(id);
const call = (method, path, body) => api(cfg.apiBase, method, path, body);

const HEARTBEAT_MS = (cfg.heartbeatSeconds || 60) * 1000;
const ACTIVE_WINDOW_MS = 5 * 60_000; // heartbeat only while the annotator did something recently
const ENTER_GUARD_MS = 900; // an Enter this soon after a new item appears, with nothing set, is a double press
const ZOOM_STEPS = [1, 1.5, 2, 3, 4, 6, 8];
const SPEEDS = [0.25, 0.5, 1, 1.5, 2];
const DONE_STATUSES = ["rated", "skipped", "expired", "returned"];
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
  skipped: 0,
  total: 0,
  finishTried: false,
  lastInteraction: Date.now(),
  zoom: { step: 0, x: 0, y: 0 },
  speed: 2, // index into SPEEDS
  session: { rated: null, medianMs: null },
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
  onSaved: (entry) => {
    if (!entry.path) bumpSession();
  },
  onDropped: (entry, res) => {
    if (entry.batchId === state.batch?.id) {
      if (entry.path) state.skipped = Math.max(0, state.skipped - 1);
      else state.rated = Math.max(0, state.rated - 1);
    }
    updateProgress();
    if (res.status === 410) {
      setStatus("Time for one item ran out (its lease expired) before your rating was saved, "
        + "so that rating was not counted. Carry on with the next item.", "warn");
      refreshAfterGone();
    } else {
      setStatus(`${entry.path ? "A skip" : "A rating"} could not be saved: ${errorText(res.status, res.data)}`);
    }
  },
});

// ---- progress and the session counter -----------------------------------------------------------
function updateProgress() {
  const { rated, skipped, total } = state;
  const done = rated + skipped;
  $("progress-text").textContent = total ? `${done} / ${total}` : "– / –";
  const bar = $("progress-bar");
  bar.setAttribute("aria-valuemax", String(total || 0));
  bar.setAttribute("aria-valuenow", String(done));
  $("progress-fill").style.width = total ? `${Math.min(100, (100 * done) / total)}%` : "0";
}

function localMidnight() {
  const d = new Date();
  d.setHours(0, 0, 0, 0);
  return d.toISOString();
}

function showSession() {
  const { rated, medianMs } = state.session;
  if (rated === null) return;
  const median = medianMs ? ` · median ${(medianMs / 1000).toFixed(1)} s an item` : "";
  $("session").textContent = `Today: ${rated} rated${median}`;
}

async function loadSession() {
  try {
    const res = await call("GET", `/campaigns/${cfg.slug}/session/?since=${encodeURIComponent(localMidnight())}`);
    if (res.status === 200 && res.data) {
      state.session = { rated: res.data.rated, medianMs: res.data.median_ms };
      showSession();
    }
  } catch {
    // offline: the counter waits
  }
}

let sessionTimer = null;
/** One more rating saved: count it at once, and ask the server for the median a little later (once a
 * burst of saves is over). */
function bumpSession() {
  if (state.session.rated !== null) {
    state.session.rated += 1;
    showSession();
  }
  clearTimeout(sessionTimer);
  sessionTimer = setTimeout(loadSession, 4000);
}

function show(phase) {
  state.phase = phase;
  $("rating-panel").hidden = phase !== "rating";
  $("summary").hidden = !(phase === "summary" || phase === "draining");
  $("no-work").hidden = phase !== "nowork";
  $("finish-early").hidden = phase !== "rating";
  $("blocked").hidden = phase !== "error";
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
    // A paused account, an inactive campaign: say why, and whom to ask (the card lists admins).
    $("blocked-text").textContent = `No batch for you right now: ${errorText(res.status, res.data)}`;
    show("error");
    $("retry").focus();
    return;
  }
  await startBatch(res.data);
}

async function startBatch(batch) {
  state.batch = batch;
  const tasks = batch.tasks || [];
  state.todo = tasks.filter((t) => !DONE_STATUSES.includes(t.status));
  state.total = batch.progress?.total ?? tasks.length;
  state.rated = tasks.filter((t) => t.status === "rated").length;
  state.skipped = tasks.filter((t) => t.status === "skipped").length;
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
  stopVideo();
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
  const tasks = batch.tasks || [];
  const rated = tasks.length ? tasks.filter((t) => t.status === "rated").length : state.rated;
  const skipped = tasks.length ? tasks.filter((t) => t.status === "skipped").length : state.skipped;
  const total = batch.progress?.total ?? state.total;
  Object.assign(state, { rated, skipped, total });
  updateProgress();
  $("summary-title").textContent = "Batch done - thank you";
  $("summary-text").textContent = `You rated ${rated} of ${total} items in this batch`
    + `${skipped ? ` (${skipped} skipped)` : ""}. Press Enter or the button for the next batch.`;
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

// ---- media: zoom, pan, full size, video keys -----------------------------------------------------
function currentMedia() {
  return $("media").firstElementChild;
}

function currentVideo() {
  const el = currentMedia();
  return el && el.tagName === "VIDEO" ? el : null;
}

function applyZoom() {
  const el = currentMedia();
  const scale = ZOOM_STEPS[state.zoom.step];
  if (el) {
    el.style.transform = scale === 1 ? "" : `translate(${state.zoom.x}px, ${state.zoom.y}px) scale(${scale})`;
    el.classList.toggle("zoomed", scale > 1);
  }
  $("zoom-level").textContent = `${Math.round(scale * 100)}%`;
  $("media-box").classList.toggle("can-pan", scale > 1);
}

function setZoom(step) {
  const next = Math.max(0, Math.min(ZOOM_STEPS.length - 1, step));
  if (next === 0) state.zoom = { step: 0, x: 0, y: 0 };
  else {
    const ratio = ZOOM_STEPS[next] / ZOOM_STEPS[state.zoom.step];
    state.zoom = { step: next, x: state.zoom.x * ratio, y: state.zoom.y * ratio };
  }
  applyZoom();
}

function openFullSize() {
  const task = state.task;
  if (!task) return;
  const holder = $("full-media");
  let el;
  if (task.media_type === "video") {
    el = document.createElement("video");
    Object.assign(el, { controls: true, muted: true, loop: true, autoplay: true, playsInline: true });
  } else {
    el = document.createElement("img");
    el.alt = "The image to rate, at full size";
  }
  el.src = task.media_url;
  holder.replaceChildren(el);
  const video = currentVideo();
  if (video) video.pause();
  $("full-view").showModal();
}

function stopVideo() {
  const video = currentVideo();
  if (video) video.pause();
}

function togglePlay() {
  const video = currentVideo();
  if (!video) return;
  if (video.paused) video.play().catch(() => null);
  else video.pause();
}

function stepFrame(direction) {
  const video = currentVideo();
  if (!video) return;
  video.pause();
  const frame = 1 / (state.task.fps || 25);
  const end = Number.isFinite(video.duration) ? video.duration : Infinity;
  video.currentTime = Math.max(0, Math.min(end, video.currentTime + direction * frame));
}

function changeSpeed(delta) {
  state.speed = Math.max(0, Math.min(SPEEDS.length - 1, state.speed + delta));
  const video = currentVideo();
  if (video) video.playbackRate = SPEEDS[state.speed];
  $("speed").textContent = `${SPEEDS[state.speed]}×`;
}

function wirePan(box) {
  let drag = null;
  box.addEventListener("pointerdown", (e) => {
    if (state.zoom.step === 0 || e.button !== 0 || e.target.closest(".media-tools")) return;
    drag = { x: e.clientX, y: e.clientY, ox: state.zoom.x, oy: state.zoom.y };
    box.setPointerCapture(e.pointerId);
    e.preventDefault();
  });
  box.addEventListener("pointermove", (e) => {
    if (!drag) return;
    state.zoom.x = drag.ox + e.clientX - drag.x;
    state.zoom.y = drag.oy + e.clientY - drag.y;
    applyZoom();
  });
  const end = () => { drag = null; };
  box.addEventListener("pointerup", end);
  box.addEventListener("pointercancel", end);
  box.addEventListener("wheel", (e) => {
    if (state.phase !== "rating" || !(e.ctrlKey || state.zoom.step > 0 || e.deltaY < 0)) return;
    e.preventDefault();
    setZoom(state.zoom.step + (e.deltaY < 0 ? 1 : -1));
  }, { passive: false });
  box.addEventListener("dblclick", (e) => {
    if (e.target.closest(".media-tools") || currentVideo()) return;
    setZoom(state.zoom.step ? 0 : 2);
  });
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
      v.playbackRate = SPEEDS[state.speed];
      v.setAttribute("aria-label", "The video to rate");
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
  img.draggable = false;
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
  // the last quarter-second, as "played through once". Frame steps and seeking back do not count.
  let last = 0;
  let seeking = false;
  video.addEventListener("ended", unlock);
  video.addEventListener("seeking", () => { seeking = true; });
  video.addEventListener("seeked", () => { seeking = false; last = video.currentTime; });
  video.addEventListener("timeupdate", () => {
    const t = video.currentTime;
    const d = video.duration;
    if (!seeking && ((Number.isFinite(d) && d > 0 && t >= d - 0.25) || t + 0.3 < last)) unlock();
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
  state.zoom = { step: 0, x: 0, y: 0 };
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
      + "You can still rate it, skip it or flag it as broken (key s), or finish the batch.");
    unlock();
  });
  media.replaceChildren(el);
  applyZoom();
  const isVideo = task.media_type === "video";
  $("video-tools").hidden = !isVideo;
  document.querySelector(".video-hint").hidden = !isVideo;
  $("prompt").textContent = task.prompt || "";
  $("prompt-line").hidden = !state.dims.includes("alignment");
  state.locked = false;
  $("video-note").hidden = true;
  document.querySelectorAll(".score-button").forEach((b) => { b.disabled = false; });
  if (isVideo && cfg.requireFullVideo) {
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

function next() {
  if (state.index + 1 < state.todo.length) showItem(state.index + 1);
  else showSummary();
}

// ---- scales -------------------------------------------------------------------------------------
// The focus rests on the current scale (its fieldset), not on a score button: a focused "1 Bad" must
// never look chosen. Tab still walks the buttons for those who prefer it.
function focusScale(i) {
  state.cur = Math.max(0, Math.min(i, state.dims.length - 1));
  for (const [dim, el] of Object.entries(scaleEls)) el.classList.toggle("current", dim === state.dims[state.cur]);
  if (state.locked || document.querySelector("dialog[open]")) return;
  scaleEls[state.dims[state.cur]].focus({ preventScroll: true });
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
  let nextScale = idx + 1;
  if (!fromKey) {
    const unset = state.dims.findIndex((d) => state.scores[d] == null);
    nextScale = unset === -1 ? idx : unset;
  }
  focusScale(Math.min(nextScale, state.dims.length - 1));
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

function submit({ fromKey = false } = {}) {
  if (state.phase !== "rating") return;
  const nothingSet = !Object.keys(state.scores).length;
  // A second Enter right after saving lands on the new item: not a mistake worth a warning.
  if (fromKey && nothingSet && performance.now() - state.shownAt < ENTER_GUARD_MS) return;
  if (state.locked) {
    setStatus("Please watch the video to its end first: rating unlocks then.", "hint");
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
  next();
}

// ---- skip and flag ------------------------------------------------------------------------------
function openSkip() {
  if (state.phase !== "rating") return;
  stopVideo();
  $("skip-hint").textContent = "";
  $("skip-form").reset();
  $("skip-dialog").showModal();
  $("skip-form").querySelector("input[name=reason]").focus();
}

$("skip-form").addEventListener("submit", (e) => {
  if (e.submitter?.value !== "skip") return; // Cancel: the dialog just closes
  const data = new FormData($("skip-form"));
  const reason = data.get("reason");
  const note = (data.get("note") || "").trim();
  if (reason === "other" && !note) {
    e.preventDefault();
    $("skip-hint").textContent = "Say in a few words what is wrong with it.";
    $("skip-note").focus();
    return;
  }
  // Through the same queue as ratings: kept while offline, sent in order, never lost.
  queue.push({ taskId: state.task.id, batchId: state.batch.id, path: `/tasks/${state.task.id}/skip/`,
    body: { reason, note } });
  state.skipped += 1;
  updateProgress();
  const said = reason === "skip" ? "Skipped." : "Flagged for the admins and skipped. Thank you.";
  setStatus(said, "hint");
  setTimeout(() => { if ($("status").textContent === said) setStatus(""); }, 2500);
  next();
});
$("skip-dialog").addEventListener("close", () => { if (state.phase === "rating") focusScale(state.cur); });

// ---- instructions -------------------------------------------------------------------------------
function openInstructions() {
  stopVideo();
  $("instructions").showModal();
}
$("instructions").addEventListener("close", () => { if (state.phase === "rating") focusScale(state.cur); });
$("full-view").addEventListener("close", () => {
  $("full-media").replaceChildren();
  if (state.phase === "rating") focusScale(state.cur);
});

// ---- input --------------------------------------------------------------------------------------
const MEDIA_KEYS = {
  "+": () => setZoom(state.zoom.step + 1),
  "=": () => setZoom(state.zoom.step + 1),
  "-": () => setZoom(state.zoom.step - 1),
  0: () => setZoom(0),
  f: openFullSize,
  " ": togglePlay,
  ",": () => stepFrame(-1),
  ".": () => stepFrame(1),
  "[": () => changeSpeed(-1),
  "]": () => changeSpeed(1),
};

document.addEventListener("keydown", (e) => {
  state.lastInteraction = Date.now();
  if (e.ctrlKey || e.metaKey || e.altKey) return;
  if (document.querySelector("dialog[open]")) return; // dialogs keep their own keys (Esc closes them)
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
      // Enter only ever saves (or says what is missing): it never gives the focused button's score.
      if (!e.repeat) submit({ fromKey: true }); // a held Enter must not skip through items
    } else if (e.key === "s") {
      e.preventDefault();
      openSkip();
    } else if (e.key === "i" || e.key === "?") {
      e.preventDefault();
      openInstructions();
    } else if (MEDIA_KEYS[e.key] && !(e.key === " " && other)) {
      // Space plays the video; it must not press a focused score button.
      if (e.key === " " && !currentVideo()) return;
      e.preventDefault();
      MEDIA_KEYS[e.key]();
    }
  } else if (state.phase === "summary" && e.key === "Enter" && !other && !e.repeat) {
    e.preventDefault();
    requestBatch();
  } else if (e.key === "i" || e.key === "?") {
    openInstructions();
  }
});

document.querySelectorAll(".score-button").forEach((b) => {
  b.addEventListener("click", () => {
    state.lastInteraction = Date.now();
    if (state.phase !== "rating") return;
    setScore(b.closest(".scale").dataset.dimension, Number(b.dataset.score), { fromKey: false });
  });
});
$("submit").addEventListener("click", () => submit());
$("skip").addEventListener("click", openSkip);
$("open-instructions").addEventListener("click", openInstructions);
$("zoom-in").addEventListener("click", () => setZoom(state.zoom.step + 1));
$("zoom-out").addEventListener("click", () => setZoom(state.zoom.step - 1));
$("zoom-fit").addEventListener("click", () => setZoom(0));
$("full-size").addEventListener("click", openFullSize);
$("play").addEventListener("click", togglePlay);
$("frame-back").addEventListener("click", () => stepFrame(-1));
$("frame-next").addEventListener("click", () => stepFrame(1));
$("slower").addEventListener("click", () => changeSpeed(-1));
$("faster").addEventListener("click", () => changeSpeed(1));
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
wirePan($("media-box"));

// Keep leases alive while the annotator is working; an idle tab lets them lapse.
setInterval(() => {
  if (state.phase !== "rating" || !state.batch) return;
  if (Date.now() - state.lastInteraction > ACTIVE_WINDOW_MS) return;
  call("POST", `/batches/${state.batch.id}/heartbeat/`).catch(() => null);
}, HEARTBEAT_MS);

if (queue.size) queue.kick(); // ratings left from an earlier visit
loadSession();
requestBatch();
