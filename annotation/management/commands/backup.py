"""`manage.py backup --out FILE.tar [--no-media]`: the database and the media in one file
(annotation/services/backup.py; restore it with `manage.py restore`)."""

from __future__ import annotations

from core.management.base import ServiceCommand

from ...services.backup import backup_create


class Command(ServiceCommand):
    help = "Back the database and the media up into one .tar file."

    def add_arguments(self, parser):
        parser.add_argument("--out", required=True, help="The backup file to write (must not exist).")
        parser.add_argument(
            "--no-media", action="store_true", help="Only the database (media on S3, or backed up elsewhere)."
        )

    def handle(self, *args, out: str, no_media: bool, **options):
        manifest = backup_create(out=out, media=not no_media)
        self.stdout.write(
            f"backed up {manifest['engine']} ({manifest['items']} items, {manifest['ratings']} ratings, "
            f"{len(manifest['versions'])} dataset versions){' and the media' if not no_media else ''} to {out}"
        )
