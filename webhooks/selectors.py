"""Reads of the webhook pages and API: a campaign's endpoints with their latest deliveries."""

from __future__ import annotations

from django.db.models import Count, Q, QuerySet

from .models import Delivery, Endpoint


def endpoint_list(*, campaign) -> QuerySet[Endpoint]:
    return (
        Endpoint.objects.filter(campaign=campaign)
        .order_by("pk")
        .annotate(
            n_deliveries=Count("deliveries"),
            n_failed=Count("deliveries", filter=Q(deliveries__status=Delivery.Status.FAILED)),
        )
    )


def delivery_list(*, campaign, endpoint_id: int | None = None, limit: int = 100) -> list[Delivery]:
    qs = Delivery.objects.filter(endpoint__campaign=campaign).select_related("endpoint")
    if endpoint_id:
        qs = qs.filter(endpoint_id=endpoint_id)
    return list(qs.order_by("-created_at", "-pk")[:limit])
