"""Reading an ``sft`` export and turning records into model batches.

The export (written by the platform's exporter; this is the contract) is a directory with
``manifest.json``, media under ``media/`` and JSONL files: ``sft.jsonl`` when no split was asked, else
``sft_<split>.jsonl`` (train/val/test, any subset). One record per item x dimension::

    {"item_id": "img-0001", "dimension": "quality", "media_type": "image", "media": "media/3f/3fa9c0.png",
     "generator": "sdxl", "prompt": "a red cube", "prompt_words": 3,
     "messages": [{"role": "user", "content": "<image>Suppose ..."}, {"role": "assistant", "content": "Good"}],
     "level": "Good", "mos": 3.83, "split": "train"}

:class:`ScorerCollator` loads media on the fly (images with Pillow, videos with PyAV at the configured
fps and pixel budget), applies the model's chat template (the ``<image>``/``<video>`` tag becomes the
model's own vision placeholder) and runs the processor. The answer is *not* appended: the loss and the
score only need the logits at the first answer position, which is the last prompt position.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch
from torch.utils.data import Dataset

from .media import load_image, load_video, media_type_of
from .processing import ScorerProcessor
from .prompts import LEVELS, context_prompt, level_from_mos


def split_file(data_dir: str | Path, split: str | None) -> Path:
    data_dir = Path(data_dir)
    if split in (None, "", "all"):
        path = data_dir / "sft.jsonl"
        if path.exists():
            return path
        raise FileNotFoundError(f"{path} not found (this export has splits; name one)")
    path = data_dir / f"sft_{split}.jsonl"
    if not path.exists() and split == "train" and (data_dir / "sft.jsonl").exists():
        return data_dir / "sft.jsonl"
    if not path.exists():
        raise FileNotFoundError(f"{path} not found in the export")
    return path


def read_manifest(data_dir: str | Path) -> dict:
    path = Path(data_dir) / "manifest.json"
    if not path.exists():
        return {}
    manifest = json.loads(path.read_text())
    if manifest.get("format", "sft") != "sft":
        raise ValueError(f"{path}: format is {manifest.get('format')!r}, expected 'sft'")
    return manifest


def read_records(
    data_dir: str | Path,
    split: str | None,
    *,
    dimensions: list[str] | tuple[str, ...] | None = None,
    media_types: list[str] | tuple[str, ...] | None = None,
) -> list[dict]:
    """Records of one split, filtered, with ``media`` made absolute and ``user_text``/``level`` filled in."""
    data_dir = Path(data_dir)
    read_manifest(data_dir)
    records = []
    with split_file(data_dir, split).open() as fh:
        for line_no, line in enumerate(fh, 1):
            if not line.strip():
                continue
            rec = json.loads(line)
            try:
                records.append(normalise_record(rec, data_dir))
            except (KeyError, ValueError) as exc:
                raise ValueError(f"{split_file(data_dir, split)}:{line_no}: {exc}") from exc
    if dimensions:
        records = [r for r in records if r["dimension"] in dimensions]
    if media_types:
        records = [r for r in records if r["media_type"] in media_types]
    return records


def normalise_record(rec: dict, data_dir: str | Path | None = None) -> dict:
    rec = dict(rec)
    media = Path(rec["media"])
    if data_dir is not None and not media.is_absolute():
        media = Path(data_dir) / media
    rec["media"] = str(media)
    rec.setdefault("media_type", media_type_of(media))
    rec.setdefault("dimension", "quality")
    rec.setdefault("prompt", "")
    rec.setdefault("generator", "")
    if rec.get("prompt_words") is None and rec["prompt"]:
        rec["prompt_words"] = len(rec["prompt"].split())
    user = None
    for msg in rec.get("messages") or []:
        if msg.get("role") == "user":
            user = msg["content"]
            break
    if user is None:
        user = context_prompt(media_type=rec["media_type"], dimension=rec["dimension"], prompt=rec["prompt"])
    rec["user_text"] = user
    if rec.get("mos") is not None:
        rec["mos"] = float(rec["mos"])
        if rec.get("level") not in LEVELS:
            rec["level"] = level_from_mos(rec["mos"])
    return rec


class RecordDataset(Dataset):
    def __init__(self, records: list[dict]):
        self.records = records

    def __len__(self) -> int:
        return len(self.records)

    def __getitem__(self, i: int) -> dict:
        return {**self.records[i], "index": i}


@dataclass
class MediaSettings:
    """How a record becomes model input: media sampling and sizing, and the text (prompt style, media tag).
    Everything comes from the ScorerConfig (``from_config``), so the trainer and the scorer agree."""

    video_fps: float = 8.0
    video_min_pixels: int = 128 * 28 * 28
    video_max_pixels: int = 100352
    video_max_frames: int = 768
    video_min_frames: int = 4
    video_sampler: str = "qwen-vl-utils"
    image_resize: str = "qwen-vl-utils"
    image_min_pixels: int | None = None
    image_max_pixels: int | None = None
    prompt_style: str = "context"
    media_tag: str = "strip"

    @classmethod
    def from_config(cls, cfg) -> MediaSettings:
        return cls(
            video_fps=cfg.video_fps,
            video_min_pixels=cfg.video_min_pixels,
            video_max_pixels=cfg.video_max_pixels,
            video_max_frames=cfg.video_max_frames,
            video_min_frames=cfg.video_min_frames,
            video_sampler=cfg.video_sampler,
            image_resize=cfg.image_resize,
            image_min_pixels=cfg.image_min_pixels,
            image_max_pixels=cfg.image_max_pixels,
            prompt_style=cfg.prompt_style,
            media_tag=cfg.media_tag,
        )


class ScorerCollator:
    """List of records -> model inputs + ``index``, ``target_level`` and ``mos`` tensors."""

    def __init__(
        self,
        processor: ScorerProcessor,
        media: MediaSettings | None = None,
        *,
        factor: int | None = None,
        positions: Callable[[dict], torch.Tensor | None] | None = None,
    ):
        self.processor = processor
        self.media = media or MediaSettings()
        self.factor: int = factor or int(getattr(processor, "resize_factor", 28))
        # the model's position ids, computed here (in the loader's workers) instead of in its forward (positions.py)
        self.positions = positions

    def load_media(self, rec: dict):
        m = self.media
        if rec["media_type"] == "video":
            return load_video(
                rec["media"],
                fps=m.video_fps,
                max_pixels=m.video_max_pixels,
                min_pixels=min(m.video_min_pixels, m.video_max_pixels),
                max_frames=m.video_max_frames,
                min_frames=m.video_min_frames,
                factor=self.factor,
                sampler=m.video_sampler,
            )
        return load_image(
            rec["media"],
            resize=m.image_resize,
            factor=self.factor,
            min_pixels=m.image_min_pixels,
            max_pixels=m.image_max_pixels,
        )

    def user_text(self, rec: dict) -> str:
        """The record's own user turn (the export's context prompt), or the plain ablation prompt."""
        if self.media.prompt_style == "plain":
            return context_prompt(
                media_type=rec["media_type"], dimension=rec["dimension"], prompt=rec["prompt"], style="plain"
            )
        return rec["user_text"]

    def __call__(self, batch: list[dict]) -> dict[str, torch.Tensor]:
        texts: list[str] = []
        images: list = []
        videos: list = []
        for rec in batch:
            texts.append(self.processor.render(self.user_text(rec), rec["media_type"], media_tag=self.media.media_tag))
            media = rec.get("media_obj")
            if media is None:
                media = self.load_media(rec)
            (videos if rec["media_type"] == "video" else images).append(media)
        inputs = self.processor(texts, images, videos)
        position_ids = self.positions(inputs) if self.positions is not None else None
        if position_ids is not None:
            inputs["position_ids"] = position_ids
        inputs["index"] = torch.tensor([int(r.get("index", -1)) for r in batch], dtype=torch.long)
        if all(r.get("mos") is not None for r in batch):
            inputs["mos"] = torch.tensor([float(r["mos"]) for r in batch], dtype=torch.float32)
            inputs["target_level"] = torch.tensor([LEVELS.index(r["level"]) for r in batch], dtype=torch.long)
        return inputs


def loader_workers(num_workers: int | None, device) -> int:
    """DataLoader workers: the config's number, or with ``None`` 4 on CUDA (capped by the CPUs; media decoding
    and the processor then run beside the GPU instead of between its batches) and 0 on the CPU, where workers
    would take cores from the model. None from a daemonic process (a Celery prefork child): it may not fork."""
    import os

    if _daemonic():
        return 0
    if num_workers is not None:
        return num_workers
    return min(4, max((os.cpu_count() or 1) - 1, 0)) if torch.device(device).type == "cuda" else 0


def _daemonic() -> bool:
    import multiprocessing
    import sys

    if multiprocessing.current_process().daemon:
        return True
    billiard = sys.modules.get("billiard.process")  # Celery's own multiprocessing, where a worker runs under it
    return bool(billiard is not None and billiard.current_process().daemon)


LABEL_KEYS = ("index", "mos", "target_level")


def split_batch(batch: dict) -> tuple[dict, dict]:
    """Model inputs vs labels/bookkeeping."""
    model_inputs = {k: v for k, v in batch.items() if k not in LABEL_KEYS}
    labels = {k: batch[k] for k in LABEL_KEYS if k in batch}
    return model_inputs, labels
