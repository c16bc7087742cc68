"""Reads of the flagged-items queue (admins): items annotators flagged, most-flagged first, with every
reason and note; and the open-flag count the navigation shows."""

from __future__ import annotations

from collections import defaultdict

from django.db.models import Count, Max, QuerySet

from ..models import Item, ItemFlag


def open_flags(*, campaign_slug: str | None = None) -> QuerySet[ItemFlag]:
    qs = ItemFlag.objects.filter(status=ItemFlag.Status.OPEN)
    return qs.filter(campaign__slug=campaign_slug) if campaign_slug else qs


def open_flag_count() -> int:
    return open_flags().count()


def flagged_items(*, campaign_slug: str | None = None, limit: int = 100) -> list[dict]:
    """Items with open flags, most flags first, then the most recently flagged: per item its media,
    prompt, golden flag (admins may know), and every flag (reason, note, who, when). Three queries."""
    grouped = list(
        open_flags(campaign_slug=campaign_slug)
        .order_by()
        .values("item_id")
        .annotate(n=Count("pk"), latest=Max("created_at"))
        .order_by("-n", "-latest")[:limit]
    )
    ids = [g["item_id"] for g in grouped]
    items = {i.pk: i for i in Item.objects.filter(pk__in=ids).select_related("prompt", "generator", "campaign")}
    flags: dict[int, list[ItemFlag]] = defaultdict(list)
    for f in open_flags().filter(item_id__in=ids).select_related("annotator").order_by("created_at"):
        flags[f.item_id].append(f)
    rows = []
    for g in grouped:
        item = items[g["item_id"]]
        reasons: dict[str, int] = defaultdict(int)
        for f in flags[item.pk]:
            reasons[f.get_reason_display()] += 1
        rows.append(
            {
                "item": item,
                "n": g["n"],
                "latest": g["latest"],
                "flags": flags[item.pk],
                "reasons": sorted(reasons.items(), key=lambda kv: -kv[1]),
            }
        )
    return rows
