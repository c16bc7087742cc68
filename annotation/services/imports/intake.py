"""Where an import's files come from: an uploaded zip (checked at once from its central directory, then unpacked
member by member on the worker within the size and ratio limits, refusing anything that would land outside its
folder) or a folder on the server inside IMPORT_ROOTS."""

from __future__ import annotations

import os
import re
import shutil
import tempfile
import uuid
import zipfile
import zlib
from pathlib import Path, PurePosixPath

from django.conf import settings
from django.core.files.storage import default_storage

from core.errors import Forbidden, InvalidInput

from .manifest import manifest_records

MANIFEST_NAMES = ("manifest.csv", "manifest.jsonl")
RATIO_SLACK = 1 << 20  # members under 1 MiB unpacked are never refused for their ratio


def _ratio_problem(info: zipfile.ZipInfo, size: int) -> str | None:
    """A member that expands more than IMPORT_MAX_MEMBER_RATIO times its compressed size (a zip bomb)."""
    if size > RATIO_SLACK and size > settings.IMPORT_MAX_MEMBER_RATIO * max(info.compress_size, 1):
        return (
            f"archive member {info.filename!r} expands {size / max(info.compress_size, 1):.0f} times its "
            f"compressed size, more than the limit of {settings.IMPORT_MAX_MEMBER_RATIO:g} (QEVAL_IMPORT_MAX_MEMBER_RATIO)"
        )
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
    if total > settings.IMPORT_MAX_UNZIPPED_BYTES:
        raise InvalidInput(
            f"archive unpacks to {total} bytes, more than the limit of {settings.IMPORT_MAX_UNZIPPED_BYTES} "
            "(QEVAL_IMPORT_MAX_UNZIPPED_BYTES)"
        )
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
    limit, written = settings.IMPORT_MAX_UNZIPPED_BYTES, 0
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
                raise InvalidInput(
                    f"archive unpacks to more than the limit of {settings.IMPORT_MAX_UNZIPPED_BYTES} bytes "
                    "(QEVAL_IMPORT_MAX_UNZIPPED_BYTES)"
                )
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
