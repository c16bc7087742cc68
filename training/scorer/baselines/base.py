"""What every baseline scorer shares: its contract, media reading (videos as frames) and load errors.

A baseline is an object with

* ``name`` (registry key), ``dimension`` ("quality" or "alignment": what it predicts),
* ``higher_is_better`` (False for NIQE/BRISQUE: the metrics stay signed, so their correlations come out
  negative, as in the paper's Table 2),
* ``score(items, batch_size) -> list[float]`` for items ``{"media": path, "media_type", "prompt"}``.

Image baselines score a video as the mean over ``video_frames`` frames spread evenly over the clip (the usual
way image metrics are applied to generated video; the paper does not say how it did it).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

VIDEO_FRAMES = 8


class BaselineUnavailable(RuntimeError):
    """The baseline's library or weights are not usable here; the message says what to install or give."""


class Baseline:
    name = ""
    dimension = "alignment"
    higher_is_better = True
    video_frames = VIDEO_FRAMES

    def score(self, items: list[dict], batch_size: int = 16) -> list[float]:
        """One score per item; videos are the mean over their frames."""
        flat: list[tuple[int, Image.Image, str]] = []
        for i, item in enumerate(items):
            for frame in item_frames(item, self.video_frames):
                flat.append((i, frame, str(item.get("prompt", ""))))
        sums = np.zeros(len(items))
        counts = np.zeros(len(items))
        for start in range(0, len(flat), batch_size):
            chunk = flat[start : start + batch_size]
            values = self.score_images([c[1] for c in chunk], [c[2] for c in chunk])
            for (i, _, _), v in zip(chunk, values):
                sums[i] += float(v)
                counts[i] += 1
        return (sums / np.maximum(counts, 1)).tolist()

    def score_images(self, images: list[Image.Image], prompts: list[str]) -> list[float]:
        raise NotImplementedError


def item_frames(item: dict, n_frames: int = VIDEO_FRAMES) -> list[Image.Image]:
    """The item's image, or ``n_frames`` frames spread evenly over its video."""
    path = Path(item["media"])
    if item.get("media_type") == "video":
        import av

        from ..media import _decode_indices, _stream_info, qvu_frame_indices

        with av.open(str(path)) as container:
            total, _ = _stream_info(container, container.streams.video[0])
        idx = qvu_frame_indices(max(total, 1), min(n_frames, max(total, 1)))
        frames, _ = _decode_indices(path, idx, lambda w, h: (w, h))
        return [Image.fromarray(f) for f in frames]
    with Image.open(path) as im:
        return [im.convert("RGB")]


def local_dir(path: str | Path, what: str) -> Path:
    """A local model directory (no hub download at run time), or BaselineUnavailable."""
    p = Path(path) if path else None
    if p is None or not p.exists():
        raise BaselineUnavailable(
            f"{what}: no local model at {path!r}; download the weights on a machine with "
            "access and give their folder (nothing is fetched at run time)"
        )
    return p
