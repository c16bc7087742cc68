from pathlib import Path

from core.errors import InvalidInput

from ...services.campaigns import campaign_get
from ..job_command import JobCommand


class Command(JobCommand):
    help = (
        "Import generated images/videos into a campaign from a CSV or JSONL manifest (columns item_id, "
        "media_path, media_type, prompt, generator; optional category, subcategory). All rows or none."
    )
    job_kind = "import_items"

    def add_arguments(self, parser):
        super().add_arguments(parser)
        parser.add_argument("--campaign", required=True, help="Slug of the campaign to import into.")
        parser.add_argument("--manifest", required=True, type=Path, help="manifest.csv or manifest.jsonl")
        parser.add_argument(
            "--media-root", type=Path, help="Folder media_path is relative to (default: the manifest's folder)."
        )

    def handle(self, *args, campaign, manifest, media_root, enqueue, **options):
        target = campaign_get(slug=campaign)
        # Absolute paths: with --enqueue a worker (another process, maybe another machine with the same
        # shared volume) opens them.
        manifest = manifest.expanduser().resolve()
        if not manifest.is_file():
            raise InvalidInput(f"manifest not found: {manifest}")
        root = media_root.expanduser().resolve() if media_root else None
        if root is not None and not root.is_dir():
            raise InvalidInput(f"media root is not a folder: {root}")
        params = {"campaign": target.slug, "manifest": str(manifest), "media_root": str(root) if root else None}
        result = self.run_job(params=params, campaign=target, enqueue=enqueue, label=f"import {manifest.name}")
        if result is not None:
            self.stdout.write(
                f"imported {result['items_created']} items ({result['images']} images, {result['videos']} videos) "
                f"into {target.slug}: {result['generators_created']} new generators, "
                f"{result['prompts_created']} new prompts, {result['files_stored']} new files"
            )
