"""The bridge to the platform's exporter: a dataset version written in the `sft` format, in-process.

The exporter (annotation.services.exports, the `dataset_export` job runner) writes manifest.json,
sft_<split>.jsonl and media/ -- the contract training.scorer.data reads -- into a hidden folder and
renames it into place at the end, so a half-written export is never mistaken for a complete one. It
runs here as a platform Job (kind `dataset_export`), in this process, so the run records the job id and
the export's progress shows on the job like any other export.

Settings (platform/config/settings/base.py): TRAINING_EXPORT_SPLIT, TRAINING_EXPORT_SEED, TRAINING_EXPORT_MEDIA,
TRAINING_EXPORT_GOLDEN.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from django.conf import settings

from annotation.services.jobs import job_create, job_run
from core.errors import ServiceError


@dataclass
class ExportInfo:
    path: Path
    job_id: int | None = None


def export_params() -> dict:
    return {
        "split": settings.TRAINING_EXPORT_SPLIT,
        "seed": settings.TRAINING_EXPORT_SEED,
        "media": settings.TRAINING_EXPORT_MEDIA,
        "golden": settings.TRAINING_EXPORT_GOLDEN,
    }


def sft_export(*, version, out_dir: str | Path, created_by=None, split: str | None = None) -> ExportInfo:
    """Export `version` as `sft` into `out_dir` (must not exist yet, or be empty). Raises the
    exporter's ServiceErrors (InvalidInput: a missing media file, ...)."""
    out = Path(out_dir)
    job = job_create(
        kind="dataset_export",
        params={
            "version_id": version.pk,
            "format": "sft",
            "out": str(out),
            **export_params(),
            **({"split": split} if split else {}),
        },
        campaign=version.campaign,
        created_by=created_by,
        quota=False,  # part of a run the quota counted already
    )
    job_run(job_id=job.pk)
    if not (out / "manifest.json").exists():
        raise ServiceError(f"the sft export of version {version.pk} (job {job.pk}) wrote no manifest.json in {out}")
    return ExportInfo(path=out, job_id=job.pk)
