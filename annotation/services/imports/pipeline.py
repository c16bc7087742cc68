"""An import from start to end: the phases in order (manifest.py, database.py, probing.py, storage.py), and the job
runner that takes the files from an uploaded zip or a server folder (intake.py)."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

from django.db import IntegrityError, transaction

from core.errors import Conflict, InvalidInput

from ...models import Campaign, Job
from ..campaigns import campaign_get
from ..jobs import Progress
from ..media import storage_delete
from .database import check_against_database, write_rows
from .intake import archive_extract
from .manifest import read_rows
from .probing import probe_rows
from .storage import remove_unused, store_files, write_lock


def items_import(
    *,
    campaign: Campaign,
    manifest: Path,
    media_root: Path | None = None,
    progress: Progress | None = None,
    job: Job | None = None,
) -> dict[str, Any]:
    """Import every row of `manifest` into `campaign`, or nothing (raises InvalidInput naming the
    first bad row). `media_root` defaults to the manifest's folder."""
    manifest = Path(manifest)
    label = manifest.name
    root_given = Path(media_root) if media_root else manifest.parent
    if not root_given.is_dir():
        raise InvalidInput(f"media root is not a folder: {root_given}")
    root = os.path.realpath(root_given)

    if progress:
        progress.update(0, "reading manifest", force=True)
    rows = read_rows(manifest, root)
    if progress:
        progress.set_total(2 * len(rows), f"checking {len(rows)} rows")  # each row: probed, then stored
    check_against_database(campaign, rows, label)

    with tempfile.TemporaryDirectory(prefix="qeval-import-") as tmp:
        thumbs = probe_rows(rows, Path(tmp), label, progress)
        created: list[str] = []
        with write_lock(progress):
            # Again under the lock: another import may have committed some of these item_ids meanwhile.
            check_against_database(campaign, rows, label)
            try:
                store_files(rows, thumbs, created, progress)
                if progress:
                    progress.update(progress.job.progress, "writing items", force=True)
                with transaction.atomic():
                    result = write_rows(campaign, rows, job, files_stored=len(created))
            except IntegrityError:
                remove_unused(created)
                raise Conflict(
                    f"{label}: another process wrote some of these items, prompts or generators at "
                    "the same time; nothing was imported, run it again"
                ) from None
            except BaseException:
                remove_unused(created)
                raise
    return result


def items_import_job(*, job: Job, progress: Progress) -> dict[str, Any]:
    """Job runner for kind "import_items". params: {"campaign": slug} plus either
    {"manifest": path, "media_root": path|None} (a file on a shared volume) or
    {"archive": storage name, "manifest": member} (an uploaded zip; removed when the job ends)."""
    if job.result.get("items_created") is not None:
        return job.result  # already committed by an earlier run of this job
    params = job.params
    campaign = job.campaign or campaign_get(slug=params.get("campaign"))
    if params.get("archive"):
        try:
            with tempfile.TemporaryDirectory(prefix="qeval-archive-") as tmp:
                folder = Path(tmp) / "content"
                archive_extract(name=params["archive"], dest=folder, manifest=params["manifest"])
                return items_import(campaign=campaign, manifest=folder / params["manifest"], progress=progress, job=job)
        finally:
            storage_delete([params["archive"]])
    media_root = params.get("media_root")
    return items_import(
        campaign=campaign,
        manifest=Path(params["manifest"]),
        media_root=Path(media_root) if media_root else None,
        progress=progress,
        job=job,
    )
