"""Import a public MOS table (AGIQA-3K's data.csv, or any CSV with a column mapping) as items plus a
DatasetVersion with source="imported", so it can be exported and evaluated like our own data.

Layouts:
- ``agiqa3k``: AGIQA-3K's ``data.csv`` with columns ``name, prompt, mos_quality, std_quality, mos_align,
  std_align`` (extra columns are ignored). ``name`` is the image file (under --media-root) and the item id;
  the generator is the part of the name before the first ``_`` (AGIQA-3K names its files
  ``<model>_<variant>_<n>.jpg``, e.g. ``midjourney_normal_001.jpg``); map ``generator=<column>`` to override.
- ``generic``: any CSV; ``mapping`` says which column holds which field (``{"csv column": "field"}``).
  Fields: item_id, media_path (default: item_id), media_type (default image), prompt, generator
  (default: the ``generator`` argument), category, quality_mos, quality_std, quality_n, alignment_mos,
  alignment_std, alignment_n. item_id, prompt and at least one *_mos are required.

Scale: MOS and std are mapped linearly from the table's scale ``(lo, hi)`` onto our 1-5:
``mos' = 1 + 4 (mos - lo) / (hi - lo)``, ``std' = 4 std / (hi - lo)``. Default for agiqa3k is ``(0, 5)``:
our reading of the AGIQA-3K release (its data.csv values lie between 0 and 5, both dimensions); give
``scale=(lo, hi)`` if your copy differs (a value outside the declared scale is an error, so a wrong
scale cannot slip through silently). Default for generic is ``(1, 5)`` (no change).

`n` (ratings per item) is unknown for AGIQA-3K; it is stored as 0 and the CI as null, unless the table
has an *_n column (then ci95 = t_{0.975,n-1} std / sqrt(n)).

Items go through the content import service (annotation/services/imports.py: media probed, hashed,
stored content-addressed); items whose item_id already exists in the campaign are reused, so a table
can be re-imported as a new version. Everything (items and version) is one transaction.
"""
from __future__ import annotations

import csv
import hashlib
import math
import tempfile
from pathlib import Path

from django.db import transaction
from scipy import stats

from ..models import Campaign, DatasetVersion, Item
from .errors import InvalidInput
from .mos import _version_write, version_checksum

LAYOUTS = ("generic", "agiqa3k")
FIELDS = ("item_id", "media_path", "media_type", "prompt", "generator", "category", "subcategory", "split",
          "quality_mos", "quality_std", "quality_n", "alignment_mos", "alignment_std", "alignment_n")
SPLITS = ("train", "val", "test")
AGIQA3K_MAP = {"name": "item_id", "prompt": "prompt", "mos_quality": "quality_mos", "std_quality": "quality_std",
               "mos_align": "alignment_mos", "std_align": "alignment_std"}
DEFAULT_SCALE = {"agiqa3k": (0.0, 5.0), "generic": (1.0, 5.0)}


def parse_mapping(pairs: list[str] | None) -> dict[str, str]:
    """['col=field', ...] -> {col: field}; fields must be known."""
    mapping = {}
    for pair in pairs or []:
        col, sep, field = pair.partition("=")
        col, field = col.strip(), field.strip()
        if not sep or not col or not field:
            raise InvalidInput(f"malformed --map {pair!r}: expected column=field")
        if field not in FIELDS:
            raise InvalidInput(f"unknown field {field!r} in --map {pair!r}; fields: {', '.join(FIELDS)}")
        mapping[col] = field
    return mapping


def _float(value: str, what: str, line: int) -> float | None:
    if value is None or str(value).strip() == "":
        return None
    try:
        x = float(value)
    except ValueError:
        raise InvalidInput(f"line {line}: {what} {value!r} is not a number") from None
    if not math.isfinite(x):
        raise InvalidInput(f"line {line}: {what} {value!r} is not a finite number")
    return x


def _read_table(path: Path, layout: str, mapping: dict[str, str], generator: str | None) -> list[dict]:
    if layout not in LAYOUTS:
        raise InvalidInput(f"unknown layout {layout!r}; choose one of {', '.join(LAYOUTS)}")
    if not path.is_file():
        raise InvalidInput(f"MOS table not found: {path}")
    columns = dict(AGIQA3K_MAP) if layout == "agiqa3k" else {}
    columns.update(mapping)
    with open(path, newline="", encoding="utf-8-sig") as fh:
        reader = csv.DictReader(fh)
        header = reader.fieldnames or []
        missing = [c for c in columns if c not in header]
        if missing:
            raise InvalidInput(f"{path.name}: column(s) {missing} not in the table (it has {header})")
        fields = set(columns.values())
        for need in ("item_id", "prompt"):
            if need not in fields:
                raise InvalidInput(f"{path.name}: no column is mapped to {need!r} (use --map column={need})")
        if not fields & {"quality_mos", "alignment_mos"}:
            raise InvalidInput(f"{path.name}: map at least one of quality_mos, alignment_mos")
        rows = []
        for line, raw in enumerate(reader, start=2):
            rec = {field: (raw.get(col) or "").strip() for col, field in columns.items()}
            if not rec.get("item_id"):
                raise InvalidInput(f"{path.name} line {line}: empty item id")
            rec.setdefault("media_path", rec["item_id"])
            rec["media_path"] = rec["media_path"] or rec["item_id"]
            rec["media_type"] = (rec.get("media_type") or "image").lower()
            rec["split"] = (rec.get("split") or "").lower()
            if rec["split"] not in ("",) + SPLITS:
                raise InvalidInput(f"{path.name} line {line}: unknown split {rec['split']!r} (use train, val, test or "
                                   "leave it empty)")
            if not rec.get("generator"):
                rec["generator"] = generator or (rec["item_id"].split("_")[0] if layout == "agiqa3k" else "")
            if not rec["generator"]:
                raise InvalidInput(f"{path.name} line {line}: no generator (map a column or pass a generator name)")
            rec["line"] = line
            rows.append(rec)
    if not rows:
        raise InvalidInput(f"{path.name}: the table has no rows")
    return rows


def _scores(rows: list[dict], scale: tuple[float, float], name: str) -> list[tuple[str, str, float, float | None, int, float | None]]:
    lo, hi = scale
    if not hi > lo:
        raise InvalidInput(f"scale must be two numbers lo,hi with hi > lo (got {lo},{hi})")
    out = []
    for rec in rows:
        for dim in ("quality", "alignment"):
            mos = _float(rec.get(f"{dim}_mos"), f"{dim} MOS", rec["line"])
            if mos is None:
                continue
            if not lo - 1e-9 <= mos <= hi + 1e-9:
                raise InvalidInput(f"{name} line {rec['line']}: {dim} MOS {mos} is outside the declared scale "
                                   f"{lo:g}-{hi:g}; pass the table's scale")
            std = _float(rec.get(f"{dim}_std"), f"{dim} std", rec["line"])
            n_raw = _float(rec.get(f"{dim}_n"), f"{dim} n", rec["line"])
            n = int(n_raw) if n_raw is not None else 0
            mapped = 1.0 + 4.0 * (mos - lo) / (hi - lo)
            std_m = None if std is None else std * 4.0 / (hi - lo)
            ci = None
            if std_m is not None and n >= 2:
                ci = float(stats.t.ppf(0.975, n - 1) * std_m / math.sqrt(n))
            out.append((rec["item_id"], dim, min(5.0, max(1.0, mapped)), std_m, n, ci))
    if not out:
        raise InvalidInput(f"{name}: no MOS values in the table")
    return out


def _splits_update(campaign: Campaign, rows: list[dict]) -> None:
    """Items already in the campaign take the split the table gives them (rows without one keep theirs)."""
    by_split: dict[str, list[str]] = {}
    for r in rows:
        if r.get("split"):
            by_split.setdefault(r["split"], []).append(r["item_id"])
    for split, ids in by_split.items():
        for start in range(0, len(ids), 10_000):
            Item.objects.filter(campaign=campaign, item_id__in=ids[start:start + 10_000]).exclude(split=split).update(split=split)


def mos_table_import(
    *, campaign: Campaign, file: str | Path, layout: str = "generic", media_root: str | Path | None = None,
    mapping: dict[str, str] | None = None, scale: tuple[float, float] | None = None, generator: str | None = None,
    created_by=None, progress=None,
) -> DatasetVersion:
    """Import the table's items (new ones through the content import) and its MOS as a new version."""
    from .imports import items_import

    path = Path(file)
    rows = _read_table(path, layout, mapping or {}, generator)
    scale = tuple(float(x) for x in (scale or DEFAULT_SCALE[layout]))
    scores = _scores(rows, scale, path.name)
    seen: set[str] = set()
    for rec in rows:
        if rec["item_id"] in seen:
            raise InvalidInput(f"{path.name} line {rec['line']}: duplicate item id {rec['item_id']!r}")
        seen.add(rec["item_id"])
    existing = set(Item.objects.filter(campaign=campaign, item_id__in=list(seen)).values_list("item_id", flat=True))
    new_rows = [r for r in rows if r["item_id"] not in existing]
    media_root = Path(media_root) if media_root else path.parent
    with transaction.atomic(), tempfile.TemporaryDirectory(prefix="qeval-mos-table-") as tmp:
        if new_rows:
            manifest = Path(tmp) / "manifest.csv"
            with open(manifest, "w", newline="", encoding="utf-8") as fh:
                w = csv.DictWriter(fh, fieldnames=["item_id", "media_path", "media_type", "prompt", "generator", "category",
                                                   "subcategory", "split"])
                w.writeheader()
                for r in new_rows:
                    w.writerow({k: r.get(k, "") for k in w.fieldnames})
            items_import(campaign=campaign, manifest=manifest, media_root=media_root, progress=progress)
        _splits_update(campaign, [r for r in rows if r["item_id"] in existing])
        pk_of = dict(Item.objects.filter(campaign=campaign, item_id__in=list(seen)).values_list("item_id", "pk"))
        score_rows = [(pk_of[item_id], dim, mos, std, n, ci) for item_id, dim, mos, std, n, ci in scores]
        counts = {
            "items": len(seen), "ratings": None, "annotators": None, "items_created": len(new_rows),
            "campaign_items": campaign.items.count(),
            "dimensions": {d: {"items": sum(1 for s in scores if s[1] == d)} for d in ("quality", "alignment")},
        }
        params = {"file": path.name, "file_sha256": hashlib.sha256(path.read_bytes()).hexdigest(), "layout": layout,
                  "scale": list(scale), "mapping": mapping or {}}
        return _version_write(
            campaign=campaign, method="imported", params=params, counts=counts, source="imported",
            checksum=version_checksum((r[0], r[1], r[2], r[4]) for r in score_rows), created_by=created_by,
            score_rows=score_rows, stat_rows=[],
        )
