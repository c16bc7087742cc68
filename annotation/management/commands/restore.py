"""`manage.py restore --from FILE.tar [--no-media]`: restore a backup into an EMPTY database (the one
DATABASE_URL names) and the media folder; then run `manage.py migrate` if the code is newer."""

from __future__ import annotations

from core.management.base import ServiceCommand

from ...services.backup import backup_restore


class Command(ServiceCommand):
    help = "Restore a backup made by `manage.py backup` into an empty database and the media folder."

    def add_arguments(self, parser):
        parser.add_argument("--from", dest="source", required=True, help="The backup file.")
        parser.add_argument("--no-media", action="store_true", help="Restore the database only.")

    def handle(self, *args, source: str, no_media: bool, **options):
        result = backup_restore(source=source, media=not no_media)
        self.stdout.write(
            f"restored {result['items']} items, {result['ratings']} ratings, {len(result['versions'])} "
            f"dataset versions and {result['media_files_restored']} media files from {source}"
        )
