from core.management.base import ServiceCommand

from ...models import Batch
from ...services.campaigns import campaign_get
from ...services.scrutiny import batch_rows, scrutiny_table
from ...services.vendor_ratings import ratings_import


class Command(ServiceCommand):
    help = (
        "Import vendor ratings from a CSV with columns annotator, item_id, quality, alignment and optional batch; "
        "one imported batch per annotator and batch label, scrutinized at once. All or nothing."
    )

    def add_arguments(self, parser):
        parser.add_argument("--campaign", required=True, help="Campaign slug.")
        parser.add_argument("--file", required=True, help="CSV file (UTF-8).")

    def handle(self, *args, campaign, file, **options):
        camp = campaign_get(slug=campaign)
        data = self.read_utf8(file)
        ids = ratings_import(campaign=camp, data=data)
        batches = Batch.objects.filter(pk__in=ids).select_related("annotator", "decided_by").order_by("pk")
        self.stdout.write(
            scrutiny_table(rows=batch_rows(batches=batches, dimensions=camp.dimensions), dimensions=camp.dimensions)
        )
        self.stdout.write(f"imported {len(ids)} batches into {campaign}")
