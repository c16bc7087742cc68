// Polls /api/v1/generation-jobs/<id>/ every two seconds while the job runs: the overall bar and the per-generator
// rows (progress, throughput, failures). Reloads once when it finishes, so outputs waiting for approval appear.
const root = document.getElementById("generation-job");
const field = (name) => root.querySelector(`[data-field="${name}"]`);
const text = (value) => (value === null || value === undefined ? "–" : String(value));

function row(g) {
  const tr = document.createElement("tr");
  const cells = [g.generator, null, g.made, g.pending, g.running, g.review, g.failed, text(g.outputs_per_min),
                 text(g.pipeline_seconds_per_output)];
  cells.forEach((value, i) => {
    const td = document.createElement("td");
    if (i === 1) {
      const bar = document.createElement("progress");
      bar.max = Math.max(g.total, 1);
      bar.value = g.made + g.failed;
      td.append(bar, ` ${g.percent}%`);
    } else td.textContent = String(value);
    tr.append(td);
  });
  return tr;
}

async function poll() {
  const response = await fetch(`/api/v1/generation-jobs/${root.dataset.jobId}/`, { credentials: "same-origin" });
  if (!response.ok) { field("message").textContent = `Could not read the job (HTTP ${response.status}).`; return; }
  const job = await response.json();
  const p = job.progress;
  field("status").textContent = job.status;
  field("status").className = `status status-${job.status}`;
  field("message").textContent = job.message || "";
  field("bar").max = Math.max(p.total, 1);
  field("bar").value = p.made + p.failed;
  field("count").textContent = `${p.made} made, ${p.failed} failed of ${p.total}`;
  field("generators").replaceChildren(...p.generators.map(row));
  field("failures").replaceChildren(...p.generators.flatMap((g) => g.failures.map((f) => {
    const line = document.createElement("p");
    line.className = "error";
    line.textContent = `${g.generator} · prompt ${f.prompt_id} · seed ${f.seed}: ${f.error}`;
    return line;
  })));
  if (job.status === "queued" || job.status === "running") setTimeout(poll, 2000);
  else if (root.dataset.initialStatus !== job.status && !sessionStorage.getItem(`gen-job-${job.id}-reloaded`)) {
    sessionStorage.setItem(`gen-job-${job.id}-reloaded`, "1");
    location.reload();
  }
}
root.dataset.initialStatus = field("status").textContent.trim();
if (root.dataset.initialStatus === "queued" || root.dataset.initialStatus === "running") poll();
