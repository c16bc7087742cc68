"""Synthetic demo content for `seed_demo`: images and short videos with visibly different quality, a
manifest, all deterministic (same bytes every run, so content-addressed storage keeps one copy).

Nothing here is real generated content: the generator names are made up, and each stands for one
quality level, so a demo campaign's ratings, MOS and model-level metrics show clear differences.
"""

from __future__ import annotations

import csv
import io
import random
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

SIZE = (256, 192)
VIDEO_SIZE = (128, 96)
VIDEO_FPS, VIDEO_SECONDS = 8, 2


@dataclass(frozen=True)
class Quality:
    generator: str
    blur: float  # Gaussian blur radius
    noise: float  # sigma of added Gaussian noise (0-255 scale)
    pixelate: int  # downscale factor before upscaling again (1 = none)
    jpeg: int | None  # JPEG quality, None = lossless PNG
    wrong_colour: bool  # draws the main object in the wrong colour (worse alignment)


# Four image generators, best to worst.
IMAGE_QUALITIES = (
    Quality("sharpdiff-xl", blur=0.0, noise=0.0, pixelate=1, jpeg=None, wrong_colour=False),
    Quality("pixelmuse-2", blur=1.2, noise=10.0, pixelate=1, jpeg=40, wrong_colour=False),
    Quality("softframe-1.5", blur=2.2, noise=16.0, pixelate=2, jpeg=30, wrong_colour=False),
    Quality("noisegen-0.3", blur=1.0, noise=42.0, pixelate=6, jpeg=8, wrong_colour=True),
)
VIDEO_QUALITIES = (
    Quality("clipmotion-1", blur=0.0, noise=0.0, pixelate=1, jpeg=None, wrong_colour=False),
    Quality("jitterflow-0.2", blur=1.5, noise=35.0, pixelate=4, jpeg=None, wrong_colour=True),
)

# (prompt, category, subcategory, colour of the main object, shape). Categories follow the paper's
# prompt taxonomy (Q-Eval-100K, Table 7); two prompts are over 25 words (long prompts, V2S).
PROMPTS = (
    ("a red ball on green grass", "Entity Generation", "object", (210, 40, 40), "ball"),
    ("a yellow sun above blue mountains at noon", "Entity Attribute Generation", "color", (245, 200, 40), "sun"),
    (
        "a small wooden house to the left of a tall tree",
        "Interaction Ability",
        "spatial relationships",
        (150, 95, 50),
        "house",
    ),
    (
        "a calm lake at sunset, soft lighting, high contrast, shallow depth of field",
        "Entity Attribute Generation",
        "lighting",
        (250, 140, 60),
        "sun",
    ),
    (
        "a watercolour painting of a quiet village street early in the morning, with a red door, three blue "
        "windows, a cat sleeping on the steps and warm light falling across the old stones",
        "Entity Attribute Generation",
        "style",
        (200, 40, 60),
        "house",
    ),
    (
        "a purple balloon floating over a city park while children below point at it and a dog runs after "
        "its string, seen from a low camera angle on a bright and windy spring afternoon",
        "Interaction Ability",
        "causal relationships",
        (140, 60, 190),
        "ball",
    ),
)
VIDEO_PROMPTS = (
    (
        "a red ball rolling from left to right across a green field",
        "Entity Attribute Generation",
        "action",
        (210, 40, 40),
        "ball",
    ),
    ("a blue kite rising slowly into a clear sky", "Entity Generation", "object", (40, 90, 220), "ball"),
)


def _scene(colour, shape: str, variant: int, size, *, offset: float = 0.5, wrong: bool = False) -> Image.Image:
    """A simple drawn scene: sky gradient, ground, the prompt's main object. `offset` in [0, 1] moves
    the object horizontally (videos animate it)."""
    w, h = size
    rng = random.Random(variant)
    sky = np.linspace(0, 1, h)[:, None, None]
    top, bottom = np.array([70, 130, 210]), np.array([190, 220, 250])
    arr = (top * (1 - sky) + bottom * sky).repeat(w, axis=1).astype(np.uint8)
    img = Image.fromarray(arr, "RGB")
    draw = ImageDraw.Draw(img)
    horizon = int(h * (0.62 + 0.08 * rng.random()))
    draw.polygon([(0, horizon), (w * 0.3, h * 0.35), (w * 0.6, horizon)], fill=(90, 110, 150))
    draw.polygon([(w * 0.4, horizon), (w * 0.75, h * 0.3), (w, horizon)], fill=(70, 95, 140))
    draw.rectangle([0, horizon, w, h], fill=(60, 150, 70))
    if wrong:
        colour = tuple(255 - c for c in colour)
    x, y, r = int(w * (0.15 + 0.7 * offset)), int(h * 0.55), int(h * 0.14)
    if shape == "sun":
        draw.ellipse([x - r, int(h * 0.2) - r, x + r, int(h * 0.2) + r], fill=colour)
    elif shape == "house":
        draw.rectangle([x - r, y - r, x + r, y + r], fill=colour)
        draw.polygon([(x - r - 6, y - r), (x, y - 2 * r), (x + r + 6, y - r)], fill=(120, 40, 30))
        draw.rectangle([x - 5, y + 2, x + 5, y + r], fill=(60, 30, 20))
        draw.rectangle([x + r + 20, y - 2 * r, x + r + 28, y + r], fill=(90, 60, 30))
        draw.ellipse([x + r + 6, y - 3 * r, x + r + 42, y - r], fill=(40, 120, 50))
    else:
        draw.ellipse([x - r, y - r, x + r, y + r], fill=colour)
        draw.ellipse([x - r // 2, y - r // 2 - 3, x - r // 4, y - r // 4 - 3], fill=(255, 255, 255))
    return img


def _degrade(img: Image.Image, quality: Quality, seed: int) -> Image.Image:
    if quality.pixelate > 1:
        small = img.resize((img.width // quality.pixelate, img.height // quality.pixelate), Image.Resampling.BILINEAR)
        img = small.resize(img.size, Image.Resampling.NEAREST)
    if quality.blur:
        img = img.filter(ImageFilter.GaussianBlur(quality.blur))
    if quality.noise:
        rng = np.random.default_rng(seed)
        arr = np.asarray(img).astype(np.float32) + rng.normal(0, quality.noise, (img.height, img.width, 3))
        img = Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8), "RGB")
    return img


def _image_bytes(img: Image.Image, quality: Quality) -> tuple[bytes, str]:
    buf = io.BytesIO()
    if quality.jpeg is None:
        img.save(buf, format="PNG", optimize=False)
        return buf.getvalue(), "png"
    img.save(buf, format="JPEG", quality=quality.jpeg)
    return buf.getvalue(), "jpg"


def _write_video(path: Path, colour, shape: str, quality: Quality, seed: int) -> None:
    import av

    frames = VIDEO_FPS * VIDEO_SECONDS
    with av.open(str(path), mode="w", format="mp4") as container:
        codec = "libx264" if "libx264" in av.codecs_available else "mpeg4"
        stream: av.VideoStream = container.add_stream(codec, rate=VIDEO_FPS)  # type: ignore[assignment]  # video
        stream.width, stream.height = VIDEO_SIZE
        stream.pix_fmt = "yuv420p"
        if codec == "libx264":
            stream.options = {"crf": "23", "preset": "veryfast"}
        for i in range(frames):
            # The weak generator's object jumps about instead of moving smoothly.
            offset = i / (frames - 1) if not quality.wrong_colour else random.Random(seed * 100 + i).random()
            frame = _degrade(
                _scene(colour, shape, seed, VIDEO_SIZE, offset=offset, wrong=quality.wrong_colour),
                quality,
                seed * 100 + i,
            )
            for packet in stream.encode(av.VideoFrame.from_image(frame)):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)


def demo_content_write(folder: Path) -> Path:
    """Write the demo images, videos and manifest.csv into `folder`; returns the manifest's path.
    Files that already exist are left alone (the content is deterministic)."""
    rows = []
    (folder / "images").mkdir(parents=True, exist_ok=True)
    (folder / "videos").mkdir(parents=True, exist_ok=True)
    for p, (prompt, category, subcategory, colour, shape) in enumerate(PROMPTS):
        for g, quality in enumerate(IMAGE_QUALITIES):
            seed = p * 10 + g
            img = _degrade(_scene(colour, shape, p, SIZE, offset=0.5, wrong=quality.wrong_colour), quality, seed)
            data, ext = _image_bytes(img, quality)
            rel = f"images/p{p}-{quality.generator}.{ext}"
            if not (folder / rel).exists():
                (folder / rel).write_bytes(data)
            rows.append([f"demo-img-{p}-{g}", rel, "image", prompt, quality.generator, category, subcategory])
    for p, (prompt, category, subcategory, colour, shape) in enumerate(VIDEO_PROMPTS):
        for g, quality in enumerate(VIDEO_QUALITIES):
            rel = f"videos/v{p}-{quality.generator}.mp4"
            if not (folder / rel).exists():
                _write_video(folder / rel, colour, shape, quality, seed=p * 10 + g)
            rows.append([f"demo-vid-{p}-{g}", rel, "video", prompt, quality.generator, category, subcategory])
    manifest = folder / "manifest.csv"
    with open(manifest, "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["item_id", "media_path", "media_type", "prompt", "generator", "category", "subcategory"])
        writer.writerows(rows)
    return manifest
