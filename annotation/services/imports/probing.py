"""Phase C of an import: probe every file (Pillow verify and full decode, PyAV's first frame), hash it and make its
thumbnail or poster frame in a local temp folder. A file used by several rows is probed once."""

from __future__ import annotations

from pathlib import Path

from ...models import MediaType
from ..jobs import Progress
from ..media import MediaError, MediaInfo, probe_image, probe_video
from .manifest import Row, row_error

PROGRESS_EVERY = 50  # rows between progress reports (the job row itself is written at most twice a second)


def probe_rows(rows: list[Row], thumbs_dir: Path, label: str, progress: Progress | None) -> dict[str, Path]:
    """Probe every row's file; returns sha256 -> local thumbnail. A file used by several rows is
    probed once."""
    by_path: dict[str, MediaInfo] = {}
    thumbs: dict[str, Path] = {}
    scratch = thumbs_dir / "current.jpg"
    for n, row in enumerate(rows, start=1):
        info = by_path.get(row.path)
        if info is None:
            probe = probe_image if row.media_type == MediaType.IMAGE else probe_video
            try:
                info = probe(Path(row.path), thumbnail_to=scratch)
            except MediaError as exc:
                raise row_error(label, row.line, row.item_id, f"{row.media_path}: {exc}") from None
            by_path[row.path] = info
            if info.sha256 not in thumbs:
                thumbs[info.sha256] = scratch.rename(thumbs_dir / f"{info.sha256}.jpg")
        row.info = info
        if progress and (n % PROGRESS_EVERY == 0 or n == len(rows)):
            progress.advance(n % PROGRESS_EVERY or PROGRESS_EVERY, "probing media")
    return thumbs
