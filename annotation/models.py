"""Data and constraints of the annotation workflow. No workflow logic here: see services/.

Sized for 100K items and 1M ratings: every hot-path filter has an index, counters that assignment
needs are denormalised onto Item (kept right by the services under row locks), and uniqueness rules
that must never break (one rating per annotator and item, one open batch per annotator and campaign)
are database constraints.
"""

from __future__ import annotations

import secrets

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import F, Q

DIMENSIONS = ("quality", "alignment")
SCORE_MIN, SCORE_MAX = 1, 5
MAX_DURATION_MS = 24 * 3600 * 1000  # the longest time on one rating the API accepts (a day)


class MediaType(models.TextChoices):
    IMAGE = "image", "Image"
    VIDEO = "video", "Video"


UNIT_INTERVAL = [MinValueValidator(0.0), MaxValueValidator(1.0)]


def shuffle_key() -> int:
    """A random tie-break for items equally close to their target (assignment picks among them at
    random, so regular items do not come out in id order)."""
    return secrets.randbelow(2**31)


class Campaign(models.Model):
    class Measure(models.TextChoices):
        BOTH = "srcc_and_plcc", "SRCC and PLCC both"
        SRCC = "srcc", "SRCC only"
        PLCC = "plcc", "PLCC only"

    class Method(models.TextChoices):
        CALIBRATED = "calibrated", "Calibrated: all of the annotator's golden evidence, against the campaign's raters"
        FIXED = "fixed", "Fixed: the batch's own correlations against two thresholds (the paper's protocol)"

    class Overlap(models.TextChoices):
        FIXED = "fixed", "Fixed: ratings_per_image / ratings_per_video ratings per item (the paper's protocol)"
        ADAPTIVE = (
            "adaptive",
            "Adaptive: more ratings until the MOS interval is narrow enough, between a minimum and a maximum",
        )

    class Selection(models.TextChoices):
        FULLEST = "fullest", "Fullest first: items closest to their target"
        VALUE = "value", "By expected value: interval width, scorer-human disagreement, coverage"

    slug = models.SlugField(unique=True, help_text="Short name used in URLs and on the command line.")
    name = models.CharField(max_length=200)
    instructions = models.TextField(blank=True, help_text="Shown to annotators before they start (Markdown-free text).")
    anchors = models.JSONField(
        default=dict,
        blank=True,
        help_text='Example anchors per level, e.g. {"quality": {"1": "heavy artefacts", ...}, "alignment": {...}}.',
    )
    rate_quality = models.BooleanField(default=True, help_text="Annotators rate visual quality (1-5).")
    rate_alignment = models.BooleanField(default=True, help_text="Annotators rate text alignment (1-5).")
    ratings_per_image = models.PositiveSmallIntegerField(default=6, help_text="Target ratings per image (paper: ~6).")
    ratings_per_video = models.PositiveSmallIntegerField(default=3, help_text="Target ratings per video (paper: ~3).")
    batch_size = models.PositiveSmallIntegerField(default=40, help_text="Regular items leased per batch.")
    golden_per_batch = models.PositiveSmallIntegerField(
        default=10, help_text="Hidden golden items added to each batch."
    )
    golden_min_per_batch = models.PositiveSmallIntegerField(
        default=4,
        help_text="Calibrated method: golden items per batch for annotators with a long good record (never 0).",
    )
    golden_max_per_batch = models.PositiveSmallIntegerField(
        default=20, help_text="Calibrated method: golden items per batch until an annotator's evidence is conclusive."
    )
    lease_minutes = models.PositiveSmallIntegerField(default=30, help_text="How long a leased task stays reserved.")
    require_full_video = models.BooleanField(
        default=False, help_text="A video must play to its end before it can be rated."
    )
    expert_ratings_per_golden = models.PositiveSmallIntegerField(
        default=3, help_text="Expert ratings each golden item needs."
    )
    # Sample-and-Scrutinize. The paper publishes neither the measure nor the threshold (docs/scrutiny.md).
    scrutiny_method = models.CharField(
        max_length=10,
        choices=Method.choices,
        default=Method.CALIBRATED,
        help_text="How batches are decided: 'calibrated' (default) or 'fixed' (the paper's literal protocol).",
    )
    scrutiny_measure = models.CharField(
        max_length=16,
        choices=Measure.choices,
        default=Measure.BOTH,
        help_text="Fixed method: which correlations are compared.",
    )
    min_golden = models.PositiveSmallIntegerField(
        default=8,
        help_text="Golden items per dimension needed for an automatic decision (fixed: in the batch; "
        "calibrated: so far).",
    )
    approve_threshold = models.FloatField(
        default=0.7,
        validators=UNIT_INTERVAL,
        help_text="Fixed method: approve when every correlation is at or above this (0-1).",
    )
    reject_threshold = models.FloatField(
        default=0.4,
        validators=UNIT_INTERVAL,
        help_text="Fixed method: reject when any correlation is below this (0-1).",
    )
    approve_probability = models.FloatField(
        default=0.95,
        validators=UNIT_INTERVAL,
        help_text="Calibrated method: approve when the probability that the annotator is genuine is at least this.",
    )
    reject_probability = models.FloatField(
        default=0.05,
        validators=UNIT_INTERVAL,
        help_text="Calibrated method: reject when the probability that the annotator is genuine is at most this.",
    )
    # Coverage: extra ratings for items whose MOS is still uncertain (by hand, or adaptively).
    ci_width_threshold = models.FloatField(
        default=0.5, help_text="Items whose 95% CI half-width exceeds this are 'uncertain'."
    )
    max_ratings_per_item = models.PositiveSmallIntegerField(
        default=12, help_text="Cap when extra ratings are given to uncertain items."
    )
    overlap_policy = models.CharField(
        max_length=8,
        choices=Overlap.choices,
        default=Overlap.FIXED,
        help_text="How many ratings an item gets: 'fixed' (the paper's) or 'adaptive' (services/overlap.py).",
    )
    min_ratings_per_image = models.PositiveSmallIntegerField(
        default=3, help_text="Adaptive overlap: ratings every image gets."
    )
    min_ratings_per_video = models.PositiveSmallIntegerField(
        default=2, help_text="Adaptive overlap: ratings every video gets."
    )
    overlap_ci_target = models.FloatField(
        default=1.6,
        help_text="Adaptive overlap: an item stops once its MOS 95% half-width (raters weighed by their "
        "golden evidence) is at most this on every dimension.",
    )
    selection_policy = models.CharField(
        max_length=8,
        choices=Selection.choices,
        default=Selection.FULLEST,
        help_text="Which open items a batch takes first within each generator (services/selection.py).",
    )
    is_active = models.BooleanField(default=True, help_text="Inactive campaigns hand out no batches.")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["slug"]
        constraints = [
            models.CheckConstraint(
                condition=Q(rate_quality=True) | Q(rate_alignment=True), name="campaign_rates_something"
            ),
            models.CheckConstraint(
                condition=Q(approve_threshold__gte=F("reject_threshold")), name="campaign_thresholds_ordered"
            ),
            models.CheckConstraint(
                condition=Q(approve_probability__gt=F("reject_probability")), name="campaign_probabilities_ordered"
            ),
            models.CheckConstraint(condition=Q(batch_size__gte=1), name="campaign_batch_size_positive"),
            models.CheckConstraint(condition=Q(lease_minutes__gte=1), name="campaign_lease_positive"),
        ]

    def __str__(self) -> str:
        return self.slug

    @property
    def dimensions(self) -> list[str]:
        return [d for d, on in (("quality", self.rate_quality), ("alignment", self.rate_alignment)) if on]

    def target_for(self, media_type: str) -> int:
        """Ratings a new item starts with: the fixed target, or under adaptive overlap the minimum (more
        are added while its MOS interval is too wide: services/overlap.py)."""
        if self.overlap_policy == Campaign.Overlap.ADAPTIVE:
            return self.min_ratings_per_image if media_type == MediaType.IMAGE else self.min_ratings_per_video
        return self.ratings_per_image if media_type == MediaType.IMAGE else self.ratings_per_video


class Generator(models.Model):
    """The text-to-vision model that made an item (e.g. sdxl, FLUX.1-dev, a text-to-video model)."""

    name = models.CharField(max_length=120, unique=True)
    media_type = models.CharField(max_length=5, choices=MediaType.choices)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Prompt(models.Model):
    """A text prompt. Shared by every item generated from it (splits never separate a prompt)."""

    text = models.TextField()
    text_sha256 = models.CharField(
        max_length=64, unique=True, help_text="sha256 of the text: unique lookup for long prompts."
    )
    category = models.CharField(
        max_length=120, blank=True, help_text="Paper Table 7 top level, e.g. 'Entity Generation'."
    )
    subcategory = models.CharField(
        max_length=120, blank=True, help_text="Paper Table 7 sub-level, e.g. 'spatial relationships'."
    )
    word_count = models.PositiveIntegerField(default=0, help_text="Prompts over 25 words are 'long' (V2S).")

    class Meta:
        indexes = [models.Index(fields=["category"])]

    def __str__(self) -> str:
        return self.text[:60]


class Item(models.Model):
    """One generated image or video to be rated."""

    # No index of its own (db_index=False): item_campaign_generator and the unique (campaign, item_id) begin
    # with campaign. Every lease rewrites an item row into every index of the
    # table (the pool indexes hold active_count, so no update is HOT): each redundant index costs there.
    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="items", db_index=False)
    item_id = models.CharField(max_length=200, help_text="External id, unique within the campaign.")
    media = models.FileField(max_length=300, help_text="Content-addressed path in media storage.")
    thumbnail = models.FileField(max_length=300, blank=True, help_text="Thumbnail (image) or poster frame (video).")
    media_type = models.CharField(max_length=5, choices=MediaType.choices)
    width = models.PositiveIntegerField()
    height = models.PositiveIntegerField()
    duration = models.FloatField(null=True, blank=True, help_text="Seconds (video only).")
    fps = models.FloatField(null=True, blank=True, help_text="Frames per second (video only).")
    # Indexed in Meta (item_sha256): db_index=True would add a second, varchar_pattern_ops index for LIKE
    # queries that nothing runs, maintained at every lease.
    sha256 = models.CharField(max_length=64)
    # No single-column indexes on prompt and generator (db_index=False), for the same reason: nothing reads
    # items by prompt or generator alone on a path that matters (per campaign, item_campaign_generator and the
    # pool indexes serve; joins to prompts go by the prompt's key); a lease wrote an entry into both.
    prompt = models.ForeignKey(Prompt, on_delete=models.PROTECT, related_name="items", db_index=False)
    generator = models.ForeignKey(Generator, on_delete=models.PROTECT, related_name="items", db_index=False)
    is_golden = models.BooleanField(
        default=False, help_text="In the campaign's golden sample (never shown to annotators)."
    )
    split = models.CharField(
        max_length=5,
        blank=True,
        default="",
        choices=[("train", "train"), ("val", "val"), ("test", "test")],
        help_text="A given train/val/test split (imported with the items or a public MOS table); empty when none. "
        "Exports with split 'given' keep exactly this split.",
    )
    # Assignment counters, maintained by the services under row locks:
    target = models.PositiveSmallIntegerField(
        help_text="Ratings wanted (campaign target for the media type, raised for extra ratings)."
    )
    active_count = models.PositiveIntegerField(default=0, help_text="Approved + pending ratings + live leases.")
    shuffle_key = models.PositiveIntegerField(default=shuffle_key, help_text="Random order among equally full items.")
    # Selection by expected value (services/selection.py): priority = priority_bonus + priority_scale x
    # gain(active_count), kept up to date wherever active_count changes; 1.0 for an unrated item.
    priority = models.FloatField(default=1.0, help_text="Expected value of one more rating (selection_policy 'value').")
    priority_scale = models.FloatField(default=1.0, help_text="The item's rating spread relative to the campaign's.")
    priority_bonus = models.FloatField(default=0.0, help_text="Scorer-human disagreement and coverage of its category.")
    is_held = models.BooleanField(
        default=False,
        help_text="Kept out of the pool: the screening scorer is sure it is broken, waiting for an admin.",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["campaign", "item_id"], name="item_unique_external_id"),
            models.CheckConstraint(condition=Q(width__gte=1) & Q(height__gte=1), name="item_positive_size"),
        ]
        indexes = [
            # Assignment per generator (spreads batches evenly across generators): regular items only,
            # since golden items are leased through a batch's golden slots (services/assignment.py).
            # Fullest first, then a random key: never id order, which would tell regular items from
            # golden ones by their ids.
            models.Index(
                fields=["campaign", "generator", "-active_count", "shuffle_key"],
                condition=Q(active_count__lt=F("target"), is_golden=False, is_held=False),
                name="item_open_pool_fullest",
            ),
            # The same pool by expected value (selection_policy "value").
            models.Index(
                fields=["campaign", "generator", "-priority", "shuffle_key"],
                condition=Q(active_count__lt=F("target"), is_golden=False, is_held=False),
                name="item_open_pool_value",
            ),
            models.Index(fields=["campaign"], condition=Q(is_held=True), name="item_held"),
            # The golden sample alone, in id order: the golden scan of a batch request (services/assignment.py)
            # reads only golden entries, and a lease of a regular item writes nothing here.
            models.Index(fields=["campaign", "id"], condition=Q(is_golden=True), name="item_golden"),
            models.Index(fields=["campaign", "generator"], name="item_campaign_generator"),
            models.Index(fields=["sha256"], name="item_sha256"),
        ]

    def __str__(self) -> str:
        return f"{self.campaign_id}:{self.item_id}"


class AnnotatorProfile(models.Model):
    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="annotator_profile")
    is_paused = models.BooleanField(default=False, help_text="A paused annotator gets no new batches.")
    paused_reason = models.CharField(max_length=300, blank=True)
    is_vendor = models.BooleanField(default=False, help_text="Created by import_ratings; cannot log in.")

    def __str__(self) -> str:
        return str(self.user)


class GoldenScore(models.Model):
    """Expert score of a golden item on one dimension: the mean of its expert ratings, or imported."""

    class Source(models.TextChoices):
        EXPERTS = "experts", "Mean of expert ratings"
        IMPORTED = "imported", "Imported"

    item = models.ForeignKey(Item, on_delete=models.CASCADE, related_name="golden_scores")
    dimension = models.CharField(max_length=10, choices=[(d, d) for d in DIMENSIONS])
    score = models.FloatField()
    n_experts = models.PositiveSmallIntegerField(default=0)
    source = models.CharField(max_length=8, choices=Source.choices)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["item", "dimension"], name="golden_unique_item_dimension"),
            models.CheckConstraint(
                condition=Q(score__gte=SCORE_MIN) & Q(score__lte=SCORE_MAX), name="golden_score_range"
            ),
        ]


class Batch(models.Model):
    class Kind(models.TextChoices):
        ANNOTATION = "annotation", "Annotation"
        EXPERT = "expert", "Expert (golden scores)"
        IMPORTED = "imported", "Imported vendor work"

    class Status(models.TextChoices):
        OPEN = "open", "Open"
        CLOSED = "closed", "Closed"

    class Decision(models.TextChoices):
        PENDING = "pending", "Pending scrutiny"
        APPROVED = "approved", "Approved"
        REJECTED = "rejected", "Rejected"
        NEEDS_REVIEW = "needs_review", "Needs review"

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="batches")
    annotator = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="batches")
    kind = models.CharField(max_length=10, choices=Kind.choices, default=Kind.ANNOTATION)
    status = models.CharField(max_length=6, choices=Status.choices, default=Status.OPEN)
    decision = models.CharField(max_length=12, choices=Decision.choices, default=Decision.PENDING)
    decision_source = models.CharField(max_length=5, blank=True, help_text="'auto' (scrutiny) or 'admin'.")
    decision_reason = models.TextField(blank=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    scrutiny = models.JSONField(default=dict, blank=True, help_text="Per dimension: n_golden, srcc, plcc, bias.")
    auto_decision = models.CharField(
        max_length=12, blank=True, help_text="What scrutiny decided, kept when an admin overrides."
    )
    auto_reason = models.TextField(blank=True)
    public_reason = models.TextField(
        blank=True, help_text="The decision in plain words for the annotator (no golden information)."
    )
    risk = models.FloatField(
        null=True, blank=True, help_text="How likely the batch is careless work (0-1): orders the review queue."
    )
    scrutinized_at = models.DateTimeField(null=True, blank=True)
    external_ref = models.CharField(max_length=200, blank=True, help_text="Vendor batch label (import_ratings).")
    created_at = models.DateTimeField(auto_now_add=True)
    closed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name_plural = "batches"
        constraints = [
            models.UniqueConstraint(
                fields=["annotator", "campaign"], condition=Q(status="open"), name="batch_one_open_per_annotator"
            ),
        ]
        indexes = [
            models.Index(fields=["campaign", "decision", "status"], name="batch_campaign_decision"),
            models.Index(fields=["decision", "-risk"], name="batch_decision_risk"),
            models.Index(fields=["annotator", "created_at"], name="batch_annotator_created"),
        ]

    def __str__(self) -> str:
        return f"batch {self.pk}"


class Task(models.Model):
    """An item leased to one annotator inside a batch. `is_golden` is never serialised to annotators."""

    class Status(models.TextChoices):
        LEASED = "leased", "Leased"
        RATED = "rated", "Rated"
        EXPIRED = "expired", "Lease expired"
        RETURNED = "returned", "Returned (batch finished early)"
        SKIPPED = "skipped", "Skipped or flagged by the annotator"

    # No single-column foreign key indexes: task_batch_position, task_item_status and the unique (annotator,
    # item) begin with batch, item and annotator, and a batch request writes 50 tasks into every index.
    batch = models.ForeignKey(Batch, on_delete=models.CASCADE, related_name="tasks", db_index=False)
    item = models.ForeignKey(Item, on_delete=models.CASCADE, related_name="tasks", db_index=False)
    annotator = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="tasks", db_index=False
    )
    position = models.PositiveSmallIntegerField(default=0)
    is_golden = models.BooleanField(default=False)
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.LEASED)
    lease_expires_at = models.DateTimeField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            # An annotator never gets an item twice, rated or leased.
            models.UniqueConstraint(fields=["annotator", "item"], name="task_unique_annotator_item"),
        ]
        indexes = [
            models.Index(fields=["lease_expires_at"], condition=Q(status="leased"), name="task_live_leases"),
            models.Index(fields=["batch", "position"], name="task_batch_position"),
            models.Index(fields=["item", "status"], name="task_item_status"),
        ]


class Rating(models.Model):
    """One annotator's scores for one item. Counts towards MOS only while its batch is approved."""

    # No single-column foreign key indexes: rating_item, rating_batch and the unique (annotator, item) cover
    # them, and every rating is written into every index of the table.
    annotator = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="ratings", db_index=False
    )
    item = models.ForeignKey(Item, on_delete=models.CASCADE, related_name="ratings", db_index=False)
    batch = models.ForeignKey(Batch, on_delete=models.CASCADE, related_name="ratings", db_index=False)
    task = models.OneToOneField(Task, null=True, blank=True, on_delete=models.SET_NULL, related_name="rating")
    quality = models.PositiveSmallIntegerField(null=True, blank=True)
    alignment = models.PositiveSmallIntegerField(null=True, blank=True)
    duration_ms = models.PositiveIntegerField(null=True, blank=True, help_text="Time the annotator took.")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["annotator", "item"], name="rating_unique_annotator_item"),
            models.CheckConstraint(
                condition=Q(quality__isnull=True) | Q(quality__gte=SCORE_MIN, quality__lte=SCORE_MAX),
                name="rating_quality_range",
            ),
            models.CheckConstraint(
                condition=Q(alignment__isnull=True) | Q(alignment__gte=SCORE_MIN, alignment__lte=SCORE_MAX),
                name="rating_alignment_range",
            ),
            models.CheckConstraint(
                condition=Q(quality__isnull=False) | Q(alignment__isnull=False), name="rating_has_a_score"
            ),
        ]
        indexes = [
            models.Index(fields=["item"], name="rating_item"),
            models.Index(fields=["batch"], name="rating_batch"),
        ]


class AnnotatorEvidence(models.Model):
    """An annotator's golden evidence in a campaign, all batches so far: kept up to date by scrutiny.
    The campaign's reference (the spread of its raters) and the golden allocation read these rows."""

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="annotator_evidence")
    annotator = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    figures = models.JSONField(
        default=dict, blank=True, help_text="Per dimension: n_golden, srcc and its interval, plcc, bias."
    )
    habits = models.JSONField(
        default=dict, blank=True, help_text="Modal share per dimension, same-score share, median ms."
    )
    n_golden = models.PositiveIntegerField(default=0, help_text="Golden ratings so far (most on any dimension).")
    p_genuine = models.FloatField(null=True, blank=True, help_text="Probability the annotator is genuine (calibrated).")
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["campaign", "annotator"], name="evidence_unique_annotator")]


class AuditEvent(models.Model):
    """One decision or account change, never overwritten: a batch decided (by scrutiny or an admin), an
    annotator paused or resumed. Who, when, before -> after, why, and the figures at that moment."""

    class Kind(models.TextChoices):
        BATCH_DECISION = "batch_decision", "Batch decision"
        PAUSED = "annotator_paused", "Annotator paused"
        RESUMED = "annotator_resumed", "Annotator resumed"

    kind = models.CharField(max_length=20, choices=Kind.choices)
    campaign = models.ForeignKey(Campaign, null=True, blank=True, on_delete=models.CASCADE, related_name="audit_events")
    batch = models.ForeignKey(Batch, null=True, blank=True, on_delete=models.CASCADE, related_name="audit_events")
    subject = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="audit_events",
        help_text="The annotator the event is about.",
    )
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text="The admin who acted; empty for automatic decisions.",
    )
    source = models.CharField(max_length=5, help_text="'auto' (scrutiny) or 'admin'.")
    before = models.CharField(max_length=20, blank=True)
    after = models.CharField(max_length=20, blank=True)
    reason = models.TextField(blank=True)
    figures = models.JSONField(default=dict, blank=True, help_text="The scrutiny figures when it happened.")
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["created_at", "pk"]
        indexes = [
            models.Index(fields=["batch", "created_at"], name="audit_batch"),
            models.Index(fields=["campaign", "created_at"], name="audit_campaign"),
            models.Index(fields=["subject", "created_at"], name="audit_subject"),
        ]


class ItemFlag(models.Model):
    """An annotator's report that an item cannot be rated as it is (broken media, unsafe content, a missing
    prompt). The item leaves that annotator's pool at once (their task is skipped); the admins' flagged-items
    queue decides whether the item is fine (dismissed) or gets no more ratings (retired)."""

    class Reason(models.TextChoices):
        BROKEN = "broken", "Broken: does not load, corrupt or blank"
        UNSAFE = "unsafe", "Unsafe or offensive content"
        PROMPT_MISSING = "prompt_missing", "Prompt missing or unreadable"
        OTHER = "other", "Something else"

    class Status(models.TextChoices):
        OPEN = "open", "Open"
        DISMISSED = "dismissed", "Dismissed: the item is fine"
        RETIRED = "retired", "Retired: no more ratings"

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="flags")
    item = models.ForeignKey(Item, on_delete=models.CASCADE, related_name="flags")
    annotator = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    task = models.OneToOneField(Task, null=True, blank=True, on_delete=models.SET_NULL, related_name="flag")
    reason = models.CharField(max_length=16, choices=Reason.choices)
    note = models.CharField(max_length=500, blank=True, help_text="The annotator's own words (needed for 'other').")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.OPEN)
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    resolved_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["annotator", "item"], name="flag_unique_annotator_item")]
        indexes = [models.Index(fields=["campaign", "status", "-created_at"], name="flag_campaign_status")]

    def __str__(self) -> str:
        return f"flag {self.pk} ({self.reason}) on {self.item_id}"


class ReasonTemplate(models.Model):
    """A reusable reason for admins' decisions on the desk (e.g. "ratings ignore the prompt")."""

    text = models.CharField(max_length=300, unique=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["text"]

    def __str__(self) -> str:
        return self.text


class DatasetVersion(models.Model):
    """An immutable MOS snapshot: exports and training runs name exactly what they used."""

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="versions")
    number = models.PositiveIntegerField()
    method = models.CharField(max_length=10)
    params = models.JSONField(default=dict, blank=True)
    counts = models.JSONField(default=dict, blank=True, help_text="Items, ratings, annotators per dimension.")
    checksum = models.CharField(max_length=64, help_text="sha256 over the sorted (item, dimension, mos, n) rows.")
    source = models.CharField(
        max_length=20, default="aggregation", help_text="'aggregation' or 'imported' (public MOS table)."
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["campaign", "-number"]
        constraints = [models.UniqueConstraint(fields=["campaign", "number"], name="version_unique_number")]

    def __str__(self) -> str:
        return f"{self.campaign.slug} v{self.number}"


class ItemScore(models.Model):
    """MOS of one item on one dimension in one dataset version.

    No database foreign keys: PostgreSQL checks one row at a time, and for the 200K rows of a 100K-item
    version those checks took longer than writing the rows. The version is created in the same
    transaction as its scores, and the write holds every scored item FOR KEY SHARE after checking it
    exists (services/mos.py `_items_hold`); deletes cascade through the ORM (on_delete=CASCADE).

    No index on the item either (migration 0011): every aggregation paid for it (0.25-0.3 s of the 0.8-1.1 s
    its 200K rows took to write) and only deleting an item used it, which the platform never does (the
    admin's delete, or a campaign's: one hash join over the table, or a scan for a single item). Reads go
    by version: score_unique serves them."""

    # No index of its own: score_unique (version, item, dimension) starts with the version.
    version = models.ForeignKey(
        DatasetVersion, on_delete=models.CASCADE, related_name="scores", db_constraint=False, db_index=False
    )
    item = models.ForeignKey(Item, on_delete=models.CASCADE, related_name="scores", db_constraint=False, db_index=False)
    dimension = models.CharField(max_length=10, choices=[(d, d) for d in DIMENSIONS])
    mos = models.FloatField()
    std = models.FloatField(null=True, blank=True)
    n = models.PositiveIntegerField()
    ci95 = models.FloatField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["version", "item", "dimension"], name="score_unique")]


class AnnotatorStat(models.Model):
    """Per-annotator bias and inconsistency from one aggregation (shown to admins)."""

    version = models.ForeignKey(DatasetVersion, on_delete=models.CASCADE, related_name="annotator_stats")
    annotator = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    dimension = models.CharField(max_length=10, choices=[(d, d) for d in DIMENSIONS])
    bias = models.FloatField(null=True)
    inconsistency = models.FloatField(null=True)
    n = models.PositiveIntegerField()
    rejected = models.BooleanField(default=False, help_text="Screened out (BT.500).")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["version", "annotator", "dimension"], name="annotatorstat_unique")
        ]


class Job(models.Model):
    """A long-running platform job (import, scrutiny, aggregation, export). Celery runs it; the UI and
    the command line read progress from this row."""

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        SUCCEEDED = "succeeded", "Succeeded"
        FAILED = "failed", "Failed"

    kind = models.CharField(max_length=40, db_index=True)
    campaign = models.ForeignKey(Campaign, null=True, blank=True, on_delete=models.CASCADE, related_name="jobs")
    params = models.JSONField(default=dict, blank=True)
    status = models.CharField(max_length=9, choices=Status.choices, default=Status.QUEUED)
    progress = models.PositiveIntegerField(default=0)
    total = models.PositiveIntegerField(default=0)
    message = models.CharField(max_length=500, blank=True)
    result = models.JSONField(default=dict, blank=True)
    error = models.TextField(blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    # Fault tolerance (services/job_sweep.py): the worker running the job beats; a stale beat means it died.
    heartbeat_at = models.DateTimeField(
        null=True, blank=True, help_text="Last sign of life from the worker running it."
    )
    attempts = models.PositiveSmallIntegerField(default=0, help_text="Times a worker started (or took over) this job.")

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            # The stale-job sweep and the per-user cap read only live jobs.
            models.Index(
                fields=["status", "heartbeat_at"], condition=Q(status__in=["queued", "running"]), name="job_live"
            ),
            models.Index(
                fields=["created_by", "status"], condition=Q(status__in=["queued", "running"]), name="job_live_by_user"
            ),
        ]

    def __str__(self) -> str:
        return f"job {self.pk} ({self.kind}, {self.status})"


from .models_outbox import OutboxMessage  # noqa: E402,F401  (the outbox lives in its own module)
