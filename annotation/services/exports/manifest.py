"""manifest.json of an export: what it holds, from which dataset version, with a sha256 per file."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from django.utils import timezone

from ...models import DatasetVersion


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
        "files": [dict(f, sha256=file_sha256(root / f["path"])) for f in files],
        "counts": counts,
        "split": split,
        "seed": seed,
        "golden": golden or {"mode": "keep", "items_left_out": 0},
        "media": media,
        "created_at": timezone.now().isoformat(),
    }
    (root / "manifest.json").write_text(json.dumps(manifest, indent=2, ensure_ascii=False) + "\n")
    return manifest
