"""Downloading a finished export: the checks (the job is the caller's to see, finished, not removed by retention,
its folder still there), the download's date kept on the job (retention counts from the last download), and the
folder streamed as a zip while it is written."""

from __future__ import annotations

import os
import zipfile
from collections.abc import Iterator
from pathlib import Path

from django.utils import timezone

from core.errors import Conflict, Gone, NotFound

from ...models import Job
from ...selectors.jobs import job_for_page


def export_download_start(*, job_id: int, user) -> tuple[Job, Path]:
    """(the export job, its folder) when `user` may download it now; records the download. NotFound (the same
    404 as for a job the user may not see), Conflict while it runs, Gone when retention removed it."""
    job = job_for_page(job_id=job_id, user=user)
    if job is None or job.kind != "dataset_export":
        raise NotFound(f"export job {job_id} not found")
    if job.status != Job.Status.SUCCEEDED:
        raise Conflict(f"export job {job_id} is {job.status}, not finished")
    if job.result.get("pruned_at"):
        raise Gone(
            f"export job {job_id} was removed by retention on {job.result['pruned_at'][:10]} "
            "(not downloaded for QEVAL_RETENTION_DAYS); export the version again"
        )
    root = Path(job.result["out"])
    if not root.is_dir():
        raise Gone(f"the files of export job {job_id} are gone; export the version again")
    # Retention counts from the last download.
    Job.objects.filter(pk=job.pk).update(result={**job.result, "downloaded_at": timezone.now().isoformat()})
    return job, root


def zip_stream(root: Path) -> Iterator[bytes]:
    """Yield a zip of `root` as it is written (stored, not deflated: media are compressed already)."""

    class Sink:
        def __init__(self):
            self.parts: list[bytes] = []
            self.pos = 0

        def write(self, data):
            self.parts.append(bytes(data))
            self.pos += len(data)
            return len(data)

        def tell(self):
            return self.pos

        def flush(self):
            pass

        def take(self) -> bytes:
            data, self.parts = b"".join(self.parts), []
            return data

    sink = Sink()
    # The sink is a write-only stream (write, tell, flush): all ZipFile needs for writing, not what the stubs ask.
    with zipfile.ZipFile(sink, "w", compression=zipfile.ZIP_STORED, allowZip64=True) as zf:  # type: ignore[call-overload]
        for dirpath, _dirs, files in os.walk(root, followlinks=False):
            for name in sorted(files):
                full = Path(dirpath) / name
                arc = str(full.relative_to(root))
                with open(full, "rb") as src, zf.open(arc, "w", force_zip64=True) as dst:
                    for block in iter(lambda: src.read(1024 * 1024), b""):
                        dst.write(block)
                        yield sink.take()
                yield sink.take()
    yield sink.take()
