"""The worker's entry to every dataset job (annotation.Job): load it by id and run it through its runner."""

from celery import shared_task


@shared_task(name="annotation.run_job", acks_late=True)
def run_job(job_id: int) -> None:
    from ..services.jobs import job_run

    job_run(job_id=job_id)
