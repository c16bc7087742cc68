"""Celery tasks of the annotation app: thin, load by id, call the service. Idempotent and acks_late.

Submodules hold the tasks of each area; importing them here lets Celery's autodiscovery find them.
"""
from celery import shared_task


@shared_task(name="annotation.run_job", acks_late=True)
def run_job(job_id: int) -> None:
    from ..services.jobs import job_run

    job_run(job_id=job_id)

from . import scrutiny  # noqa: E402,F401
from . import mos  # noqa: E402,F401
from . import assignment  # noqa: E402,F401
from . import reliability  # noqa: E402,F401
