"""Reads of the approval desk: the review queue by risk, a batch's neighbours in it, the items of a
batch with what an admin needs to judge them, and an annotator's evidence batch by batch."""

from __future__ import annotations

from django.db.models import Avg, Count, F, Q

from ..models import AnnotatorEvidence, AuditEvent, Batch, GoldenScore, Rating

REVIEW_KINDS = (Batch.Kind.ANNOTATION, Batch.Kind.IMPORTED)


def review_queue(*, campaign_slug: str | None = None):
    """Batches waiting for an admin, riskiest first (index batch_decision_risk)."""
    qs = Batch.objects.filter(decision=Batch.Decision.NEEDS_REVIEW, status=Batch.Status.CLOSED, kind__in=REVIEW_KINDS)
    if campaign_slug:
        qs = qs.filter(campaign__slug=campaign_slug)
    return qs.order_by(F("risk").desc(nulls_last=True), "pk")


def review_neighbours(*, batch: Batch, campaign_slug: str | None = None) -> tuple[int | None, int | None]:
    """(previous, next) batch ids around `batch` in the review queue. For a batch no longer in the
    queue (just decided), `next` is the riskiest batch still waiting."""
    queue = review_queue(campaign_slug=campaign_slug).exclude(pk=batch.pk)
    if batch.decision != Batch.Decision.NEEDS_REVIEW:
        return None, queue.values_list("pk", flat=True).first()
    if batch.risk is None:
        after = Q(risk__isnull=True, pk__gt=batch.pk)
        before = Q(risk__isnull=False) | Q(risk__isnull=True, pk__lt=batch.pk)
    else:
        after = Q(risk__lt=batch.risk) | Q(risk=batch.risk, pk__gt=batch.pk) | Q(risk__isnull=True)
        before = Q(risk__gt=batch.risk) | Q(risk=batch.risk, pk__lt=batch.pk)
    nxt = queue.filter(after).values_list("pk", flat=True).first()
    prev = queue.filter(before).order_by(F("risk").asc(nulls_first=True), "-pk").values_list("pk", flat=True).first()
    return prev, nxt


def review_items(*, batch: Batch) -> list[dict]:
    """Every rated item of the batch in the order rated: the annotator's ratings and time, the golden
    scores (golden items) or the item's current MOS from approved ratings of others and their count
    (regular items). Three queries whatever the batch size."""
    dims = batch.campaign.dimensions
    ratings = list(
        Rating.objects.filter(batch=batch).select_related("item", "item__prompt").order_by("created_at", "pk")
    )
    ids = [r.item_id for r in ratings]
    golden: dict[tuple[int, str], float] = {
        (i, d): s
        for i, d, s in GoldenScore.objects.filter(item_id__in=ids).values_list("item_id", "dimension", "score")
    }
    others = {
        row["item_id"]: row
        for row in Rating.objects.filter(
            item_id__in=ids, batch__decision=Batch.Decision.APPROVED, batch__kind__in=REVIEW_KINDS
        )
        .exclude(batch=batch)
        .values("item_id")
        .annotate(n=Count("pk"), **{f"mos_{d}": Avg(d) for d in dims})
    }
    rows = []
    for r in ratings:
        item = r.item
        is_golden = any((item.pk, d) in golden for d in dims)
        other: dict = dict(others.get(item.pk) or {})
        cells = []
        for d in dims:
            reference = golden.get((item.pk, d)) if is_golden else other.get(f"mos_{d}")
            rating = getattr(r, d)
            off = None if rating is None or reference is None else round(rating - reference, 2)
            cells.append(
                {
                    "dimension": d,
                    "rating": rating,
                    "reference": reference,
                    "off": off,
                    "far": off is not None and abs(off) >= 2,
                }
            )
        rows.append(
            {
                "item_pk": item.pk,
                "item_id": item.item_id,
                "media_type": item.media_type,
                "prompt": item.prompt.text,
                "has_thumbnail": bool(item.thumbnail),
                "is_golden": is_golden,
                "cells": cells,
                "n_others": other.get("n", 0),
                "duration_ms": r.duration_ms,
            }
        )
    return rows


def evidence_history(*, annotator_id: int, campaign_id: int, limit: int = 200) -> list[dict]:
    """The annotator's batches in the campaign, oldest first, with the evidence stored at each scrutiny:
    per dimension the cumulative SRCC and its interval, and the batch's own SRCC."""
    batches = (
        Batch.objects.filter(
            annotator_id=annotator_id,
            campaign_id=campaign_id,
            status=Batch.Status.CLOSED,
            kind__in=REVIEW_KINDS,
            scrutinized_at__isnull=False,
        )
        .order_by("-closed_at", "-pk")
        .only("id", "scrutiny", "decision", "closed_at")[:limit]
    )
    out = []
    for b in reversed(list(batches)):
        evidence = (b.scrutiny or {}).get("evidence") or {}
        out.append(
            {
                "batch": b.pk,
                "decision": b.decision,
                "closed_at": b.closed_at,
                "cumulative": evidence.get("cumulative") or {},
                "own": {k: v for k, v in (b.scrutiny or {}).items() if k != "evidence"},
                "reference": evidence.get("reference") or {},
                "p_genuine": evidence.get("p_genuine"),
            }
        )
    return out


def annotator_evidence(*, annotator_id: int):
    return (
        AnnotatorEvidence.objects.filter(annotator_id=annotator_id)
        .select_related("campaign")
        .order_by("campaign__slug")
    )


def batch_audit(*, batch: Batch):
    return AuditEvent.objects.filter(batch=batch).select_related("actor").order_by("created_at", "pk")


def annotator_audit(*, annotator_id: int, limit: int = 200):
    return (
        AuditEvent.objects.filter(subject_id=annotator_id)
        .select_related("actor", "campaign")
        .order_by("-created_at", "-pk")[:limit]
    )
