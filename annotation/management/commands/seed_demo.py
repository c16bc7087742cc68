"""The demo that `make run` starts with: four logins (one per role) and a demo campaign.
Idempotent: running it again changes nothing."""
from django.db import transaction

from ...models import Campaign
from ...services.campaigns import campaign_create
from ...services.users import user_add
from ..base import ServiceCommand

DEMO_PASSWORD = "demo-pass-1"
DEMO_USERS = (("annotator1", "annotator"), ("annotator2", "annotator"), ("expert1", "expert"),
              ("admin1", "admin"), ("researcher1", "researcher"))
DEMO_SLUG = "demo"


class Command(ServiceCommand):
    help = "Create the demo logins and the demo campaign (idempotent)."

    @transaction.atomic
    def handle(self, *args, **options):
        from django.contrib.auth import get_user_model

        User = get_user_model()
        for username, role in DEMO_USERS:
            if not User.objects.filter(username=username).exists():
                user_add(username=username, role=role, password=DEMO_PASSWORD)
        if not Campaign.objects.filter(slug=DEMO_SLUG).exists():
            campaign_create(
                slug=DEMO_SLUG, name="Demo: AI-generated images and videos",
                instructions="Rate each item's visual quality (sharpness, artefacts, aesthetics) and how well it "
                "matches its text prompt. 1 = Bad, 2 = Poor, 3 = Fair, 4 = Good, 5 = Excellent.",
                batch_size=8, golden_per_batch=2, ratings_per_image=3, ratings_per_video=2, min_golden=2,
            )
        self.stdout.write(f"demo ready: campaign '{DEMO_SLUG}', logins {', '.join(u for u, _ in DEMO_USERS)}")
