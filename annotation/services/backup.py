"""Backup and restore of a deployment: the database and the media, in one `.tar` file.

    manifest.json       what was dumped: engine, when, counts, each dataset version's checksum
    database.dump       PostgreSQL: `pg_dump --format=custom` (consistent: one snapshot, while the platform runs)
    database.sqlite3    SQLite (the embedded default): SQLite's online backup API
    media/...           every file of the media storage (content-addressed, so a restore can merge)

`backup_create` writes the file beside its final name and renames it at the end (a failed backup leaves
nothing). `backup_restore` refuses a database that already holds the platform's tables: it restores into
an empty database (create it, point DATABASE_URL at it, restore, then migrate for newer code), and copies
the media into MEDIA_ROOT. Media on S3 are not in the file (say `--no-media`; back the bucket up with its
own versioning or replication).
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import tarfile
import tempfile
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import connection
from django.utils import timezone

from core.errors import Conflict, InvalidInput

FORMAT = "qeval-backup/1"


def _db() -> dict[str, Any]:
    return dict(settings.DATABASES["default"])


def _pg_env() -> dict:
    db = _db()
    env = dict(
        os.environ,
        PGHOST=str(db.get("HOST") or "127.0.0.1"),
        PGPORT=str(db.get("PORT") or 5432),
        PGUSER=str(db.get("USER") or "postgres"),
        PGDATABASE=str(db["NAME"]),
    )
    if db.get("PASSWORD"):
        env["PGPASSWORD"] = str(db["PASSWORD"])
    return env


def _media_root() -> Path | None:
    backend = str(settings.STORAGES["default"]["BACKEND"])  # type: ignore[index]  # typed as object by the stubs
    return Path(settings.MEDIA_ROOT) if backend.endswith("FileSystemStorage") else None


def _summary() -> dict:
    from ..models import DatasetVersion, Item, Rating

    return {
        "items": Item.objects.count(),
        "ratings": Rating.objects.count(),
        "versions": {str(v.pk): v.checksum for v in DatasetVersion.objects.only("id", "checksum")},
    }


def backup_create(*, out: str | Path, media: bool = True, progress=None) -> dict:
    """Dump the database (and media) into the tar file `out`; returns its manifest."""
    out = Path(out)
    if out.exists():
        raise InvalidInput(f"{out} exists already; name a new file")
    if media and _media_root() is None:
        raise InvalidInput(
            "media live on S3 and are not backed up here: pass --no-media and back the bucket up "
            "with its own versioning or replication"
        )
    partial = out.with_name(out.name + ".partial")
    try:  # a folder that cannot be written to is said now, in one line, before the dump runs
        out.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InvalidInput(f"cannot write {out}: {exc.strerror or exc}") from None
    try:
        partial.touch(exist_ok=False)
        partial.unlink()
    except FileExistsError:
        raise InvalidInput(
            f"{partial} exists: a backup to {out} is being written, or one was stopped (remove it)"
        ) from None
    except OSError as exc:
        raise InvalidInput(f"cannot write {out}: {exc.strerror or exc}") from None
    with tempfile.TemporaryDirectory(prefix="qeval-backup-") as tmp_name:
        tmp = Path(tmp_name)
        manifest = {
            "format": FORMAT,
            "engine": connection.vendor,
            "created_at": timezone.now().isoformat(),
            "media": media,
            **_summary(),
        }
        if connection.vendor == "postgresql":
            dump = tmp / "database.dump"
            result = subprocess.run(
                ["pg_dump", "--format=custom", "--no-owner", "--no-privileges", f"--file={dump}"],
                env=_pg_env(),
                capture_output=True,
                text=True,
            )
            if result.returncode != 0:
                raise InvalidInput(
                    f"pg_dump failed: {result.stderr.strip().splitlines()[-1] if result.stderr else result.returncode}"
                )
            names = [dump]
        elif connection.vendor == "sqlite":
            dump = tmp / "database.sqlite3"
            source = sqlite3.connect(str(_db()["NAME"]))
            with sqlite3.connect(str(dump)) as target:
                source.backup(target)
            source.close()
            names = [dump]
        else:
            raise InvalidInput(f"backups support PostgreSQL and SQLite, not {connection.vendor}")
        (tmp / "manifest.json").write_text(json.dumps(manifest, indent=2))
        try:
            with tarfile.open(partial, "w") as tar:
                tar.add(tmp / "manifest.json", arcname="manifest.json")
                for name in names:
                    tar.add(name, arcname=name.name)
                root = _media_root()
                if media and root is not None and root.is_dir():
                    for path in sorted(root.rglob("*")):
                        if path.is_file() and not path.is_symlink():
                            tar.add(path, arcname=f"media/{path.relative_to(root)}")
                            if progress:
                                progress(1)
            os.replace(partial, out)
        except BaseException:
            partial.unlink(missing_ok=True)
            raise
    return manifest


def _database_is_empty() -> bool:
    return "annotation_item" not in connection.introspection.table_names()


def backup_restore(*, source: str | Path, media: bool = True) -> dict:
    """Restore the tar file `source` into the (empty) configured database and the media folder."""
    source = Path(source)
    if not source.is_file():
        raise InvalidInput(f"no backup file at {source}")
    try:
        tar = tarfile.open(source, "r")
    except tarfile.TarError as exc:
        raise InvalidInput(f"{source} is not a backup file ({exc})") from None
    with tar, tempfile.TemporaryDirectory(prefix="qeval-restore-") as tmp_name:
        tmp = Path(tmp_name)
        try:
            manifest = json.loads(tar.extractfile("manifest.json").read())  # type: ignore[union-attr]  # None: caught
        except (KeyError, ValueError, AttributeError):
            raise InvalidInput(f"{source} has no readable manifest.json: not a backup of this platform") from None
        if manifest.get("format") != FORMAT:
            raise InvalidInput(f"{source} is a {manifest.get('format')!r} backup; this platform reads {FORMAT}")
        if manifest["engine"] != connection.vendor:
            raise InvalidInput(
                f"the backup is of a {manifest['engine']} database; DATABASE_URL names a {connection.vendor} one"
            )
        if not _database_is_empty():
            raise Conflict(
                "the database already holds the platform's tables: restore into an empty database "
                "(create one and point DATABASE_URL at it)"
            )
        if connection.vendor == "postgresql":
            tar.extract("database.dump", tmp, filter="data")
            connection.close()
            result = subprocess.run(
                [
                    "pg_restore",
                    "--no-owner",
                    "--no-privileges",
                    "--exit-on-error",
                    f"--dbname={_pg_env()['PGDATABASE']}",
                    str(tmp / "database.dump"),
                ],
                env=_pg_env(),
                capture_output=True,
                text=True,
            )
            if result.returncode != 0:
                raise InvalidInput(
                    f"pg_restore failed: {result.stderr.strip().splitlines()[-1] if result.stderr else result.returncode}"
                )
        else:
            tar.extract("database.sqlite3", tmp, filter="data")
            connection.close()
            with sqlite3.connect(str(tmp / "database.sqlite3")) as src, sqlite3.connect(str(_db()["NAME"])) as dst:
                src.backup(dst)
        copied = 0
        root = _media_root()
        if media and manifest.get("media") and root is not None:
            for member in tar.getmembers():
                if member.isfile() and member.name.startswith("media/"):
                    target = root / member.name.removeprefix("media/")
                    if target.exists():
                        continue  # content-addressed: the same name holds the same bytes
                    target.parent.mkdir(parents=True, exist_ok=True)
                    with tar.extractfile(member) as src, open(target, "wb") as dst:  # type: ignore[union-attr]  # a file
                        shutil.copyfileobj(src, dst)
                    copied += 1
    return {**manifest, "media_files_restored": copied}
