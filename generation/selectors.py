"""Reads of the generation app: job progress per generator (one GROUP BY), outputs, prompt sets."""

from __future__ import annotations

from typing import Any

from django.db.models import Count, Max, Min, Q, QuerySet, Sum

from core.errors import InvalidInput

from .models import LONG_PROMPT_WORDS, GenerationJob, GenerationOutput, PromptSet, PromptSetEntry, Taxonomy

OStatus = GenerationOutput.Status
FAILURES_SHOWN = 5


def job_list(*, campaign=None) -> QuerySet[GenerationJob]:
    qs = GenerationJob.objects.select_related("campaign", "prompt_set", "created_by").prefetch_related("generators")
    return (qs.filter(campaign=campaign) if campaign is not None else qs).order_by("-created_at", "-id")


def job_progress(*, job: GenerationJob) -> dict[str, Any]:
    """Per generator: outputs by status, throughput (outputs per second of wall time between the first claim
    and the last finish, and per second of pipeline time), and the latest failures."""
    rows = (
        GenerationOutput.objects.filter(job=job)
        .values("generator_id", "generator__name", "generator__media_type", "status")
        .annotate(n=Count("id"), gen_s=Sum("gen_seconds"), first=Min("claimed_at"), last=Max("finished_at"))
    )
    per: dict[int, dict[str, Any]] = {}
    for r in rows:
        g = per.setdefault(
            r["generator_id"],
            {
                "generator": r["generator__name"],
                "media_type": r["generator__media_type"],
                "counts": {s: 0 for s in OStatus.values},
                "gen_seconds": 0.0,
                "first": None,
                "last": None,
            },
        )
        g["counts"][r["status"]] = r["n"]
        if r["status"] in GenerationOutput.MADE:
            g["gen_seconds"] += r["gen_s"] or 0.0
            if r["last"] and (g["last"] is None or r["last"] > g["last"]):
                g["last"] = r["last"]
        if r["first"] and (g["first"] is None or r["first"] < g["first"]):
            g["first"] = r["first"]
    failures = _latest_failures(job, list(per))
    out = []
    for gid, g in sorted(per.items(), key=lambda kv: kv[1]["generator"]):
        counts = g["counts"]
        made = sum(counts[s] for s in GenerationOutput.MADE)
        total = sum(counts.values())
        wall = (g["last"] - g["first"]).total_seconds() if g["first"] and g["last"] and g["last"] > g["first"] else None
        per_s = made / wall if wall and made else None
        out.append(
            {
                "generator": g["generator"],
                "media_type": g["media_type"],
                "total": total,
                "made": made,
                **counts,
                "percent": round(100 * (made + counts[OStatus.FAILED]) / total, 1) if total else 100.0,
                "outputs_per_s": round(per_s, 4) if per_s else None,
                "outputs_per_min": round(per_s * 60, 2) if per_s else None,
                "pipeline_seconds_per_output": round(g["gen_seconds"] / made, 4) if made else None,
                "failures": failures.get(gid, []),
            }
        )
    totals = {s: sum(g[s] for g in out) for s in OStatus.values}
    total = sum(g["total"] for g in out)
    made = sum(g["made"] for g in out)
    return {
        "generators": out,
        "total": total,
        "made": made,
        **totals,
        "percent": round(100 * (made + totals[OStatus.FAILED]) / total, 1) if total else 100.0,
    }


def _latest_failures(job: GenerationJob, generator_ids: list[int]) -> dict[int, list[dict[str, Any]]]:
    out: dict[int, list[dict[str, Any]]] = {}
    for gid in generator_ids:
        out[gid] = [
            {"output": pk, "prompt_id": prompt_id, "seed": seed, "error": (error or "")[:300], "worker": worker}
            for pk, prompt_id, seed, error, worker in GenerationOutput.objects.filter(
                job=job, generator_id=gid, status=OStatus.FAILED
            )
            .order_by("-finished_at", "-id")
            .values_list("id", "prompt_id", "seed", "error", "worker")[:FAILURES_SHOWN]
        ]
    return out


def output_list(
    *, job: GenerationJob | None = None, campaign=None, status: str | None = None
) -> QuerySet[GenerationOutput]:
    qs = GenerationOutput.objects.select_related("prompt", "generator", "item")
    if job is not None:
        qs = qs.filter(job=job)
    if campaign is not None:
        qs = qs.filter(campaign=campaign)
    if status:
        qs = qs.filter(status=status)
    return qs.order_by("id")


def prompt_set_get(*, campaign, slug: str) -> PromptSet:
    """The campaign's prompt set with this slug, or InvalidInput naming both."""
    found = PromptSet.objects.select_related("taxonomy").filter(campaign=campaign, slug=slug).first()
    if found is None:
        raise InvalidInput(f"campaign {campaign.slug!r} has no prompt set {slug!r}")
    return found


def prompt_set_list(*, campaign) -> list[dict[str, Any]]:
    sets = (
        PromptSet.objects.filter(campaign=campaign)
        .select_related("taxonomy")
        .annotate(
            n=Count("entries"),
            n_long=Count("entries", filter=Q(entries__prompt__word_count__gt=LONG_PROMPT_WORDS)),
            n_unclassified=Count("entries", filter=Q(entries__prompt__category="")),
        )
        .order_by("slug")
    )
    return [
        {
            "id": s.pk,
            "slug": s.slug,
            "name": s.name,
            "taxonomy": s.taxonomy.slug,
            "prompts": s.n,
            "long": s.n_long,
            "unclassified": s.n_unclassified,
            "created_at": s.created_at,
        }
        for s in sets
    ]


def prompt_entries(
    *, prompt_set: PromptSet, category: str | None = None, long_only: bool = False
) -> QuerySet[PromptSetEntry]:
    """A set's prompts in import order; of one category (any case) or only the long ones when asked."""
    qs = (
        PromptSetEntry.objects.filter(prompt_set=prompt_set)
        .select_related("prompt", "prompt__classification")
        .order_by("id")
    )
    if category:
        qs = qs.filter(prompt__category__iexact=category)
    if long_only:
        qs = qs.filter(prompt__word_count__gt=LONG_PROMPT_WORDS)
    return qs


def taxonomies_for(*, campaign) -> QuerySet[Taxonomy]:
    """The built-in taxonomies and the campaign's own, by slug, with their entries."""
    return (
        Taxonomy.objects.filter(Q(campaign__isnull=True) | Q(campaign=campaign))
        .select_related("campaign")
        .prefetch_related("entries")
        .order_by("slug")
    )


def output_file_name(*, output_id: int, field: str) -> str:
    """The stored name of an output's `field` ("media" or "thumbnail"); "" when there is none."""
    output = GenerationOutput.objects.filter(pk=output_id).only("media", "thumbnail").first()
    return (getattr(output, field) or "") if output else ""


def outputs_made(*, job: GenerationJob, limit: int = 12) -> list[GenerationOutput]:
    """The job's latest outputs that became items, newest first."""
    return list(output_list(job=job).filter(status=GenerationOutput.Status.DONE).order_by("-finished_at")[:limit])
