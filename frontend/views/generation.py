"""The researcher's generation pages: a campaign's prompt sets (import, classify), generators (register), generation
jobs (start, list) and coverage drawn as heat maps with the gaps marked; a job's page with progress, throughput
and failures per generator (polling the REST API) and the outputs waiting for approval.

Same services as the API and the commands; researchers and admins only.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from django.conf import settings
from django.contrib import messages
from django.db import transaction
from django.http import Http404
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from annotation.selectors.desk import campaign_list
from annotation.services.campaigns import campaign_get
from annotation.services.jobs import job_create, job_enqueue
from core.errors import InvalidInput, NotFound, ServiceError
from core.roles import ADMIN, RESEARCHER
from generation import selectors
from generation.models import GenerationOutput
from generation.pipelines.spec import SpecError, parse_params
from generation.services.classify import prompts_classify_enqueue
from generation.services.coverage import coverage_compute
from generation.services.generators import generator_register, generator_specs
from generation.services.jobs import (
    generation_job_cancel,
    generation_job_create,
    generation_job_enqueue,
    generation_job_get,
)
from generation.services.prompts import prompt_set_get
from generation.services.review import outputs_review
from training.services.configs import llm_endpoint_check

from ..access import role_required

REVIEW_SHOWN = 60
researcher_required = role_required(RESEARCHER, ADMIN, message="Generation pages are for researchers and admins.")


def _campaign(slug: str):
    """The campaign with this slug, or the 404 page naming it."""
    try:
        return campaign_get(slug=slug)
    except NotFound as exc:
        raise Http404(exc.message) from None


@researcher_required
def index(request):
    return render(request, "frontend/generation/index.html", {"campaigns": campaign_list()})


def _heat(value: int, top: int) -> int:
    """0-100: how dark a coverage cell is drawn."""
    return 0 if not value or not top else max(12, round(100 * value / top))


def _coverage_context(campaign) -> dict:
    cov = coverage_compute(campaign=campaign, by="subcategory")
    names = [g["name"] for g in cov["generators"]]
    top_items = max([v for r in cov["items"]["rows"] for v in r["by_generator"].values()] + [0])
    top_prompts = max([r["prompts"] for r in cov["prompts"]["rows"]] + [0])
    item_rows = [
        {**r, "cells": [(g, r["by_generator"][g], _heat(r["by_generator"][g], top_items)) for g in names]}
        for r in cov["items"]["rows"]
    ]
    prompt_rows = [
        {
            **r,
            "heat": _heat(r["prompts"], top_prompts),
            "long_pct": round(100 * r["long"] / r["prompts"]) if r["prompts"] else None,
        }
        for r in cov["prompts"]["rows"]
    ]
    return {"coverage": cov, "item_rows": item_rows, "prompt_rows": prompt_rows, "generator_names": names}


@researcher_required
def campaign_page(request, slug: str):
    campaign = _campaign(slug)
    context = {
        "campaign": campaign,
        "prompt_sets": selectors.prompt_set_list(campaign=campaign),
        "generators": list(generator_specs(campaign=campaign)),
        "jobs": selectors.job_list(campaign=campaign)[:50],
        "taxonomies": selectors.taxonomies_for(campaign=campaign),
        "llm_endpoints": settings.QEVAL_LLM_ENDPOINTS,  # the only ones the workers call: a choice, not a URL typed
        **_coverage_context(campaign),
    }
    return render(request, "frontend/generation/campaign.html", context)


def _back(slug: str, anchor: str):
    response = redirect("generation-campaign", slug=slug)
    response["Location"] += f"#{anchor}"
    return response


@researcher_required
@require_POST
def prompts_import_view(request, slug: str):
    campaign = _campaign(slug)
    upload = request.FILES.get("file")
    try:
        if upload is None:
            raise InvalidInput("choose a .csv or .jsonl file of prompts")
        suffix = Path(upload.name).suffix.lower()
        if suffix not in (".csv", ".jsonl", ".ndjson"):
            raise InvalidInput(f"{upload.name}: a prompt file must be .csv or .jsonl")
        folder = Path(settings.GENERATION_ROOT) / "uploads"
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(
            dir=folder, suffix=suffix, delete=False, prefix=Path(upload.name).stem[:40] + "-"
        ) as fh:
            for chunk in upload.chunks():
                fh.write(chunk)
        params = {
            "campaign": campaign.slug,
            "prompt_set": request.POST.get("name") or Path(upload.name).stem,
            "taxonomy": request.POST.get("taxonomy") or None,
            "path": fh.name,
            "classify": "rules" if request.POST.get("classify") else None,
            "remove_after": True,
            "label": upload.name,
        }
        job = job_create(kind="prompts_import", params=params, campaign=campaign, created_by=request.user)
        try:
            job_enqueue(job=job)
        except ServiceError:
            pass  # eager Celery: the job page shows the one-line reason
        return redirect("job-detail", job_id=job.pk)
    except ServiceError as exc:
        messages.error(request, exc.message)
        return _back(slug, "prompts")


@researcher_required
@require_POST
def prompts_classify_view(request, slug: str, set_slug: str):
    campaign = _campaign(slug)
    try:
        prompt_set = prompt_set_get(campaign=campaign, slug=set_slug)
        method = request.POST.get("method") or "rules"
        model, endpoint = request.POST.get("model", "").strip(), request.POST.get("endpoint", "").strip()
        if method == "llm" and not (model or endpoint):
            raise InvalidInput("an LLM classification needs a model or an endpoint")
        if endpoint:
            endpoint = llm_endpoint_check(endpoint)
        job = job_create(
            kind="prompts_classify",
            campaign=campaign,
            created_by=request.user,
            params={
                "campaign": campaign.slug,
                "prompt_set": prompt_set.slug,
                "method": method,
                "model": model,
                "endpoint": endpoint,
                "overwrite": bool(request.POST.get("overwrite")),
            },
        )
        try:
            prompts_classify_enqueue(job=job)
        except ServiceError:
            pass
        return redirect("job-detail", job_id=job.pk)
    except ServiceError as exc:
        messages.error(request, exc.message)
        return _back(slug, "prompts")


@researcher_required
@require_POST
def generator_register_view(request, slug: str):
    campaign = _campaign(slug)
    kind = request.POST.get("kind", "tiny")
    try:
        lines = [line.strip() for line in request.POST.get("params", "").splitlines() if line.strip()]
        try:
            params = parse_params(lines)
        except SpecError as exc:
            raise InvalidInput(str(exc)) from None
        with transaction.atomic():
            spec = generator_register(
                name=request.POST.get("name", ""),
                campaign=campaign,
                kind="external" if kind == "external" else "diffusers",
                model=request.POST.get("model", "").strip(),
                params=params if kind != "external" else None,
                tiny=(request.POST.get("media") or "image") if kind == "tiny" else None,
                media_type=request.POST.get("media") if kind == "external" else None,
                created_by=request.user,
            )
        messages.success(request, f"generator {spec.generator.name!r} registered")
    except ServiceError as exc:
        messages.error(request, exc.message)
    return _back(slug, "generators")


@researcher_required
@require_POST
def job_start_view(request, slug: str):
    campaign = _campaign(slug)
    try:
        set_slug = request.POST.get("prompt_set", "")
        try:
            seeds = int(request.POST.get("seeds") or 1)
            seed_base = int(request.POST.get("seed_base") or 0)
        except ValueError:
            raise InvalidInput("seeds and the first seed must be whole numbers") from None
        with transaction.atomic():
            job = generation_job_create(
                campaign=campaign,
                generator_names=request.POST.getlist("generators"),
                prompt_set=prompt_set_get(campaign=campaign, slug=set_slug) if set_slug else None,
                seeds=seeds,
                seed_base=seed_base,
                category=request.POST.get("category", ""),
                tag=request.POST.get("tag", "").strip(),
                long_only=bool(request.POST.get("long_only")),
                review=bool(request.POST.get("review")),
                created_by=request.user,
            )
            generation_job_enqueue(job=job)
        return redirect("generation-job", job_id=job.pk)
    except ServiceError as exc:
        messages.error(request, exc.message)
        return _back(slug, "jobs")


@researcher_required
def job_page(request, job_id: int):
    try:
        job = generation_job_get(job_id=job_id)
    except ServiceError:
        raise Http404("No such generation job.") from None
    waiting = list(selectors.output_list(job=job, status=GenerationOutput.Status.REVIEW)[:REVIEW_SHOWN])
    return render(
        request,
        "frontend/generation/job.html",
        {
            "job": job,
            "progress": selectors.job_progress(job=job),
            "waiting": waiting,
            "recent": selectors.outputs_made(job=job),
        },
    )


@researcher_required
@require_POST
def job_cancel_view(request, job_id: int):
    try:
        generation_job_cancel(job_id=job_id)
    except ServiceError as exc:
        messages.error(request, exc.message)
    return redirect("generation-job", job_id=job_id)


@researcher_required
@require_POST
def job_review_view(request, job_id: int):
    try:
        job = generation_job_get(job_id=job_id)
        ids = request.POST.getlist("ids")
        result = outputs_review(
            campaign=job.campaign,
            decision=request.POST.get("decision", ""),
            output_ids=ids or None,
            job_id=None if ids else job.pk,
            user=request.user,
        )
        messages.success(request, ", ".join(f"{v} {k}" for k, v in result.items()))
    except ServiceError as exc:
        messages.error(request, exc.message)
    return redirect("generation-job", job_id=job_id)
