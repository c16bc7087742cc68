"""Content import: a manifest (CSV or JSONL) plus media files become Items of a campaign.

All or nothing. The import runs in phases and stops at the first bad row with ONE line that names the
manifest line, the item_id and the problem:

  A. read the manifest (streamed) and check every row's fields and media path (no file is opened);
  B. look up, in bulk, item_ids already in the campaign and generator names already used for the
     other media type;
  C. probe every file (Pillow verify + full decode, PyAV first frame), hash it, and make its
     thumbnail / poster frame in a local temp folder;
  D. store each distinct file and thumbnail, content-addressed (services/media.py);
  E. write generators, prompts and items in ONE transaction with bulk_create in chunks.

D and E run one import at a time (an advisory lock; B is repeated under it), so concurrent imports
cannot remove each other's files or collide on item_ids half-way.

Nothing touches storage or the database before every row has passed A-C. If D or E fails, the files
D created are removed again unless an item (of an earlier import) already uses them.

Decisions where the issue left a choice:
- a generator name belongs to one media type; a name used for images and videos is an error (the
  row names the clash), since model-level metrics group by generator;
- a prompt is found by the sha256 of its stripped text; an existing prompt keeps its category (the
  first import that names one sets it);
- the same file under several item_ids is allowed and stored once.
"""
from __future__ import annotations

import csv
import hashlib
import json
import logging
import os
import re
import shutil
import stat
import tempfile
import uuid
import zipfile
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from django.conf import settings
from django.core.files.storage import default_storage
from django.db import IntegrityError, connection, transaction

from ..models import Campaign, Generator, Item, Job, MediaType, Prompt
from .campaigns import campaign_get
from .item_events import items_created
from core.errors import Conflict, Forbidden, InvalidInput
from .jobs import Progress
from .media import (
    MediaError,
    MediaInfo,
    media_name,
    probe_image,
    probe_video,
    storage_delete,
    storage_put,
    thumbnail_name,
)

REQUIRED_COLUMNS = ("item_id", "media_path", "media_type", "prompt", "generator")
OPTIONAL_COLUMNS = ("category", "subcategory", "split")
SPLITS = ("train", "val", "test")  # a given split (Item.split), kept exactly by exports with split "given"
MANIFEST_NAMES = ("manifest.csv", "manifest.jsonl")
WRITE_CHUNK = 2000  # rows per bulk_create / IN (...) query
LOOKUP_CHUNK = 10000
WRITE_LOCK_KEY = 7_166_024_011  # pg_advisory_lock key of the import write phase (any constant)
PROGRESS_EVERY = 50  # rows between progress reports (the job row itself is written at most twice a second)
MEDIA_TYPES = frozenset(MediaType.values)
MAX_LEN = {"item_id": 200, "generator": 120, "category": 120, "subcategory": 120}
logger = logging.getLogger(__name__)
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


class _Problem(Exception):
    """A problem with one row; turned into InvalidInput with the row's line and item_id."""


def _row_error(label: str, line: int, item_id: str | None, problem: str) -> InvalidInput:
    where = f"{label} line {line}" + (f" (item_id {item_id!r})" if item_id else "")
    return InvalidInput(f"{where}: {problem}")


# ---------------------------------------------------------------------------------------------- A


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
                    raise InvalidInput(f"{label} line 1: missing column(s) {', '.join(missing)} "
                                       f"(required: {', '.join(REQUIRED_COLUMNS)})")
                line = reader.line_num
                for values in reader:
                    line, start = reader.line_num, line + 1  # a quoted field may span lines
                    if not any(v.strip() for v in values):
                        continue
                    if len(values) != len(columns):
                        raise _row_error(label, start, values[0] if values else None,
                                         f"expected {len(columns)} fields, found {len(values)}")
                    yield start, dict(zip(columns, values))
            else:
                for line, text in enumerate(fh, start=1):
                    if not text.strip():
                        continue
                    try:
                        record = json.loads(text)
                    except json.JSONDecodeError as exc:
                        raise _row_error(label, line, None, f"not valid JSON ({exc.msg})") from None
                    if not isinstance(record, dict):
                        raise _row_error(label, line, None, "each line must be a JSON object")
                    record = {str(k).strip().lower(): v for k, v in record.items()}
                    missing = [c for c in REQUIRED_COLUMNS if c not in record]
                    if missing:
                        raise _row_error(label, line, str(record.get("item_id") or "").strip() or None,
                                         f"missing field(s) {', '.join(missing)}")
                    yield line, record
    except UnicodeDecodeError:
        raise InvalidInput(f"{label} line {line + 1}: the manifest is not UTF-8 text") from None
    except csv.Error as exc:
        raise InvalidInput(f"{label} line {line + 1}: cannot parse CSV ({exc})") from None


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, (dict, list)):
        raise _Problem("values must be text, not JSON objects or lists")
    return str(value).strip()


def resolve_media_path(root: str, raw: str, dir_cache: dict[str, str] | None = None) -> str:
    """The real path of `raw` under `root` (a real path, as a string). Refuses absolute paths, `..` and
    symlinks (of the file or of a folder) that lead outside the root. `dir_cache` keeps the real paths
    of folders already seen, so a 100K-row manifest costs about one lstat per row (plain string
    operations here: pathlib objects cost more than the system calls)."""
    if not raw:
        raise _Problem("empty media_path")
    if "\x00" in raw:
        raise _Problem("media_path contains a NUL byte")
    if raw.startswith(("/", "\\")) or (len(raw) > 2 and raw[1] == ":" and raw[2] in "/\\"):
        raise _Problem(f"media_path {raw!r} is absolute: it must be relative to the media root")
    if ".." in raw.replace("\\", "/").split("/"):
        raise _Problem(f"media_path {raw!r} leaves the media root ('..')")
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
        raise _Problem(f"file not readable: {raw}") from None
    if not (real + os.sep).startswith(root if root.endswith(os.sep) else root + os.sep):
        raise _Problem(f"media_path {raw!r} leaves the media root (a symlink points outside it)")
    if mode is None:
        raise _Problem(f"file not found: {raw}")
    if not stat.S_ISREG(mode):
        raise _Problem(f"not a regular file: {raw}")
    if not os.access(real, os.R_OK):
        raise _Problem(f"file not readable: {raw}")
    return real


def _parse_row(root: str, line: int, record: dict[str, Any], dir_cache: dict) -> Row:
    values = {key: _text(record.get(key)) for key in REQUIRED_COLUMNS + OPTIONAL_COLUMNS}
    for key in ("item_id", "generator"):
        if not values[key]:
            raise _Problem(f"empty {key}")
    if not values["prompt"]:
        raise _Problem("empty prompt")
    if len(values["prompt"]) > _max_prompt_chars():
        raise _Problem(f"prompt is {len(values['prompt'])} characters, more than the limit of {_max_prompt_chars()} "
                       "(QEVAL_MAX_PROMPT_CHARS)")
    for key, limit in MAX_LEN.items():
        if len(values[key]) > limit:
            raise _Problem(f"{key} is longer than {limit} characters")
    media_type = values["media_type"].lower()
    if media_type not in MEDIA_TYPES:
        raise _Problem(f"unknown media_type {values['media_type']!r} (use image or video)")
    split = values["split"].lower()
    if split not in ("",) + SPLITS:
        raise _Problem(f"unknown split {values['split']!r} (use train, val, test or leave it empty)")
    return Row(line=line, item_id=values["item_id"], media_path=values["media_path"],
               path=resolve_media_path(root, values["media_path"], dir_cache), media_type=media_type,
               prompt=values["prompt"], generator=values["generator"], category=values["category"],
               subcategory=values["subcategory"], split=split)


def _read_rows(manifest: Path, root: str) -> list[Row]:
    label = manifest.name
    rows: list[Row] = []
    seen_ids: dict[str, int] = {}
    generator_types: dict[str, tuple[str, int]] = {}
    dir_cache: dict[str, str] = {}
    for line, record in manifest_records(manifest):
        try:
            row = _parse_row(root, line, record, dir_cache)
        except _Problem as exc:
            item_id = record.get("item_id")
            raise _row_error(label, line, str(item_id).strip() if item_id is not None else None, str(exc)) from None
        if row.item_id in seen_ids:
            raise _row_error(label, line, row.item_id, f"duplicate item_id (first on line {seen_ids[row.item_id]})")
        seen_ids[row.item_id] = line
        known = generator_types.setdefault(row.generator, (row.media_type, line))
        if known[0] != row.media_type:
            raise _row_error(label, line, row.item_id, f"generator {row.generator!r} is a {known[0]} generator "
                             f"(line {known[1]}); a generator name must be used for one media type only")
        rows.append(row)
    if not rows:
        raise InvalidInput(f"{label}: the manifest has no rows to import")
    return rows


# ---------------------------------------------------------------------------------------------- B


def _check_against_database(campaign: Campaign, rows: list[Row], label: str) -> None:
    existing: set[str] = set()
    ids = [row.item_id for row in rows]
    for start in range(0, len(ids), LOOKUP_CHUNK):
        existing.update(Item.objects.filter(campaign=campaign, item_id__in=ids[start:start + LOOKUP_CHUNK])
                        .values_list("item_id", flat=True))
    names = {row.generator for row in rows}
    known_types = dict(Generator.objects.filter(name__in=names).values_list("name", "media_type"))
    for row in rows:
        if row.item_id in existing:
            raise _row_error(label, row.line, row.item_id, f"item_id is already in campaign {campaign.slug!r}")
        known = known_types.get(row.generator)
        if known and known != row.media_type:
            raise _row_error(label, row.line, row.item_id, f"generator {row.generator!r} already exists as a "
                             f"{known} generator; a generator name must be used for one media type only")


# ---------------------------------------------------------------------------------------------- C


def _probe_rows(rows: list[Row], thumbs_dir: Path, label: str, progress: Progress | None) -> dict[str, Path]:
    """Probe every row's file; returns sha256 -> local thumbnail. A file used by several rows is
    probed once."""
    by_path: dict[str, MediaInfo] = {}
    thumbs: dict[str, Path] = {}
    scratch = thumbs_dir / "current.jpg"
    for n, row in enumerate(rows, start=1):
        info = by_path.get(row.path)
        if info is None:
            probe = probe_image if row.media_type == MediaType.IMAGE else probe_video
            try:
                info = probe(Path(row.path), thumbnail_to=scratch)
            except MediaError as exc:
                raise _row_error(label, row.line, row.item_id, f"{row.media_path}: {exc}") from None
            by_path[row.path] = info
            if info.sha256 not in thumbs:
                thumbs[info.sha256] = scratch.rename(thumbs_dir / f"{info.sha256}.jpg")
        row.info = info
        if progress and (n % PROGRESS_EVERY == 0 or n == len(rows)):
            progress.advance(n % PROGRESS_EVERY or PROGRESS_EVERY, "probing media")
    return thumbs


# ---------------------------------------------------------------------------------------------- D, E


def _store_files(rows: list[Row], thumbs: dict[str, Path], created: list[str], progress: Progress | None) -> None:
    done: set[str] = set()  # storage names handled already (the same bytes may come with two extensions)
    for n, row in enumerate(rows, start=1):
        sha = row.info.sha256
        for name, source in ((media_name(sha, row.info.ext), row.path), (thumbnail_name(sha), thumbs[sha])):
            if name not in done:
                if storage_put(name=name, source=source):
                    created.append(name)
                done.add(name)
        if progress and (n % PROGRESS_EVERY == 0 or n == len(rows)):
            progress.advance(n % PROGRESS_EVERY or PROGRESS_EVERY, "storing media")


def _prompt_sha(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _write_rows(campaign: Campaign, rows: list[Row], job: Job | None, files_stored: int) -> dict[str, Any]:
    """Generators, prompts and items in one transaction. The caller has checked every row."""
    names = {row.generator: row.media_type for row in rows}
    generators = {g.name: g for g in Generator.objects.filter(name__in=names)}
    new_generators = [Generator(name=n, media_type=t) for n, t in names.items() if n not in generators]
    Generator.objects.bulk_create(new_generators)
    generators.update({g.name: g for g in Generator.objects.filter(name__in=[g.name for g in new_generators])})

    prompt_rows: dict[str, Row] = {}
    for row in rows:
        prompt_rows.setdefault(_prompt_sha(row.prompt), row)
    shas = list(prompt_rows)
    prompt_ids: dict[str, int] = {}
    for start in range(0, len(shas), LOOKUP_CHUNK):
        prompt_ids.update(Prompt.objects.filter(text_sha256__in=shas[start:start + LOOKUP_CHUNK])
                          .values_list("text_sha256", "id"))
    missing = [sha for sha in shas if sha not in prompt_ids]
    for start in range(0, len(missing), WRITE_CHUNK):
        chunk = missing[start:start + WRITE_CHUNK]
        Prompt.objects.bulk_create([
            Prompt(text=prompt_rows[sha].prompt, text_sha256=sha, category=prompt_rows[sha].category,
                   subcategory=prompt_rows[sha].subcategory, word_count=len(prompt_rows[sha].prompt.split()))
            for sha in chunk
        ])
        prompt_ids.update(Prompt.objects.filter(text_sha256__in=chunk).values_list("text_sha256", "id"))

    created_ids: list[int] = []
    for start in range(0, len(rows), WRITE_CHUNK):
        created_ids += [item.pk for item in Item.objects.bulk_create([
            Item(campaign=campaign, item_id=row.item_id, media_type=row.media_type,
                 media=media_name(row.info.sha256, row.info.ext), thumbnail=thumbnail_name(row.info.sha256),
                 width=row.info.width, height=row.info.height, duration=row.info.duration, fps=row.info.fps,
                 sha256=row.info.sha256, prompt_id=prompt_ids[_prompt_sha(row.prompt)], split=row.split,
                 generator=generators[row.generator], target=campaign.target_for(row.media_type))
            for row in rows[start:start + WRITE_CHUNK]
        ])]
    items_created(campaign=campaign, item_ids=created_ids)
    result = {
        "campaign": campaign.slug,
        "items_created": len(rows),
        "images": sum(row.media_type == MediaType.IMAGE for row in rows),
        "videos": sum(row.media_type == MediaType.VIDEO for row in rows),
        "generators_created": len(new_generators),
        "prompts_created": len(missing),
        "files_stored": files_stored,
    }
    if job is not None:
        # Recorded in the same transaction: a job re-run after its worker died sees it and stops.
        Job.objects.filter(pk=job.pk).update(result=result)
    return result


def _remove_unused(names: list[str]) -> None:
    """Delete files this import stored, except those an item already refers to. Names embed the
    content's sha256, so the lookup uses Item.sha256's index."""
    shas = list({PurePosixPath(name).stem for name in names})
    used: set[str] = set()
    for start in range(0, len(shas), LOOKUP_CHUNK):
        for media, thumb in Item.objects.filter(sha256__in=shas[start:start + LOOKUP_CHUNK]).values_list(
                "media", "thumbnail"):
            used.update((media, thumb))
    storage_delete([name for name in names if name not in used])


def items_import(*, campaign: Campaign, manifest: Path, media_root: Path | None = None,
                 progress: Progress | None = None, job: Job | None = None) -> dict[str, Any]:
    """Import every row of `manifest` into `campaign`, or nothing (raises InvalidInput naming the
    first bad row). `media_root` defaults to the manifest's folder."""
    manifest = Path(manifest)
    label = manifest.name
    root_given = Path(media_root) if media_root else manifest.parent
    if not root_given.is_dir():
        raise InvalidInput(f"media root is not a folder: {root_given}")
    root = os.path.realpath(root_given)

    if progress:
        progress.update(0, "reading manifest", force=True)
    rows = _read_rows(manifest, root)
    if progress:
        progress.set_total(2 * len(rows), f"checking {len(rows)} rows")  # each row: probed, then stored
    _check_against_database(campaign, rows, label)

    with tempfile.TemporaryDirectory(prefix="qeval-import-") as tmp:
        thumbs = _probe_rows(rows, Path(tmp), label, progress)
        created: list[str] = []
        with _write_lock(progress):
            # Again under the lock: another import may have committed some of these item_ids meanwhile.
            _check_against_database(campaign, rows, label)
            try:
                _store_files(rows, thumbs, created, progress)
                if progress:
                    progress.update(progress.job.progress, "writing items", force=True)
                with transaction.atomic():
                    result = _write_rows(campaign, rows, job, files_stored=len(created))
            except IntegrityError:
                _remove_unused(created)
                raise Conflict(f"{label}: another process wrote some of these items, prompts or generators at "
                               "the same time; nothing was imported, run it again") from None
            except BaseException:
                _remove_unused(created)
                raise
    return result


@contextmanager
def _write_lock(progress: Progress | None) -> Iterator[None]:
    """Store-and-write phases of imports run one at a time (platform-wide, a PostgreSQL advisory lock;
    the slow probing still runs in parallel). Without it, an import that fails could remove a stored
    file that a concurrent import has just found and is about to use. Called inside a caller's
    transaction, the lock ends before that transaction commits (seed_demo, tests: one process)."""
    if connection.vendor != "postgresql":
        yield  # SQLite (the embedded default) serialises writers anyway
        return
    if progress:
        progress.update(progress.job.progress, "waiting for other imports to finish writing", force=True)
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_lock(%s)", [WRITE_LOCK_KEY])
    try:
        yield
    finally:
        try:
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_unlock(%s)", [WRITE_LOCK_KEY])
        except Exception:  # a lost connection has released the lock with its session
            logger.warning("could not release the import write lock", exc_info=True)


def media_write_lock():
    """The lock imports hold while storing files and writing items, for other writers of items (generation):
    `with media_write_lock(): ...` (see _write_lock)."""
    return _write_lock(None)


def media_remove_unused(*, names: list[str]) -> None:
    """Delete stored files that no item refers to, for other writers of items (see _remove_unused)."""
    _remove_unused(names)


# ---------------------------------------------------------------------------------------------- jobs


def items_import_job(*, job: Job, progress: Progress) -> dict[str, Any]:
    """Job runner for kind "import_items". params: {"campaign": slug} plus either
    {"manifest": path, "media_root": path|None} (a file on a shared volume) or
    {"archive": storage name, "manifest": member} (an uploaded zip; removed when the job ends)."""
    if job.result.get("items_created") is not None:
        return job.result  # already committed by an earlier run of this job
    params = job.params
    campaign = job.campaign or campaign_get(slug=params.get("campaign"))
    if params.get("archive"):
        try:
            with tempfile.TemporaryDirectory(prefix="qeval-archive-") as tmp:
                folder = Path(tmp) / "content"
                archive_extract(name=params["archive"], dest=folder, manifest=params["manifest"])
                return items_import(campaign=campaign, manifest=folder / params["manifest"], progress=progress, job=job)
        finally:
            storage_delete([params["archive"]])
    media_root = params.get("media_root")
    return items_import(campaign=campaign, manifest=Path(params["manifest"]),
                        media_root=Path(media_root) if media_root else None, progress=progress, job=job)


# ---------------------------------------------------------------------------------------------- API helpers


def _max_unzipped() -> int:
    return int(getattr(settings, "IMPORT_MAX_UNZIPPED_BYTES", 20 * 1024**3))


def _max_ratio() -> float:
    return float(getattr(settings, "IMPORT_MAX_MEMBER_RATIO", 100))


def _max_prompt_chars() -> int:
    return int(getattr(settings, "QEVAL_MAX_PROMPT_CHARS", 4000))


RATIO_SLACK = 1 << 20  # members under 1 MiB unpacked are never refused for their ratio


def _ratio_problem(info: zipfile.ZipInfo, size: int) -> str | None:
    """A member that expands more than IMPORT_MAX_MEMBER_RATIO times its compressed size (a zip bomb)."""
    if size > RATIO_SLACK and size > _max_ratio() * max(info.compress_size, 1):
        return (f"archive member {info.filename!r} expands {size / max(info.compress_size, 1):.0f} times its "
                f"compressed size, more than the limit of {_max_ratio():g} (QEVAL_IMPORT_MAX_MEMBER_RATIO)")
    return None


def _member_problem(info: zipfile.ZipInfo) -> str | None:
    name = info.filename
    pure = PurePosixPath(name.replace("\\", "/"))
    if pure.is_absolute() or re.match(r"^[A-Za-z]:", name):
        return f"archive member {name!r} has an absolute path"
    if ".." in pure.parts:
        return f"archive member {name!r} leaves the archive folder ('..')"
    if (info.external_attr >> 16) & 0o170000 == 0o120000:
        return f"archive member {name!r} is a symlink"
    return None


def archive_check(*, fileobj, manifest: str | None = None) -> str:
    """Check an uploaded zip at once (cheap: the central directory only). Returns the manifest's member
    name. A non-zip, a member that would land outside the folder (zip-slip), or a missing manifest is
    InvalidInput."""
    fileobj.seek(0)
    if not zipfile.is_zipfile(fileobj):
        raise InvalidInput("archive is not a zip file")
    fileobj.seek(0)
    try:
        with zipfile.ZipFile(fileobj) as zf:
            infos = zf.infolist()
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise InvalidInput(f"archive is not a readable zip file ({exc})") from None
    finally:
        fileobj.seek(0)
    total = 0
    for info in infos:
        problem = _member_problem(info) or _ratio_problem(info, info.file_size)
        if problem:
            raise InvalidInput(problem)
        total += info.file_size
    if total > _max_unzipped():
        raise InvalidInput(f"archive unpacks to {total} bytes, more than the limit of {_max_unzipped()} "
                           "(QEVAL_IMPORT_MAX_UNZIPPED_BYTES)")
    names = {info.filename for info in infos if not info.is_dir()}
    if manifest:
        if manifest not in names:
            raise InvalidInput(f"archive has no member {manifest!r} (the manifest field)")
        if _member_problem(zipfile.ZipInfo(manifest)):
            raise InvalidInput(f"bad manifest name {manifest!r}")
        return manifest
    for candidate in MANIFEST_NAMES:
        if candidate in names:
            return candidate
    raise InvalidInput("archive has no manifest.csv or manifest.jsonl at its top level (or name it in 'manifest')")


def archive_extract(*, name: str, dest: Path, manifest: str | None = None) -> None:
    """Unpack a stored archive into `dest`, member by member, refusing anything that would land outside
    `dest` and stopping past the size and ratio limits (the central directory's sizes are not trusted).
    With `manifest`, only that member and the media files it names are unpacked (nothing else in the zip
    is written anywhere)."""
    dest.mkdir(parents=True, exist_ok=True)
    root = Path(os.path.realpath(dest))
    limit, written = _max_unzipped(), 0
    with default_storage.open(name, "rb") as stored, tempfile.TemporaryFile() as local:
        shutil.copyfileobj(stored, local)
        local.seek(0)
        try:
            with zipfile.ZipFile(local) as zf:
                infos = [info for info in zf.infolist() if not info.is_dir()]
                for info in infos:
                    problem = _member_problem(info)
                    if problem:
                        raise InvalidInput(problem)
                if manifest is not None:
                    by_name = {info.filename: info for info in infos}
                    if manifest not in by_name:
                        raise InvalidInput(f"archive has no member {manifest!r} (the manifest)")
                    written += _extract_member(zf, by_name[manifest], root, limit - written)
                    wanted = _manifest_members(root / manifest, manifest)
                    infos = [by_name[n] for n in sorted(wanted) if n in by_name]
                for info in infos:
                    if manifest is not None and info.filename == manifest:
                        continue
                    written += _extract_member(zf, info, root, limit - written)
        except (zipfile.BadZipFile, EOFError, zlib.error) as exc:
            raise InvalidInput(f"archive is corrupt ({exc})") from None


def _extract_member(zf: zipfile.ZipFile, info: zipfile.ZipInfo, root: Path, budget: int) -> int:
    """Write one member under `root`; returns its size. InvalidInput past `budget` bytes or the ratio."""
    target = Path(os.path.realpath(root / info.filename.replace("\\", "/")))
    if not target.is_relative_to(root):
        raise InvalidInput(f"archive member {info.filename!r} leaves the archive folder")
    target.parent.mkdir(parents=True, exist_ok=True)
    size = 0
    with zf.open(info) as src, open(target, "wb") as out:
        while chunk := src.read(1 << 20):
            size += len(chunk)
            if size > budget:
                raise InvalidInput(f"archive unpacks to more than the limit of {_max_unzipped()} bytes "
                                   "(QEVAL_IMPORT_MAX_UNZIPPED_BYTES)")
            problem = _ratio_problem(info, size)
            if problem:
                raise InvalidInput(problem)
            out.write(chunk)
    return size


def _manifest_members(path: Path, manifest: str) -> set[str]:
    """Archive member names of the media the manifest names (relative to the manifest's folder)."""
    folder = PurePosixPath(manifest).parent
    names: set[str] = set()
    for _line, record in manifest_records(path):
        raw = record.get("media_path")
        if isinstance(raw, str) and raw.strip():
            names.add(str(folder / raw.strip().replace("\\", "/")).removeprefix("./"))
    return names


def archive_store(*, fileobj) -> str:
    """Keep an uploaded archive in the default storage (shared with the workers) until its job ends."""
    fileobj.seek(0)
    return default_storage.save(f"imports/uploads/{uuid.uuid4().hex}.zip", fileobj)


def server_path_resolve(*, server_path: str, manifest: str | None = None) -> Path:
    """The manifest file named by a server-side path (a manifest, or a folder holding one), which must
    lie inside settings.IMPORT_ROOTS."""
    if not server_path or not os.path.isabs(server_path):
        raise InvalidInput("server_path must be an absolute path on the server")
    real = Path(os.path.realpath(server_path))
    roots = [Path(os.path.realpath(root)) for root in settings.IMPORT_ROOTS]
    if not any(real.is_relative_to(root) for root in roots):
        raise Forbidden(f"server_path must lie inside an import root ({', '.join(str(r) for r in roots)})")
    if real.is_dir():
        candidates = [manifest] if manifest else list(MANIFEST_NAMES)
        for candidate in candidates:
            if "/" in candidate or candidate in ("", ".", ".."):
                raise InvalidInput(f"bad manifest name {candidate!r}")
            if (real / candidate).is_file():
                return real / candidate
        raise InvalidInput(f"no {' or '.join(candidates)} in {server_path}")
    if real.is_file():
        return real
    raise InvalidInput(f"server_path does not exist: {server_path}")
