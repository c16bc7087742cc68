"""Shared parts of the researcher's command line: one-line errors, job running with a progress bar."""
from __future__ import annotations

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from ..services.errors import InvalidInput, ServiceError
from ..services.jobs import job_create, job_enqueue, job_run


class ServiceCommand(BaseCommand):
    """A command whose service errors become exit code 1 and one line on stderr."""

    @staticmethod
    def read_utf8(path: str) -> str:
        """The text of a UTF-8 input file, or one line saying why it cannot be read."""
        try:
            return Path(path).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise InvalidInput(f"cannot read {path}: {exc}") from None

    def execute(self, *args, **options):
        try:
            return super().execute(*args, **options)
        except ServiceError as exc:
            raise CommandError(exc.message) from None


class JobCommand(ServiceCommand):
    """A command that runs one job: in the foreground with a progress bar, or `--enqueue`d to the workers."""

    job_kind: str = ""

    def add_arguments(self, parser):
        parser.add_argument("--enqueue", action="store_true", help="Hand the job to the Celery workers and print its id.")

    def run_job(self, *, params: dict, campaign=None, enqueue: bool, label: str = "") -> dict | None:
        job = job_create(kind=self.job_kind, params=params, campaign=campaign)
        if enqueue:
            job_enqueue(job=job)
            self.stdout.write(f"job {job.pk} queued ({self.job_kind}); follow it at /jobs/{job.pk}/")
            self.stdout.write(str(job.pk))
            return None
        bar = tqdm(total=0, desc=label or self.job_kind, unit="it", file=self.stderr._out, dynamic_ncols=True)

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


__all__ = ["CommandError", "JobCommand", "ServiceCommand"]
