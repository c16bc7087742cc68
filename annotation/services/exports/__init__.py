"""Dataset exports: MOS tables (csv, jsonl, parquet) and SFT conversations (sft, sft-sharegpt, sft-swift).

`dataset_export` streams a DatasetVersion's rows (rows.py) into one writer per format, puts the media
beside it (media.py), and writes manifest.json (manifest.py). It writes into a hidden sibling folder and
renames it onto `out` at the very end, so a bad argument or a failure half-way leaves nothing behind;
`out` must not exist or be an empty folder. Splits come from splits.py (by prompt, stratified by
generator, seeded).
"""
from __future__ import annotations

import os
import shutil
import uuid
from pathlib import Path

from django.conf import settings

from ...models import DatasetVersion, Job
from ..errors import InvalidInput
from .manifest import manifest_write
from .media import MEDIA_MODES, MediaPlacer
from .mos_table import CsvWriter, JsonlWriter, ParquetWriter
from .rows import version_item_keys, version_rows
from .sft import SftWriter, SharegptWriter, SwiftWriter
from .splits import assign_splits, parse_split

_TABLES = {"mos-csv": CsvWriter, "mos-jsonl": JsonlWriter, "mos-parquet": ParquetWriter}
_SFT = {"sft": SftWriter, "sft-sharegpt": SharegptWriter, "sft-swift": SwiftWriter}
FORMATS = tuple(_TABLES) + tuple(_SFT)


def export_check(*, fmt: str, split, seed, media: str, out: str | Path | None) -> dict:
    """Validate every argument before anything is written; returns them normalised."""
    if fmt not in FORMATS:
        raise InvalidInput(f"unknown export format {fmt!r}; choose one of {', '.join(FORMATS)}")
    ratios = parse_split(split)
    try:
        seed = int(seed)
    except (TypeError, ValueError):
        raise InvalidInput(f"seed must be an integer (got {seed!r})") from None
    if media not in MEDIA_MODES:
        raise InvalidInput(f"unknown media mode {media!r}; choose one of {', '.join(MEDIA_MODES)}")
    if out is not None:
        out = Path(out)
        if out.exists() and (not out.is_dir() or any(out.iterdir())):
            raise InvalidInput(f"output folder {out} is not empty; name a new or empty folder")
    return {"fmt": fmt, "split": ratios, "seed": seed, "media": media, "out": out}


def _writer(fmt: str, root: Path, ratios: dict | None):
    if fmt in _TABLES:
        return _TABLES[fmt](root, with_split=ratios is not None)
    return _SFT[fmt](root, list(ratios) if ratios else None)


def dataset_export(
    *, version: DatasetVersion, fmt: str, out: str | Path, split=None, seed: int = 0, media: str = "copy",
    progress=None,
) -> dict:
    """Export `version` to the folder `out` in format `fmt`; returns the manifest (a dict)."""
    args = export_check(fmt=fmt, split=split, seed=seed, media=media, out=out)
    out, ratios, seed = args["out"], args["split"], args["seed"]
    total = int(version.counts.get("items") or version.scores.values("item_id").distinct().count())
    if progress:
        progress.set_total(total, f"exporting {fmt}")
    prompt_split = assign_splits(version_item_keys(version=version), ratios, seed) if ratios else {}
    out.parent.mkdir(parents=True, exist_ok=True)
    work = out.parent / f".{out.name}.partial-{uuid.uuid4().hex[:8]}"
    work.mkdir()
    try:
        placer = MediaPlacer(work, media)
        writer = _writer(fmt, work, ratios)
        done = 0
        try:
            for row in version_rows(version=version):
                split_name = prompt_split.get(row["prompt_id"]) if ratios else None
                placer.place(media_name=row["media_name"], relpath=row["media_path"], item_id=row["item_id"])
                writer.write(row, split_name)
                done += 1
                if progress and done % 500 == 0:
                    progress.update(done, f"exporting {fmt}")
        finally:
            writer.close()
        files = writer.files()
        if fmt in _TABLES:
            counts: dict = {}
            if ratios:
                for s in ratios:
                    counts[s] = 0
                for split_name in _table_splits(version, prompt_split):
                    counts[split_name] += 1
            else:
                counts["all"] = writer.rows
        else:
            counts = {(f["split"] or "all"): f["rows"] for f in files if f["path"].endswith(".jsonl")}
        manifest = manifest_write(root=work, fmt=fmt, version=version, files=files, counts=counts, media=media,
                                  split=ratios, seed=seed)
        if out.exists():
            out.rmdir()  # empty (checked above); rename cannot replace a folder on every OS
        os.replace(work, out)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    if progress:
        progress.update(total, f"exported {done} items")
    return manifest


def _table_splits(version: DatasetVersion, prompt_split: dict[int, str]):
    """Split of each item of the version (for the counts of a MOS table with a split column)."""
    for prompt_id, _generator_id in version_item_keys(version=version):
        yield prompt_split[prompt_id]


def export_dir_for_job(job: Job) -> Path:
    return Path(settings.EXPORT_ROOT) / f"job-{job.pk}"


def dataset_export_job(*, job: Job, progress) -> dict:
    """Job runner (kind `dataset_export`): params {version_id, format, split, seed, media[, out]}.

    Idempotent: a finished export folder (manifest present) is reported again, not rewritten.
    """
    import json

    from ..mos import version_get

    p = job.params
    version = version_get(version_id=p.get("version_id"), campaign=job.campaign if job.campaign_id else None)
    out = Path(p["out"]) if p.get("out") else export_dir_for_job(job)
    if (out / "manifest.json").exists():
        manifest = json.loads((out / "manifest.json").read_text())
    else:
        manifest = dataset_export(version=version, fmt=p.get("format", ""), out=out, split=p.get("split"),
                                  seed=p.get("seed", 0), media=p.get("media", "copy"), progress=progress)
    return {"out": str(out), "format": manifest["format"], "counts": manifest["counts"],
            "files": [f["path"] for f in manifest["files"]], "version_id": version.pk}
