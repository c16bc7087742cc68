"""Long-running jobs: one code path for the command line (foreground, progress bar) and Celery.

A job row records kind, parameters, progress and result. `job_run` executes it through the runner
registered for its kind; the Celery task `annotation.run_job` just calls `job_run(job_id=...)`.
Runners must be idempotent: a repeat after a worker died half-way must not duplicate anything
(imports are one transaction; aggregation makes a version only at the end).

Surviving faults (docs/operations.md):
- `job_enqueue` goes through the outbox, so a broker outage delays a job instead of losing it;
- `job_run` claims the job under a row lock and a thread beats `heartbeat_at` every JOB_HEARTBEAT_S while
  it runs; a second delivery of a job whose worker is alive does nothing;
- `jobs_sweep` (beat) finds running jobs whose heartbeat is older than JOB_HEARTBEAT_STALE_S (the worker
  died whole: main process and children), re-queues them until JOB_MAX_ATTEMPTS starts, then fails them
  with the reason; it also republishes jobs still queued long after their message went out.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import DataError, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.module_loading import import_string

from core import jobs as state
from core.errors import DATA_ERROR_REASON, ServiceError
from core.events import EXPORT_READY, announce
from core.jobs import Heartbeat, active_jobs_check, redact_paths

from ..models import Job
from .outbox import outbox_enqueue, outbox_pending

log = logging.getLogger(__name__)
RUN_JOB_TASK = "annotation.run_job"
LIVE = state.LIVE

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
                progress=self.job.progress,
                total=self.job.total,
                message=self.job.message,
                heartbeat_at=timezone.now(),
            )
            self._last_write = now


def job_visible_to(*, job: Job, user) -> bool:
    """Its creator and admins see a job; jobs started from the command line (no creator) are also
    visible to researchers."""
    from core.roles import ADMIN, RESEARCHER, user_has_role

    if user_has_role(user, ADMIN) or job.created_by_id == user.pk:
        return True
    return job.created_by_id is None and user_has_role(user, RESEARCHER)


def jobs_visible_q(*, user) -> Q:
    """`job_visible_to` as a filter, for lists: a page that lists jobs shows only those whose page and
    download the person may open (another researcher's answers 404)."""
    from core.roles import ADMIN, RESEARCHER, user_has_role

    if user_has_role(user, ADMIN):
        return Q()
    mine = Q(created_by_id=user.pk)
    return mine | Q(created_by__isnull=True) if user_has_role(user, RESEARCHER) else mine


def job_create(*, kind: str, params: dict[str, Any], campaign=None, created_by=None, quota: bool = True) -> Job:
    """A queued job. With `quota` (the default), TooManyRequests (429) when `created_by` already has
    QEVAL_MAX_ACTIVE_JOBS_PER_USER jobs queued or running."""
    if kind not in JOB_RUNNERS:
        raise ValueError(f"unknown job kind {kind!r}")
    if created_by is not None and quota:
        active_jobs_check(user=created_by)
    return Job.objects.create(kind=kind, params=params, campaign=campaign, created_by=created_by)


def job_enqueue(*, job: Job) -> Job:
    """Hand the job to the Celery workers once the surrounding transaction commits (through the outbox: a
    broker that is down delays the job, the relay publishes it when the broker is back)."""
    task = (job.params or {}).get("_task") or RUN_JOB_TASK  # a job for GPU workers names its queue's task
    outbox_enqueue(task=task, args=[job.pk], key=f"job:{job.pk}")
    return job


def job_run(*, job_id: int, on_update: Callable[[int, int, str], None] | None = None) -> Job:
    """Run a job to completion in this process. A finished job is left as it is (idempotent), and so is
    a job another live worker is running (its heartbeat is fresh).

    Service errors (bad input) mark the job failed with their message and are re-raised, so the
    command line can print that one line; other exceptions are recorded (without server paths) and
    re-raised, their traceback goes to the log.
    """
    job, ours = _claim(job_id)
    if job.status != Job.Status.RUNNING or not ours:
        return job
    runner = import_string(JOB_RUNNERS[job.kind])
    beat = Heartbeat(
        lambda: Job.objects.filter(pk=job.pk, status=Job.Status.RUNNING).update(heartbeat_at=timezone.now()),
        every_s=settings.JOB_HEARTBEAT_S,
        name=f"heartbeat-job-{job.pk}",
    )
    beat.start()
    try:
        result = runner(job=job, progress=Progress(job, on_update))
    except ServiceError as exc:
        _finish(job, Job.Status.FAILED, error=exc.message)
        raise
    except KeyboardInterrupt:
        _finish(job, Job.Status.FAILED, error="interrupted (Ctrl-C) on the command line")
        raise
    except DataError:  # the database refused a value from the input (a NUL character, a number out of range)
        log.exception("job %s (%s) failed", job.pk, job.kind)
        _finish(job, Job.Status.FAILED, error=DATA_ERROR_REASON)
        raise
    except Exception as exc:
        log.exception("job %s (%s) failed", job.pk, job.kind)
        _finish(
            job,
            Job.Status.FAILED,
            error=f"internal error ({type(exc).__name__}: {redact_paths(str(exc))[:300]}); "
            "the traceback is in the worker's log",
        )
        raise
    finally:
        beat.stop()
    if _finish(job, Job.Status.SUCCEEDED, result=result or {}):
        _announce(job)  # only a success that landed is announced
    return job


def _claim(job_id: int) -> tuple[Job, bool]:
    """Mark the job running for this process (attempts + 1) unless it has finished or a live worker holds it.
    Returns the job and whether this process now runs it."""
    now = timezone.now()
    with transaction.atomic():
        job = Job.objects.select_for_update().get(pk=job_id)
        if job.status in state.FINISHED:
            return job, False
        if job.status == Job.Status.RUNNING:
            beat = job.heartbeat_at or job.started_at
            if beat and (now - beat).total_seconds() < settings.JOB_HEARTBEAT_STALE_S:
                log.info("job %s is alive on another worker; this delivery does nothing", job.pk)
                return job, False
            if job.attempts >= settings.JOB_MAX_ATTEMPTS:
                _fail_lost(job, now)
                return job, False
        fields = state.transition(job, Job.Status.RUNNING, now=now)
        job.attempts, job.heartbeat_at, job.error = job.attempts + 1, now, ""
        job.progress = 0  # a re-run after a lost worker starts over (runners are idempotent)
        job.save(update_fields=fields + ["attempts", "heartbeat_at", "error", "progress"])
    return job, True


def _fail_lost(job: Job, now) -> None:
    """Fail a job whose worker died JOB_MAX_ATTEMPTS times (the caller holds its row)."""
    beat = job.heartbeat_at or job.started_at
    fields = state.transition(job, Job.Status.FAILED, now=now)
    job.error = (
        f"its worker stopped responding {job.attempts} time(s) (last heartbeat "
        f"{beat:%Y-%m-%d %H:%M:%S} UTC); gave up after {settings.JOB_MAX_ATTEMPTS} attempts"
    )
    job.save(update_fields=fields + ["error"])
    log.warning("job %s failed: %s", job.pk, job.error)


def jobs_sweep(*, now=None) -> dict[str, list[int]]:
    """Recover jobs whose worker died: running jobs with a stale heartbeat go back to the queue (or fail
    after JOB_MAX_ATTEMPTS), and queued jobs whose message went out more than JOB_QUEUED_RESEND_S ago are
    published again. Returns {"requeued", "failed", "resent"} job ids. Safe to run anywhere, any time."""
    now = now or timezone.now()
    stale = now - timedelta(seconds=settings.JOB_HEARTBEAT_STALE_S)
    requeued, failed = [], []
    with transaction.atomic():
        rows = (
            Job.objects.select_for_update(skip_locked=True)
            .filter(status=Job.Status.RUNNING)
            .filter(Q(heartbeat_at__lt=stale) | Q(heartbeat_at__isnull=True, started_at__lt=stale))
            .order_by("id")[:1000]
        )
        for job in rows:
            if job.attempts >= settings.JOB_MAX_ATTEMPTS:
                _fail_lost(job, now)
                failed.append(job.pk)
                continue
            beat = job.heartbeat_at or job.started_at
            fields = state.transition(job, Job.Status.QUEUED, now=now)
            job.message = f"re-queued: its worker stopped responding (last heartbeat {beat:%H:%M:%S} UTC)"[:500]
            job.save(update_fields=fields + ["message"])
            job_enqueue(job=job)
            requeued.append(job.pk)
    resend_before = now - timedelta(seconds=settings.JOB_QUEUED_RESEND_S)
    resent = []
    for job_id in (
        Job.objects.filter(status=Job.Status.QUEUED, created_at__lt=resend_before)
        .order_by("id")
        .values_list("id", flat=True)[:1000]
    ):
        if not outbox_pending(key=f"job:{job_id}", since=resend_before):
            with transaction.atomic():
                job_enqueue(job=Job.objects.only("id", "params").get(pk=job_id))
            resent.append(job_id)
    if requeued or failed or resent:
        log.warning("job sweep: re-queued %s, failed %s, republished %s", requeued, failed, resent)
    return {"requeued": requeued, "failed": failed, "resent": resent}


# Jobs whose success other systems may want to hear of (core/events.py), by kind.
ANNOUNCED = {"dataset_export": EXPORT_READY}


def _announce(job: Job) -> None:
    """Tell event receivers a job finished, once its row says succeeded (a receiver may download at once)."""
    if job.kind in ANNOUNCED and job.campaign_id:
        announce(ANNOUNCED[job.kind], job=job)


def _finish(job: Job, status: str, *, error: str = "", result: dict | None = None) -> bool:
    """The job's end (from running). A finished status is final: a job the sweep failed meanwhile stays failed.
    True when this end landed."""
    job.error = error
    if result is not None:
        job.result = result
    if status == Job.Status.SUCCEEDED:
        job.progress = max(job.progress, job.total)
    return state.transition_save(job, status, also=["error", "result", "progress"])


def selfcheck_job(*, job: Job, progress: Progress) -> dict:
    """A job that only reports progress: proves a worker picks up jobs and can write to the database."""
    steps = int(job.params.get("steps", 3))
    pause = min(float(job.params.get("sleep_s", 0)), 5.0)  # a slow job, for fault tests and benchmarks/faults.py
    progress.set_total(steps)
    for _ in range(steps):
        if pause:
            time.sleep(pause)
        progress.advance(1, "checking")
    import socket

    return {"ok": True, "host": socket.gethostname()}
