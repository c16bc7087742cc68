"""Scoring batches by media size: which records go together, so that a batch carries little padding.

Why: a batch is left-padded to its longest sequence, and a Qwen2-VL sequence is mostly visual tokens (a 448 px
image is 256 of them, an 8-second video at fps 8 over a thousand). Scored in arrival order, one large item makes
every other item in its batch pay for its length. Sorted by size first, neighbours have nearly the same length;
the caller still gets its results in its own order (the records keep their ``index``).

The size of a record is estimated without decoding it: an image's header gives its width and height, a video's
container its frame size, frame count and rate; both go through the same resizing and frame rules the collator
applies (:mod:`training.scorer.media`), so the estimate is the pixels x frames the model will see. Records are
ordered by the length of the sequence they become: those visual tokens plus the text's tokens. Records that
carry their media already loaded (``media_obj``) are measured from it. A file that cannot be read sorts as size
0; the collator then raises its own error for it.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from pathlib import Path

from torch.utils.data import Sampler

from .media import (
    QVU_IMAGE_MAX_TOKENS,
    QVU_IMAGE_MIN_TOKENS,
    qvu_nframes,
    qvu_smart_resize,
    qvu_video_max_pixels,
    sample_times,
)


def _image_pixels(width: int, height: int, media, factor: int) -> int:
    if media.image_resize != "qwen-vl-utils":
        return width * height  # the processor resizes on its own: the raw area orders them the same way
    min_p = media.image_min_pixels if media.image_min_pixels is not None else QVU_IMAGE_MIN_TOKENS * factor**2
    max_p = media.image_max_pixels if media.image_max_pixels is not None else QVU_IMAGE_MAX_TOKENS * factor**2
    try:
        h, w = qvu_smart_resize(height, width, factor=factor, min_pixels=min_p, max_pixels=max_p)
    except ValueError:  # an extreme aspect ratio: loading will refuse it; its raw area sorts it somewhere
        return width * height
    return h * w


def _video_pixels_frames(path: str, media, factor: int) -> tuple[int, int]:
    """(pixels per frame, frames kept) from the container's header, as the collator's sampler will choose them."""
    import av

    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        width, height = stream.codec_context.width, stream.codec_context.height
        rate = float(stream.average_rate or stream.guessed_rate or 25.0)
        total = int(stream.frames or 0)
        if total <= 0 and stream.duration and stream.time_base:
            total = int(float(stream.duration * stream.time_base) * rate)
    total = max(total, 1)
    min_p = min(media.video_min_pixels, media.video_max_pixels)
    if media.video_sampler == "fps":
        frames = len(sample_times(total / rate, media.video_fps, media.video_max_frames))
        frames += frames % 2
        budget = media.video_max_pixels
    else:
        frames = (
            2
            if total < 2
            else qvu_nframes(
                total, rate, fps=media.video_fps, min_frames=media.video_min_frames, max_frames=media.video_max_frames
            )
        )
        budget = qvu_video_max_pixels(frames, factor=factor, min_pixels=min_p, max_pixels=media.video_max_pixels)
    h, w = qvu_smart_resize(height, width, factor=factor, min_pixels=min_p, max_pixels=int(budget))
    return h * w, frames


def visual_size(rec: dict, media, factor: int = 28, cache: dict | None = None) -> int:
    """Pixels x temporal patches the model sees for ``rec`` (an image is one temporal patch, a video one per two
    frames, as Qwen2-VL patches time), so images and videos sort on one scale. ``cache``: path -> size, shared
    across the records of one call (V2S variants and both dimensions of one item reuse the same media)."""
    obj = rec.get("media_obj")
    if obj is not None:
        shape = getattr(obj, "shape", None)
        if shape is not None and len(shape) == 4:  # (T, H, W, C) frames
            return int(shape[1] * shape[2] * math.ceil(shape[0] / 2))
        width, height = obj.size
        return width * height
    key = (rec["media_type"], str(rec["media"]))
    if cache is not None and key in cache:
        return cache[key]
    try:
        if rec["media_type"] == "video":
            pixels, frames = _video_pixels_frames(rec["media"], media, factor)
            size = pixels * math.ceil(frames / 2)
        else:
            from PIL import Image

            with Image.open(Path(rec["media"])) as im:  # reads the header only
                size = _image_pixels(im.width, im.height, media, factor)
    except Exception:  # noqa: BLE001  # unreadable here: the collator raises the real error when it loads it
        size = 0
    if cache is not None:
        cache[key] = size
    return size


def text_length(text: str, tokenizer) -> int:
    """Tokens of the user text (one item at a time: a batched call would start the tokenizer's thread pool,
    which DataLoader workers forked afterwards cannot use)."""
    if tokenizer is None:
        return len(text.split())
    return len(tokenizer.encode(text, add_special_tokens=False))


def size_order(records: Sequence[dict], collator) -> list[int]:
    """Record indices, longest first by the sequence each will be: visual tokens (pixels x temporal patches over
    the merged patch area) plus the text's tokens, then by visual size; ties keep their original order.

    The sum, not the media size alone: padding is counted in tokens, and the text differs by tens of tokens
    between a quality prompt and a long alignment prompt, as much as a small image does.
    Longest first: the batch that needs the most memory runs at once (an out-of-memory shows before any work is
    spent), and later, smaller batches reuse the blocks the allocator already holds."""
    cache: dict = {}
    tokenizer = getattr(collator.processor, "tokenizer", None)
    area = collator.factor**2
    keys = []
    for rec in records:
        size = visual_size(rec, collator.media, collator.factor, cache)
        keys.append((size // area + text_length(collator.user_text(rec), tokenizer), size))
    return sorted(range(len(records)), key=lambda i: (-keys[i][0], -keys[i][1], i))


def batch_plan(records: Sequence[dict], collator, batch_size: int, *, group_by_size: bool = True) -> list[list[int]]:
    """Record indices per batch: consecutive runs of the size order (or of the given order when not grouping)."""
    order = size_order(records, collator) if group_by_size else list(range(len(records)))
    return [order[i : i + batch_size] for i in range(0, len(order), batch_size)]


class PlannedBatches(Sampler[list[int]]):
    """A batch sampler over a fixed plan. It names its ``batch_size`` (every batch but the last is full): Accelerate
    shards a batch sampler across processes by it and trims the padded last batch when gathering."""

    def __init__(self, plan: list[list[int]], batch_size: int):
        self.plan = plan
        self.batch_size = batch_size
        self.drop_last = False

    def __iter__(self) -> Iterator[list[int]]:
        return iter(self.plan)

    def __len__(self) -> int:
        return len(self.plan)


def padding_tokens(records: Sequence[dict], collator, plan: list[list[int]]) -> tuple[int, int]:
    """(padding tokens, all tokens) the batches of ``plan`` carry once collated: what grouping saves, measured
    on the real processor output (it collates every batch, so it costs what one scoring pass costs on the CPU)."""
    pad = total = 0
    for batch in plan:
        mask = collator([{**records[i], "index": i} for i in batch])["attention_mask"]
        pad += int((mask == 0).sum())
        total += int(mask.numel())
    return pad, total
