"""Helpers for the import tests: a folder of tiny real media plus a manifest, and a snapshot of what an
import could change (row counts and the files in media storage)."""

from __future__ import annotations

import csv
import io
import json
import os
from pathlib import Path

import pytest
from django.conf import settings

from annotation.models import Generator, Item, Prompt
from tests.factories import make_mp4

COLUMNS = ["item_id", "media_path", "media_type", "prompt", "generator", "category", "subcategory"]


def unique_png(width: int = 24, height: int = 16) -> bytes:
    """Random pixels, so no earlier test has stored the same bytes (storage checks stay meaningful)."""
    from PIL import Image

    buf = io.BytesIO()
    Image.frombytes("RGB", (width, height), os.urandom(width * height * 3)).save(buf, format="PNG")
    return buf.getvalue()


class Content:
    def __init__(self, root: Path):
        self.root = root
        root.mkdir(parents=True, exist_ok=True)

    def image(self, name: str, data: bytes | None = None, **size) -> str:
        path = self.root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data if data is not None else unique_png(**size))
        return name

    def video(self, name: str, **kwargs) -> str:
        path = self.root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        make_mp4(path, **kwargs)
        return name

    def row(self, item_id: str, media_path: str | None = None, **fields) -> dict:
        media_type = fields.get("media_type", "image")
        if media_path is None:
            media_path = self.image(f"{item_id}.png") if media_type == "image" else self.video(f"{item_id}.mp4")
        return {
            "item_id": item_id,
            "media_path": media_path,
            "media_type": media_type,
            "prompt": fields.get("prompt", f"a red cube number {item_id} on a wooden table"),
            "generator": fields.get("generator", "sdxl" if media_type == "image" else "t2v-model"),
            "category": fields.get("category", "Entity Generation"),
            "subcategory": fields.get("subcategory", "object"),
        }

    def csv(self, rows: list[dict], name: str = "manifest.csv", columns: list[str] = COLUMNS) -> Path:
        path = self.root / name
        with open(path, "w", newline="", encoding="utf-8") as fh:
            writer = csv.DictWriter(fh, fieldnames=columns, extrasaction="ignore")
            writer.writeheader()
            writer.writerows(rows)
        return path

    def jsonl(self, rows: list[dict], name: str = "manifest.jsonl") -> Path:
        path = self.root / name
        path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
        return path


@pytest.fixture
def content(tmp_path) -> Content:
    return Content(tmp_path / "content")


def media_files() -> frozenset[str]:
    root = Path(settings.MEDIA_ROOT)
    return frozenset(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()) if root.exists() else frozenset()


def snapshot() -> tuple:
    return Item.objects.count(), Prompt.objects.count(), Generator.objects.count(), media_files()
