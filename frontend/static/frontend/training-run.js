// A training run's page: polls the run every 2 s while it is active and draws the loss chart as SVG: axes
// with titles and ticks, a grid, the loss line, and a diamond per evaluation (instance-level SRCC in its
// tooltip). Metrics, errors and downloads are rendered by the server: the page reloads once when the run ends.
const box = document.getElementById("run");
const svg = document.getElementById("loss-curve");
const NS = "http://www.w3.org/2000/svg";
const FINISHED = ["succeeded", "failed", "cancelled"];
const W = 640, H = 260, L = 64, R = 14, T = 12, B = 46;

function el(name, attrs, text) {
  const node = document.createElementNS(NS, name);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  if (text !== undefined) node.textContent = text;
  return node;
}

/** About `count` round tick values between lo and hi (1, 2 or 5 times a power of ten apart). */
function ticks(lo, hi, count = 5) {
  if (hi === lo) return [lo];
  const raw = (hi - lo) / count;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * mag).find((s) => s >= raw);
  const out = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9; v += step) out.push(Number(v.toPrecision(12)));
  return out;
}

function drawCurve(points, evaluations) {
  if (!svg) return;
  const pts = points.filter((p) => p.loss !== null && Number.isFinite(p.loss));
  if (!pts.length) return;
  const xs = pts.map((p) => p.step).concat(evaluations.map((e) => e.step));
  const ys = pts.map((p) => p.loss);
  const x0 = Math.min(...xs), x1 = Math.max(...xs);
  const pad = (Math.max(...ys) - Math.min(...ys)) * 0.08 || Math.abs(ys[0]) * 0.1 || 1;
  const y0 = Math.max(0, Math.min(...ys) - pad), y1 = Math.max(...ys) + pad;
  const sx = (s) => L + (x1 === x0 ? 0.5 : (s - x0) / (x1 - x0)) * (W - L - R);
  const sy = (v) => T + (1 - (v - y0) / (y1 - y0)) * (H - T - B);
  svg.replaceChildren();
  const grid = el("g", { class: "grid" });
  for (const v of ticks(y0, y1)) {
    grid.append(el("line", { x1: L, x2: W - R, y1: sy(v), y2: sy(v) }));
    svg.append(el("text", { x: L - 6, y: sy(v) + 4, "text-anchor": "end" }, v.toString()));
  }
  for (const s of ticks(x0, x1).filter(Number.isInteger)) {
    grid.append(el("line", { x1: sx(s), x2: sx(s), y1: T, y2: H - B }));
    svg.append(el("text", { x: sx(s), y: H - B + 16, "text-anchor": "middle" }, String(s)));
  }
  svg.prepend(grid);
  svg.append(el("polyline", { class: "axis", points: `${L},${T} ${L},${H - B} ${W - R},${H - B}` }));
  svg.append(el("text", { class: "axis-title", x: L + (W - L - R) / 2, y: H - 8, "text-anchor": "middle" }, "optimizer step"));
  svg.append(el("text", { class: "axis-title", x: 14, y: T + (H - T - B) / 2, "text-anchor": "middle",
    transform: `rotate(-90 14 ${T + (H - T - B) / 2})` }, "loss"));
  svg.append(el("polyline", { class: "curve", points: pts.map((p) => `${sx(p.step).toFixed(1)},${sy(p.loss).toFixed(1)}`).join(" ") }));
  // Evaluations sit on the curve at their step (the loss there, interpolated), marked by a diamond.
  const lossAt = (step) => {
    const next = pts.findIndex((p) => p.step >= step);
    if (next === -1) return pts[pts.length - 1].loss;
    if (next === 0) return pts[0].loss;
    const a = pts[next - 1], b = pts[next];
    return a.loss + ((b.loss - a.loss) * (step - a.step)) / (b.step - a.step || 1);
  };
  for (const e of evaluations) {
    const x = sx(e.step), y = sy(lossAt(e.step));
    const mark = el("path", { class: "eval-point", d: `M${x},${y - 6} L${x + 6},${y} L${x},${y + 6} L${x - 6},${y} Z` });
    const srcc = Object.entries(e.srcc || {}).map(([d, v]) => `${d} SRCC ${v === null ? "–" : v.toFixed(3)}`).join(", ");
    mark.append(el("title", {}, `evaluation after epoch ${e.epoch ?? "?"} (step ${e.step}): ${srcc || "no SRCC"}`));
    svg.append(mark);
  }
  const legend = el("g", { class: "legend" });
  legend.append(el("line", { class: "curve", x1: W - R - 190, x2: W - R - 170, y1: T + 10, y2: T + 10 }));
  legend.append(el("text", { x: W - R - 165, y: T + 14 }, "loss"));
  legend.append(el("path", { class: "eval-point", d: `M${W - R - 100},${T + 4} L${W - R - 94},${T + 10} L${W - R - 100},${T + 16} L${W - R - 106},${T + 10} Z` }));
  legend.append(el("text", { x: W - R - 88, y: T + 14 }, "evaluation"));
  svg.append(legend);
}

async function poll() {
  let data;
  try {
    const res = await fetch(box.dataset.api, { credentials: "same-origin", headers: { Accept: "application/json" } });
    if (!res.ok) return;
    data = await res.json();
  } catch {
    setTimeout(poll, 5000);
    return;
  }
  document.getElementById("run-status").textContent = data.status;
  document.getElementById("run-message").textContent = data.message;
  const pct = data.progress_total ? Math.round((100 * data.progress_step) / data.progress_total) : 0;
  document.getElementById("run-bar").style.width = `${pct}%`;
  document.getElementById("run-steps").textContent = data.progress_total ? `${data.progress_step}/${data.progress_total}` : `${data.progress_step}`;
  drawCurve(data.loss_curve || [], (data.metrics && data.metrics._evaluations) || []);
  if (FINISHED.includes(data.status) && !FINISHED.includes(box.dataset.status)) {
    window.location.reload(); // metrics, scorer and errors are rendered server-side
    return;
  }
  if (!FINISHED.includes(data.status)) setTimeout(poll, 2000);
}
poll();
