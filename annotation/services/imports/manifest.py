"""Phase A of an import: read the manifest (CSV or JSONL, streamed) and check every row's fields and media path,
without opening any file. The first bad row stops the import with one line naming the manifest line, the
item_id and the problem."""

from __future__ import annotations

import csv
import json
import os
import stat
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from django.conf import settings

from core.errors import NUL_IN_ROW, InvalidInput, contains_nul

from ...models import MediaType
from ..media import MediaInfo

REQUIRED_COLUMNS = ("item_id", "media_path", "media_type", "prompt", "generator")
OPTIONAL_COLUMNS = ("category", "subcategory", "split")
SPLITS = ("train", "val", "test")  # a given split (Item.split), kept exactly by exports with split "given"
MEDIA_TYPES = frozenset(MediaType.values)
MAX_LEN = {"item_id": 200, "generator": 120, "category": 120, "subcategory": 120}
csv.field_size_limit(10 * 1024 * 1024)  # long prompts are fine; a runaway unquoted field is not


@dataclass(slots=True)  # 100K of these stay in memory between the passes
class Row:
    line: int
    item_id: str
    media_path: str
    path: str  # real path of the file (a string: 100K Path objects are slow to build)
    media_type: str
    prompt: str
    generator: str
    category: str = ""
    subcategory: str = ""
    split: str = ""
    info: MediaInfo | None = field(default=None, repr=False)

    @property
    def probed(self) -> MediaInfo:
        """The file's probe (phase C); every row has one before anything is stored or written."""
        if self.info is None:
            raise RuntimeError(f"line {self.line} was not probed")
        return self.info


class RowProblem(Exception):
    """A problem with one row; turned into InvalidInput with the row's line and item_id."""


def row_error(label: str, line: int, item_id: str | None, problem: str) -> InvalidInput:
    where = f"{label} line {line}" + (f" (item_id {item_id!r})" if item_id else "")
    return InvalidInput(f"{where}: {problem}")


def manifest_records(manifest: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    """Stream (line number, record) pairs from a CSV or JSONL manifest. Raises InvalidInput when the
    file cannot be parsed or lacks a required column."""
    label = manifest.name
    suffix = manifest.suffix.lower()
    if suffix not in (".csv", ".jsonl", ".ndjson"):
        raise InvalidInput(f"{label}: a manifest must be .csv or .jsonl")
    try:
        fh = open(manifest, encoding="utf-8-sig", newline="")
    except FileNotFoundError:
        raise InvalidInput(f"manifest not found: {manifest}") from None
    except OSError as exc:
        raise InvalidInput(f"cannot read manifest {manifest}: {exc.strerror}") from None
    line = 1
    try:
        with fh:
            if suffix == ".csv":
                reader = csv.reader(fh)
                header = next(reader, None)
                if header is None:
                    raise InvalidInput(f"{label}: the manifest is empty")
                columns = [h.strip().lower() for h in header]
                missing = [c for c in REQUIRED_COLUMNS if c not in columns]
                if missing:
                    raise InvalidInput(
                        f"{label} line 1: missing column(s) {', '.join(missing)} "
                        f"(required: {', '.join(REQUIRED_COLUMNS)})"
                    )
                line = reader.line_num
                for values in reader:
                    line, start = reader.line_num, line + 1  # a quoted field may span lines
                    if not any(v.strip() for v in values):
                        continue
                    if len(values) != len(columns):
                        raise row_error(
                            label,
                            start,
                            values[0] if values else None,
                            f"expected {len(columns)} fields, found {len(values)}",
                        )
                    if contains_nul(values):
                        raise row_error(label, start, None, NUL_IN_ROW)
                    yield start, dict(zip(columns, values))
            else:
                for line, text in enumerate(fh, start=1):
                    if not text.strip():
                        continue
                    try:
                        record = json.loads(text)
                    except json.JSONDecodeError as exc:
                        raise row_error(label, line, None, f"not valid JSON ({exc.msg})") from None
                    if not isinstance(record, dict):
                        raise row_error(label, line, None, "each line must be a JSON object")
                    record = {str(k).strip().lower(): v for k, v in record.items()}
                    missing = [c for c in REQUIRED_COLUMNS if c not in record]
                    if missing:
                        raise row_error(
                            label,
                            line,
                            str(record.get("item_id") or "").strip() or None,
                            f"missing field(s) {', '.join(missing)}",
                        )
                    if contains_nul(record):
                        raise row_error(label, line, None, NUL_IN_ROW)
                    yield line, record
    except UnicodeDecodeError:
        raise InvalidInput(f"{label} line {line + 1}: the manifest is not UTF-8 text") from None
    except csv.Error as exc:
        raise InvalidInput(f"{label} line {line + 1}: cannot parse CSV ({exc})") from None


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, (dict, list)):
        raise RowProblem("values must be text, not JSON objects or lists")
    return str(value).strip()


def resolve_media_path(root: str, raw: str, dir_cache: dict[str, str] | None = None) -> str:
    """The real path of `raw` under `root` (a real path, as a string). Refuses absolute paths, `..` and
    symlinks (of the file or of a folder) that lead outside the root. `dir_cache` keeps the real paths
    of folders already seen, so a 100K-row manifest costs about one lstat per row (plain string
    operations here: pathlib objects cost more than the system calls)."""
    if not raw:
        raise RowProblem("empty media_path")
    if "\x00" in raw:
        raise RowProblem("media_path contains a NUL byte")
    if raw.startswith(("/", "\\")) or (len(raw) > 2 and raw[1] == ":" and raw[2] in "/\\"):
        raise RowProblem(f"media_path {raw!r} is absolute: it must be relative to the media root")
    if ".." in raw.replace("\\", "/").split("/"):
        raise RowProblem(f"media_path {raw!r} leaves the media root ('..')")
    parent, _, name = raw.rpartition("/")
    cache = dir_cache if dir_cache is not None else {}
    folder = cache.get(parent)
    if folder is None:
        folder = cache[parent] = os.path.realpath(os.path.join(root, parent))
    real = os.path.join(folder, name)
    try:
        mode = os.lstat(real).st_mode
        if stat.S_ISLNK(mode):
            real = os.path.realpath(real)
            mode = os.stat(real).st_mode
    except (FileNotFoundError, NotADirectoryError):
        mode = None
    except PermissionError:
        raise RowProblem(f"file not readable: {raw}") from None
    if not (real + os.sep).startswith(root if root.endswith(os.sep) else root + os.sep):
        raise RowProblem(f"media_path {raw!r} leaves the media root (a symlink points outside it)")
    if mode is None:
        raise RowProblem(f"file not found: {raw}")
    if not stat.S_ISREG(mode):
        raise RowProblem(f"not a regular file: {raw}")
    if not os.access(real, os.R_OK):
        raise RowProblem(f"file not readable: {raw}")
    return real


def parse_row(root: str, line: int, record: dict[str, Any], dir_cache: dict) -> Row:
    values = {key: _text(record.get(key)) for key in REQUIRED_COLUMNS + OPTIONAL_COLUMNS}
    for key in ("item_id", "generator"):
        if not values[key]:
            raise RowProblem(f"empty {key}")
    if not values["prompt"]:
        raise RowProblem("empty prompt")
    if len(values["prompt"]) > settings.QEVAL_MAX_PROMPT_CHARS:
        raise RowProblem(
            f"prompt is {len(values['prompt'])} characters, more than the limit of {settings.QEVAL_MAX_PROMPT_CHARS} "
            "(QEVAL_MAX_PROMPT_CHARS)"
        )
    for key, limit in MAX_LEN.items():
        if len(values[key]) > limit:
            raise RowProblem(f"{key} is longer than {limit} characters")
    media_type = values["media_type"].lower()
    if media_type not in MEDIA_TYPES:
        raise RowProblem(f"unknown media_type {values['media_type']!r} (use image or video)")
    split = values["split"].lower()
    if split not in ("",) + SPLITS:
        raise RowProblem(f"unknown split {values['split']!r} (use train, val, test or leave it empty)")
    return Row(
        line=line,
        item_id=values["item_id"],
        media_path=values["media_path"],
        path=resolve_media_path(root, values["media_path"], dir_cache),
        media_type=media_type,
        prompt=values["prompt"],
        generator=values["generator"],
        category=values["category"],
        subcategory=values["subcategory"],
        split=split,
    )


def read_rows(manifest: Path, root: str) -> list[Row]:
    label = manifest.name
    rows: list[Row] = []
    seen_ids: dict[str, int] = {}
    generator_types: dict[str, tuple[str, int]] = {}
    dir_cache: dict[str, str] = {}
    for line, record in manifest_records(manifest):
        try:
            row = parse_row(root, line, record, dir_cache)
        except RowProblem as exc:
            item_id = record.get("item_id")
            raise row_error(label, line, str(item_id).strip() if item_id is not None else None, str(exc)) from None
        if row.item_id in seen_ids:
            raise row_error(label, line, row.item_id, f"duplicate item_id (first on line {seen_ids[row.item_id]})")
        seen_ids[row.item_id] = line
        known = generator_types.setdefault(row.generator, (row.media_type, line))
        if known[0] != row.media_type:
            raise row_error(
                label,
                line,
                row.item_id,
                f"generator {row.generator!r} is a {known[0]} generator "
                f"(line {known[1]}); a generator name must be used for one media type only",
            )
        rows.append(row)
    if not rows:
        raise InvalidInput(f"{label}: the manifest has no rows to import")
    return rows
