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
        "annotation.DatasetVersion",
        on_delete=models.PROTECT,
        related_name="training_runs",
        help_text="The MOS snapshot this run trained or evaluated on.",
    )
    scorer = models.ForeignKey(
        "Scorer",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="evaluations",
        help_text="The registered scorer an evaluation run scores with (empty for training runs).",
    )
    config = models.JSONField(
        default=dict,
        blank=True,
        help_text="Scorer config (training.scorer.config.ScorerConfig fields) as given; validated before saving. "
        "data_dir/output_dir are set by the platform.",
    )
    base_model = models.CharField(max_length=500, blank=True, help_text="Local path or hub id of the base model.")
    status = models.CharField(max_length=9, choices=Status.choices, default=Status.QUEUED)
    message = models.CharField(
        max_length=500, blank=True, help_text="What the run is doing now (exporting, training, ...)."
    )
    progress_step = models.PositiveIntegerField(
        default=0, help_text="Optimizer steps done (train) or batches scored (evaluate)."
    )
    progress_total = models.PositiveIntegerField(default=0)
    loss_curve = models.JSONField(
        default=list,
        blank=True,
        help_text=f"[{{step, loss, lr}}], thinned to at most {LOSS_CURVE_MAX_POINTS} points on long runs.",
    )
    metrics = models.JSONField(default=dict, blank=True, help_text="report.json of the last evaluation.")
    output_dir = models.CharField(max_length=500, blank=True, help_text="The run's folder under TRAINING_ROOT.")
    predictions_path = models.CharField(max_length=500, blank=True, help_text="predictions.csv of the last evaluation.")
    error = models.TextField(blank=True)
    cancel_requested = models.BooleanField(
        default=False, help_text="The worker stops at the next step and keeps a checkpoint."
    )
    attempts = models.PositiveSmallIntegerField(default=0, help_text="Times a worker started (or resumed) this run.")
    heartbeat_at = models.DateTimeField(
        null=True,
        blank=True,
        help_text="Last sign of life from the worker; a re-delivered task takes over a run only when this is stale.",
    )
    celery_task_id = models.CharField(max_length=64, blank=True)
    export_job = models.ForeignKey(
        "annotation.Job",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text="The sft export job, when the exporter ran as a platform Job.",
    )
    export_dir = models.CharField(max_length=500, blank=True, help_text="The sft export the run read.")
    export_split = models.CharField(
        max_length=100,
        blank=True,
        help_text="The export's split for this run ('given': the items' own split); empty: TRAINING_EXPORT_SPLIT.",
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
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
    path = models.CharField(
        max_length=500, help_text="Model directory (loadable by training.scorer.predict.score_items)."
    )
    base_model = models.CharField(max_length=500, blank=True, help_text="Base model it was fine-tuned from.")
    training_run = models.ForeignKey(
        TrainingRun,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="scorers",
        help_text="The run that produced it (empty for registered folders).",
    )
    metrics = models.JSONField(default=dict, blank=True, help_text="Evaluation report at registration (report.json).")
    is_active = models.BooleanField(default=True, help_text="Inactive scorers are hidden from the scoring API.")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
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
    dataset_version = models.ForeignKey(
        "annotation.DatasetVersion", on_delete=models.PROTECT, related_name="benchmarks"
    )
    split = models.CharField(
        max_length=10,
        default="test",
        help_text="The export's split scored by every method ('given' exports keep the imported split).",
    )
    methods = models.JSONField(default=list, help_text="[{name, kind, path[, head][, scorer]}]: one table row each.")
    bootstrap = models.PositiveIntegerField(
        default=1000, help_text="Bootstrap resamples behind the intervals and tests."
    )
    status = models.CharField(max_length=9, choices=Status.choices, default=Status.QUEUED)
    message = models.CharField(max_length=500, blank=True)
    progress_step = models.PositiveIntegerField(default=0, help_text="Methods done.")
    progress_total = models.PositiveIntegerField(default=0)
    report = models.JSONField(default=dict, blank=True, help_text="benchmark.json (tables, intervals, tests).")
    output_dir = models.CharField(max_length=500, blank=True, help_text="Folder with benchmark.{json,md,html}.")
    error = models.TextField(blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
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


# ------------------------------------------------------------------------------------ the closed loop


class ItemPrediction(models.Model):
    """A scorer's prediction for one item on one dimension (1-5) with its five level probabilities:
    new items are screened by the campaign's screening scorer before they cost ratings."""

    item = models.ForeignKey("annotation.Item", on_delete=models.CASCADE, related_name="predictions")
    scorer = models.ForeignKey(Scorer, on_delete=models.CASCADE, related_name="predictions")
    dimension = models.CharField(max_length=10)
    prediction = models.FloatField()
    probs = models.JSONField(default=dict, help_text="{Excellent, Good, Fair, Poor, Bad}: the level probabilities.")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["item", "scorer", "dimension"], name="prediction_unique")]
        indexes = [models.Index(fields=["scorer", "dimension", "prediction"], name="prediction_sorted")]


class ScreeningPolicy(models.Model):
    """A campaign's screening: which registered scorer pre-scores new items (imports, generation), and when
    an item is held for an admin's quick check before it costs ratings."""

    campaign = models.OneToOneField("annotation.Campaign", on_delete=models.CASCADE, related_name="screening")
    scorer = models.ForeignKey(Scorer, on_delete=models.PROTECT, related_name="screenings")
    hold_probability = models.FloatField(
        default=0.9,
        help_text="Hold an item when the scorer gives P(Bad) on visual quality at least this (0-1; 1: never).",
    )
    is_active = models.BooleanField(default=True)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"screening of {self.campaign_id} by {self.scorer}"


class ItemCheck(models.Model):
    """An item the screening scorer held, and what an admin made of it."""

    class Status(models.TextChoices):
        HELD = "held", "Held for a check"
        RELEASED = "released", "Released to the pool"
        BROKEN = "broken", "Confirmed broken (never rated)"

    item = models.OneToOneField("annotation.Item", on_delete=models.CASCADE, related_name="screening_check")
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.HELD)
    reason = models.CharField(max_length=300, help_text="Why it was held (the scorer's figures).")
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [models.Index(fields=["status", "created_at"], name="itemcheck_status")]


class RetrainPolicy(models.Model):
    """Retrain a campaign's scorer when its approved data grows by a set fraction; promote the new scorer
    only if it beats the current one on the same test split by a margin."""

    campaign = models.OneToOneField("annotation.Campaign", on_delete=models.CASCADE, related_name="retrain_policy")
    is_active = models.BooleanField(default=True)
    config = models.JSONField(default=dict, blank=True, help_text="Scorer config for the training runs (as a run's).")
    growth = models.FloatField(default=0.2, help_text="Retrain when approved ratings grow by this fraction.")
    margin = models.FloatField(default=0.01, help_text="Promote when the new scorer's mean SRCC is better by this.")
    min_ratings = models.PositiveIntegerField(default=100, help_text="No training below this many approved ratings.")
    baseline_ratings = models.PositiveIntegerField(default=0, help_text="Approved ratings when the last round started.")
    current_scorer = models.ForeignKey(
        Scorer,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text="The promoted scorer (also the screening scorer when screening is on).",
    )
    updated_at = models.DateTimeField(auto_now=True)


class RetrainRound(models.Model):
    """One round of the retraining policy: a version, a training run, two evaluations on its test split, a
    decision. Advanced by training.retrain_tick on the workers; every step is a visible training run."""

    class Status(models.TextChoices):
        TRAINING = "training", "Training the candidate"
        EVALUATING = "evaluating", "Evaluating the candidate and the current scorer"
        PROMOTED = "promoted", "Promoted"
        KEPT = "kept", "Current scorer kept"
        FAILED = "failed", "Failed"

    FINISHED = (Status.PROMOTED, Status.KEPT, Status.FAILED)

    policy = models.ForeignKey(RetrainPolicy, on_delete=models.CASCADE, related_name="rounds")
    dataset_version = models.ForeignKey("annotation.DatasetVersion", on_delete=models.PROTECT, related_name="+")
    ratings = models.PositiveIntegerField(help_text="Approved ratings when the round started.")
    train_run = models.ForeignKey(TrainingRun, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    candidate_eval = models.ForeignKey(TrainingRun, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    current_eval = models.ForeignKey(TrainingRun, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    candidate = models.ForeignKey(Scorer, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.TRAINING)
    report = models.JSONField(
        default=dict, blank=True, help_text="SRCC of both scorers with intervals, the difference."
    )
    message = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
