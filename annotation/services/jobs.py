"""Long-running jobs: one code path for the command line (foreground, progress bar) and Celery.

A job row records kind, parameters, progress and result. `job_run` executes it through the runner
registered for its kind; the Celery task `annotation.run_job` just calls `job_run(job_id=...)`.
Runners must be idempotent: a repeat after a worker died half-way must not duplicate anything
(imports are one transaction; aggregation makes a version only at the end).
"""
from __future__ import annotations

import time
import traceback
from collections.abc import Callable
from typing import Any

from django.db import transaction
from django.utils import timezone
from django.utils.module_loading import import_string

from ..models import Job
from .errors import ServiceError

# kind -> dotted path of `runner(*, job: Job, progress: Progress) -> dict` (the job's result).
JOB_RUNNERS: dict[str, str] = {
    "selfcheck": "annotation.services.jobs.selfcheck_job",
    "import_items": "annotation.services.imports.items_import_job",
    "mos_aggregate": "annotation.services.mos.mos_aggregate_job",
    "dataset_export": "annotation.services.exports.dataset_export_job",
    "scrutinize": "annotation.services.scrutiny.scrutinize_job",
    "prompts_import": "generation.services.prompts.prompts_import_job",
    "prompts_classify": "generation.services.classify.prompts_classify_job",
}


class Progress:
    """Reports progress to the job row (throttled) and to an optional foreground callback (tqdm)."""

    def __init__(self, job: Job, on_update: Callable[[int, int, str], None] | None = None, every_s: float = 0.5):
        self.job = job
        self.on_update = on_update
        self.every_s = every_s
        self._last_write = 0.0

    def set_total(self, total: int, message: str = "") -> None:
        self.job.total = total
        self.update(self.job.progress, message=message, force=True)

    def advance(self, n: int = 1, message: str = "") -> None:
        self.update(self.job.progress + n, message=message)

    def update(self, done: int, message: str = "", force: bool = False) -> None:
        self.job.progress = done
        if message:
            self.job.message = message[:500]
        if self.on_update:
            self.on_update(done, self.job.total, message)
        now = time.monotonic()
        if force or now - self._last_write >= self.every_s or done >= self.job.total:
            # Outside any surrounding transaction's rows: a plain UPDATE of this job only.
            Job.objects.filter(pk=self.job.pk).update(
                progress=self.job.progress, total=self.job.total, message=self.job.message
            )
            self._last_write = now


def job_visible_to(*, job: Job, user) -> bool:
    """Its creator and admins see a job; jobs started from the command line (no creator) are also
    visible to researchers."""
    from ..roles import ADMIN, RESEARCHER, user_has_role

    if user_has_role(user, ADMIN) or job.created_by_id == user.pk:
        return True
    return job.created_by_id is None and user_has_role(user, RESEARCHER)


def job_create(*, kind: str, params: dict[str, Any], campaign=None, created_by=None) -> Job:
    if kind not in JOB_RUNNERS:
        raise ValueError(f"unknown job kind {kind!r}")
    return Job.objects.create(kind=kind, params=params, campaign=campaign, created_by=created_by)


def job_enqueue(*, job: Job) -> Job:
    """Hand the job to the Celery workers once the surrounding transaction commits."""
    from ..tasks import run_job

    transaction.on_commit(lambda: run_job.delay(job.pk))
    return job


def job_run(*, job_id: int, on_update: Callable[[int, int, str], None] | None = None) -> Job:
    """Run a job to completion in this process. A finished job is left as it is (idempotent).

    Service errors (bad input) mark the job failed with their message and are re-raised, so the
    command line can print that one line; other exceptions are recorded with their traceback.
    """
    job = Job.objects.get(pk=job_id)
    if job.status == Job.Status.SUCCEEDED:
        return job
    Job.objects.filter(pk=job.pk).update(status=Job.Status.RUNNING, started_at=timezone.now(), error="")
    job.status = Job.Status.RUNNING
    runner = import_string(JOB_RUNNERS[job.kind])
    try:
        result = runner(job=job, progress=Progress(job, on_update))
    except ServiceError as exc:
        _finish(job, Job.Status.FAILED, error=exc.message)
        raise
    except Exception:
        _finish(job, Job.Status.FAILED, error=traceback.format_exc()[-4000:])
        raise
    _finish(job, Job.Status.SUCCEEDED, result=result or {})
    _announce(job)
    return job


# Jobs whose success other systems may want to hear of (webhooks), by kind.
ANNOUNCED = {"dataset_export": "webhooks.events.export_ready"}


def _announce(job: Job) -> None:
    """Tell webhook receivers a job finished, once its row says succeeded (a receiver may download at once)."""
    if job.kind in ANNOUNCED and job.campaign_id:
        import_string(ANNOUNCED[job.kind])(job=job)


def _finish(job: Job, status: str, *, error: str = "", result: dict | None = None) -> None:
    job.status, job.error, job.finished_at = status, error, timezone.now()
    if result is not None:
        job.result = result
    if status == Job.Status.SUCCEEDED:
        job.progress = max(job.progress, job.total)
    job.save(update_fields=["status", "error", "finished_at", "result", "progress"])


def selfcheck_job(*, job: Job, progress: Progress) -> dict:
    """A job that only reports progress: proves a worker picks up jobs and can write to the database."""
    steps = int(job.params.get("steps", 3))
    progress.set_total(steps)
    for _ in range(steps):
        progress.advance(1, "checking")
    import socket

    return {"ok": True, "host": socket.gethostname()}
