# Item without the single-column indexes of its prompt and generator foreign keys: every lease rewrites the
# item row into every index of the table (the pool indexes hold active_count, so no update is HOT), and
# nothing reads items by prompt or generator alone on a path that matters (see Item). The counter UPDATE
# of a 50-item lease: 6.0 -> 4.8 ms mean, WAL 225 -> 194 kB (docs/assign.md).

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("annotation", "0011_itemscore_no_item_index"),
    ]

    operations = [
        migrations.AlterField(
            model_name="item",
            name="generator",
            field=models.ForeignKey(
                db_index=False,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="items",
                to="annotation.generator",
            ),
        ),
        migrations.AlterField(
            model_name="item",
            name="prompt",
            field=models.ForeignKey(
                db_index=False,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="items",
                to="annotation.prompt",
            ),
        ),
    ]
