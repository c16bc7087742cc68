"""One interface over a model's processor: chat template + pixels + token ids, images and videos.

Why an adapter: in transformers 5.x ``Qwen2VLProcessor`` needs torchvision (for its video processor), and
torchvision cannot be installed beside a CPU build of torch (PyPI's torchvision wheels pin their own torch, and
mixing them breaks transformers' import of Qwen2-VL). So:

* :class:`HFProcessorAdapter` wraps the model's real ``AutoProcessor`` whenever it loads (any
  image-text-to-text model; on a GPU box with torchvision this is what runs for Qwen2-VL too);
* :class:`QwenVLFallbackProcessor` is used for the Qwen2-VL family when the processor cannot be imported:
  the tokenizer's chat template, ``Qwen2VLImageProcessorPil`` for image pixels, a NumPy port of the
  Qwen2-VL video patchifier for frames, the ``<|image_pad|>``/``<|video_pad|>`` token expanded to
  ``grid_thw.prod() // merge_size**2`` copies, and ``mm_token_type_ids`` (text 0, image 1, video 2), which
  the Qwen2-VL model requires for M-RoPE.

Both pad on the LEFT, so the answer position is the last column for every row (the model then only needs
``logits_to_keep=1``).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import numpy as np
import torch

_TAG = re.compile(r"^\s*<(image|video)>")
QWEN_FAMILY = ("qwen2_vl", "qwen2_5_vl")


def split_media_tag(text: str) -> tuple[str | None, str]:
    """``"<image>Suppose ..."`` -> ``("image", "Suppose ...")`` (the paper's tag convention)."""
    m = _TAG.match(text)
    if not m:
        return None, text
    return m.group(1), text[m.end() :]


MEDIA_TAGS = ("strip", "keep")


def chat_messages(user_text: str, media_type: str, media_tag: str = "strip") -> list[dict]:
    """The user turn with the media part first, as Hugging Face chat templates expect it.

    ``media_tag="strip"`` (default) removes the leading ``<image>``/``<video>`` tag from the text: the tag is
    ms-swift's placeholder for the media, so the checkpoint trained through it saw the vision tokens and then
    "Suppose ...". ``"keep"`` leaves the literal tag in the text after the media part, exactly as the released
    inference script (zzc-1998/Q-Eval utils/infer.py) sends it."""
    if media_tag not in MEDIA_TAGS:
        raise ValueError(f"media_tag must be one of {MEDIA_TAGS}, got {media_tag!r}")
    tag, body = split_media_tag(user_text)
    text = user_text if media_tag == "keep" else body
    return [{"role": "user", "content": [{"type": tag or media_type}, {"type": "text", "text": text}]}]


class ScorerProcessor:
    """What the collator and the scorer need from a processor."""

    tokenizer: Any
    # video frames are resized to sides that are multiples of this (patch x merge; Qwen2-VL: 14 x 2)
    resize_factor: int = 28

    def render(self, user_text: str, media_type: str, media_tag: str = "strip") -> str:
        """Chat-templated prompt text, ending with the assistant's generation prompt (``media_tag``: see
        :func:`chat_messages`)."""
        raise NotImplementedError

    def __call__(self, texts: list[str], images: list, videos: list) -> dict[str, torch.Tensor]:
        """Tokenise rendered texts with their media (images: PIL; videos: (T,H,W,3) uint8), left-padded."""
        raise NotImplementedError

    def save_pretrained(self, out_dir: str | Path) -> None:
        raise NotImplementedError


class HFProcessorAdapter(ScorerProcessor):
    def __init__(
        self, processor, *, image_min_pixels=None, image_max_pixels=None, video_min_pixels=None, video_max_pixels=None
    ):
        self.processor = processor
        self.tokenizer = processor.tokenizer
        self.tokenizer.padding_side = "left"
        self.image_size = _size(image_min_pixels, image_max_pixels)
        self.video_size = _size(video_min_pixels, video_max_pixels)
        ip = getattr(processor, "image_processor", None)
        if ip is not None and getattr(ip, "patch_size", None) and getattr(ip, "merge_size", None):
            self.resize_factor = int(ip.patch_size) * int(ip.merge_size)
        # frames arrive already sized by our own per-frame budget (media.py, the paper's max_pixels), so a
        # processor's extra whole-video cap (Qwen2-VL's cap_pixels_per_frame) stays off, and says so
        self.video_extra = {}
        if hasattr(getattr(processor, "video_processor", None), "cap_pixels_per_frame"):
            self.video_extra["cap_pixels_per_frame"] = False

    def render(self, user_text: str, media_type: str, media_tag: str = "strip") -> str:
        return self.processor.apply_chat_template(
            chat_messages(user_text, media_type, media_tag), tokenize=False, add_generation_prompt=True
        )

    def __call__(self, texts, images, videos):
        kwargs: dict[str, Any] = {"text": texts, "padding": True, "return_tensors": "pt"}
        if images:
            kwargs["images"] = images
            if self.image_size:
                kwargs["images_kwargs"] = {"size": self.image_size}
        if videos:
            kwargs["videos"] = list(videos)
            vk: dict[str, Any] = {"do_sample_frames": False, **self.video_extra}
            if self.video_size:
                vk["size"] = self.video_size
            kwargs["videos_kwargs"] = vk
        out = self.processor(**kwargs)
        return dict(out)

    def save_pretrained(self, out_dir):
        self.processor.save_pretrained(out_dir)


def _size(min_pixels, max_pixels):
    if min_pixels is None and max_pixels is None:
        return None
    size = {}
    if min_pixels is not None:
        size["shortest_edge"] = int(min_pixels)
    if max_pixels is not None:
        size["longest_edge"] = int(max_pixels)
    return size


class QwenVLFallbackProcessor(ScorerProcessor):
    """Qwen2-VL processing without ``Qwen2VLProcessor`` (no torchvision needed)."""

    image_token = "<|image_pad|>"
    video_token = "<|video_pad|>"

    def __init__(self, tokenizer, image_processor, *, image_min_pixels=None, image_max_pixels=None):
        self.tokenizer = tokenizer
        self.tokenizer.padding_side = "left"
        self.image_processor = image_processor
        if image_min_pixels is not None or image_max_pixels is not None:
            size = dict(image_processor.size)
            if image_min_pixels is not None:
                size["shortest_edge"] = int(image_min_pixels)
            if image_max_pixels is not None:
                size["longest_edge"] = int(image_max_pixels)
            image_processor.size = size
        self.patch_size = int(image_processor.patch_size)
        self.merge_size = int(image_processor.merge_size)
        self.temporal_patch_size = int(image_processor.temporal_patch_size)
        self.resize_factor = self.patch_size * self.merge_size
        self.mean = np.asarray(image_processor.image_mean, dtype=np.float32)
        self.std = np.asarray(image_processor.image_std, dtype=np.float32)
        self.image_token_id = tokenizer.convert_tokens_to_ids(self.image_token)
        self.video_token_id = tokenizer.convert_tokens_to_ids(self.video_token)

    def render(self, user_text, media_type, media_tag="strip"):
        return self.tokenizer.apply_chat_template(
            chat_messages(user_text, media_type, media_tag), tokenize=False, add_generation_prompt=True
        )

    def video_patches(self, frames: np.ndarray) -> tuple[np.ndarray, list[int]]:
        """(T,H,W,3) uint8, sides multiples of patch*merge -> (grid_t*gh*gw, C*tp*p*p) like Qwen2VLVideoProcessor."""
        x = frames.astype(np.float32) / 255.0
        x = (x - self.mean) / self.std
        x = x.transpose(0, 3, 1, 2)  # T, C, H, W
        tp, p, m = self.temporal_patch_size, self.patch_size, self.merge_size
        if pad := -x.shape[0] % tp:
            x = np.concatenate([x, np.repeat(x[-1:], pad, axis=0)], axis=0)
        t, c, h, w = x.shape
        gt, gh, gw = t // tp, h // p, w // p
        if gh % m or gw % m:
            raise ValueError(f"video frame {h}x{w} is not a multiple of {p * m}; resize it first")
        x = x.reshape(gt, tp, c, gh // m, m, p, gw // m, m, p)
        # same order as Qwen2VLVideoProcessor.patchify (without its batch axis)
        x = x.transpose(0, 3, 6, 4, 7, 2, 1, 5, 8)
        return x.reshape(gt * gh * gw, c * tp * p * p), [gt, gh, gw]

    def __call__(self, texts, images, videos):
        out: dict[str, Any] = {}
        image_counts: list[int] = []
        video_counts: list[int] = []
        merge = self.merge_size**2
        if images:
            ip = self.image_processor(images=images, return_tensors="pt")
            out["pixel_values"] = ip["pixel_values"]
            out["image_grid_thw"] = ip["image_grid_thw"]
            image_counts = [int(g.prod()) // merge for g in ip["image_grid_thw"]]
        if videos:
            patches, grids = zip(*(self.video_patches(np.asarray(v)) for v in videos))
            out["pixel_values_videos"] = torch.from_numpy(np.concatenate(patches, axis=0))
            out["video_grid_thw"] = torch.tensor(grids, dtype=torch.long)
            video_counts = [int(np.prod(g)) // merge for g in grids]
        texts = _expand(texts, self.image_token, image_counts)
        texts = _expand(texts, self.video_token, video_counts)
        enc = self.tokenizer(texts, padding=True, return_tensors="pt", add_special_tokens=False)
        ids = enc["input_ids"]
        mm = torch.zeros_like(ids)
        mm[ids == self.image_token_id] = 1
        mm[ids == self.video_token_id] = 2
        out.update(input_ids=ids, attention_mask=enc["attention_mask"], mm_token_type_ids=mm)
        return out

    def save_pretrained(self, out_dir):
        self.tokenizer.save_pretrained(out_dir)
        self.image_processor.save_pretrained(out_dir)


def _expand(texts: list[str], token: str, counts: list[int]) -> list[str]:
    if not counts:
        return texts
    it = iter(counts)
    placeholder = "\x00MEDIA\x00"
    result = []
    for text in texts:
        while token in text:
            try:
                n = next(it)
            except StopIteration:
                raise ValueError(f"more {token} placeholders than media") from None
            text = text.replace(token, placeholder * n, 1)
        result.append(text.replace(placeholder, token))
    if next(it, None) is not None:
        raise ValueError(f"fewer {token} placeholders than media")
    return result


def load_fallback_processor(path: str | Path, **sizes) -> QwenVLFallbackProcessor:
    """The Qwen2-VL fallback from a model directory, whether or not the real processor would load (tests
    hold the fallback to its own behaviour and to the real one in any environment)."""
    from transformers import AutoTokenizer
    from transformers.models.qwen2_vl.image_processing_pil_qwen2_vl import Qwen2VLImageProcessorPil

    tokenizer = AutoTokenizer.from_pretrained(str(path))
    return QwenVLFallbackProcessor(tokenizer, Qwen2VLImageProcessorPil.from_pretrained(str(path)), **sizes)


def load_processor(path: str | Path, *, model_type: str | None = None, config=None) -> ScorerProcessor:
    """The real ``AutoProcessor`` when it loads, else the Qwen2-VL fallback (for that family only).

    ``config`` (a :class:`ScorerConfig`) carries the image pixel budget; video budgets are applied when
    frames are decoded (see :mod:`training.scorer.media`).
    """
    from transformers import AutoConfig, AutoProcessor

    kw = {}
    if config is not None:
        kw = dict(image_min_pixels=config.image_min_pixels, image_max_pixels=config.image_max_pixels)
    error: Exception | None = None
    try:
        proc = AutoProcessor.from_pretrained(str(path))
        if hasattr(proc, "tokenizer") and (hasattr(proc, "image_processor") or hasattr(proc, "video_processor")):
            vk = {}
            if config is not None:
                vk = dict(video_min_pixels=config.video_min_pixels, video_max_pixels=config.video_max_pixels)
            return HFProcessorAdapter(proc, **kw, **vk)
        error = TypeError(f"AutoProcessor gave {type(proc).__name__}, not a multimodal processor")
    except (ImportError, OSError, ValueError, TypeError, KeyError) as exc:
        error = exc
    if model_type is None:
        try:
            model_type = AutoConfig.from_pretrained(str(path)).model_type
        except Exception:  # noqa: BLE001 - a processor-only dir may have no config.json
            model_type = None
    if model_type in QWEN_FAMILY or model_type is None:
        try:
            return load_fallback_processor(path, **kw)
        except Exception as exc:  # noqa: BLE001
            raise RuntimeError(f"cannot load a processor from {path}: {error}; fallback failed: {exc}") from exc
    raise RuntimeError(f"cannot load a processor for {path} (model_type {model_type}): {error}")
