"""Prompt sets, the prompt taxonomy, runnable generators and generation jobs. Data and constraints only: the
workflow lives in generation/services/.

Reuses the annotation app's rows rather than copying them: a prompt is an `annotation.Prompt` (text,
category, subcategory, word_count), a generator an `annotation.Generator` (name, media type), and a finished
output an `annotation.Item`. This app adds what those lack: sets of prompts with tags, how a prompt's
category was found, how to run a generator, and one row per (prompt, generator, seed) output.

Sized for 100K prompts and outputs: the work queue of a job is a partial index on pending outputs, progress
is one GROUP BY on an index, and the uniqueness of (campaign, prompt, generator, seed) is what makes a
re-run make only what is missing.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q

LONG_PROMPT_WORDS = 25  # the paper's V2S cut: prompts of more than 25 words are "long"


class Taxonomy(models.Model):
    """A prompt taxonomy: the paper's Table 7 is built in (slug `qeval-table7`); a campaign may bring its own."""

    slug = models.SlugField(max_length=80, unique=True)
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    campaign = models.ForeignKey(
        "annotation.Campaign",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="taxonomies",
        help_text="The campaign that brought it; empty for built-in ones.",
    )
    is_builtin = models.BooleanField(default=False, help_text="Shipped with the platform (generation/taxonomies/).")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["slug"]
        verbose_name_plural = "taxonomies"

    def __str__(self) -> str:
        return self.slug


class TaxonomyEntry(models.Model):
    """One leaf of a taxonomy: category (top level) > group (middle level, may be empty) > subcategory."""

    taxonomy = models.ForeignKey(Taxonomy, on_delete=models.CASCADE, related_name="entries")
    category = models.CharField(max_length=120, help_text="Top level, e.g. 'Entity Generation' (Prompt.category).")
    group = models.CharField(max_length=120, blank=True, help_text="Middle level, e.g. 'simple' or 'basic attributes'.")
    subcategory = models.CharField(max_length=120, help_text="Leaf, e.g. 'human' or 'spatial' (Prompt.subcategory).")
    position = models.PositiveIntegerField(default=0, help_text="Order in tables (the taxonomy file's order).")
    keywords = models.JSONField(default=list, blank=True, help_text="Words the rule classifier looks for (lower case).")
    target = models.PositiveIntegerField(
        null=True, blank=True, help_text="Prompts wanted in this leaf (coverage shows gaps)."
    )

    class Meta:
        ordering = ["taxonomy", "position", "id"]
        constraints = [
            models.UniqueConstraint(fields=["taxonomy", "category", "subcategory"], name="taxonomyentry_unique_leaf")
        ]

    def __str__(self) -> str:
        return f"{self.category} / {self.subcategory}"


class PromptSet(models.Model):
    """A named set of prompts in a campaign, labelled with one taxonomy."""

    campaign = models.ForeignKey("annotation.Campaign", on_delete=models.CASCADE, related_name="prompt_sets")
    slug = models.SlugField(max_length=80, help_text="Unique within the campaign.")
    name = models.CharField(max_length=200)
    taxonomy = models.ForeignKey(Taxonomy, on_delete=models.PROTECT, related_name="prompt_sets")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["campaign", "slug"]
        constraints = [models.UniqueConstraint(fields=["campaign", "slug"], name="promptset_unique_slug")]

    def __str__(self) -> str:
        return f"{self.campaign_id}:{self.slug}"


class PromptSetEntry(models.Model):
    """A prompt in a set. The set holds each prompt once, by exact text and by normalised text."""

    prompt_set = models.ForeignKey(PromptSet, on_delete=models.CASCADE, related_name="entries")
    prompt = models.ForeignKey("annotation.Prompt", on_delete=models.PROTECT, related_name="set_entries")
    normalized_sha256 = models.CharField(
        max_length=64, help_text="sha256 of the normalised text (case, spaces, punctuation)."
    )
    tags = models.JSONField(default=list, blank=True)
    source_line = models.PositiveIntegerField(default=0, help_text="Line of the imported file it came from.")
    added_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["prompt_set", "prompt"], name="promptsetentry_unique_prompt"),
            models.UniqueConstraint(
                fields=["prompt_set", "normalized_sha256"], name="promptsetentry_unique_normalized"
            ),
        ]
        indexes = [models.Index(fields=["prompt_set", "id"], name="promptsetentry_set_order")]


class PromptClassification(models.Model):
    """How a prompt's category/subcategory (on annotation.Prompt) were found."""

    class Method(models.TextChoices):
        GIVEN = "given", "Given in the imported file"
        RULES = "rules", "Rule set (keywords)"
        LLM = "llm", "Language model"
        NONE = "none", "Not classified (no rule matched)"

    prompt = models.OneToOneField(
        "annotation.Prompt", on_delete=models.CASCADE, primary_key=True, related_name="classification"
    )
    method = models.CharField(max_length=8, choices=Method.choices)
    model = models.CharField(
        max_length=300, blank=True, help_text="The LLM (name@endpoint or path), or the rule set's version."
    )
    taxonomy = models.ForeignKey(Taxonomy, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    detail = models.JSONField(
        default=dict, blank=True, help_text="Matched keywords, the LLM's answer, a fallback's reason."
    )
    updated_at = models.DateTimeField(auto_now=True)


class GeneratorSpec(models.Model):
    """How to run a generator: a diffusers pipeline with its exact parameters, or external (content is imported)."""

    class Kind(models.TextChoices):
        DIFFUSERS = "diffusers", "diffusers pipeline"
        EXTERNAL = "external", "External (content arrives by import)"

    generator = models.OneToOneField(
        "annotation.Generator", on_delete=models.CASCADE, primary_key=True, related_name="spec"
    )
    kind = models.CharField(max_length=9, choices=Kind.choices)
    spec = models.JSONField(
        default=dict,
        blank=True,
        help_text="generation.pipelines.spec.RunSpec fields, defaults resolved (empty for external).",
    )
    campaigns = models.ManyToManyField(
        "annotation.Campaign", related_name="generator_specs", blank=True, help_text="Campaigns it was registered for."
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"{self.generator_id} ({self.kind})"


class GenerationJob(models.Model):
    """Generate one output per (prompt, generator, seed) of a prompt set (or a filter of it) into the campaign."""

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        SUCCEEDED = "succeeded", "Succeeded"
        FAILED = "failed", "Finished with failures"
        CANCELLED = "cancelled", "Cancelled"

    FINISHED = (Status.SUCCEEDED, Status.FAILED, Status.CANCELLED)

    campaign = models.ForeignKey("annotation.Campaign", on_delete=models.CASCADE, related_name="generation_jobs")
    prompt_set = models.ForeignKey(
        PromptSet,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="jobs",
        help_text="Empty: every prompt of the campaign's prompt sets.",
    )
    generators = models.ManyToManyField("annotation.Generator", related_name="generation_jobs")
    filters = models.JSONField(default=dict, blank=True, help_text="{category, subcategory, tag, long_only} as given.")
    seeds_per_prompt = models.PositiveSmallIntegerField(default=1)
    seed_base = models.PositiveIntegerField(
        default=0, help_text="Seeds are seed_base .. seed_base + seeds_per_prompt - 1."
    )
    review = models.BooleanField(default=False, help_text="Outputs wait for approval before they become items.")
    status = models.CharField(max_length=9, choices=Status.choices, default=Status.QUEUED)
    message = models.CharField(max_length=500, blank=True)
    planned = models.PositiveIntegerField(default=0, help_text="Outputs the selection asks for.")
    existing = models.PositiveIntegerField(default=0, help_text="Of those, already made by earlier jobs (skipped).")
    to_make = models.PositiveIntegerField(default=0, help_text="Outputs this job makes.")
    error = models.TextField(blank=True)
    cancel_requested = models.BooleanField(default=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["campaign", "-created_at"], name="genjob_campaign_recent")]

    def __str__(self) -> str:
        return f"generation job {self.pk} ({self.status})"

    @property
    def is_finished(self) -> bool:
        return self.status in self.FINISHED


class GenerationOutput(models.Model):
    """One (prompt, generator, seed) output of a campaign: the unit of work, of idempotency and of provenance."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        RUNNING = "running", "Being generated"
        REVIEW = "review", "Waiting for approval"
        DONE = "done", "In the campaign (item)"
        REJECTED = "rejected", "Rejected at review"
        FAILED = "failed", "Failed"

    MADE = (Status.REVIEW, Status.DONE, Status.REJECTED)

    job = models.ForeignKey(
        GenerationJob,
        on_delete=models.CASCADE,
        related_name="outputs",
        help_text="The job that makes (or made) it; a re-run takes over outputs still missing.",
    )
    campaign = models.ForeignKey("annotation.Campaign", on_delete=models.CASCADE, related_name="generation_outputs")
    prompt = models.ForeignKey("annotation.Prompt", on_delete=models.PROTECT, related_name="generation_outputs")
    generator = models.ForeignKey("annotation.Generator", on_delete=models.PROTECT, related_name="generation_outputs")
    seed = models.PositiveIntegerField()
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.PENDING)
    item = models.OneToOneField(
        "annotation.Item", null=True, blank=True, on_delete=models.SET_NULL, related_name="generation"
    )
    media = models.CharField(max_length=300, blank=True, help_text="Content-addressed name in media storage.")
    thumbnail = models.CharField(max_length=300, blank=True)
    media_type = models.CharField(max_length=5, blank=True)
    sha256 = models.CharField(max_length=64, blank=True)
    width = models.PositiveIntegerField(null=True, blank=True)
    height = models.PositiveIntegerField(null=True, blank=True)
    duration = models.FloatField(null=True, blank=True)
    fps = models.FloatField(null=True, blank=True)
    provenance = models.JSONField(
        default=dict, blank=True, help_text="Model, revision, every parameter, seed, times, worker, library versions."
    )
    error = models.TextField(blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    worker = models.CharField(max_length=200, blank=True, help_text="The worker that holds or made it (host:pid).")
    claimed_at = models.DateTimeField(
        null=True, blank=True, help_text="A running output whose claim is older than the lease is taken over."
    )
    finished_at = models.DateTimeField(null=True, blank=True)
    gen_seconds = models.FloatField(
        null=True, blank=True, help_text="This output's share of its batch's pipeline time."
    )
    reviewed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["campaign", "prompt", "generator", "seed"], name="genoutput_unique_unit"),
        ]
        indexes = [
            # The work queue: a worker claims the next pending outputs of one generator of a job.
            models.Index(
                fields=["job", "generator", "id"],
                condition=Q(status__in=["pending", "running"]),
                name="genoutput_open_work",
            ),
            models.Index(fields=["job", "generator", "status"], name="genoutput_job_progress"),
            models.Index(fields=["campaign", "status"], name="genoutput_campaign_status"),
            models.Index(fields=["sha256"], name="genoutput_sha256"),
        ]

    def __str__(self) -> str:
        return f"output {self.pk} ({self.generator_id}, prompt {self.prompt_id}, seed {self.seed})"
