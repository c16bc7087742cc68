"""Reads of the approval desk's list pages: the queue of closed batches with filters and counts, an
annotator's record, a batch's (golden score, rating) pairs, the reusable reasons and the flagged items.
The review queue by risk and a batch's items live in review.py."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.db.models import Case, Count, F, IntegerField, Q, QuerySet, Value, When

from ..models import AnnotatorProfile, Batch, Campaign, GoldenScore, Rating, ReasonTemplate
from .review import REVIEW_KINDS

QUEUE_FILTERS = ("campaign", "decision", "kind", "annotator", "source")
DECISION_SOURCES = ("auto", "admin")
# needs_review first: that is the admin's work; then batches still waiting for scrutiny.
DECISION_ORDER = Case(
    When(decision=Batch.Decision.NEEDS_REVIEW, then=Value(0)),
    When(decision=Batch.Decision.PENDING, then=Value(1)),
    When(decision=Batch.Decision.REJECTED, then=Value(2)),
    default=Value(3),
    output_field=IntegerField(),
)


def campaign_list() -> list[Campaign]:
    return list(Campaign.objects.all())


def _decided_batches() -> QuerySet[Batch]:
    """Closed batches an admin can decide on: annotation and imported work (expert batches make golden
    scores, they are not judged)."""
    return Batch.objects.filter(status=Batch.Status.CLOSED, kind__in=REVIEW_KINDS)


def queue_batches(*, filters: dict[str, str]) -> QuerySet[Batch]:
    """The desk's queue: needs review first, riskiest first, then newest. `filters` holds the page's
    query parameters (QUEUE_FILTERS); unknown values are ignored, not errors."""
    qs = _decided_batches()
    if filters.get("campaign"):
        qs = qs.filter(campaign__slug=filters["campaign"])
    if filters.get("decision") in Batch.Decision.values:
        qs = qs.filter(decision=filters["decision"])
    if filters.get("kind") in REVIEW_KINDS:
        qs = qs.filter(kind=filters["kind"])
    if filters.get("source") in DECISION_SOURCES:
        qs = qs.filter(decision_source=filters["source"])
    if filters.get("annotator"):
        qs = qs.filter(annotator__username__icontains=filters["annotator"])
    return qs.select_related("annotator", "decided_by", "campaign").order_by(
        DECISION_ORDER, F("risk").desc(nulls_last=True), "-closed_at", "-pk"
    )


def queue_decision_counts(*, campaign_slug: str | None = None) -> dict[str, int]:
    """Closed batches per decision (one grouped query)."""
    qs = _decided_batches()
    if campaign_slug:
        qs = qs.filter(campaign__slug=campaign_slug)
    return dict(qs.order_by().values_list("decision").annotate(n=Count("pk")).values_list("decision", "n"))


def desk_batch(*, batch_id: int) -> Batch | None:
    return Batch.objects.select_related("annotator", "decided_by", "campaign").filter(pk=batch_id).first()


def golden_pairs(*, batch: Batch) -> dict[str, list[tuple[float, int]]]:
    """Per dimension, (golden score, rating) of the batch's ratings on golden items (two queries)."""
    dims = batch.campaign.dimensions
    golden = {
        (i, d): s
        for i, d, s in GoldenScore.objects.filter(item__ratings__batch=batch).values_list(
            "item_id", "dimension", "score"
        )
    }
    pairs: dict[str, list[tuple[float, int]]] = {d: [] for d in dims}
    for row in Rating.objects.filter(batch=batch).order_by("item_id").values("item_id", *dims):
        for d in dims:
            g = golden.get((row["item_id"], d))
            if g is not None and row[d] is not None:
                pairs[d].append((g, row[d]))
    return pairs


def person_get(*, user_id: int):
    return get_user_model().objects.filter(pk=user_id).first()


def annotator_profile(*, user) -> AnnotatorProfile:
    """The annotator's profile; an unsaved blank one for users that never had one (nothing is written
    by a page that only reads)."""
    return AnnotatorProfile.objects.filter(user=user).first() or AnnotatorProfile(user=user)


def annotator_closed_batches(*, user, limit: int = 500) -> list[Batch]:
    """The annotator's closed batches, oldest first (the last `limit`)."""
    rows = list(
        _decided_batches()
        .filter(annotator=user)
        .select_related("campaign", "decided_by", "annotator")
        .order_by("-closed_at", "-pk")[:limit]
    )
    return rows[::-1]


def annotator_decided_counts(*, user) -> dict[str, int]:
    return Batch.objects.filter(annotator=user).aggregate(
        approved=Count("pk", filter=Q(decision=Batch.Decision.APPROVED, kind__in=REVIEW_KINDS)),
        rejected=Count("pk", filter=Q(decision=Batch.Decision.REJECTED)),
        review=Count("pk", filter=Q(decision=Batch.Decision.NEEDS_REVIEW)),
    )


def reason_templates() -> list[ReasonTemplate]:
    return list(ReasonTemplate.objects.all())


def threshold_defaults() -> tuple[float, float]:
    """The fixed method's approve / reject thresholds of a new campaign (the model's defaults, so no
    page repeats the numbers)."""
    return (Campaign._meta.get_field("approve_threshold").default, Campaign._meta.get_field("reject_threshold").default)
