"""Celery tasks of the generation app, on the `generation` queue (CELERY_TASK_ROUTES sends "generation.*" there:
GPU workers run `celery -A config worker -Q generation`). Thin: load by id, call the service. acks_late, so a
worker that dies mid-batch hands the message back; the service makes the repeat safe (claims are leases, and
every write is conditional on still holding the claim).

torch and diffusers are imported inside the services' functions, never here.
"""

from __future__ import annotations

from celery import shared_task


@shared_task(name="generation.generate_batch", bind=True, acks_late=True, max_retries=None)
def generate_batch(self, job_id: int, generator_id: int) -> dict:
    """Make the next batch of a generator's outputs in a job."""
    from .services.running import StillWorking, generation_batch_run, worker_name

    try:
        result = generation_batch_run(
            job_id=job_id, generator_id=generator_id, worker=worker_name(self.request.hostname)
        )
    except StillWorking as exc:
        raise self.retry(countdown=int(exc.retry_in)) from None
    return {"claimed": result.claimed, "made": result.made, "failed": result.failed, "finished": result.finished}


@shared_task(name="generation.run_job", acks_late=True)
def run_job(job_id: int) -> str:
    """A platform Job that needs a generation worker (prompt classification with a local LLM)."""
    from annotation.services.jobs import job_run
    from core.errors import ServiceError

    try:
        return job_run(job_id=job_id).status
    except ServiceError as exc:  # recorded on the job; nothing to retry
        return f"failed: {exc.message}"
