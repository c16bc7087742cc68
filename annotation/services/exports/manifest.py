"""manifest.json of an export: what it holds, from which dataset version, with a sha256 per file."""

from __future__ import annotations

import hashlib
import json
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

from django.utils import timezone

from ...models import DatasetVersion


class HashedFile:
    """A binary file that hashes what is written to it, so the manifest need not read a 250 MB export back.
    Both the write and the hash run in a thread beside the writer (the file write and hashlib let go of the
    GIL on large blocks), so the next block is formatted meanwhile: writing the 256 MB of a 100K-item SFT
    export cost the formatting thread 0.3 s. One block at a time, in order; an error (a full disk) is
    raised by the next write or by close."""

    def __init__(self, path: Path):
        self.path = path
        self._fh = open(path, "wb")
        self._digest = hashlib.sha256()
        self._pool = ThreadPoolExecutor(max_workers=1)  # one thread: the blocks are hashed in order
        self._pending: Future | None = None
        self.sha256: str | None = None

    def write(self, data: bytes) -> None:
        if self._pending is not None:
            self._pending.result()  # at most one block waits: memory stays one block
        self._pending = self._pool.submit(self._write_hashed, data)

    def _write_hashed(self, data: bytes) -> None:
        self._fh.write(data)
        self._digest.update(data)

    def close(self) -> None:
        try:
            if self._pending is not None:
                self._pending.result()
        finally:
            self._pool.shutdown()
            self._fh.close()
        if self.sha256 is None:
            self.sha256 = self._digest.hexdigest()


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1024 * 1024), b""):
            digest.update(block)
    return digest.hexdigest()


def manifest_write(
    *,
    root: Path,
    fmt: str,
    version: DatasetVersion,
    files: list[dict],
    counts: dict,
    media: str,
    split: dict | str | None,
    seed: int,
    golden: dict | None = None,
) -> dict:
    manifest = {
        "format": fmt,
        "dataset_version": {
            "id": version.pk,
            "campaign": version.campaign.slug,
            "number": version.number,
            "method": version.method,
            "checksum": version.checksum,
            "source": version.source,
            "created_at": version.created_at.isoformat(),
        },
        # a writer that hashed its file as it wrote it says so (HashedFile); the others' files are read back
        "files": [dict(f, sha256=f.get("sha256") or file_sha256(root / f["path"])) for f in files],
        "counts": counts,
        "split": split,
        "seed": seed,
        "golden": golden or {"mode": "keep", "items_left_out": 0},
        "media": media,
        "created_at": timezone.now().isoformat(),
    }
    (root / "manifest.json").write_text(json.dumps(manifest, indent=2, ensure_ascii=False) + "\n")
    return manifest
