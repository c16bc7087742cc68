"""Commands that run one dataset job (annotation.Job): in the foreground with a progress bar, or `--enqueue`d to
the workers. The same service runs the job either way (annotation/services/jobs.py)."""

from __future__ import annotations

from core.management.base import ServiceCommand

from ..services.jobs import job_create, job_enqueue, job_run


class JobCommand(ServiceCommand):
    """A command that runs one job: in the foreground with a progress bar, or `--enqueue`d to the workers."""

    job_kind: str = ""

    def add_arguments(self, parser):
        parser.add_argument(
            "--enqueue", action="store_true", help="Hand the job to the Celery workers and print its id."
        )

    def run_job(self, *, params: dict, campaign=None, enqueue: bool, label: str = "") -> dict | None:
        job = job_create(kind=self.job_kind, params=params, campaign=campaign)
        if enqueue:
            job_enqueue(job=job)
            self.stdout.write(f"job {job.pk} queued ({self.job_kind}); follow it at /jobs/{job.pk}/")
            self.stdout.write(str(job.pk))
            return None
        bar = self.progress_bar(desc=label or self.job_kind)

        def on_update(done: int, total: int, message: str) -> None:
            if total and bar.total != total:
                bar.total = total
            bar.n = done
            bar.refresh()

        try:
            job = job_run(job_id=job.pk, on_update=on_update)
        finally:
            bar.close()
        return job.result
