// A job's page: polls /api/v1/jobs/<id>/ every second while the job is queued or running and moves the
// progress bar; when it ends the page reloads once, so the server renders the result (the download, the new
// version, the items imported) or the reason it failed.
const root = document.getElementById("job");
const field = (name) => root.querySelector(`[data-field="${name}"]`);
const ACTIVE = ["queued", "running"];
const WORDS = { queued: "Queued", running: "Running", succeeded: "Succeeded", failed: "Failed" };

async function poll() {
  let job;
  try {
    const response = await fetch(`/api/v1/jobs/${root.dataset.jobId}/`, { credentials: "same-origin" });
    if (!response.ok) {
      field("message").textContent = `Could not read the job (HTTP ${response.status}).`;
      return;
    }
    job = await response.json();
  } catch {
    field("message").textContent = "No connection: trying again…";
    setTimeout(poll, 3000);
    return;
  }
  const pct = job.total ? Math.round((100 * job.progress) / job.total) : 0;
  field("status").textContent = WORDS[job.status] || job.status;
  field("status").className = `status status-${job.status}`;
  field("message").textContent = job.message || "";
  field("fill").style.width = `${pct}%`;
  field("bar").setAttribute("aria-valuenow", String(pct));
  field("count").textContent = `${job.progress} / ${job.total}`;
  if (ACTIVE.includes(job.status)) {
    setTimeout(poll, 1000);
  } else if (ACTIVE.includes(root.dataset.status)) {
    window.location.reload(); // the server renders the result or the reason
  }
}

if (ACTIVE.includes(root.dataset.status)) poll();
