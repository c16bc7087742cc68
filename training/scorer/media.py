"""Reading media for the scorer: images with Pillow, videos with PyAV.

Default sampler ``"qwen-vl-utils"``: the frame rule of qwen-vl-utils (``smart_nframes``, which the released
inference script uses through ``process_vision_info``), ported exactly and checked against the package's own
source where it is installed (tests/scorer/test_qwen_vl_utils_parity.py):

* ``nframes = total_frames / video_fps * fps``, clamped to ``[min_frames (4), max_frames (768)]`` and to
  the frame count, then rounded DOWN to an even number (an odd count drops a frame, it never pads);
* the kept frames are ``round(linspace(0, total_frames - 1, nframes))`` (spread over the whole clip);
* every frame is resized to qwen-vl-utils' ``smart_resize`` of its size with the per-frame pixel budget
  (the paper: fps 8, max_pixels 100352), capped as qwen-vl-utils caps it for long clips.

So a 10 s clip at 24 fps gives 80 frames at fps 8. What differs from qwen-vl-utils: frames are resized with
Pillow's bicubic filter, not torchvision's (no torchvision beside this CPU torch), so pixel values differ by
interpolation only; and a one-frame video is fed twice (qwen-vl-utils refuses it). ``"fps"`` is the older
sampler (every 1/fps seconds from the start, at least 2 frames, thinned to ``max_frames``, an odd count padded
with the last frame), kept for comparison. Frames are decoded as a stream and only the kept ones are
converted, so a long video does not fill memory.

Images: ``load_image`` with ``resize="qwen-vl-utils"`` applies qwen-vl-utils' ``fetch_image`` rule (sides
multiples of 28 within 4..16384 merged patches, Pillow's default bicubic) before the processor, as
``process_vision_info`` does: a processor then leaves such an image as it is.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
from PIL import Image

VIDEO_EXTENSIONS = {".mp4", ".webm", ".mov", ".mkv", ".avi", ".gif", ".m4v"}


def media_type_of(path: str | Path) -> str:
    return "video" if Path(path).suffix.lower() in VIDEO_EXTENSIONS else "image"


SAMPLERS = ("qwen-vl-utils", "fps")
IMAGE_RESIZES = ("qwen-vl-utils", "processor")

# qwen-vl-utils (0.0.14) constants, in merged-patch tokens so that they follow the model's patch size
QVU_FRAME_FACTOR = 2
QVU_FPS_MIN_FRAMES = 4
QVU_FPS_MAX_FRAMES = 768
QVU_IMAGE_MIN_TOKENS, QVU_IMAGE_MAX_TOKENS = 4, 16384
QVU_VIDEO_MIN_TOKENS, QVU_VIDEO_MAX_TOKENS = 128, 768
QVU_MAX_RATIO = 200


def _qvu_model_seq_len() -> int:
    import os

    return int(float(os.environ.get("MODEL_SEQ_LEN", 128000)))


def load_image(
    path: str | Path,
    *,
    resize: str = "processor",
    factor: int = 28,
    min_pixels: int | None = None,
    max_pixels: int | None = None,
) -> Image.Image:
    """An RGB image; with ``resize="qwen-vl-utils"`` already sized like qwen-vl-utils' ``fetch_image``."""
    with Image.open(path) as im:
        if im.mode == "RGBA":  # qwen-vl-utils puts transparent pixels on white
            rgb = Image.new("RGB", im.size, (255, 255, 255))
            rgb.paste(im, mask=im.split()[3])
        else:
            rgb = im.convert("RGB")
    if resize == "processor":
        return rgb
    if resize != "qwen-vl-utils":
        raise ValueError(f"image resize must be one of {IMAGE_RESIZES}, got {resize!r}")
    h, w = qvu_smart_resize(
        rgb.height,
        rgb.width,
        factor=factor,
        min_pixels=min_pixels if min_pixels is not None else QVU_IMAGE_MIN_TOKENS * factor**2,
        max_pixels=max_pixels if max_pixels is not None else QVU_IMAGE_MAX_TOKENS * factor**2,
    )
    return rgb.resize((w, h)) if (w, h) != rgb.size else rgb


def _round_by(n, f):
    return round(n / f) * f


def _ceil_by(n, f):
    return math.ceil(n / f) * f


def _floor_by(n, f):
    return math.floor(n / f) * f


def qvu_smart_resize(height: int, width: int, *, factor: int, min_pixels: int, max_pixels: int) -> tuple[int, int]:
    """qwen-vl-utils' ``smart_resize`` (no lower clamp on the shrinking branch, like the original)."""
    if max(height, width) / min(height, width) > QVU_MAX_RATIO:
        raise ValueError(
            f"absolute aspect ratio must be smaller than {QVU_MAX_RATIO}, got {max(height, width) / min(height, width)}"
        )
    h_bar = max(factor, _round_by(height, factor))
    w_bar = max(factor, _round_by(width, factor))
    if h_bar * w_bar > max_pixels:
        beta = math.sqrt((height * width) / max_pixels)
        h_bar = _floor_by(height / beta, factor)
        w_bar = _floor_by(width / beta, factor)
    elif h_bar * w_bar < min_pixels:
        beta = math.sqrt(min_pixels / (height * width))
        h_bar = _ceil_by(height * beta, factor)
        w_bar = _ceil_by(width * beta, factor)
    return h_bar, w_bar


def qvu_nframes(
    total_frames: int,
    video_fps: float,
    *,
    fps: float = 2.0,
    min_frames: int | None = None,
    max_frames: int | None = None,
) -> int:
    """qwen-vl-utils' ``smart_nframes`` for ``{"fps": fps[, "min_frames"][, "max_frames"]}``."""
    f = QVU_FRAME_FACTOR
    lo = _ceil_by(QVU_FPS_MIN_FRAMES if min_frames is None else min_frames, f)
    hi = _floor_by(min(QVU_FPS_MAX_FRAMES, total_frames) if max_frames is None else max_frames, f)
    n = total_frames / video_fps * fps
    n = min(min(max(n, lo), hi), total_frames)
    n = _floor_by(n, f)
    if not (f <= n <= total_frames):
        raise ValueError(f"nframes should in interval [{f}, {total_frames}], but got {n}.")
    return n


def qvu_frame_indices(total_frames: int, nframes: int) -> list[int]:
    """``torch.linspace(0, total_frames - 1, nframes).round()``: torch's own float32 linspace, so the indices
    equal qwen-vl-utils' to the last rounding."""
    try:
        import torch

        return torch.linspace(0, total_frames - 1, nframes).round().long().tolist()
    except ImportError:  # the platform without the training extra: same values but for float32 ties
        return [int(x) for x in np.round(np.linspace(0, total_frames - 1, nframes))]


def qvu_video_max_pixels(nframes: int, *, factor: int, min_pixels: int, max_pixels: int | None) -> int:
    """The per-frame budget qwen-vl-utils' ``fetch_video`` ends up with (it caps long clips)."""
    total_pixels = _qvu_model_seq_len() * factor * factor * 0.9
    cap = max(
        min(QVU_VIDEO_MAX_TOKENS * factor * factor, total_pixels / nframes * QVU_FRAME_FACTOR), int(min_pixels * 1.05)
    )
    return cap if max_pixels is None else min(max_pixels, cap)  # type: ignore[return-value]  # a float, as qwen-vl-utils


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


def _stream_info(container, stream) -> tuple[int, float]:
    """(frame count, average fps) of a video stream; frames counted from the packets when the header has none."""
    rate = float(stream.average_rate) if stream.average_rate else (float(stream.guessed_rate or 0) or 25.0)
    total = int(stream.frames or 0)
    if total <= 0:
        total = sum(1 for packet in container.demux(stream) if packet.size)
    return total, rate


def _decode_indices(path, indices: list[int], size_for) -> tuple[list[np.ndarray], int]:
    """Frames at ``indices`` (decode order), resized by ``size_for(width, height)``; also the frames decoded."""
    from collections import Counter

    import av

    wanted = Counter(indices)
    last = max(indices)
    frames: list[np.ndarray] = []
    size = None
    decoded = 0
    with av.open(str(path)) as container:
        for i, frame in enumerate(container.decode(container.streams.video[0])):
            decoded = i + 1
            if i in wanted:
                img = frame.to_image()
                if size is None:
                    size = size_for(img.width, img.height)
                arr = np.asarray(
                    img.resize(size, Image.Resampling.BICUBIC) if size != img.size else img, dtype=np.uint8
                )
                frames.extend([arr] * wanted[i])
            if i >= last:
                break
    return frames, decoded


def load_video_qwen_vl_utils(
    path: str | Path,
    *,
    fps: float = 8.0,
    max_pixels: int | None = 100352,
    min_pixels: int = 128 * 28 * 28,
    max_frames: int | None = None,
    min_frames: int | None = None,
    factor: int = 28,
) -> np.ndarray:
    """(T, H, W, 3) uint8 frames chosen and sized as qwen-vl-utils does (module docstring)."""
    import av

    with av.open(str(path)) as container:
        total, rate = _stream_info(container, container.streams.video[0])
    if total < 1:
        raise ValueError(f"no frames decoded from {path}")

    def pick(total_frames: int) -> list[int]:
        if total_frames < QVU_FRAME_FACTOR:
            return [0, 0]  # one frame: fed twice (qwen-vl-utils refuses it; Qwen2-VL patches 2 frames)
        n = qvu_nframes(total_frames, rate, fps=fps, min_frames=min_frames, max_frames=max_frames)
        return qvu_frame_indices(total_frames, n)

    indices = pick(total)
    budget = qvu_video_max_pixels(len(indices), factor=factor, min_pixels=min_pixels, max_pixels=max_pixels)

    def size_for(width: int, height: int) -> tuple[int, int]:
        h, w = qvu_smart_resize(height, width, factor=factor, min_pixels=min_pixels, max_pixels=budget)
        return w, h

    frames, decoded = _decode_indices(path, indices, size_for)
    if len(frames) < len(indices):  # the header over-counted the frames: sample again from what decodes
        frames, _ = _decode_indices(path, pick(decoded), size_for)
    if not frames:
        raise ValueError(f"no frames decoded from {path}")
    return np.stack(frames)


def load_video(
    path: str | Path,
    *,
    fps: float = 8.0,
    max_pixels: int = 100352,
    min_pixels: int = 128 * 28 * 28,
    max_frames: int | None = None,
    factor: int = 28,
    sampler: str = "qwen-vl-utils",
    min_frames: int | None = None,
) -> np.ndarray:
    """Decode ``path`` to a (T, H, W, 3) uint8 array, T even (Qwen2-VL patches 2 frames at a time).

    ``sampler="qwen-vl-utils"`` (default): see the module docstring. ``"fps"``: frames every 1/fps seconds,
    thinned to ``max_frames``, the last frame repeated to make T even.
    """
    if sampler == "qwen-vl-utils":
        return load_video_qwen_vl_utils(
            path,
            fps=fps,
            max_pixels=max_pixels,
            min_pixels=min_pixels,
            max_frames=max_frames,
            min_frames=min_frames,
            factor=factor,
        )
    if sampler != "fps":
        raise ValueError(f"video sampler must be one of {SAMPLERS}, got {sampler!r}")
    max_frames = max_frames or 64
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
            frames.append(np.asarray(img.resize(size, Image.Resampling.BICUBIC), dtype=np.uint8))
        if not frames and last is not None:
            img = last.to_image()
            h, w = smart_resize(img.height, img.width, factor=factor, min_pixels=min_pixels, max_pixels=max_pixels)
            frames.append(np.asarray(img.resize((w, h), Image.Resampling.BICUBIC), dtype=np.uint8))
    if not frames:
        raise ValueError(f"no frames decoded from {path}")
    if len(frames) % 2:
        frames.append(frames[-1])
    return np.stack(frames)


def write_test_video(
    path: str | Path, *, frames: int = 16, fps: int = 8, width: int = 64, height: int = 48, seed: int = 0
):
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
