"""Retention: exports and dataset versions nobody uses are removed after QEVAL_RETENTION_DAYS.

- An **export** (a succeeded `dataset_export` job whose folder lies under EXPORT_ROOT) whose last use (its
  last download, else when it finished) is older than the window loses its folder; the job row stays,
  marked `pruned_at`, and its download answers 410. Exports written to a folder someone named (`--out`,
  a training run's own export) are never touched.
- A **dataset version** older than the window goes when nothing uses it: it is not among the newest
  QEVAL_RETENTION_KEEP_VERSIONS of its campaign, no training run or benchmark names it, and no export of
  it is kept. Its scores and annotator statistics go with it; the ratings it was computed from stay, so
  aggregating again makes it anew.

`retention_plan` only looks; `retention_apply(dry_run=False)` removes. `manage.py retention --dry-run`
prints the plan; beat runs it daily. QEVAL_RETENTION_DAYS=0 switches it off.
"""

from __future__ import annotations

import logging
import shutil
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

from django.conf import settings
from django.db import transaction
from django.db.models import ProtectedError
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from ..models import DatasetVersion, Job

log = logging.getLogger(__name__)


@dataclass
class ExportToPrune:
    job_id: int
    version_id: int | None
    folder: Path
    bytes: int
    last_used: datetime


@dataclass
class VersionToPrune:
    version_id: int
    campaign: str
    number: int
    created_at: datetime


@dataclass
class RetentionPlan:
    days: int
    exports: list[ExportToPrune] = field(default_factory=list)
    versions: list[VersionToPrune] = field(default_factory=list)
    applied: bool = False

    @property
    def bytes(self) -> int:
        return sum(e.bytes for e in self.exports)

    def summary(self) -> dict:
        return {
            "days": self.days,
            "applied": self.applied,
            "exports": [e.job_id for e in self.exports],
            "export_bytes": self.bytes,
            "versions": [v.version_id for v in self.versions],
        }


def _folder_bytes(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file() and not p.is_symlink())


def export_last_used(job: Job) -> datetime:
    used = parse_datetime(job.result.get("downloaded_at") or "") if isinstance(job.result, dict) else None
    return max(filter(None, [used, job.finished_at, job.created_at]))


def retention_plan(
    *, now: datetime | None = None, days: int | None = None, keep_versions: int | None = None
) -> RetentionPlan:
    now = now or timezone.now()
    days = int(settings.QEVAL_RETENTION_DAYS if days is None else days)
    keep_versions = int(settings.QEVAL_RETENTION_KEEP_VERSIONS if keep_versions is None else keep_versions)
    plan = RetentionPlan(days=days)
    if days <= 0:
        return plan
    cutoff = now - timedelta(days=days)
    root = Path(settings.EXPORT_ROOT).resolve()
    kept_versions: set[int] = set()
    for job in Job.objects.filter(kind="dataset_export", status=Job.Status.SUCCEEDED).order_by("id").iterator():
        version_id = job.params.get("version_id")
        if job.params.get("out") or job.result.get("pruned_at"):
            if job.params.get("out") and version_id:
                kept_versions.add(int(version_id))  # a named folder we never remove keeps its version
            continue
        folder = Path(job.result.get("out") or root / f"job-{job.pk}")
        if not folder.is_dir() or not folder.resolve().is_relative_to(root):
            continue
        last_used = export_last_used(job)
        if last_used < cutoff:
            plan.exports.append(
                ExportToPrune(
                    job_id=job.pk,
                    version_id=version_id,
                    folder=folder,
                    bytes=_folder_bytes(folder),
                    last_used=last_used,
                )
            )
        elif version_id:
            kept_versions.add(int(version_id))
    newest: dict[int, list[int]] = {}
    for version_id, campaign_id in DatasetVersion.objects.order_by("campaign_id", "-number").values_list(
        "id", "campaign_id"
    ):
        newest.setdefault(campaign_id, []).append(version_id)
    protected = {v for ids in newest.values() for v in ids[:keep_versions]} | kept_versions
    for version in (
        DatasetVersion.objects.filter(created_at__lt=cutoff, training_runs__isnull=True, benchmarks__isnull=True)
        .exclude(pk__in=protected)
        .select_related("campaign")
        .order_by("id")
    ):
        plan.versions.append(
            VersionToPrune(
                version_id=version.pk,
                campaign=version.campaign.slug,
                number=version.number,
                created_at=version.created_at,
            )
        )
    return plan


def retention_apply(
    *, dry_run: bool, now: datetime | None = None, days: int | None = None, keep_versions: int | None = None
) -> RetentionPlan:
    """Make the plan and, unless `dry_run`, carry it out. A version something started to use meanwhile
    (a training run, a benchmark: PROTECT) is left and dropped from the plan."""
    plan = retention_plan(now=now, days=days, keep_versions=keep_versions)
    if dry_run or not (plan.exports or plan.versions):
        return plan
    stamp = timezone.now().isoformat()
    for export in plan.exports:
        shutil.rmtree(export.folder, ignore_errors=True)
        job = Job.objects.get(pk=export.job_id)
        Job.objects.filter(pk=job.pk).update(result={**job.result, "pruned_at": stamp})
    kept = []
    for version in plan.versions:
        try:
            with transaction.atomic():
                DatasetVersion.objects.filter(pk=version.version_id).delete()
            kept.append(version)
        except ProtectedError:
            log.info("retention: version %s is in use now; kept", version.version_id)
    plan.versions = kept
    plan.applied = True
    log.warning(
        "retention: removed %d exports (%d bytes) and %d versions", len(plan.exports), plan.bytes, len(plan.versions)
    )
    return plan
