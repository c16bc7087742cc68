"""Reads of the scrutiny API for admins: a campaign's closed batches (newest first, or the review order by risk)
with filters, a batch as its scrutiny row needs it, and the reusable reasons."""

from __future__ import annotations

from django.db.models import F, QuerySet

from ..models import Batch, Campaign, ReasonTemplate


def campaign_closed_batches(
    *, campaign: Campaign, order: str = "closed", decision: str | None = None, annotator_id: int | None = None
) -> QuerySet[Batch]:
    """Closed batches of `campaign`: `order` "closed" is newest first, "risk" the review order (riskiest first).
    The caller has checked `order` and `decision`."""
    qs = Batch.objects.filter(campaign=campaign, status=Batch.Status.CLOSED).select_related("annotator", "decided_by")
    qs = qs.order_by(F("risk").desc(nulls_last=True), "pk") if order == "risk" else qs.order_by("-closed_at", "-pk")
    if decision:
        qs = qs.filter(decision=decision)
    if annotator_id is not None:
        qs = qs.filter(annotator_id=annotator_id)
    return qs


def batch_for_scrutiny_row(*, batch_id: int) -> Batch:
    """A batch with what its scrutiny row shows (annotator, decider, campaign) loaded."""
    return Batch.objects.select_related("annotator", "decided_by", "campaign").get(pk=batch_id)


def reason_templates() -> QuerySet[ReasonTemplate]:
    return ReasonTemplate.objects.all()
