"""Dataset exports: MOS tables (csv, jsonl, parquet) and SFT conversations (sft, sft-sharegpt, sft-swift).

`dataset_export` streams a DatasetVersion's rows in chunks of items (rows.py) into one writer per
format, puts the media beside it (media.py), and writes manifest.json (manifest.py). It writes into a hidden sibling folder and
renames it onto `out` at the very end, so a bad argument or a failure half-way leaves nothing behind;
`out` must not exist or be an empty folder. Splits come from splits.py (by prompt, stratified by
generator, seeded), or are the split each item was imported with (`split="given"`, kept exactly).
Golden items (the Sample-and-Scrutinize sample) are kept, left out of the train split
(`golden="exclude-train"`) or left out altogether (`golden="exclude"`).
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from pathlib import Path

from django.conf import settings

from core.errors import InvalidInput

from ...models import DatasetVersion, Job
from .manifest import manifest_write
from .media import MEDIA_MODES, MediaPlacer
from .mos_table import CsvWriter, JsonlWriter, ParquetWriter
from .rows import chunk_take, version_chunks, version_given_splits, version_item_keys
from .sft import SftWriter, SharegptWriter, SwiftWriter
from .splits import GIVEN, SPLIT_NAMES, assign_splits, parse_golden, parse_split

_TABLES = {"mos-csv": CsvWriter, "mos-jsonl": JsonlWriter, "mos-parquet": ParquetWriter}
_SFT = {"sft": SftWriter, "sft-sharegpt": SharegptWriter, "sft-swift": SwiftWriter}
FORMATS = tuple(_TABLES) + tuple(_SFT)


def export_check(*, fmt: str, split, seed, media: str, out: str | Path | None, golden: str | None = "keep") -> dict:
    """Validate every argument before anything is written; returns them normalised."""
    if fmt not in FORMATS:
        raise InvalidInput(f"unknown export format {fmt!r}; choose one of {', '.join(FORMATS)}")
    ratios = parse_split(split)
    golden = parse_golden(golden)
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
    return {"fmt": fmt, "split": ratios, "seed": seed, "media": media, "out": out, "golden": golden}


def _writer(fmt: str, root: Path, names: list[str] | None):
    if fmt in _TABLES:
        return _TABLES[fmt](root, with_split=names is not None)
    return _SFT[fmt](root, names)


def _given_split_names(version: DatasetVersion) -> list[str]:
    """The splits present in the version's items (given at import); InvalidInput when some item has none."""
    counts = version_given_splits(version=version)
    if counts.get("", 0):
        raise InvalidInput(
            f"split 'given': {counts['']} item(s) of version {version.number} have no imported split; "
            "import a split column with the items or the MOS table, or ask for ratios"
        )
    return [s for s in SPLIT_NAMES if counts.get(s)]


def _golden_skipped(is_golden: bool, split_name: str | None, golden: str) -> bool:
    if not is_golden or golden == "keep":
        return False
    # exclude-train without a split: the whole export is training data
    return golden == "exclude" or split_name in (None, "train")


def dataset_export(
    *,
    version: DatasetVersion,
    fmt: str,
    out: str | Path,
    split=None,
    seed: int = 0,
    media: str = "copy",
    golden: str = "keep",
    progress=None,
) -> dict:
    """Export `version` to the folder `out` in format `fmt`; returns the manifest (a dict)."""
    args = export_check(fmt=fmt, split=split, seed=seed, media=media, out=out, golden=golden)
    out_dir: Path = args["out"]
    ratios, seed, golden = args["split"], args["seed"], args["golden"]
    total = int(version.counts.get("items") or version.scores.values("item_id").distinct().count())
    names: list[str] | None
    keys: list = []
    if ratios == GIVEN:
        names = _given_split_names(version)
    else:
        names = list(ratios) if ratios else None
        keys = version_item_keys(version=version) if ratios else []
    if progress:
        progress.set_total(total, f"exporting {fmt}")
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    for stale in out_dir.parent.glob(f".{out_dir.name}.partial-*"):
        shutil.rmtree(stale, ignore_errors=True)  # left by a worker killed half-way through this same export
    work = out_dir.parent / f".{out_dir.name}.partial-{uuid.uuid4().hex[:8]}"
    work.mkdir()
    try:
        placer = MediaPlacer(work, media)
        writer = _writer(fmt, work, names)
        done, skipped_golden = 0, 0
        table_counts = dict.fromkeys(names, 0) if names else {"all": 0}
        try:
            # A chunk of items at a time (rows.py): the writers turn whole columns into text, no dict per row.
            # The split assignment (pure Python) runs in a thread while the database computes the rows
            # (psycopg waits for the server without the GIL); it touches no database.
            with ExitStack() as stack:
                with ThreadPoolExecutor(max_workers=1) as pool:
                    splitter = pool.submit(assign_splits, keys, ratios, seed) if isinstance(ratios, dict) else None
                    chunks = stack.enter_context(version_chunks(version=version))
                    prompt_split = splitter.result() if splitter else {}
                for chunk in chunks:
                    done += len(chunk["pk"])
                    if ratios == GIVEN:
                        splits = chunk["given_split"]
                    elif ratios:
                        splits = list(map(prompt_split.get, chunk["prompt_id"]))
                    else:
                        splits = [None] * len(chunk["pk"])
                    if golden != "keep" and any(chunk["is_golden"]):  # else every row stays: no call per row
                        keep = [not _golden_skipped(g, s, golden) for g, s in zip(chunk["is_golden"], splits)]
                        skipped_golden += keep.count(False)
                        chunk = chunk_take(chunk, keep)
                        splits = [s for s, ok in zip(splits, keep) if ok]
                    if placer.mode != "none":
                        for name, path, item_id in zip(chunk["media_name"], chunk["media_path"], chunk["item_id"]):
                            placer.place(media_name=name, relpath=path, item_id=item_id)
                    writer.write_chunk(chunk, splits)
                    for s, n in Counter(splits).items():
                        table_counts[s or "all"] += n
                    if progress:
                        progress.update(done, f"exporting {fmt}")
        finally:
            writer.close()
        files = writer.files()
        if fmt in _TABLES:
            counts = table_counts
        else:
            counts = {(f["split"] or "all"): f["rows"] for f in files if f["path"].endswith(".jsonl")}
        manifest = manifest_write(
            root=work,
            fmt=fmt,
            version=version,
            files=files,
            counts=counts,
            media=media,
            split=ratios,
            seed=seed,
            golden={"mode": golden, "items_left_out": skipped_golden},
        )
        if out_dir.exists():
            out_dir.rmdir()  # empty (checked above); rename cannot replace a folder on every OS
        os.replace(work, out_dir)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    if progress:
        progress.update(total, f"exported {done} items")
    return manifest


def export_dir_for_job(job: Job) -> Path:
    return Path(settings.EXPORT_ROOT) / f"job-{job.pk}"


def dataset_export_job(*, job: Job, progress) -> dict:
    """Job runner (kind `dataset_export`): params {version_id, format, split, seed, media[, golden, out]}.

    Idempotent: a finished export folder (manifest present) is reported again, not rewritten.
    """
    import json

    from ..disk import export_disk_check
    from ..mos import version_get

    p = job.params
    version = version_get(version_id=p.get("version_id"), campaign=job.campaign if job.campaign_id else None)
    out = Path(p["out"]) if p.get("out") else export_dir_for_job(job)
    if (out / "manifest.json").exists():
        manifest = json.loads((out / "manifest.json").read_text())
    else:
        export_disk_check(path=out.parent)  # 507 before writing, not ENOSPC half-way
        manifest = dataset_export(
            version=version,
            fmt=p.get("format", ""),
            out=out,
            split=p.get("split"),
            seed=p.get("seed", 0),
            media=p.get("media", "copy"),
            golden=p.get("golden", "keep"),
            progress=progress,
        )
    return {
        "out": str(out),
        "format": manifest["format"],
        "counts": manifest["counts"],
        "files": [f["path"] for f in manifest["files"]],
        "version_id": version.pk,
    }
