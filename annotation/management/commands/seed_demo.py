"""The demo that `make run` starts with: four logins (one per role), a demo campaign, and synthetic demo
content (24 images from 4 generators at 4 quality levels, 4 short videos from 2 generators) imported
into it through the import service. Idempotent: running it again changes nothing.

Every role finds something to do: annotators a campaign to rate (annotator2 mid-batch, one item flagged);
experts golden items without a score (expert mode); admins vendor batches on the desk (one approved by
hand, the others as scrutiny left them) and a flagged item; researchers a dataset version with its
statistics, ready to export and train on. All of it is made through the same services as real work."""

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
                ratings_per_image=6,
                ratings_per_video=4,
                min_golden=2,
            )
        self._content(campaign, content_dir or Path(settings.VAR_DIR) / "demo")
        self._golden(campaign)
        self._expert_work(campaign)
        self._vendor_work(campaign)
        self._flagged(campaign)
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

    def _expert_work(self, campaign: Campaign) -> None:
        """Grow the golden set by EXPERT_ITEMS items without a golden score, once: expert mode then has items to
        score (each needs campaign.expert_ratings_per_golden expert ratings)."""
        from ...services.golden import golden_set_create

        golden = Item.objects.filter(campaign=campaign, is_golden=True)
        # Done once: afterwards some golden items have no imported score (experts score them, or will).
        if not golden.exists() or golden.exclude(golden_scores__source="imported").exists():
            return
        result = golden_set_create(campaign=campaign, size=golden.count() + EXPERT_ITEMS, seed=2504)
        self.stdout.write(f"demo expert work: {result['added']} golden items wait for expert scores")

    def _vendor_work(self, campaign: Campaign) -> None:
        """Ratings of four vendor annotators (careful, lenient, hasty, careless) imported and scrutinized
        like any vendor file; an admin approves the careful one's batch where scrutiny left it open, and the
        approved ratings become version 1 (mle: the statistics page shows each annotator's bias and
        inconsistency). Once: a campaign with vendor batches is left as it is."""
        import numpy as np

        from ...models import Batch
        from ...services.mos import mos_aggregate
        from ...services.scrutiny import batch_admin_decide
        from ...services.vendor_ratings import ratings_import
        from ..demo_content import IMAGE_QUALITIES, VIDEO_QUALITIES

        if Batch.objects.filter(campaign=campaign, kind=Batch.Kind.IMPORTED).exists():
            return
        from django.contrib.auth import get_user_model

        levels = {}
        for qualities in (IMAGE_QUALITIES, VIDEO_QUALITIES):
            for rank, spec in enumerate(qualities):
                quality = 4.6 - rank * 3.2 / max(len(qualities) - 1, 1)
                levels[spec.generator] = (quality, 1.8 if spec.wrong_colour else 4.5 - 0.3 * rank)
        rng = np.random.default_rng(2505)
        items = list(
            Item.objects.filter(campaign=campaign).order_by("item_id").values_list("item_id", "generator__name")
        )
        rows = ["annotator,item_id,quality,alignment,batch,duration_ms"]
        # (name, noise, lenience, ms per item): careful, lenient (half a point high), hasty, careless
        vendors = (
            ("vendor-careful", 0.5, 0.0, 6000),
            ("vendor-lenient", 0.6, 0.5, 5000),
            ("vendor-hasty", 1.9, 0.0, 2500),
            ("vendor-careless", None, 0.0, 700),
        )
        for name, noise, lenience, ms in vendors:
            for item_id, generator in items:
                quality, alignment = levels.get(generator, (3.0, 3.0))
                if noise is None:  # careless: the same middle score for nearly everything
                    q, a = int(rng.choice([3, 3, 3, 4])), 3
                else:
                    q = int(np.clip(round(quality + lenience + rng.normal(0, noise)), 1, 5))
                    a = int(np.clip(round(alignment + lenience + rng.normal(0, noise)), 1, 5))
                rows.append(f"{name},{item_id},{q},{a},demo-{name},{int(ms * rng.uniform(0.7, 1.3))}")
        ids = ratings_import(campaign=campaign, data="\n".join(rows) + "\n")
        admin = get_user_model().objects.filter(username="admin1").first()
        careful = Batch.objects.get(pk__in=ids, annotator__username="vendor-careful")
        if careful.decision != Batch.Decision.APPROVED and admin is not None:
            batch_admin_decide(
                batch_id=careful.pk,
                decision="approve",
                user=admin,
                reason="Demo: checked by hand, the scores follow the content.",
            )
        decided = dict(Batch.objects.filter(pk__in=ids).values_list("annotator__username", "decision"))
        self.stdout.write("demo vendor batches: " + ", ".join(f"{k} {v}" for k, v in sorted(decided.items())))
        version = mos_aggregate(campaign=campaign, method="mle", created_by=admin)
        self.stdout.write(f"demo dataset version {version.number}: {version.counts['items']} items")

    def _flagged(self, campaign: Campaign) -> None:
        """annotator2 starts a batch and flags one item as broken, once: the admins' flagged-items queue has
        work, and annotator2 has a batch to continue."""
        from django.contrib.auth import get_user_model

        from ...models import ItemFlag, Task
        from ...services.assignment import batch_request
        from ...services.flags import task_skip

        user = get_user_model().objects.filter(username="annotator2").first()
        if user is None or ItemFlag.objects.filter(campaign=campaign).exists() or user.batches.exists():
            return
        batch, _ = batch_request(campaign=campaign, user=user)
        if batch is None:
            return
        task = Task.objects.filter(batch=batch).order_by("position").first()
        if task is None:
            return
        task_skip(task_id=task.pk, user=user, reason=ItemFlag.Reason.BROKEN, note="Demo: the lower half looks cut off.")
        self.stdout.write("demo flag: annotator2 flagged one item as broken")


EXPERT_ITEMS = 3
