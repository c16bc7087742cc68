"""Reading media for the scorer: images with Pillow, videos with PyAV.

Videos are sampled by time at a target fps (the paper feeds Qwen2-VL at fps 8) and every kept frame is
resized to a pixel budget (the paper: max_pixels 100352 per frame), the way qwen-vl-utils does it: both
sides a multiple of ``factor`` (patch 14 x merge 2 = 28), aspect ratio kept. Frames are decoded as a
stream and only the kept ones are converted, so a long video does not fill memory.
"""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np
from PIL import Image

VIDEO_EXTENSIONS = {".mp4", ".webm", ".mov", ".mkv", ".avi", ".gif", ".m4v"}


def media_type_of(path: str | Path) -> str:
    return "video" if Path(path).suffix.lower() in VIDEO_EXTENSIONS else "image"


def load_image(path: str | Path) -> Image.Image:
    with Image.open(path) as im:
        return im.convert("RGB")


def smart_resize(height: int, width: int, *, factor: int = 28, min_pixels: int = 56 * 56, max_pixels: int = 100352):
    """Qwen2-VL's rule: sides multiples of ``factor``, area within [min_pixels, max_pixels], ratio kept."""
    h_bar = max(factor, round(height / factor) * factor)
    w_bar = max(factor, round(width / factor) * factor)
    if h_bar * w_bar > max_pixels:
        beta = math.sqrt((height * width) / max_pixels)
        h_bar = max(factor, math.floor(height / beta / factor) * factor)
        w_bar = max(factor, math.floor(width / beta / factor) * factor)
    elif h_bar * w_bar < min_pixels:
        beta = math.sqrt(min_pixels / (height * width))
        h_bar = math.ceil(height * beta / factor) * factor
        w_bar = math.ceil(width * beta / factor) * factor
    return h_bar, w_bar


def sample_times(duration: float, fps: float, max_frames: int) -> list[float]:
    """Timestamps to keep: every 1/fps seconds, at least 2, thinned uniformly to ``max_frames``."""
    n = max(2, int(math.floor(duration * fps + 1e-6)) or 1)
    times = [i / fps for i in range(n)]
    if len(times) > max_frames:
        times = [times[int(round(j))] for j in np.linspace(0, len(times) - 1, max_frames)]
    return times


def load_video(
    path: str | Path,
    *,
    fps: float = 8.0,
    max_pixels: int = 100352,
    min_pixels: int = 128 * 28 * 28,
    max_frames: int = 64,
    factor: int = 28,
) -> np.ndarray:
    """Decode ``path`` to a (T, H, W, 3) uint8 array: frames at ``fps``, each resized to the pixel budget.

    T is even (the last frame is repeated when needed) because Qwen2-VL patches 2 frames at a time.
    """
    import av

    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        tb = float(stream.time_base) if stream.time_base else None
        duration = None
        if stream.duration is not None and tb:
            duration = float(stream.duration * tb)
        elif container.duration:
            duration = container.duration / 1_000_000
        rate = float(stream.average_rate) if stream.average_rate else 25.0
        if not duration and stream.frames:
            duration = stream.frames / rate
        duration = duration or 0.0
        times = sample_times(duration, fps, max_frames) if duration > 0 else None
        frames: list[np.ndarray] = []
        size = None
        t_next = 0
        last = None
        for i, frame in enumerate(container.decode(stream)):
            t = frame.time if frame.time is not None else i / rate
            last = frame
            if times is not None:
                if t_next >= len(times):
                    break
                if t + 0.5 / rate < times[t_next]:
                    continue
                while t_next < len(times) and t + 0.5 / rate >= times[t_next]:
                    t_next += 1
            elif frames and (len(frames) >= max_frames or t * fps < len(frames)):
                continue
            img = frame.to_image()
            if size is None:
                h, w = smart_resize(img.height, img.width, factor=factor, min_pixels=min_pixels, max_pixels=max_pixels)
                size = (w, h)
            frames.append(np.asarray(img.resize(size, Image.BICUBIC), dtype=np.uint8))
        if not frames and last is not None:
            img = last.to_image()
            h, w = smart_resize(img.height, img.width, factor=factor, min_pixels=min_pixels, max_pixels=max_pixels)
            frames.append(np.asarray(img.resize((w, h), Image.BICUBIC), dtype=np.uint8))
    if not frames:
        raise ValueError(f"no frames decoded from {path}")
    if len(frames) % 2:
        frames.append(frames[-1])
    return np.stack(frames)


def write_test_video(path: str | Path, *, frames: int = 16, fps: int = 8, width: int = 64, height: int = 48, seed: int = 0):
    """A small synthetic mp4 (moving gradient + noise), for tests and demos."""
    import av

    rng = np.random.default_rng(seed)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with av.open(str(path), mode="w") as out:
        stream = out.add_stream("mpeg4", rate=fps)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        for i in range(frames):
            x = np.linspace(0, 255, width)[None, :, None] + 8 * i
            arr = np.broadcast_to(x, (height, width, 3)).astype(np.float32)
            arr = np.clip(arr + rng.normal(0, 10, arr.shape), 0, 255).astype(np.uint8)
            for packet in stream.encode(av.VideoFrame.from_ndarray(arr, format="rgb24")):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    return path
