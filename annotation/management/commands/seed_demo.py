"""The demo that `make run` starts with: four logins (one per role), a demo campaign, and synthetic demo
content (24 images from 4 generators at 4 quality levels, 4 short videos from 2 generators) imported
into it through the import service. Idempotent: running it again changes nothing."""

from pathlib import Path

from django.conf import settings
from django.db import transaction

from core.management.base import ServiceCommand

from ...models import Campaign, Item
from ...services.campaigns import campaign_create
from ...services.jobs import job_create, job_run
from ...services.users import user_add
from ..demo_content import demo_content_write

DEMO_PASSWORD = "demo-pass-1"
DEMO_USERS = (
    ("annotator1", "annotator"),
    ("annotator2", "annotator"),
    ("expert1", "expert"),
    ("admin1", "admin"),
    ("researcher1", "researcher"),
)
DEMO_SLUG = "demo"


class Command(ServiceCommand):
    help = "Create the demo logins, the demo campaign and its demo content (idempotent)."

    def add_arguments(self, parser):
        parser.add_argument(
            "--content-dir", type=Path, help="Where to write the demo media and manifest (default: var/demo)."
        )

    @transaction.atomic
    def handle(self, *args, content_dir=None, **options):
        from django.contrib.auth import get_user_model

        User = get_user_model()
        for username, role in DEMO_USERS:
            if not User.objects.filter(username=username).exists():
                user_add(username=username, role=role, password=DEMO_PASSWORD)
        campaign = Campaign.objects.filter(slug=DEMO_SLUG).first()
        if campaign is None:
            campaign = campaign_create(
                slug=DEMO_SLUG,
                name="Demo: AI-generated images and videos",
                instructions="Rate each item's visual quality (sharpness, artefacts, aesthetics) and how well it "
                "matches its text prompt. 1 = Bad, 2 = Poor, 3 = Fair, 4 = Good, 5 = Excellent.",
                batch_size=8,
                golden_per_batch=2,
                ratings_per_image=3,
                ratings_per_video=2,
                min_golden=2,
            )
        self._content(campaign, content_dir or Path(settings.VAR_DIR) / "demo")
        self._golden(campaign)
        self.stdout.write(f"demo ready: campaign '{DEMO_SLUG}', logins {', '.join(u for u, _ in DEMO_USERS)}")

    def _content(self, campaign: Campaign, folder: Path) -> None:
        """Import the demo content once: a campaign that has items already is left as it is."""
        if Item.objects.filter(campaign=campaign).exists():
            return
        manifest = demo_content_write(folder)
        # A job row, like any import, so the researcher's pages show where the demo items came from.
        job = job_create(
            kind="import_items",
            campaign=campaign,
            params={"campaign": campaign.slug, "manifest": str(manifest.resolve()), "media_root": None},
        )
        result = job_run(job_id=job.pk).result
        self.stdout.write(
            f"demo content: {result['images']} images, {result['videos']} videos imported from {manifest}"
        )

    def _golden(self, campaign: Campaign) -> None:
        """A golden set of ~25% of the demo items with imported golden scores derived from the demo's
        quality levels (area scrutiny), so demo batches get scrutinized. Once: a campaign that has golden
        items already is left as it is."""
        from ...services.campaigns import campaign_update
        from ...services.golden import golden_import, golden_set_create
        from ..demo_content import IMAGE_QUALITIES, VIDEO_QUALITIES

        if (
            not Item.objects.filter(campaign=campaign).exists()
            or Item.objects.filter(campaign=campaign, is_golden=True).exists()
        ):
            return
        golden_set_create(campaign=campaign, fraction=0.25, seed=2503)
        # Best to worst generator: quality 4.6 .. 1.4; the wrong-colour generators align badly.
        levels = {}
        for qualities in (IMAGE_QUALITIES, VIDEO_QUALITIES):
            for rank, q in enumerate(qualities):
                quality = 4.6 - rank * 3.2 / max(len(qualities) - 1, 1)
                levels[q.generator] = (round(quality, 2), 1.8 if q.wrong_colour else round(4.5 - 0.3 * rank, 2))
        rows = ["item_id,quality,alignment"]
        for item_id, generator in (
            Item.objects.filter(campaign=campaign, is_golden=True)
            .order_by("item_id")
            .values_list("item_id", "generator__name")
        ):
            quality, alignment = levels.get(generator, (3.0, 3.0))
            rows.append(f"{item_id},{quality},{alignment}")
        result = golden_import(campaign=campaign, data="\n".join(rows) + "\n")
        # Four golden items per batch (of the ~7) so a batch's correlation has something to stand on.
        campaign_update(campaign=campaign, golden_per_batch=4)
        self.stdout.write(f"demo golden set: {result['items']} items with imported golden scores")
