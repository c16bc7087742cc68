"""Write small ``sft`` exports (the platform exporter's format) from in-memory items.

Why: the tests, the CPU benchmark and the platform's demo need an export to train on without the
platform's database. :func:`write_sft_export` writes exactly the contract described in
:mod:`training.scorer.data`; :func:`make_synthetic_export` fills it with generated images (and optionally
videos) whose MOS follows a visible property (noise and blur), so a model can learn it. No torch import.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import numpy as np
from PIL import Image, ImageFilter

from .prompts import DIMENSIONS, context_prompt, level_from_mos


def write_sft_export(
    out_dir: str | Path, items: list[dict], *, splits: bool = True, dimensions: tuple[str, ...] = DIMENSIONS
) -> Path:
    """``items``: dicts with item_id, media (an existing file), media_type, generator, prompt, split, and
    ``mos`` (one value for every dimension) or ``mos_<dimension>``. Media are copied under ``media/``."""
    out = Path(out_dir)
    (out / "media").mkdir(parents=True, exist_ok=True)
    by_file: dict[str, list[dict]] = {}
    for item in items:
        src = Path(item["media"])
        digest = hashlib.sha256(src.read_bytes()).hexdigest()[:12]
        rel = Path("media") / digest[:2] / f"{digest}{src.suffix.lower()}"
        (out / rel).parent.mkdir(parents=True, exist_ok=True)
        if not (out / rel).exists():
            shutil.copyfile(src, out / rel)
        split = item.get("split", "train") if splits else None
        for dim in dimensions:
            mos = item.get(f"mos_{dim}", item.get("mos"))
            if mos is None:
                continue
            level = level_from_mos(float(mos))
            prompt = item.get("prompt", "")
            rec = {
                "item_id": item["item_id"],
                "dimension": dim,
                "media_type": item["media_type"],
                "media": rel.as_posix(),
                "generator": item.get("generator", ""),
                "prompt": prompt,
                "prompt_words": len(prompt.split()),
                "messages": [
                    {
                        "role": "user",
                        "content": context_prompt(media_type=item["media_type"], dimension=dim, prompt=prompt),
                    },
                    {"role": "assistant", "content": level},
                ],
                "level": level,
                "mos": round(float(mos), 4),
                "split": split or "all",
            }
            by_file.setdefault(f"sft_{split}.jsonl" if split else "sft.jsonl", []).append(rec)
    files, counts = [], {}
    for name, recs in sorted(by_file.items()):
        text = "".join(json.dumps(r) + "\n" for r in recs)
        (out / name).write_text(text)
        split = name[4:-6] if name != "sft.jsonl" else "all"
        files.append(
            {"path": name, "split": split, "rows": len(recs), "sha256": hashlib.sha256(text.encode()).hexdigest()}
        )
        counts[split] = len(recs)
    manifest = {
        "format": "sft",
        "dataset_version": {"name": "synthetic", "version": 1},
        "files": files,
        "counts": counts,
    }
    (out / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    return out


def synthetic_image(path: Path, *, severity: float, seed: int, size: int = 56) -> Path:
    """A smooth colourful image degraded by noise and blur in proportion to ``severity`` (0..1)."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:size, 0:size] / size
    base = np.stack([np.sin(6 * x + rng.uniform(0, 6)), np.cos(5 * y + rng.uniform(0, 6)), np.sin(4 * (x + y))], -1)
    img = (base * 0.5 + 0.5) * 255
    img = img + rng.normal(0, 90 * severity, img.shape)
    im = Image.fromarray(np.clip(img, 0, 255).astype(np.uint8))
    if severity > 0.3:
        im = im.filter(ImageFilter.GaussianBlur(radius=3 * severity))
    path.parent.mkdir(parents=True, exist_ok=True)
    im.save(path)
    return path


def make_synthetic_export(
    out_dir: str | Path, *, n_items: int = 24, seed: int = 0, videos: int = 0, long_prompts: int = 0
) -> Path:
    """An export whose MOS = 5 - 4 * severity (quality) and a noisy copy of it (alignment).

    Splits: 2/3 train, 1/6 val, 1/6 test. ``videos`` of the items are short mp4s; ``long_prompts`` of
    them get prompts over 25 words (for V2S)."""
    rng = np.random.default_rng(seed)
    out = Path(out_dir)
    raw = out.parent / (out.name + "_raw")
    items = []
    gens = ["gen-a", "gen-b", "gen-c", "gen-d"]
    for i in range(n_items):
        severity = float(i % 8) / 7.0
        mos_q = 5.0 - 4.0 * severity
        split = "train" if i % 6 < 4 else ("val" if i % 6 == 4 else "test")
        prompt = f"a colourful abstract pattern number {i}"
        if i < long_prompts:
            prompt = (
                "a very detailed colourful abstract pattern with smooth waves of red, green and blue, "
                "soft gradients across the frame, gentle curves in the corners, and a calm balanced "
                f"composition under bright even lighting, variation {i}"
            )
        if i < videos:
            from .media import write_test_video

            media = write_test_video(raw / f"v{i}.mp4", frames=8, fps=8, seed=seed + i)
            media_type = "video"
        else:
            media = synthetic_image(raw / f"i{i}.png", severity=severity, seed=seed + i)
            media_type = "image"
        items.append(
            {
                "item_id": f"{media_type[:3]}-{i:04d}",
                "media": media,
                "media_type": media_type,
                "generator": gens[i % len(gens)],
                "prompt": prompt,
                "split": split,
                "mos_quality": mos_q,
                "mos_alignment": float(np.clip(mos_q + rng.normal(0, 0.3), 1, 5)),
            }
        )
    write_sft_export(out, items)
    shutil.rmtree(raw, ignore_errors=True)
    return out
