"""Training and evaluation runs of the scorer, and registered checkpoints. Data and constraints only:
the workflow lives in training/services/.

Sized for a long life: runs are few (hundreds), but a 7B fine-tune logs thousands of steps, so the loss
curve kept on the row is bounded (services thin it to at most LOSS_CURVE_MAX_POINTS points).
"""
from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q

LOSS_CURVE_MAX_POINTS = 500


class TrainingRun(models.Model):
    class Kind(models.TextChoices):
        TRAIN = "train", "Train"
        EVALUATE = "evaluate", "Evaluate"

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        SUCCEEDED = "succeeded", "Succeeded"
        FAILED = "failed", "Failed"
        CANCELLED = "cancelled", "Cancelled"

    FINISHED = (Status.SUCCEEDED, Status.FAILED, Status.CANCELLED)

    kind = models.CharField(max_length=8, choices=Kind.choices)
    campaign = models.ForeignKey("annotation.Campaign", on_delete=models.CASCADE, related_name="training_runs")
    dataset_version = models.ForeignKey(
        "annotation.DatasetVersion", on_delete=models.PROTECT, related_name="training_runs",
        help_text="The MOS snapshot this run trained or evaluated on.",
    )
    scorer = models.ForeignKey(
        "Scorer", null=True, blank=True, on_delete=models.PROTECT, related_name="evaluations",
        help_text="The registered scorer an evaluation run scores with (empty for training runs).",
    )
    config = models.JSONField(
        default=dict, blank=True,
        help_text="Scorer config (training.scorer.config.ScorerConfig fields) as given; validated before saving. "
                  "data_dir/output_dir are set by the platform.",
    )
    base_model = models.CharField(max_length=500, blank=True, help_text="Local path or hub id of the base model.")
    status = models.CharField(max_length=9, choices=Status.choices, default=Status.QUEUED)
    message = models.CharField(max_length=500, blank=True, help_text="What the run is doing now (exporting, training, ...).")
    progress_step = models.PositiveIntegerField(default=0, help_text="Optimizer steps done (train) or batches scored (evaluate).")
    progress_total = models.PositiveIntegerField(default=0)
    loss_curve = models.JSONField(
        default=list, blank=True,
        help_text=f"[{{step, loss, lr}}], thinned to at most {LOSS_CURVE_MAX_POINTS} points on long runs.",
    )
    metrics = models.JSONField(default=dict, blank=True, help_text="report.json of the last evaluation.")
    output_dir = models.CharField(max_length=500, blank=True, help_text="The run's folder under TRAINING_ROOT.")
    predictions_path = models.CharField(max_length=500, blank=True, help_text="predictions.csv of the last evaluation.")
    error = models.TextField(blank=True)
    cancel_requested = models.BooleanField(default=False, help_text="The worker stops at the next step and keeps a checkpoint.")
    attempts = models.PositiveSmallIntegerField(default=0, help_text="Times a worker started (or resumed) this run.")
    heartbeat_at = models.DateTimeField(
        null=True, blank=True,
        help_text="Last sign of life from the worker; a re-delivered task takes over a run only when this is stale.",
    )
    celery_task_id = models.CharField(max_length=64, blank=True)
    export_job = models.ForeignKey(
        "annotation.Job", null=True, blank=True, on_delete=models.SET_NULL, related_name="+",
        help_text="The sft export job, when the exporter ran as a platform Job.",
    )
    export_dir = models.CharField(max_length=500, blank=True, help_text="The sft export the run read.")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(kind="train") | Q(scorer__isnull=False), name="trainingrun_evaluate_has_scorer"
            ),
        ]
        indexes = [
            models.Index(fields=["-created_at", "-id"], name="trainingrun_recent"),
            models.Index(fields=["status"], name="trainingrun_status"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} run {self.pk} ({self.status})"

    @property
    def is_finished(self) -> bool:
        return self.status in self.FINISHED


class Scorer(models.Model):
    """A checkpoint the platform can score with: trained by a run, or registered from a folder."""

    name = models.CharField(max_length=120, unique=True)
    path = models.CharField(max_length=500, help_text="Model directory (loadable by training.scorer.predict.score_items).")
    base_model = models.CharField(max_length=500, blank=True, help_text="Base model it was fine-tuned from.")
    training_run = models.ForeignKey(
        TrainingRun, null=True, blank=True, on_delete=models.SET_NULL, related_name="scorers",
        help_text="The run that produced it (empty for registered folders).",
    )
    metrics = models.JSONField(default=dict, blank=True, help_text="Evaluation report at registration (report.json).")
    is_active = models.BooleanField(default=True, help_text="Inactive scorers are hidden from the scoring API.")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return self.name


class Benchmark(models.Model):
    """Several methods (registered scorers, baselines, prediction files) on one dataset version's test split,
    written as the paper's tables (training.scorer.benchmark). Runs on the training queue."""

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        SUCCEEDED = "succeeded", "Succeeded"
        FAILED = "failed", "Failed"

    FINISHED = (Status.SUCCEEDED, Status.FAILED)

    campaign = models.ForeignKey("annotation.Campaign", on_delete=models.CASCADE, related_name="benchmarks")
    dataset_version = models.ForeignKey("annotation.DatasetVersion", on_delete=models.PROTECT,
                                        related_name="benchmarks")
    split = models.CharField(max_length=10, default="test",
                             help_text="The export's split scored by every method ('given' exports keep the imported split).")
    methods = models.JSONField(default=list, help_text="[{name, kind, path[, head][, scorer]}]: one table row each.")
    bootstrap = models.PositiveIntegerField(default=1000, help_text="Bootstrap resamples behind the intervals and tests.")
    status = models.CharField(max_length=9, choices=Status.choices, default=Status.QUEUED)
    message = models.CharField(max_length=500, blank=True)
    progress_step = models.PositiveIntegerField(default=0, help_text="Methods done.")
    progress_total = models.PositiveIntegerField(default=0)
    report = models.JSONField(default=dict, blank=True, help_text="benchmark.json (tables, intervals, tests).")
    output_dir = models.CharField(max_length=500, blank=True, help_text="Folder with benchmark.{json,md,html}.")
    error = models.TextField(blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"benchmark {self.pk} ({self.status})"

    @property
    def is_finished(self) -> bool:
        return self.status in self.FINISHED
