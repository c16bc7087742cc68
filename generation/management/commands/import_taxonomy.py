"""import_taxonomy --campaign SLUG --file FILE [--slug SLUG]"""

from annotation.services.campaigns import campaign_get
from core.management.base import ServiceCommand
from generation.services.taxonomy import taxonomy_import, taxonomy_read


class Command(ServiceCommand):
    help = (
        "A campaign's own prompt taxonomy from YAML ({slug, name, entries: [{category, group, subcategory, keywords, "
        "target}]}) or CSV (category, subcategory[, group, keywords, target])."
    )

    def add_arguments(self, parser):
        parser.add_argument("--campaign", required=True)
        parser.add_argument("--file", required=True)
        parser.add_argument("--slug", help="Taxonomy slug (default: the file's, or its name).")

    def handle(self, *args, **opts):
        campaign = campaign_get(slug=opts["campaign"])
        taxonomy = taxonomy_import(campaign=campaign, data=taxonomy_read(path=opts["file"], slug=opts["slug"]))
        categories = taxonomy.entries.values("category").distinct().count()
        self.stdout.write(
            f"taxonomy {taxonomy.slug!r}: {taxonomy.entries.count()} subcategories in {categories} categories"
        )
