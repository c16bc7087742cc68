"""`manage.py retention [--dry-run] [--days N] [--keep-versions K]`: remove exports and dataset versions
nobody uses (annotation/services/retention.py); --dry-run prints what would go and removes nothing."""

from __future__ import annotations

from core.errors import InvalidInput
from core.management.base import ServiceCommand

from ...services.retention import retention_apply


class Command(ServiceCommand):
    help = "Remove exports not downloaded for QEVAL_RETENTION_DAYS and dataset versions nobody uses."

    def add_arguments(self, parser):
        parser.add_argument("--dry-run", action="store_true", help="Only print what would be removed.")
        parser.add_argument("--days", type=int, default=None, help="Override QEVAL_RETENTION_DAYS.")
        parser.add_argument("--keep-versions", type=int, default=None, help="Override QEVAL_RETENTION_KEEP_VERSIONS.")

    def handle(self, *args, dry_run: bool, days: int | None, keep_versions: int | None, **options):
        if days is not None and days < 1:
            raise InvalidInput("--days must be at least 1 (set QEVAL_RETENTION_DAYS=0 to switch retention off)")
        if keep_versions is not None and keep_versions < 0:
            raise InvalidInput("--keep-versions must not be negative")
        plan = retention_apply(dry_run=dry_run, days=days, keep_versions=keep_versions)
        if plan.days <= 0:
            self.stdout.write("retention is off (QEVAL_RETENTION_DAYS=0)")
            return
        verb = "would remove" if dry_run else "removed"
        for e in plan.exports:
            self.stdout.write(
                f"export job {e.job_id} (version {e.version_id}): {e.bytes / 1024**2:.1f} MiB, "
                f"last used {e.last_used:%Y-%m-%d}"
            )
        for v in plan.versions:
            self.stdout.write(f"version {v.version_id} ({v.campaign} v{v.number}), made {v.created_at:%Y-%m-%d}")
        self.stdout.write(
            f"{verb} {len(plan.exports)} exports ({plan.bytes / 1024**2:.1f} MiB) and "
            f"{len(plan.versions)} dataset versions unused for {plan.days} days"
        )
