"""Run a generator: load its pipeline once per process, then generate batches of (prompt, seed) outputs.

Every output gets its own ``torch.Generator`` seeded with its seed (on the CPU, so the starting noise is the
same on any device), passed as a list to one batched pipeline call: an output depends on its prompt and
seed only, not on which other outputs share its batch, and a batch keeps the GPU busy.

The GPU worker (generation/services/running.py) and ``python -m generation.pipelines generate`` both go
through :func:`load_pipeline` and :func:`generate_batch`; tests run the same functions on the CPU with the
tiny pipelines (``model="tiny:image"``).
"""

from __future__ import annotations

import logging
import os
import platform
import socket
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .media import to_uint8, write_mp4, write_png
from .spec import IMAGE, TINY_PREFIX, VIDEO, RunSpec
from .tiny import save_tiny_pipeline, tiny_dir

log = logging.getLogger(__name__)
_lock = threading.Lock()
_cached: dict[str, Any] = {}  # one pipeline per process: {"key": ..., "pipe": ..., "info": ...}


@dataclass
class Output:
    """One generated output: an image (PIL) or video frames ((F, H, W, 3) uint8)."""

    prompt: str
    seed: int
    media_type: str
    image: Any = None
    frames: Any = None

    def write(self, folder: str | Path, stem: str, *, fps: int | None) -> Path:
        folder = Path(folder)
        if self.media_type == VIDEO:
            return write_mp4(self.frames, folder / f"{stem}.mp4", fps=fps or 8)
        return write_png(self.image, folder / f"{stem}.png")


@dataclass
class Loaded:
    pipe: Any
    device: str
    dtype: str
    info: dict[str, Any] = field(default_factory=dict)


def pick_device(requested: str | None = None) -> str:
    import torch

    if requested:
        return requested
    return "cuda" if torch.cuda.is_available() else "cpu"


def model_path(spec: RunSpec, *, tiny_root: str | Path) -> str:
    """Where from_pretrained loads the model: the spec's path/id, or the tiny pipeline (built if missing)."""
    if spec.is_tiny:
        kind = spec.model[len(TINY_PREFIX) :]
        return str(save_tiny_pipeline(kind, tiny_dir(tiny_root, kind)))
    return spec.model


def load_pipeline(spec: RunSpec, *, tiny_root: str | Path, device: str | None = None) -> Loaded:
    """The spec's pipeline on `device` (default: CUDA when there is one). The last one loaded stays in this
    process for the next batch; a different spec replaces it (a GPU holds one big pipeline at a time)."""
    import torch

    device = pick_device(device)
    # The CPU runs float32: half precision there is slow or unsupported in places.
    dtype = spec.dtype if device.startswith("cuda") else "float32"
    key = repr((spec.model, spec.revision, spec.variant, spec.pipeline_class, spec.scheduler, dtype, device))
    with _lock:
        if _cached.get("key") == key:
            return _cached["loaded"]
        _cached.clear()
        if device.startswith("cuda"):
            torch.cuda.empty_cache()
        import diffusers
        import transformers

        # Workers log progress to the job, not to stderr bars.
        diffusers.utils.logging.disable_progress_bar()
        transformers.utils.logging.disable_progress_bar()
        cls = getattr(diffusers, spec.pipeline_class, None)
        if cls is None or not hasattr(cls, "from_pretrained"):
            raise ValueError(f"diffusers {diffusers.__version__} has no pipeline class {spec.pipeline_class!r}")
        path = model_path(spec, tiny_root=tiny_root)
        kwargs: dict[str, Any] = {"dtype": getattr(torch, dtype)}
        if spec.revision:
            kwargs["revision"] = spec.revision
        if spec.variant:
            kwargs["variant"] = spec.variant
        started = time.perf_counter()
        pipe = cls.from_pretrained(path, **kwargs)
        if spec.scheduler:
            scheduler_cls = getattr(diffusers, spec.scheduler, None)
            if scheduler_cls is None or not hasattr(scheduler_cls, "from_config"):
                raise ValueError(f"diffusers {diffusers.__version__} has no scheduler class {spec.scheduler!r}")
            pipe.scheduler = scheduler_cls.from_config(pipe.scheduler.config)
        pipe.to(device)
        pipe.set_progress_bar_config(disable=True)
        info = {
            "pipeline_class": type(pipe).__name__,
            "scheduler_class": type(pipe.scheduler).__name__,
            "resolved_path": str(getattr(pipe.config, "_name_or_path", path)),
            "load_seconds": round(time.perf_counter() - started, 3),
        }
        loaded = Loaded(pipe=pipe, device=device, dtype=dtype, info=info)
        _cached.update(key=key, loaded=loaded)
        return loaded


def unload() -> None:
    """Drop the cached pipeline (tests, or a worker asked to free its GPU)."""
    with _lock:
        _cached.clear()


def generate_batch(loaded: Loaded, spec: RunSpec, prompts: list[str], seeds: list[int]) -> list[Output]:
    """One pipeline call for len(prompts) outputs; prompts[i] is drawn with seeds[i]."""
    import torch

    if len(prompts) != len(seeds) or not prompts:
        raise ValueError("generate_batch needs one seed per prompt, and at least one prompt")
    generators = [torch.Generator(device="cpu").manual_seed(int(seed)) for seed in seeds]
    kwargs = spec.pipeline_kwargs()
    with torch.inference_mode():
        if spec.media_type == VIDEO:
            result = loaded.pipe(prompt=list(prompts), generator=generators, output_type="np", **kwargs)
            videos = _frames_list(result.frames, len(prompts))
            return [Output(prompt=p, seed=s, media_type=VIDEO, frames=v) for p, s, v in zip(prompts, seeds, videos)]
        result = loaded.pipe(prompt=list(prompts), generator=generators, output_type="pil", **kwargs)
        images = list(result.images)
    if len(images) != len(prompts):
        raise RuntimeError(f"the pipeline returned {len(images)} images for {len(prompts)} prompts")
    return [Output(prompt=p, seed=s, media_type=IMAGE, image=im) for p, s, im in zip(prompts, seeds, images)]


def _frames_list(frames, n: int) -> list:
    """Pipelines return (B, F, H, W, C) arrays, tensors or lists of PIL frames: -> n uint8 arrays."""
    import numpy as np

    if hasattr(frames, "detach"):
        frames = frames.detach().float().cpu().numpy()
    if isinstance(frames, np.ndarray):
        videos = [to_uint8(v) for v in frames]
    else:
        videos = [
            to_uint8(np.stack([np.asarray(f) for f in video])) if not isinstance(video, np.ndarray) else to_uint8(video)
            for video in frames
        ]
    if len(videos) != n:
        raise RuntimeError(f"the pipeline returned {len(videos)} videos for {n} prompts")
    return videos


def runtime_info(loaded: Loaded | None = None) -> dict[str, Any]:
    """Who made an output: host, process, device and library versions (for provenance)."""
    import diffusers
    import torch
    import transformers

    device = loaded.device if loaded else pick_device()
    info = {
        "host": socket.gethostname(),
        "pid": os.getpid(),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "diffusers": diffusers.__version__,
        "transformers": transformers.__version__,
        "device": device,
        "dtype": loaded.dtype if loaded else None,
    }
    if device.startswith("cuda") and torch.cuda.is_available():
        info["device_name"] = torch.cuda.get_device_name(torch.device(device))
    return info
