"""Media files: probing (Pillow for images, PyAV for videos), thumbnails, content-addressed storage.

Layout in Django's default storage (a local folder / shared volume, or S3 through django-storages):

    media/<sha[:2]>/<sha256>.<ext>      the original file, named by the sha256 of its bytes
    thumbs/<sha[:2]>/<sha256>.jpg       its thumbnail (image) or poster frame (video), named by the
                                        sha256 of the ORIGINAL, so a file imported twice is stored once
                                        and gets one thumbnail

Probing never writes to storage: the import validates every row first and stores files only when all
rows are good (see services/imports.py).
"""

from __future__ import annotations

import hashlib
import io
import logging
import warnings
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.core.files import File
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage

THUMB_MAX_PX = 320
THUMB_QUALITY = 82
# Formats every browser shows; anything else is refused at import (annotators must be able to see it).
IMAGE_FORMATS = {"JPEG": "jpg", "PNG": "png", "WEBP": "webp", "GIF": "gif", "BMP": "bmp"}
VIDEO_EXTENSIONS = {"mp4", "m4v", "webm", "mov", "mkv", "avi", "ogv"}
# What each video extension's container must really be (PyAV's demuxer names): a PNG named .mp4 opens in
# PyAV as a one-frame "png_pipe" video that browsers cannot play, so the demuxer is checked, not the name.
VIDEO_CONTAINERS = {
    "mp4": "mov,mp4,m4a,3gp,3g2,mj2",
    "m4v": "mov,mp4,m4a,3gp,3g2,mj2",
    "mov": "mov,mp4,m4a,3gp,3g2,mj2",
    "webm": "matroska,webm",
    "mkv": "matroska,webm",
    "avi": "avi",
    "ogv": "ogg",
}
_HASH_CHUNK = 1 << 20
logger = logging.getLogger(__name__)


class MediaError(Exception):
    """A file that is missing, unreadable or not what it claims to be (message is one line)."""


@dataclass(frozen=True)
class MediaInfo:
    sha256: str
    ext: str
    width: int
    height: int
    duration: float | None = None
    fps: float | None = None


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(_HASH_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text[:200]


def _thumbnail_jpeg(img) -> bytes:
    from PIL import Image

    img = img.convert("RGB") if img.mode != "RGB" else img.copy()
    img.thumbnail((THUMB_MAX_PX, THUMB_MAX_PX), Image.Resampling.LANCZOS)
    buf = io.BytesIO()
    img.save(buf, format="JPEG", quality=THUMB_QUALITY, optimize=True)
    return buf.getvalue()


def probe_image(path: Path, *, thumbnail_to: Path | None = None) -> MediaInfo:
    """Verify an image (header check, then a full decode) and read its size. With `thumbnail_to`,
    also write its JPEG thumbnail there."""
    from PIL import Image

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path) as img:
                fmt = img.format
                pixels, max_pixels = img.size[0] * img.size[1], settings.QEVAL_MAX_IMAGE_PIXELS
                if pixels > max_pixels:  # from the header: nothing has been decoded yet
                    raise MediaError(
                        f"image is {img.size[0]}x{img.size[1]} = {pixels} pixels, more than the limit of "
                        f"{max_pixels} (QEVAL_MAX_IMAGE_PIXELS)"
                    )
                img.verify()  # structure and checksums; the image object is unusable afterwards
            with Image.open(path) as img:
                img.load()  # a full decode catches truncated pixel data that verify() misses
                width, height = img.size
                thumb = _thumbnail_jpeg(img) if thumbnail_to is not None else None
    except MediaError:
        raise
    except FileNotFoundError:
        raise MediaError("file not found") from None
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise MediaError(f"not a readable image ({_one_line(exc)})") from None
    if fmt not in IMAGE_FORMATS:
        raise MediaError(f"image format {fmt} is not supported (use {', '.join(sorted(IMAGE_FORMATS))})")
    if width < 1 or height < 1:
        raise MediaError(f"image has no pixels ({width}x{height})")
    if thumb is not None and thumbnail_to is not None:
        thumbnail_to.write_bytes(thumb)
    return MediaInfo(sha256=file_sha256(path), ext=IMAGE_FORMATS[fmt], width=width, height=height)


def probe_video(path: Path, *, thumbnail_to: Path | None = None) -> MediaInfo:
    """Open a video with PyAV, read duration, fps and size, and decode its first frame (a video with
    no decodable frame is refused). With `thumbnail_to`, write that frame there as the poster JPEG."""
    import av

    ext = path.suffix.lower().lstrip(".")
    if ext not in VIDEO_EXTENSIONS:
        raise MediaError(f"video extension .{ext} is not supported (use {', '.join(sorted(VIDEO_EXTENSIONS))})")
    try:
        with av.open(str(path)) as container:
            demuxer = container.format.name
            if demuxer != VIDEO_CONTAINERS[ext]:
                raise MediaError(
                    f"the file is a {demuxer.split(',')[0]} container, not a .{ext} video "
                    f"({VIDEO_CONTAINERS[ext].split(',')[0]})"
                )
            if not container.streams.video:
                raise MediaError("no video stream in the file")
            stream = container.streams.video[0]
            _video_bounds(stream, container)
            first = None
            for frame in container.decode(stream):
                first = frame
                break
            if first is None:
                raise MediaError("no decodable video frame")
            width, height = first.width, first.height
            rate = stream.average_rate or stream.guessed_rate or stream.base_rate
            fps = float(rate) if rate else None
            if stream.duration is not None and stream.time_base is not None:
                duration = float(stream.duration * stream.time_base)
            elif container.duration is not None:
                duration = container.duration / av.time_base
            elif fps and stream.frames:
                duration = stream.frames / fps
            else:
                duration = None
            poster = _thumbnail_jpeg(first.to_image()) if thumbnail_to is not None else None
    except MediaError:
        raise
    except FileNotFoundError:
        raise MediaError("file not found") from None
    except (av.error.FFmpegError, OSError, ValueError, UnicodeDecodeError) as exc:
        raise MediaError(f"not a readable video ({_one_line(exc)})") from None
    if width < 1 or height < 1:
        raise MediaError(f"video has no pixels ({width}x{height})")
    if poster is not None and thumbnail_to is not None:
        thumbnail_to.write_bytes(poster)
    return MediaInfo(
        sha256=file_sha256(path),
        ext=ext,
        width=width,
        height=height,
        duration=round(duration, 3) if duration else None,
        fps=round(fps, 3) if fps else None,
    )


def _video_bounds(stream, container) -> None:
    """Refuse a video past the duration, resolution or frame-count bounds, from its headers (before decoding)."""
    import av

    max_side, max_s = settings.QEVAL_MAX_VIDEO_SIDE, settings.QEVAL_MAX_VIDEO_SECONDS
    max_frames = settings.QEVAL_MAX_VIDEO_FRAMES
    width, height = stream.codec_context.width or 0, stream.codec_context.height or 0
    if max(width, height) > max_side:
        raise MediaError(f"video is {width}x{height}, larger than {max_side} pixels on a side (QEVAL_MAX_VIDEO_SIDE)")
    duration = None
    if stream.duration is not None and stream.time_base is not None:
        duration = float(stream.duration * stream.time_base)
    elif container.duration is not None:
        duration = container.duration / av.time_base
    if duration is not None and duration > max_s:
        raise MediaError(
            f"video lasts {duration:.1f} s, longer than the limit of {max_s:g} s (QEVAL_MAX_VIDEO_SECONDS)"
        )
    rate = stream.average_rate or stream.guessed_rate
    frames = stream.frames or (int(duration * float(rate)) if duration and rate else 0)
    if frames > max_frames:
        raise MediaError(f"video has {frames} frames, more than the limit of {max_frames} (QEVAL_MAX_VIDEO_FRAMES)")


def media_name(sha256: str, ext: str) -> str:
    return f"media/{sha256[:2]}/{sha256}.{ext}"


def thumbnail_name(sha256: str) -> str:
    return f"thumbs/{sha256[:2]}/{sha256}.jpg"


def storage_put(*, name: str, source: str | Path | bytes) -> bool:
    """Store `source` under exactly `name` unless that name exists already (content-addressed: same
    name, same bytes). Returns True when this call created the file (the caller may remove it again
    if its import fails)."""
    if default_storage.exists(name):
        return False
    if isinstance(source, bytes):
        saved = default_storage.save(name, ContentFile(source))
    else:
        with open(source, "rb") as fh:
            saved = default_storage.save(name, File(fh))
    if saved != name:
        # Another import stored the same content between exists() and save(): keep theirs.
        default_storage.delete(saved)
        return False
    return True


def storage_delete(names: list[str]) -> None:
    """Best-effort cleanup: a file that cannot be deleted is logged, not raised (the caller is already
    handling a failure, or finishing a job)."""
    for name in names:
        try:
            default_storage.delete(name)
        except Exception:  # S3 raises botocore errors, the file system OSError
            logger.warning("could not delete %s from media storage", name, exc_info=True)
