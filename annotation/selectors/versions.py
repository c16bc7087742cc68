"""Reads of dataset versions."""

from __future__ import annotations

from django.db.models import QuerySet

from ..models import Campaign, DatasetVersion


def campaign_versions(*, campaign: Campaign) -> QuerySet[DatasetVersion]:
    """The campaign's dataset versions, newest first."""
    return DatasetVersion.objects.filter(campaign=campaign).select_related("campaign").order_by("-number")
