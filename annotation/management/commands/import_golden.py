from core.management.base import ServiceCommand

from ...services.campaigns import campaign_get
from ...services.golden import golden_import


class Command(ServiceCommand):
    help = (
        "Import golden scores from a CSV with columns item_id, quality, alignment (an empty cell: no golden "
        "score on that dimension). All or nothing; the items become golden."
    )

    def add_arguments(self, parser):
        parser.add_argument("--campaign", required=True, help="Campaign slug.")
        parser.add_argument("--file", required=True, help="CSV file (UTF-8).")

    def handle(self, *args, campaign, file, **options):
        camp = campaign_get(slug=campaign)
        data = self.read_utf8(file)
        result = golden_import(campaign=camp, data=data)
        self.stdout.write(f"imported {result['scores']} golden scores for {result['items']} items of {campaign}")
