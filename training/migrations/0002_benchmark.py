# Benchmark: several methods on a dataset version, the paper's tables.

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("annotation", "0001_initial"),
        ("training", "0001_initial"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name="Benchmark",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                (
                    "split",
                    models.CharField(
                        default="test",
                        help_text="The export's split scored by every method ('given' exports keep the imported split).",
                        max_length=10,
                    ),
                ),
                (
                    "methods",
                    models.JSONField(
                        default=list, help_text="[{name, kind, path[, head][, scorer]}]: one table row each."
                    ),
                ),
                (
                    "bootstrap",
                    models.PositiveIntegerField(
                        default=1000, help_text="Bootstrap resamples behind the intervals and tests."
                    ),
                ),
                (
                    "status",
                    models.CharField(
                        choices=[
                            ("queued", "Queued"),
                            ("running", "Running"),
                            ("succeeded", "Succeeded"),
                            ("failed", "Failed"),
                        ],
                        default="queued",
                        max_length=9,
                    ),
                ),
                ("message", models.CharField(blank=True, max_length=500)),
                ("progress_step", models.PositiveIntegerField(default=0, help_text="Methods done.")),
                ("progress_total", models.PositiveIntegerField(default=0)),
                (
                    "report",
                    models.JSONField(blank=True, default=dict, help_text="benchmark.json (tables, intervals, tests)."),
                ),
                (
                    "output_dir",
                    models.CharField(blank=True, help_text="Folder with benchmark.{json,md,html}.", max_length=500),
                ),
                ("error", models.TextField(blank=True)),
                ("created_at", models.DateTimeField(auto_now_add=True)),
                ("started_at", models.DateTimeField(blank=True, null=True)),
                ("finished_at", models.DateTimeField(blank=True, null=True)),
                (
                    "campaign",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE, related_name="benchmarks", to="annotation.campaign"
                    ),
                ),
                (
                    "created_by",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        related_name="+",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
                (
                    "dataset_version",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="benchmarks",
                        to="annotation.datasetversion",
                    ),
                ),
            ],
            options={
                "ordering": ["-created_at", "-id"],
            },
        ),
    ]
