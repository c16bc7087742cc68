"""import_mos_table --campaign SLUG --file FILE --layout {generic,agiqa3k,t2vqa-db,tifa160,genai-bench}
[--media-root DIR] [--map col=field ...] [--scale LO,HI] [--generator NAME]"""

from core.errors import InvalidInput
from core.management.base import ServiceCommand

from ...services.campaigns import campaign_get
from ...services.public_mos import DEFAULT_SCALE, FIELDS, LAYOUTS, mos_table_import, parse_mapping


class Command(ServiceCommand):
    help = (
        "Import a public MOS table (AGIQA-3K data.csv, T2VQA-DB, TIFA160 with DSG ratings, GenAI-Bench, or a "
        "generic CSV) as items plus a dataset version with source=imported, for cross-dataset evaluation. "
        "All or nothing."
    )

    def add_arguments(self, parser):
        parser.add_argument("--campaign", required=True, help="Campaign slug.")
        parser.add_argument("--file", required=True, help="The CSV table.")
        parser.add_argument("--layout", required=True, choices=LAYOUTS)
        parser.add_argument("--media-root", default=None, help="Folder holding the media (default: the CSV's folder).")
        parser.add_argument(
            "--map",
            action="append",
            default=[],
            metavar="COLUMN=FIELD",
            help=f"Column mapping (repeat). Fields: {', '.join(FIELDS)}.",
        )
        parser.add_argument(
            "--scale",
            default=None,
            help=f"The table's MOS scale lo,hi, mapped onto 1-5 (default agiqa3k "
            f"{DEFAULT_SCALE['agiqa3k']}, generic {DEFAULT_SCALE['generic']}).",
        )
        parser.add_argument("--generator", default=None, help="Generator name for every row (when no column says).")

    def handle(self, *args, campaign, file, layout, media_root, map, scale, generator, **options):
        camp = campaign_get(slug=campaign)
        scale_t = None
        if scale:
            try:
                lo, hi = (float(x) for x in scale.split(","))
            except ValueError:
                raise InvalidInput(f"--scale must be lo,hi (got {scale!r})") from None
            scale_t = (lo, hi)
        version = mos_table_import(
            campaign=camp,
            file=file,
            layout=layout,
            media_root=media_root,
            mapping=parse_mapping(map),
            scale=scale_t,
            generator=generator,
        )
        c = version.counts
        self.stdout.write(
            f"version {version.number} of {camp.slug} (imported): {c['items']} items, "
            f"{c['items_created']} new; scale {version.params['scale']} -> 1-5"
        )
