"""Put an item's media beside the export, under media/<sha[:2]>/<sha>.<ext>: copied, linked or not at all.

`link` makes a hard link when source and export share a filesystem (no extra space, survives the
source being moved), else a symbolic link to the absolute source path. `copy` streams the bytes, so it
also works for non-filesystem storage (S3). `none` writes no media (the records keep the relative path;
put the files there yourself).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from django.core.files.storage import default_storage

from core.errors import InvalidInput

MEDIA_MODES = ("copy", "link", "none")


def storage_has_paths() -> bool:
    try:
        default_storage.path("x")
    except NotImplementedError:
        return False
    return True


class MediaPlacer:
    def __init__(self, root: Path, mode: str):
        if mode not in MEDIA_MODES:
            raise InvalidInput(f"unknown media mode {mode!r}; choose one of {', '.join(MEDIA_MODES)}")
        if mode == "link" and not storage_has_paths():
            raise InvalidInput("--media link needs media on a local filesystem; use --media copy")
        self.root, self.mode = root, mode
        self.placed = 0

    def place(self, *, media_name: str, relpath: str, item_id: str) -> None:
        if self.mode == "none":
            return
        dest = self.root / relpath
        if dest.exists() or dest.is_symlink():
            return  # content-addressed: the same bytes are already there
        dest.parent.mkdir(parents=True, exist_ok=True)
        if self.mode == "link":
            src = Path(default_storage.path(media_name))
            if not src.exists():
                raise InvalidInput(f"media file of item {item_id!r} is missing: {src}")
            try:
                os.link(src, dest)
            except OSError:
                os.symlink(src.resolve(), dest)
        else:
            try:
                with default_storage.open(media_name, "rb") as stored, open(dest, "wb") as out:
                    shutil.copyfileobj(stored, out, 1024 * 1024)
            except FileNotFoundError:
                raise InvalidInput(f"media file of item {item_id!r} is missing: {media_name}") from None
        self.placed += 1
