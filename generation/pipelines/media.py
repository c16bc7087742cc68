"""Writing generated content: images as PNG (lossless, so the file is exactly what the model drew) and
videos as MP4 (H.264, yuv420p: every browser plays it) through PyAV, which the platform already uses to
probe videos."""

from __future__ import annotations

from pathlib import Path

import numpy as np


def to_uint8(array) -> np.ndarray:
    """Float frames in [0, 1] (diffusers' "np" output) or uint8 -> uint8, clipped."""
    arr = np.asarray(array)
    if arr.dtype == np.uint8:
        return arr
    return (np.clip(np.nan_to_num(arr, nan=0.0), 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)


def write_png(image, path: str | Path) -> Path:
    """A PIL image or an (H, W, 3) array -> PNG at `path`."""
    from PIL import Image

    path = Path(path)
    if not isinstance(image, Image.Image):
        image = Image.fromarray(to_uint8(image))
    image.convert("RGB").save(path, format="PNG")
    return path


def write_mp4(frames, path: str | Path, *, fps: int) -> Path:
    """(F, H, W, 3) frames (uint8, or floats in [0, 1]) -> an H.264 MP4 at `path` (MPEG-4 Part 2 where this
    PyAV build has no libx264). Odd sizes are cropped to even ones (yuv420p needs them)."""
    import av

    frames = to_uint8(frames)
    if frames.ndim != 4 or frames.shape[-1] != 3:
        raise ValueError(f"video frames must be (frames, height, width, 3), got {frames.shape}")
    height, width = frames.shape[1] // 2 * 2, frames.shape[2] // 2 * 2
    path = Path(path)
    with av.open(str(path), mode="w", format="mp4") as container:
        try:
            stream = container.add_stream("libx264", rate=int(fps))
            stream.options = {"crf": "18", "preset": "medium"}
        except Exception:  # an av build without libx264
            stream = container.add_stream("mpeg4", rate=int(fps))
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        for frame in frames:
            video_frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(frame[:height, :width]), format="rgb24")
            for packet in stream.encode(video_frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path
