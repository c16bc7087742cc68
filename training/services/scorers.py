"""Registered scorers: register a checkpoint folder (or the tiny demo model) and score uploaded media.

Scoring small requests happens in the web process (`scorer_score_uploads`, a few files at most:
SCORE_SYNC_MAX_FILES); big jobs go through the Celery task `training.score_batch` on the training
queue, which reads media paths the worker can see and writes a JSONL of scores (`scorer_score_batch`).
The loaded model is cached per process (one scorer at a time), so repeated requests skip the load.
"""

from __future__ import annotations

import json
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import transaction

from core.errors import InvalidInput, NotFound

from ..models import Scorer

TINY_DEMO_NAME = "tiny-demo"
MEDIA_TYPES = ("image", "video")


def score_sync_max_files() -> int:
    return settings.TRAINING_SCORE_SYNC_MAX_FILES


def tiny_model_dir() -> Path:
    return Path(settings.TRAINING_ROOT) / "tiny-model"


def demo_scorer_path() -> str | None:
    """Path of the registered tiny demo scorer, if any (the launch form's default base model)."""
    return Scorer.objects.filter(name=TINY_DEMO_NAME, is_active=True).values_list("path", flat=True).first()


# --- registration --------------------------------------------------------------------------------------


@transaction.atomic
def scorer_register(
    *,
    name: str,
    path: str | Path,
    base_model: str = "",
    metrics: dict | None = None,
    training_run=None,
    created_by=None,
) -> Scorer:
    """Register (or re-point) a scorer by name. InvalidInput when the folder holds no model."""
    name = (name or "").strip()
    if not name:
        raise InvalidInput("a scorer needs a name")
    folder = Path(path).expanduser()
    if not folder.is_dir():
        raise InvalidInput(f"{folder} is not a directory")
    if not (folder / "config.json").exists() and not (folder / "adapter_config.json").exists():
        raise InvalidInput(f"{folder} holds no model (no config.json or adapter_config.json)")
    if metrics is None:
        report = folder / "scorer.json"
        metrics = {}
        if report.exists():
            try:
                metrics = json.loads(report.read_text()).get("metrics") or {}
            except (ValueError, AttributeError):
                metrics = {}
    scorer, _ = Scorer.objects.update_or_create(
        name=name,
        defaults=dict(
            path=str(folder.resolve()),
            base_model=base_model,
            metrics=metrics or {},
            training_run=training_run,
            created_by=created_by,
            is_active=True,
        ),
    )
    return scorer


def scorer_register_tiny(*, name: str = TINY_DEMO_NAME, created_by=None) -> Scorer:
    """Build the tiny random Qwen2-VL (training.scorer.tiny) under TRAINING_ROOT once and register it.
    Its scores are random-ish: it exists so the demo and the tests can score on a CPU."""
    from training.scorer.tiny import build_tiny_model  # torch

    folder = tiny_model_dir()
    if not (folder / "model.safetensors").exists():
        build_tiny_model(folder)
    return scorer_register(
        name=name,
        path=folder,
        base_model="tiny random Qwen2-VL (training.scorer.tiny)",
        metrics={},
        created_by=created_by,
    )


def scorer_get(*, scorer_id) -> Scorer:
    try:
        return Scorer.objects.get(pk=int(scorer_id), is_active=True)
    except (Scorer.DoesNotExist, ValueError, TypeError):
        raise NotFound(f"scorer {scorer_id} does not exist or is inactive") from None


# --- scoring --------------------------------------------------------------------------------------------


@dataclass
class Upload:
    """An uploaded file: its name and a readable binary file object (Django's UploadedFile fits)."""

    name: str
    file: object


def media_check(*, path: Path, name: str, media_type: str | None = None) -> str:
    """'image' or 'video' for a readable file (Pillow first, then PyAV); InvalidInput otherwise."""
    if media_type not in (None, "", "image", "video"):
        raise InvalidInput(f"media_type must be image or video, got {media_type!r}")
    if media_type in (None, "", "image"):
        from PIL import Image, UnidentifiedImageError

        try:
            with Image.open(path) as im:
                im.verify()
            return "image"
        except (UnidentifiedImageError, OSError, SyntaxError, ValueError):
            if media_type == "image":
                raise InvalidInput(f"{name}: not a readable image") from None
    import av

    try:
        with av.open(str(path)) as container:
            if not container.streams.video:
                raise InvalidInput(f"{name}: has no video stream")
            next(container.decode(video=0))
    except InvalidInput:
        raise
    except (av.FFmpegError, StopIteration, OSError, ValueError):
        raise InvalidInput(f"{name}: not a readable image or video") from None
    return "video"


def _suffix(name: str, media_type: str) -> str:
    suffix = Path(name).suffix.lower()
    if suffix and len(suffix) <= 6 and suffix[1:].isalnum():
        return suffix
    return ".png" if media_type == "image" else ".mp4"


_cache_lock = threading.Lock()
_cache: dict[str, object] = {}


def _loaded(path: str):
    """The scorer loaded once per process (one at a time: a 7B model is big)."""
    from training.scorer.modeling import load_scorer  # torch

    with _cache_lock:
        if path not in _cache:
            _cache.clear()
            _cache[path] = load_scorer(path)
        return _cache[path]


def scorer_score_uploads(
    *, scorer: Scorer, uploads: list[Upload], prompt: str, media_type: str | None = None
) -> list[dict]:
    """[{filename, media_type, quality, alignment}] for a few uploaded files and one prompt.

    Every file is checked before any scoring (InvalidInput names the bad one); at most
    SCORE_SYNC_MAX_FILES files (bigger jobs: the `training.score_batch` task)."""
    if not uploads:
        raise InvalidInput("upload at least one media file (field 'media')")
    limit = score_sync_max_files()
    if len(uploads) > limit:
        raise InvalidInput(f"at most {limit} files per request; score bigger sets with the training.score_batch task")
    prompt = (prompt or "").strip()
    if not prompt:
        raise InvalidInput("a prompt is required (alignment is scored against it)")
    root = Path(settings.TRAINING_ROOT) / "uploads"
    root.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=root) as tmp:
        items = []
        for i, up in enumerate(uploads):
            raw = Path(tmp) / f"upload-{i}"
            with open(raw, "wb") as out:
                file: Any = up.file  # an UploadedFile (chunks) or any binary file object
                for chunk in file.chunks() if hasattr(file, "chunks") else [file.read()]:
                    out.write(chunk)
            kind = media_check(path=raw, name=up.name, media_type=media_type)
            path = raw.rename(raw.with_suffix(_suffix(up.name, kind)))
            items.append({"media": str(path), "prompt": prompt, "media_type": kind, "filename": up.name})
        return _score(scorer=scorer, items=items)


def _score(*, scorer: Scorer, items: list[dict]) -> list[dict]:
    from training.scorer.predict import score_items  # torch

    results = score_items(
        _loaded(scorer.path), [{k: it[k] for k in ("media", "prompt", "media_type")} for it in items], batch_size=8
    )
    return [
        {
            "filename": it.get("filename") or Path(it["media"]).name,
            "media_type": it["media_type"],
            "quality": round(float(res["quality"]), 4),
            "alignment": round(float(res["alignment"]), 4),
        }
        for it, res in zip(items, results)
    ]


def scorer_score_batch(*, scorer_id: int, items: list[dict], out_path: str | Path) -> Path:
    """Score many (media path, prompt[, media_type]) items on a worker and write JSONL to out_path.
    Media paths must be readable by the worker (a shared volume)."""
    scorer = scorer_get(scorer_id=scorer_id)
    checked = []
    for it in items:
        if not isinstance(it, dict) or "media" not in it:
            raise InvalidInput("each item needs a media path (and a prompt)")
        kind = media_check(path=Path(it["media"]), name=str(it["media"]), media_type=it.get("media_type"))
        checked.append({"media": str(it["media"]), "prompt": str(it.get("prompt", "")), "media_type": kind})
    rows = _score(scorer=scorer, items=checked) if checked else []
    out = Path(out_path)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".partial")
    tmp.write_text(
        "".join(json.dumps({**r, "media": it["media"], "prompt": it["prompt"]}) + "\n" for r, it in zip(rows, checked))
    )
    tmp.replace(out)
    return out
