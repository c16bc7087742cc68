"""`manage.py sweep_jobs`: one pass of the fault-tolerance sweeps beat runs (stale jobs and training runs,
closed batches still waiting for scrutiny), printing what it recovered."""
from __future__ import annotations

from training.services.runs import runs_sweep

from ...services.batch_events import scrutiny_sweep
from ...services.jobs import jobs_sweep
from core.management.base import ServiceCommand


class Command(ServiceCommand):
    help = "Re-queue or fail jobs whose worker died; queue scrutiny of closed batches still pending."

    def handle(self, *args, **options):
        jobs, runs, batches = jobs_sweep(), runs_sweep(), scrutiny_sweep()
        self.stdout.write(f"jobs: re-queued {jobs['requeued']}, failed {jobs['failed']}, republished {jobs['resent']}")
        self.stdout.write(f"training runs: re-queued {runs['requeued']}, failed {runs['failed']}, republished {runs['resent']}")
        self.stdout.write(f"batches queued for scrutiny: {batches}")
