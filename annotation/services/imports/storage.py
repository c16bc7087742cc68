"""Phase D of an import: store each distinct file and thumbnail, content-addressed (services/media.py), one import at
a time (a PostgreSQL advisory lock), and remove what an import stored when it fails, unless an item already
uses it. Other writers of items (generation) use the same lock and clean-up through `media_write_lock` and
`media_remove_unused`."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path, PurePosixPath

from django.db import connection

from ...models import Item
from ..jobs import Progress
from ..media import media_name, storage_delete, storage_put, thumbnail_name
from .manifest import Row
from .probing import PROGRESS_EVERY

WRITE_LOCK_KEY = 7_166_024_011  # pg_advisory_lock key of the import write phase (any constant)
LOOKUP_CHUNK = 10000
logger = logging.getLogger(__name__)


def store_files(rows: list[Row], thumbs: dict[str, Path], created: list[str], progress: Progress | None) -> None:
    done: set[str] = set()  # storage names handled already (the same bytes may come with two extensions)
    for n, row in enumerate(rows, start=1):
        sha = row.probed.sha256
        for name, source in ((media_name(sha, row.probed.ext), row.path), (thumbnail_name(sha), thumbs[sha])):
            if name not in done:
                if storage_put(name=name, source=source):
                    created.append(name)
                done.add(name)
        if progress and (n % PROGRESS_EVERY == 0 or n == len(rows)):
            progress.advance(n % PROGRESS_EVERY or PROGRESS_EVERY, "storing media")


def remove_unused(names: list[str]) -> None:
    """Delete files this import stored, except those an item already refers to. Names embed the
    content's sha256, so the lookup uses Item.sha256's index."""
    shas = list({PurePosixPath(name).stem for name in names})
    used: set[str] = set()
    for start in range(0, len(shas), LOOKUP_CHUNK):
        for media, thumb in Item.objects.filter(sha256__in=shas[start : start + LOOKUP_CHUNK]).values_list(
            "media", "thumbnail"
        ):
            used.update((media, thumb))
    storage_delete([name for name in names if name not in used])


@contextmanager
def write_lock(progress: Progress | None) -> Iterator[None]:
    """Store-and-write phases of imports run one at a time (platform-wide, a PostgreSQL advisory lock;
    the slow probing still runs in parallel). Without it, an import that fails could remove a stored
    file that a concurrent import has just found and is about to use. Called inside a caller's
    transaction, the lock ends before that transaction commits (seed_demo, tests: one process)."""
    if connection.vendor != "postgresql":
        yield  # SQLite (the embedded default) serialises writers anyway
        return
    if progress:
        progress.update(progress.job.progress, "waiting for other imports to finish writing", force=True)
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_lock(%s)", [WRITE_LOCK_KEY])
    try:
        yield
    finally:
        try:
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_unlock(%s)", [WRITE_LOCK_KEY])
        except Exception:  # a lost connection has released the lock with its session
            logger.warning("could not release the import write lock", exc_info=True)


def media_write_lock():
    """The lock imports hold while storing files and writing items, for other writers of items (generation):
    `with media_write_lock(): ...` (see write_lock)."""
    return write_lock(None)


def media_remove_unused(*, names: list[str]) -> None:
    """Delete stored files that no item refers to, for other writers of items (see remove_unused)."""
    remove_unused(names)
