from django.db import migrations, models


class Migration(migrations.Migration):
    """Item.split: a given train/val/test split (imported), kept exactly by exports with split 'given'."""

    dependencies = [
        ("annotation", "0002_assign_open_pool_generator"),
    ]

    operations = [
        migrations.AddField(
            model_name="item",
            name="split",
            field=models.CharField(
                blank=True,
                choices=[("train", "train"), ("val", "val"), ("test", "test")],
                default="",
                help_text="A given train/val/test split (imported with the items or a public MOS table); empty when "
                "none. Exports with split 'given' keep exactly this split.",
                max_length=5,
            ),
        ),
    ]
