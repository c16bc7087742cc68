// The statistics page's forms: start an aggregation or an export through the REST API, once per click
// (an Idempotency-Key per submission, the button off while it runs), show the running job with its
// progress (also one started before the page was opened), then its result: a link to the new version, or
// the export's download added to the version's export history (which the server lists on every visit).
import { api, errorText } from "./rate-api.js";

const FINISHED = ["succeeded", "failed"];

function newKey() {
  return (crypto.randomUUID && crypto.randomUUID()) || `k${Date.now()}${Math.random().toString(16).slice(2)}`;
}

function historyRow(job) {
  const li = document.createElement("li");
  li.dataset.job = job.id;
  const page = document.createElement("a");
  page.href = `/jobs/${job.id}/`;
  page.textContent = `export ${job.id}`;
  const download = document.createElement("a");
  download.className = "download";
  download.href = `/api/v1/exports/${job.id}/download/`;
  download.textContent = "download zip";
  li.append(page, ` · ${job.result.format} · just now · `, download);
  return li;
}

async function follow(form, jobId) {
  const status = form.querySelector(".job-status");
  const button = form.querySelector("button[type=submit]");
  button.disabled = true;
  button.dataset.label = button.dataset.label || button.textContent;
  button.textContent = `Running: job ${jobId}`;
  for (;;) {
    let res;
    try {
      res = await api("", "GET", `/api/v1/jobs/${jobId}/`);
    } catch {
      status.textContent = `job ${jobId}: no connection, still trying…`;
      await new Promise((resolve) => { setTimeout(resolve, 3000); });
      continue;
    }
    if (res.status !== 200) {
      status.textContent = `job ${jobId}: ${errorText(res.status, res.data)}`;
      break;
    }
    const job = res.data;
    const pct = job.total ? Math.round((100 * job.progress) / job.total) : 0;
    status.textContent = `job ${jobId}: ${job.status} ${pct}% ${job.message || ""}`;
    if (job.status === "succeeded") {
      status.replaceChildren(`Done (job ${jobId}): `);
      const link = document.createElement("a");
      if (job.kind === "dataset_export") {
        link.href = `/api/v1/exports/${job.id}/download/`;
        link.textContent = "download zip";
        link.className = "button small";
        const list = form.closest(".version-row")?.querySelector(".export-history");
        if (list && !list.querySelector(`[data-job="${job.id}"]`)) list.prepend(historyRow(job));
      } else {
        link.href = `?version=${job.result.number}`;
        link.textContent = `open version ${job.result.number}`;
      }
      status.append(link);
      break;
    }
    if (job.status === "failed") {
      status.textContent = `job ${jobId} failed: ${(job.error || "").split("\n").filter(Boolean).slice(-1)[0] || "see the job page"}`;
      break;
    }
    await new Promise((resolve) => { setTimeout(resolve, 1000); });
  }
  button.disabled = false;
  button.textContent = button.dataset.label;
  form.dataset.key = newKey(); // the next click is a new request
}

for (const form of document.querySelectorAll(".job-form")) {
  form.dataset.key = newKey();
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const button = form.querySelector("button[type=submit]");
    if (button.disabled) return;
    button.disabled = true;
    const status = form.querySelector(".job-status");
    const body = Object.fromEntries(new FormData(form));
    if (body.seed !== undefined) body.seed = Number(body.seed || 0);
    if (body.method === "mle+generator") {
      // mle with the generator prior (docs/mos.md): one method, one parameter
      body.method = "mle";
      body.params = { group_prior: true };
    }
    status.textContent = "starting…";
    let res;
    try {
      res = await fetch(form.dataset.url, {
        method: "POST",
        credentials: "same-origin",
        headers: {
          "Content-Type": "application/json",
          Accept: "application/json",
          "X-CSRFToken": document.querySelector("[name=csrfmiddlewaretoken]").value,
          "Idempotency-Key": form.dataset.key,
        },
        body: JSON.stringify(body),
      });
    } catch {
      status.textContent = "No connection: nothing was started. Try again.";
      button.disabled = false;
      return;
    }
    const data = await res.json().catch(() => null);
    if (res.status !== 202) {
      status.textContent = errorText(res.status, data);
      button.disabled = false;
      return;
    }
    follow(form, data.job.id);
  });
  if (form.dataset.active) follow(form, form.dataset.active); // started earlier (another tab, a reload)
}
