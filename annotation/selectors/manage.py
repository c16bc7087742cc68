"""Reads of the admins' management pages: campaigns with their counts, the golden sample, accounts and
their roles, and a campaign's recent jobs (imports)."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db.models import Count, Prefetch, Q, QuerySet

from core.roles import ROLES

from ..models import Campaign, GoldenScore, Item, ItemFlag, Job
from ..services.jobs import jobs_visible_q


def campaigns_overview() -> list[dict]:
    """Every campaign with its items, golden items, golden items with a score and open flags (three grouped
    queries whatever the number of campaigns)."""
    campaigns = list(Campaign.objects.order_by("slug"))
    items: dict[int, Any] = {
        r["campaign"]: r
        for r in Item.objects.order_by()
        .values("campaign")
        .annotate(n=Count("pk"), golden=Count("pk", filter=Q(is_golden=True)))
    }
    scored = dict(
        GoldenScore.objects.order_by()
        .values("item__campaign")
        .annotate(n=Count("item", distinct=True))
        .values_list("item__campaign", "n")
    )
    flags = dict(
        ItemFlag.objects.filter(status=ItemFlag.Status.OPEN)
        .order_by()
        .values("campaign")
        .annotate(n=Count("pk"))
        .values_list("campaign", "n")
    )
    return [
        {
            "campaign": c,
            "items": items.get(c.pk, {}).get("n", 0),
            "golden": items.get(c.pk, {}).get("golden", 0),
            "golden_scored": scored.get(c.pk, 0),
            "open_flags": flags.get(c.pk, 0),
        }
        for c in campaigns
    ]


def golden_overview(*, campaign: Campaign) -> dict:
    """The golden sample: its size, how many items have a golden score per dimension and by source, and the
    strata (generator x media type) with items and golden items."""
    strata = list(
        Item.objects.filter(campaign=campaign)
        .order_by()
        .values("generator__name", "media_type")
        .annotate(items=Count("pk"), golden=Count("pk", filter=Q(is_golden=True)))
        .order_by("generator__name", "media_type")
    )
    scores = list(
        GoldenScore.objects.filter(item__campaign=campaign)
        .order_by()
        .values("dimension", "source")
        .annotate(n=Count("pk"))
        .order_by("dimension", "source")
    )
    golden = sum(s["golden"] for s in strata)
    with_score = GoldenScore.objects.filter(item__campaign=campaign).values("item").distinct().count()
    return {
        "items": sum(s["items"] for s in strata),
        "golden": golden,
        "with_score": with_score,
        "without_score": golden - with_score,
        "strata": strata,
        "scores": scores,
    }


def user_list(*, search: str = "", role: str = "") -> QuerySet:
    """Accounts by username with their role groups (prefetched as `role_groups`) and profile."""
    qs = (
        get_user_model()
        .objects.select_related("annotator_profile")
        .prefetch_related(Prefetch("groups", queryset=Group.objects.filter(name__in=ROLES), to_attr="role_groups"))
        .order_by("username")
    )
    if search:
        qs = qs.filter(Q(username__icontains=search) | Q(email__icontains=search))
    if role in ROLES:
        qs = qs.filter(groups__name=role)
    return qs


def campaign_jobs(*, campaign: Campaign, kind: str, user, limit: int = 10) -> list[Job]:
    """The campaign's latest jobs of one kind that `user` may open (job_visible_to's rule: another
    researcher's job, its message and error, answer 404 on its own page)."""
    return list(
        Job.objects.filter(campaign=campaign, kind=kind)
        .filter(jobs_visible_q(user=user))
        .select_related("created_by")
        .defer("params", "result")
        .order_by("-created_at", "-pk")[:limit]
    )
