"""`manage.py sweep_jobs`: one pass of the fault-tolerance sweeps beat runs (stale jobs of every kind in
QEVAL_JOB_SWEEPS: dataset jobs, training runs; closed batches still waiting for scrutiny), printing what it
recovered."""

from __future__ import annotations

from django.conf import settings
from django.utils.module_loading import import_string

from core.management.base import ServiceCommand

from ...services.batch_events import scrutiny_sweep


class Command(ServiceCommand):
    help = "Re-queue or fail jobs whose worker died; queue scrutiny of closed batches still pending."

    def handle(self, *args, **options):
        for name, path in settings.QEVAL_JOB_SWEEPS.items():
            swept = import_string(path)()
            self.stdout.write(
                f"{name.replace('_', ' ')}: re-queued {swept['requeued']}, failed {swept['failed']}, "
                f"republished {swept['resent']}"
            )
        self.stdout.write(f"batches queued for scrutiny: {scrutiny_sweep()}")
