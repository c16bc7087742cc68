"""Import a public MOS table (AGIQA-3K's data.csv, T2VQA-DB, TIFA160, GenAI-Bench, or any CSV with a column
mapping) as items plus a DatasetVersion with source="imported", so it can be exported and evaluated like our
own data (the paper's cross-dataset Tables 6 and 8). The layouts of T2VQA-DB, TIFA160 and GenAI-Bench are
described by their readers at the end of this module.

Layouts:
- ``agiqa3k``: AGIQA-3K's ``data.csv`` with columns ``name, prompt, mos_quality, std_quality, mos_align,
  std_align`` (extra columns are ignored). ``name`` is the image file (under --media-root) and the item id;
  the generator is the part of the name before the first ``_`` (AGIQA-3K names its files
  ``<model>_<variant>_<n>.jpg``, e.g. ``midjourney_normal_001.jpg``); map ``generator=<column>`` to override.
- ``generic``: any CSV; ``mapping`` says which column holds which field (``{"csv column": "field"}``).
  Fields: item_id, media_path (default: item_id), media_type (default image), prompt, generator
  (default: the ``generator`` argument), category, subcategory, split (train/val/test: kept by exports with
  split "given"), quality_mos, quality_std, quality_n, alignment_mos, alignment_std, alignment_n. item_id, prompt
  and at least one *_mos are required.

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
import json
import math
import tempfile
from pathlib import Path
from typing import Any

from django.db import transaction
from scipy import stats

from core.errors import InvalidInput

from ..models import Campaign, DatasetVersion, Item
from .mos import _version_write, version_checksum

LAYOUTS = ("generic", "agiqa3k", "t2vqa-db", "tifa160", "genai-bench")
FIELDS = (
    "item_id",
    "media_path",
    "media_type",
    "prompt",
    "generator",
    "category",
    "subcategory",
    "split",
    "quality_mos",
    "quality_std",
    "quality_n",
    "alignment_mos",
    "alignment_std",
    "alignment_n",
)
SPLITS = ("train", "val", "test")
AGIQA3K_MAP = {
    "name": "item_id",
    "prompt": "prompt",
    "mos_quality": "quality_mos",
    "std_quality": "quality_std",
    "mos_align": "alignment_mos",
    "std_align": "alignment_std",
}
DEFAULT_SCALE = {
    "agiqa3k": (0.0, 5.0),
    "generic": (1.0, 5.0),
    "t2vqa-db": (0.0, 100.0),
    "tifa160": (1.0, 5.0),
    "genai-bench": (1.0, 5.0),
}


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


def _float(value: Any, what: str, line: int) -> float | None:
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
    """The table's rows; a file that is not UTF-8 text, not CSV or not readable is refused with a reason."""
    try:
        return _read_rows(path, layout, mapping, generator)
    except UnicodeDecodeError:
        raise InvalidInput(f"{path.name}: not UTF-8 text (save the table as UTF-8 CSV)") from None
    except csv.Error as exc:
        raise InvalidInput(f"{path.name}: cannot parse CSV ({exc})") from None
    except json.JSONDecodeError as exc:
        raise InvalidInput(
            f"{path.name}: a JSON file beside it is not valid JSON ({exc.msg}, line {exc.lineno})"
        ) from None
    except OSError as exc:
        raise InvalidInput(f"cannot read {path}: {exc.strerror or exc}") from None


def _read_rows(path: Path, layout: str, mapping: dict[str, str], generator: str | None) -> list[dict]:
    if layout not in LAYOUTS:
        raise InvalidInput(f"unknown layout {layout!r}; choose one of {', '.join(LAYOUTS)}")
    if not path.is_file():
        raise InvalidInput(f"MOS table not found: {path}")
    if layout in CROSS_DATASET_READERS:
        if mapping:
            raise InvalidInput(f"--map is for the generic and agiqa3k layouts; {layout} has a fixed layout")
        rows = CROSS_DATASET_READERS[layout](path, generator)
        if not rows:
            raise InvalidInput(f"{path.name}: no items in the file")
        return rows
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
                raise InvalidInput(
                    f"{path.name} line {line}: unknown split {rec['split']!r} (use train, val, test or leave it empty)"
                )
            if not rec.get("generator"):
                rec["generator"] = generator or (rec["item_id"].split("_")[0] if layout == "agiqa3k" else "")
            if not rec["generator"]:
                raise InvalidInput(f"{path.name} line {line}: no generator (map a column or pass a generator name)")
            rec["line"] = line
            rows.append(rec)
    if not rows:
        raise InvalidInput(f"{path.name}: the table has no rows")
    return rows


def _scores(
    rows: list[dict], scale: tuple[float, float], name: str
) -> list[tuple[str, str, float, float | None, int, float | None]]:
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
                raise InvalidInput(
                    f"{name} line {rec['line']}: {dim} MOS {mos} is outside the declared scale "
                    f"{lo:g}-{hi:g}; pass the table's scale"
                )
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
            Item.objects.filter(campaign=campaign, item_id__in=ids[start : start + 10_000]).exclude(split=split).update(
                split=split
            )


def mos_table_import(
    *,
    campaign: Campaign,
    file: str | Path,
    layout: str = "generic",
    media_root: str | Path | None = None,
    mapping: dict[str, str] | None = None,
    scale: tuple[float, float] | None = None,
    generator: str | None = None,
    created_by=None,
    progress=None,
) -> DatasetVersion:
    """Import the table's items (new ones through the content import) and its MOS as a new version."""
    from .imports import items_import

    path = Path(file)
    rows = _read_table(path, layout, mapping or {}, generator)
    lo, hi = (float(x) for x in (scale or DEFAULT_SCALE[layout]))
    scale = (lo, hi)
    scores = _scores(rows, scale, path.name)
    seen: set[str] = set()
    for rec in rows:
        if rec["item_id"] in seen:
            raise InvalidInput(f"{path.name} line {rec['line']}: duplicate item id {rec['item_id']!r}")
        seen.add(rec["item_id"])
    existing = set(Item.objects.filter(campaign=campaign, item_id__in=list(seen)).values_list("item_id", flat=True))
    new_rows = [r for r in rows if r["item_id"] not in existing]
    media_root = Path(media_root) if media_root else path.parent / DEFAULT_MEDIA_ROOT.get(layout, "")
    with transaction.atomic(), tempfile.TemporaryDirectory(prefix="qeval-mos-table-") as tmp:
        if new_rows:
            manifest = Path(tmp) / "manifest.csv"
            with open(manifest, "w", newline="", encoding="utf-8") as fh:
                w = csv.DictWriter(
                    fh,
                    fieldnames=[
                        "item_id",
                        "media_path",
                        "media_type",
                        "prompt",
                        "generator",
                        "category",
                        "subcategory",
                        "split",
                    ],
                )
                w.writeheader()
                for r in new_rows:
                    w.writerow({k: r.get(k, "") for k in w.fieldnames})
            items_import(campaign=campaign, manifest=manifest, media_root=media_root, progress=progress)
        _splits_update(campaign, [r for r in rows if r["item_id"] in existing])
        pk_of = dict(Item.objects.filter(campaign=campaign, item_id__in=list(seen)).values_list("item_id", "pk"))
        score_rows = [(pk_of[item_id], dim, mos, std, n, ci) for item_id, dim, mos, std, n, ci in scores]
        counts = {
            "items": len(seen),
            "ratings": None,
            "annotators": None,
            "items_created": len(new_rows),
            "campaign_items": campaign.items.count(),
            "dimensions": {d: {"items": sum(1 for s in scores if s[1] == d)} for d in ("quality", "alignment")},
        }
        params = {
            "file": path.name,
            "file_sha256": hashlib.sha256(path.read_bytes()).hexdigest(),
            "layout": layout,
            "scale": list(scale),
            "mapping": mapping or {},
        }
        return _version_write(
            campaign=campaign,
            method="imported",
            params=params,
            counts=counts,
            source="imported",
            checksum=version_checksum((r[0], r[1], r[2], r[4]) for r in score_rows),
            created_by=created_by,
            score_rows=score_rows,
            stat_rows=[],
        )


# --- cross-dataset layouts (the paper's Tables 6 and 8) -------------------------------------------------
# Each reader returns rows in the generic fields (strings or numbers) with a "line" for error messages.


def _ratings(values, where: str) -> tuple[float, float | None, int]:
    """Mean, std (ddof 1) and n of a list of individual ratings."""
    try:
        xs = [float(v) for v in values]
    except (TypeError, ValueError):
        raise InvalidInput(f"{where}: ratings must be numbers (got {values!r})") from None
    if not xs or not all(math.isfinite(x) for x in xs):
        raise InvalidInput(f"{where}: no usable ratings")
    mean = sum(xs) / len(xs)
    std = math.sqrt(sum((x - mean) ** 2 for x in xs) / (len(xs) - 1)) if len(xs) > 1 else None
    return mean, std, len(xs)


def _read_t2vqa_db(path: Path, generator: str | None) -> list[dict]:
    """T2VQA-DB (Kou et al. 2024; the T2VQA code's annotation file): one line per video,
    ``filename|prompt|mos`` (no header), or a CSV whose first three columns are name, prompt, MOS. One score
    per video (its overall text-to-video quality), imported as the quality MOS; default scale 0-100. The file
    names do not say which of its generators made a video: pass --generator (default "t2vqa-db"), so model-level
    figures on this set are not meaningful unless a generator is given per row."""
    rows = []
    text = path.read_text(encoding="utf-8-sig")
    lines = text.splitlines()
    pipe = bool(lines) and lines[0].count("|") >= 2
    if pipe:
        parsed = [(n, line.rsplit("|", 1)) for n, line in enumerate(lines, 1) if line.strip()]
        parsed = [(n, [*head.split("|", 1), mos]) for n, (head, mos) in parsed]
    else:
        reader = csv.reader(lines)
        header = next(reader, None)
        parsed = [(n, r) for n, r in enumerate(reader, 2) if r]
        if header and _maybe_number(header[2] if len(header) > 2 else "") is not None:
            parsed.insert(0, (1, header))
    for n, parts in parsed:
        if len(parts) < 3:
            raise InvalidInput(f"{path.name} line {n}: expected filename|prompt|mos")
        name, prompt, mos = parts[0].strip(), parts[1].strip(), parts[2].strip()
        rows.append(
            {
                "item_id": name,
                "media_path": name,
                "media_type": "video",
                "prompt": prompt,
                "generator": generator or "t2vqa-db",
                "quality_mos": mos,
                "line": n,
                "split": "",
            }
        )
    return rows


def _maybe_number(text: str) -> float | None:
    try:
        return float(text)
    except (TypeError, ValueError):
        return None


TIFA_MODEL_NAMES = {
    "mini-dalle": "mini_dalle",
    "vq-diffusion": "vq_diffusion",
    "sd1dot5": "stable_diffusion_v1_5",
    "sd2dot1": "stable_diffusion_v2_1",
    "sd1dot1": "stable_diffusion_v1_1",
}


def _read_tifa160(path: Path, generator: str | None) -> list[dict]:
    """TIFA160 with DSG's human Likert ratings (as t2v_metrics reads them): ``--file dsg_tifa160_anns.csv``
    (columns ``source_id``, ``model_type``, ``answer``: one row per rating, 1-5), ``tifa160.json`` beside it
    (``{"<source_id>_<model>": {"text", "text_id", "image_path"}}``), images under ``--media-root`` (default:
    the ``tifa160`` folder beside the file). Alignment MOS = mean of an image's ratings (n and std kept)."""
    meta_path = path.with_name("tifa160.json")
    if not meta_path.is_file():
        raise InvalidInput(f"tifa160.json not found beside {path.name} (it holds the prompts and image paths)")

    meta = json.loads(meta_path.read_text(encoding="utf-8"))
    ratings: dict[str, list[str]] = {}
    first_line: dict[str, int] = {}
    with open(path, newline="", encoding="utf-8-sig") as fh:
        reader = csv.DictReader(fh)
        missing = [c for c in ("source_id", "model_type", "answer") if c not in (reader.fieldnames or [])]
        if missing:
            raise InvalidInput(
                f"{path.name}: column(s) {missing} missing (a DSG TIFA160 annotation file has "
                "source_id, model_type, answer)"
            )
        for n, raw in enumerate(reader, 2):
            model = TIFA_MODEL_NAMES.get(raw["model_type"].strip(), raw["model_type"].strip())
            key = f"{raw['source_id'].strip()}_{model}"
            if key not in meta:
                raise InvalidInput(f"{path.name} line {n}: {key!r} is not in tifa160.json")
            ratings.setdefault(key, []).append(raw["answer"])
            first_line.setdefault(key, n)
    rows = []
    for key, answers in ratings.items():
        mean, std, count = _ratings(answers, f"{path.name} line {first_line[key]}")
        entry = meta[key]
        model = key[len(str(entry.get("text_id", key.split("_")[0]))) + 1 :] or key
        rows.append(
            {
                "item_id": key,
                "media_path": entry.get("image_path") or f"{key}.jpg",
                "media_type": "image",
                "prompt": entry["text"],
                "generator": generator or model,
                "alignment_mos": mean,
                "alignment_std": "" if std is None else std,
                "alignment_n": count,
                "line": first_line[key],
                "split": "",
            }
        )
    return rows


def _read_genai_bench(path: Path, generator: str | None) -> list[dict]:
    """GenAI-Bench (Lin et al. 2024) as t2v_metrics reads it: ``genai_image.json`` (or ``genai_video.json``),
    ``{"<prompt id>": {"prompt", "models": {"<model>": [ratings 1-5, ...]}, ...}}``, media under
    ``--media-root`` (default: the file's folder) as ``<model>/<prompt id>.jpeg`` (``.mp4`` for videos).
    Alignment MOS = mean of the ratings; skill tags (``basic_skills``/``advanced_skills``), when present, become
    the category ("basic"/"advanced") and subcategory (the skills, comma-joined)."""

    video = "video" in path.name.lower()
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise InvalidInput(f"{path.name}: not valid JSON ({exc.msg})") from None
    if not isinstance(data, dict):
        raise InvalidInput(f"{path.name}: expected an object of prompt ids")
    rows = []
    for n, (pid, entry) in enumerate(data.items(), 1):
        where = f"{path.name} prompt {pid}"
        if not isinstance(entry, dict) or not entry.get("prompt") or not isinstance(entry.get("models"), dict):
            raise InvalidInput(f"{where}: needs 'prompt' and 'models'")
        skills_basic = entry.get("basic_skills") or []
        skills_adv = entry.get("advanced_skills") or []
        category = "advanced" if skills_adv else ("basic" if skills_basic else "")
        for model, scores in entry["models"].items():
            mean, std, count = _ratings(scores if isinstance(scores, list) else [scores], f"{where}, {model}")
            rows.append(
                {
                    "item_id": f"{model}/{pid}",
                    "media_path": f"{model}/{pid}.{'mp4' if video else 'jpeg'}",
                    "media_type": "video" if video else "image",
                    "prompt": entry["prompt"],
                    "generator": generator or model,
                    "category": category,
                    "subcategory": ", ".join(map(str, skills_adv or skills_basic)),
                    "alignment_mos": mean,
                    "alignment_std": "" if std is None else std,
                    "alignment_n": count,
                    "line": n,
                    "split": "",
                }
            )
    return rows


CROSS_DATASET_READERS = {"t2vqa-db": _read_t2vqa_db, "tifa160": _read_tifa160, "genai-bench": _read_genai_bench}
DEFAULT_MEDIA_ROOT = {"tifa160": "tifa160"}  # relative to the annotation file's folder
