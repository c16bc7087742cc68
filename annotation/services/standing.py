"""An annotator's standing, as they may see it: counts of their decided batches per campaign, never a
figure about golden items."""

from __future__ import annotations

from django.db.models import Count, Q

from ..models import Batch, Campaign


def _text(approved: int, rejected: int, batches: int) -> str:
    pending = batches - approved - rejected
    decided = approved + rejected
    if not batches:
        return "No finished batches yet."
    if not decided:
        return "Your batches are being checked."
    text = f"{approved} of {decided} batches approved"
    return text + (f" ({pending} still being checked)" if pending else "")


def _counts(qs):
    return qs.filter(status=Batch.Status.CLOSED).exclude(kind=Batch.Kind.EXPERT)


AGGREGATES = {
    "batches": Count("pk"),
    "approved": Count("pk", filter=Q(decision=Batch.Decision.APPROVED)),
    "rejected": Count("pk", filter=Q(decision=Batch.Decision.REJECTED)),
}


def annotator_standing(*, campaign: Campaign, user) -> dict:
    """{"campaign", "batches", "approved", "rejected", "pending", "text"} in one campaign (one query)."""
    c = _counts(Batch.objects.filter(campaign=campaign, annotator=user)).aggregate(**AGGREGATES)
    pending = c["batches"] - c["approved"] - c["rejected"]
    return {
        "campaign": campaign.slug,
        **c,
        "pending": pending,
        "text": _text(c["approved"], c["rejected"], c["batches"]),
    }


def annotator_standings(*, user) -> list[dict]:
    """The same for every campaign the annotator has finished batches in (one query)."""
    rows = (
        _counts(Batch.objects.filter(annotator=user))
        .values("campaign__slug", "campaign__name")
        .annotate(**AGGREGATES)
        .order_by("campaign__slug")
    )
    return [
        {
            "campaign": r["campaign__slug"],
            "name": r["campaign__name"],
            "batches": r["batches"],
            "approved": r["approved"],
            "rejected": r["rejected"],
            "pending": r["batches"] - r["approved"] - r["rejected"],
            "text": _text(r["approved"], r["rejected"], r["batches"]),
        }
        for r in rows
    ]
