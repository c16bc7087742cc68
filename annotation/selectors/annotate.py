"""Reads of the annotator's pages: the campaigns open to rating, one's own batches, and one's session
(ratings today and the median time per item). Nothing here reads golden flags, golden scores or other
people's ratings."""

from __future__ import annotations

import statistics
from datetime import datetime

from django.db.models import Count, Q, QuerySet

from ..models import Batch, Campaign, Rating, Task


def active_campaigns() -> QuerySet[Campaign]:
    return Campaign.objects.filter(is_active=True).only("slug", "name", "instructions")


def active_campaign(*, slug: str) -> Campaign | None:
    return Campaign.objects.filter(slug=slug, is_active=True).first()


def my_batches(*, user) -> QuerySet[Batch]:
    """The caller's own batches (annotation and expert; imported vendor work is not theirs to see), newest
    first, with task counts: done = rated + skipped."""
    return (
        Batch.objects.filter(annotator=user)
        .exclude(kind=Batch.Kind.IMPORTED)
        .select_related("campaign")
        .only(
            "id",
            "kind",
            "status",
            "decision",
            "public_reason",
            "created_at",
            "closed_at",
            "campaign__slug",
            "campaign__name",
        )
        .annotate(
            n_tasks=Count("tasks"),
            n_rated=Count("tasks", filter=Q(tasks__status=Task.Status.RATED)),
            n_skipped=Count("tasks", filter=Q(tasks__status=Task.Status.SKIPPED)),
        )
        .order_by("-created_at", "-id")
    )


MAX_SESSION_ROWS = 20_000  # a day's work is far below this; the cap only bounds a bad `since`


def rating_session(*, user, campaign: Campaign, since: datetime) -> dict:
    """{"rated", "median_ms", "since"}: the caller's ratings in the campaign since `since` (the page sends
    the browser's local midnight) and the median time they took per item."""
    durations = list(
        Rating.objects.filter(annotator=user, batch__campaign=campaign, created_at__gte=since)
        .order_by()
        .values_list("duration_ms", flat=True)[:MAX_SESSION_ROWS]
    )
    timed = [d for d in durations if d is not None]
    return {"rated": len(durations), "median_ms": int(statistics.median(timed)) if timed else None, "since": since}


def admin_contacts(*, limit: int = 3) -> list[dict]:
    """Whom an annotator can ask (a paused account, a question about a decision): a few admins, with
    their e-mail where one is set."""
    from django.contrib.auth import get_user_model

    from core.roles import ADMIN

    admins = (
        get_user_model()
        .objects.filter(is_active=True, groups__name=ADMIN)
        .order_by("username")
        .values("username", "email", "first_name", "last_name")[:limit]
    )
    return [
        {"name": " ".join(p for p in (a["first_name"], a["last_name"]) if p) or a["username"], "email": a["email"]}
        for a in admins
    ]
