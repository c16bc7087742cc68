"""Reads of a campaign's items for researchers and admins (never annotators: items carry the golden flag)."""

from __future__ import annotations

from django.db.models import QuerySet

from ..models import Campaign, Item


def campaign_items(
    *, campaign: Campaign, media_type: str | None = None, generator: str | None = None
) -> QuerySet[Item]:
    """The campaign's items in import order, optionally of one media type or one generator (by name)."""
    items = Item.objects.filter(campaign=campaign).select_related("generator", "prompt").order_by("id")
    if media_type:
        items = items.filter(media_type=media_type)
    if generator:
        items = items.filter(generator__name=generator)
    return items
