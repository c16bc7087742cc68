// Polls /api/v1/jobs/<id>/ until the job finishes and updates the progress bar.
const root = document.getElementById("job");
const field = (name) => root.querySelector(`[data-field="${name}"]`);

async function poll() {
  const response = await fetch(`/api/v1/jobs/${root.dataset.jobId}/`, { credentials: "same-origin" });
  if (!response.ok) { field("message").textContent = `Could not read the job (HTTP ${response.status}).`; return; }
  const job = await response.json();
  field("status").textContent = job.status;
  field("message").textContent = job.message || "";
  field("bar").max = Math.max(job.total, 1);
  field("bar").value = job.progress;
  field("count").textContent = `${job.progress} / ${job.total}`;
  if (job.error) { field("error").textContent = job.error; field("error").hidden = false; }
  if (job.status === "succeeded") { field("result").textContent = JSON.stringify(job.result, null, 2); field("result").hidden = false; }
  if (job.status === "queued" || job.status === "running") setTimeout(poll, 1000);
}
poll();
