from core.management.base import ServiceCommand

from ...services.campaigns import campaign_get
from ...services.golden import golden_set_create


class Command(ServiceCommand):
    help = (
        "Make (or grow) a campaign's golden sample: a random sample stratified by generator and media type, "
        "reproducible with --seed. Refuses to shrink a set that already has golden scores."
    )

    def add_arguments(self, parser):
        parser.add_argument("--campaign", required=True, help="Campaign slug.")
        size = parser.add_mutually_exclusive_group(required=True)
        size.add_argument("--fraction", type=float, help="Share of the campaign's items, e.g. 0.05 (the paper's 5%%).")
        size.add_argument("--size", type=int, help="Number of golden items.")
        parser.add_argument("--seed", type=int, help="Random seed (printed when not given, to reproduce the draw).")

    def handle(self, *args, campaign, fraction, size, seed, **options):
        result = golden_set_create(campaign=campaign_get(slug=campaign), fraction=fraction, size=size, seed=seed)
        width = max([len("generator")] + [len(s["generator"]) for s in result["strata"]])
        self.stdout.write(f"{'generator'.ljust(width)}  media  items  golden")
        for s in result["strata"]:
            grew = f" (+{s['golden'] - s['golden_before']})" if s["golden"] != s["golden_before"] else ""
            self.stdout.write(
                f"{s['generator'].ljust(width)}  {s['media_type']:<5}  {s['items']:>5}  {s['golden']:>6}{grew}"
            )
        self.stdout.write(
            f"golden set of {campaign}: {result['size']} items ({result['added']} added), seed {result['seed']}"
        )
