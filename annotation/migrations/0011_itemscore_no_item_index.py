# ItemScore without its item index: each aggregation maintained it for 200K rows (0.25-0.3 s of the
# version write) and only deleting an item, which the platform never does, used it: see ItemScore.

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("annotation", "0010_overlap_target_default"),
    ]

    operations = [
        migrations.AlterField(
            model_name="itemscore",
            name="item",
            field=models.ForeignKey(
                db_constraint=False,
                db_index=False,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="scores",
                to="annotation.item",
            ),
        ),
    ]
