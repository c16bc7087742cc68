"""The built-in taxonomy (the paper's Table 7) as data: loaded from generation/taxonomies/*.yaml.

Uses the historical models, with the file reader of the taxonomy service (pure parsing, no model access)."""

from django.db import migrations


def load(apps, schema_editor):
    from generation.services.taxonomy import BUILTIN_DIR, taxonomy_read

    Taxonomy = apps.get_model("generation", "Taxonomy")
    TaxonomyEntry = apps.get_model("generation", "TaxonomyEntry")
    for path in sorted(BUILTIN_DIR.glob("*.yaml")):
        data = taxonomy_read(path=path)
        taxonomy, _ = Taxonomy.objects.update_or_create(
            slug=data.slug, defaults={"name": data.name, "description": data.description, "is_builtin": True}
        )
        TaxonomyEntry.objects.filter(taxonomy=taxonomy).delete()
        TaxonomyEntry.objects.bulk_create([TaxonomyEntry(taxonomy=taxonomy, **entry) for entry in data.entries])


class Migration(migrations.Migration):
    dependencies = [("generation", "0001_initial")]
    operations = [migrations.RunPython(load, migrations.RunPython.noop)]
