"""Generation jobs: create one output row per (prompt, generator, seed) still missing, enqueue the batches on the
`generation` queue, cancel.

Idempotent per output: GenerationOutput is unique on (campaign, prompt, generator, seed), so a job made again
with the same selection creates rows only for what is missing, takes over outputs that failed or were left
pending by an earlier job, and leaves made ones alone (the job's `existing` count says how many). Outputs a
live worker holds right now stay with their job.
"""

from __future__ import annotations

import logging
import math
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Count, Q
from django.utils import timezone

from annotation.models import Campaign, Generator
from core import jobs as state
from core.errors import Conflict, InvalidInput, NotFound
from core.jobs import active_jobs_check
from core.queue import task_named

from ..models import GenerationJob, GenerationOutput, GeneratorSpec, PromptSet
from .prompts import prompt_set_entries

log = logging.getLogger(__name__)
Status = GenerationJob.Status
OStatus = GenerationOutput.Status
MAX_SEEDS = 1000
CHUNK = 5000
BATCH_TASK = "generation.generate_batch"


def _generators(campaign: Campaign, names: list[str]) -> list[tuple[Generator, GeneratorSpec]]:
    if not names:
        raise InvalidInput("choose at least one generator")
    out = []
    for name in dict.fromkeys(n.strip() for n in names):
        spec = GeneratorSpec.objects.select_related("generator").filter(generator__name=name).first()
        if spec is None:
            raise InvalidInput(
                f"generator {name!r} is not registered (register_generator {name} --campaign "
                f"{campaign.slug} --tiny image|video or --diffusers PATH_OR_ID)"
            )
        if spec.kind != GeneratorSpec.Kind.DIFFUSERS:
            raise InvalidInput(f"generator {name!r} is external: its content arrives by import, it cannot be run")
        if not spec.campaigns.filter(pk=campaign.pk).exists():
            raise InvalidInput(
                f"generator {name!r} is not registered for campaign {campaign.slug!r} "
                f"(register_generator {name} --campaign {campaign.slug} ...)"
            )
        out.append((spec.generator, spec))
    return out


@transaction.atomic
def generation_job_create(
    *,
    campaign: Campaign,
    generator_names: list[str],
    prompt_set: PromptSet | None = None,
    seeds: int = 1,
    seed_base: int = 0,
    category: str = "",
    subcategory: str = "",
    tag: str = "",
    long_only: bool = False,
    review: bool = False,
    created_by=None,
) -> GenerationJob:
    """A job over the selection; creates its missing outputs. InvalidInput (nothing written) for an empty
    selection, unknown or external generators, or seeds out of range."""
    if not 1 <= int(seeds) <= MAX_SEEDS:
        raise InvalidInput(f"seeds per prompt must be between 1 and {MAX_SEEDS}, got {seeds}")
    if created_by is not None:
        active_jobs_check(user=created_by)  # 429 past QEVAL_MAX_ACTIVE_JOBS_PER_USER
    if int(seed_base) < 0:
        raise InvalidInput("the first seed must not be negative")
    if prompt_set is not None and prompt_set.campaign_id != campaign.pk:
        raise InvalidInput(f"prompt set {prompt_set.slug!r} belongs to another campaign")
    generators = _generators(campaign, generator_names)
    sets = [prompt_set] if prompt_set else list(PromptSet.objects.filter(campaign=campaign))
    if not sets:
        raise InvalidInput(
            f"campaign {campaign.slug!r} has no prompt sets (import_prompts --campaign {campaign.slug} --file ...)"
        )
    prompt_ids: list[int] = []
    for one in sets:
        prompt_ids.extend(
            prompt_set_entries(
                prompt_set=one, category=category, subcategory=subcategory, tag=tag, long_only=long_only
            ).values_list("prompt_id", flat=True)
        )
    prompt_ids = sorted(set(prompt_ids))
    if not prompt_ids:
        described = ", ".join(
            f"{k}={v!r}" for k, v in (("category", category), ("subcategory", subcategory), ("tag", tag)) if v
        )
        raise InvalidInput(
            "the selection has no prompts"
            + (f" ({described}{', long only' if long_only else ''})" if described or long_only else "")
        )
    seed_list = list(range(int(seed_base), int(seed_base) + int(seeds)))
    job = GenerationJob.objects.create(
        campaign=campaign,
        prompt_set=prompt_set,
        seeds_per_prompt=seeds,
        seed_base=seed_base,
        review=review,
        filters={
            k: v
            for k, v in (("category", category), ("subcategory", subcategory), ("tag", tag), ("long_only", long_only))
            if v
        },
        created_by=created_by,
        message="queued",
    )
    job.generators.set([g for g, _ in generators])
    # A running output whose claim is older than GENERATION_LEASE_S has lost its worker.
    stale = timezone.now() - timedelta(seconds=settings.GENERATION_LEASE_S)
    gen_ids = [g.pk for g, _ in generators]
    for start in range(0, len(prompt_ids), CHUNK):
        chunk = prompt_ids[start : start + CHUNK]
        # Take over what earlier jobs left missing: failed, never started, or held by a worker that died.
        GenerationOutput.objects.filter(
            campaign=campaign, generator_id__in=gen_ids, seed__in=seed_list, prompt_id__in=chunk
        ).filter(
            Q(status__in=[OStatus.FAILED, OStatus.PENDING]) | Q(status=OStatus.RUNNING, claimed_at__lt=stale)
        ).update(job=job, status=OStatus.PENDING, error="", worker="", claimed_at=None)
        GenerationOutput.objects.bulk_create(
            [
                GenerationOutput(job=job, campaign=campaign, prompt_id=p, generator_id=g, seed=s)
                for g in gen_ids
                for p in chunk
                for s in seed_list
            ],
            batch_size=2000,
            ignore_conflicts=True,
        )
    job.planned = len(prompt_ids) * len(seed_list) * len(gen_ids)
    job.to_make = GenerationOutput.objects.filter(job=job).count()
    job.existing = job.planned - job.to_make
    fields = ["planned", "to_make", "existing", "message"]
    if job.to_make == 0:
        fields += state.transition(job, Status.SUCCEEDED)
        job.message = f"nothing to make: all {job.planned} outputs exist already"
    else:
        job.message = f"{job.to_make} to make" + (
            f"; {job.existing} of {job.planned} exist already" if job.existing else ""
        )
    job.save(update_fields=fields)
    return job


def batches_needed(*, job: GenerationJob) -> dict[int, int]:
    """generator id -> number of batch tasks that cover its pending outputs."""
    sizes = {
        spec.generator_id: int((spec.spec or {}).get("batch_size") or 1)
        for spec in GeneratorSpec.objects.filter(generator__in=job.generators.all())
    }
    pending = (
        GenerationOutput.objects.filter(job=job, status=OStatus.PENDING)
        .values("generator_id")
        .annotate(n=Count("id"))
        .values_list("generator_id", "n")
    )
    return {g: math.ceil(n / max(1, sizes.get(g, 1))) for g, n in pending}


def generation_job_enqueue(*, job: GenerationJob) -> GenerationJob:
    """Send one task per batch to the `generation` queue once the transaction commits. Many workers share a
    job: each task claims whichever pending outputs of its generator are next. A broker that is down fails
    the job with that reason instead of leaving it queued forever."""
    job_id = job.pk
    if job.is_finished:
        return job

    def _send() -> None:
        fresh = GenerationJob.objects.get(pk=job_id)
        try:
            for generator_id, n in batches_needed(job=fresh).items():
                for _ in range(n):
                    task_named(BATCH_TASK).apply_async(args=(job_id, generator_id))
        except Exception as exc:  # noqa: BLE001 - kombu raises many kinds when the broker is away
            if settings.CELERY_TASK_ALWAYS_EAGER:
                raise
            state.transition_where(
                GenerationJob,
                job_id,
                Status.FAILED,
                sources=[Status.QUEUED],
                message="could not be queued",
                error=f"could not send the job to the generation queue: {exc}",
            )
            log.exception("generation job %s could not be queued", job_id)

    transaction.on_commit(_send)
    return job


@transaction.atomic
def generation_job_cancel(*, job_id) -> GenerationJob:
    """Stop handing out batches: queued jobs stop at once, running ones when their batches in flight end.
    Outputs not made stay pending; a new job over the same selection makes them. Conflict when finished."""
    try:
        job = GenerationJob.objects.select_for_update().get(pk=int(job_id))
    except (GenerationJob.DoesNotExist, ValueError, TypeError):
        raise NotFound(f"generation job {job_id} does not exist") from None
    if job.is_finished:
        raise Conflict(f"generation job {job.pk} has already finished ({job.status})")
    job.cancel_requested = True
    job.message = "cancel requested; stopping after the batches in flight"
    job.save(update_fields=["cancel_requested", "message"])
    from .running import job_finalize

    job_finalize(job_id=job.pk)
    job.refresh_from_db()
    return job


def generation_job_get(*, job_id, campaign: Campaign | None = None) -> GenerationJob:
    try:
        job = GenerationJob.objects.select_related("campaign", "prompt_set").get(pk=int(job_id))
    except (GenerationJob.DoesNotExist, ValueError, TypeError):
        raise NotFound(f"generation job {job_id} does not exist") from None
    if campaign is not None and job.campaign_id != campaign.pk:
        raise NotFound(f"generation job {job_id} does not exist in campaign {campaign.slug!r}")
    return job


def job_params(job: GenerationJob) -> dict[str, Any]:
    return {
        "prompt_set": job.prompt_set.slug if job.prompt_set else None,
        "seeds": job.seeds_per_prompt,
        "seed_base": job.seed_base,
        "review": job.review,
        **job.filters,
    }
