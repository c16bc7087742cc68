"""The free-disk guard: work that writes big folders (exports) is refused while the disk it writes to is
short of space, with a message that says how short, instead of failing half-way with ENOSPC."""

from __future__ import annotations

import shutil
from pathlib import Path

from django.conf import settings

from core.errors import InsufficientStorage


def disk_free_bytes(path: Path) -> int:
    """Free bytes on the file system holding `path` (its nearest existing parent)."""
    path = Path(path)
    while not path.exists() and path != path.parent:
        path = path.parent
    return shutil.disk_usage(path).free


def export_disk_check(*, path: Path | None = None) -> None:
    """InsufficientStorage (507) when the export folder's disk has less than QEVAL_EXPORT_MIN_FREE_BYTES free."""
    path = Path(path or settings.EXPORT_ROOT)
    need = settings.QEVAL_EXPORT_MIN_FREE_BYTES
    free = disk_free_bytes(path)
    if free < need:
        raise InsufficientStorage(
            f"the export disk has {free / 1024**2:.0f} MiB free, less than the {need / 1024**2:.0f} MiB new exports "
            "need (QEVAL_EXPORT_MIN_FREE_BYTES); remove old exports (manage.py retention) or free space, then try again"
        )
