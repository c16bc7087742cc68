from ...models import Batch
from ...services.campaigns import campaign_get
from ...services.scrutiny import batch_rows, scrutiny_table
from ..job_command import JobCommand


class Command(JobCommand):
    help = (
        "Scrutinize a campaign's closed batches that were never scrutinized (also sweeps up batches whose "
        "queued task was lost), or all closed batches with --all; prints one line per batch."
    )
    job_kind = "scrutinize"

    def add_arguments(self, parser):
        super().add_arguments(parser)
        parser.add_argument("--campaign", required=True, help="Campaign slug.")
        parser.add_argument(
            "--all",
            action="store_true",
            dest="rescrutinize",
            help="Re-scrutinize every closed batch (admin decisions stay).",
        )

    def handle(self, *args, campaign, rescrutinize, enqueue, **options):
        camp = campaign_get(slug=campaign)
        result = self.run_job(
            params={"campaign": camp.slug, "all": rescrutinize}, campaign=camp, enqueue=enqueue, label="scrutinize"
        )
        if result is None:
            return
        ids = result["batch_ids"]
        batches = Batch.objects.filter(pk__in=ids).select_related("annotator", "decided_by").order_by("pk")
        if ids:
            self.stdout.write(
                scrutiny_table(rows=batch_rows(batches=batches, dimensions=camp.dimensions), dimensions=camp.dimensions)
            )
        self.stdout.write(f"scrutinized {len(ids)} batches of {campaign}")
