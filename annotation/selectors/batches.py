"""Reads of an annotator's batches: the batch as the rating page needs it, and the caller's own batches with
their progress. What an annotator reads never tells a golden item from a regular one, and a decision is only
approved / rejected / pending with a reason in plain words."""

from __future__ import annotations

from typing import Any

from django.db.models import Count, Q, QuerySet
from rest_framework.fields import DateTimeField

from core.sql import fast_sql_enabled, sql_rows

from ..models import Batch, Item, Prompt, Task

# What annotators may know of a decision: needs_review is still "pending" to them.
PUBLIC_DECISION: dict[str, str] = {
    Batch.Decision.PENDING: "pending",
    Batch.Decision.NEEDS_REVIEW: "pending",
    Batch.Decision.APPROVED: "approved",
    Batch.Decision.REJECTED: "rejected",
}
_DATETIME = DateTimeField()  # the API's rendering of a datetime, without a serializer per task


def public_reason(batch: Batch) -> str:
    """What the annotator may read about a decision: nothing while the batch is open or undecided."""
    if batch.status != Batch.Status.CLOSED or PUBLIC_DECISION.get(batch.decision) == "pending":
        return "An admin will look at this batch." if batch.decision == Batch.Decision.NEEDS_REVIEW else ""
    return batch.public_reason


def batch_payload(batch: Batch) -> dict[str, Any]:
    """The batch as the rating page needs it (one query: the batch's campaign is already loaded). Plain
    dicts, not a serializer's .data: a DRF serializer per task costs more CPU than the whole query at 50 tasks a
    batch (the API's BatchOutput documents the shape for the schema)."""
    campaign = batch.campaign
    dimensions = campaign.dimensions
    iso = _iso_memo()  # a new batch's tasks share one lease expiry
    task_rows = []
    rated = 0
    for task_id, status, expires, media_type, thumbnail, fps, prompt in _task_rows(batch.pk):
        rated += status == Task.Status.RATED
        task_rows.append(
            {
                "id": task_id,
                # Through the task (a lease), never the item: no item id reaches an annotator.
                "media_url": f"/api/v1/tasks/{task_id}/media/",
                "thumbnail_url": f"/api/v1/tasks/{task_id}/thumbnail/" if thumbnail else None,
                "media_type": media_type,
                "fps": fps,  # videos: the frame step of the rating page's , and . keys
                "prompt": prompt,
                "dimensions": dimensions,
                "status": status,
                "lease_expires_at": iso(expires),
            }
        )
    return {
        "id": batch.pk,
        "status": batch.status,
        "decision": PUBLIC_DECISION.get(batch.decision, "pending"),
        "reason": public_reason(batch),
        "tasks": task_rows,
        "progress": {"rated": rated, "total": len(task_rows)},
        "campaign": {
            "slug": campaign.slug,
            "name": campaign.name,
            "require_full_video": campaign.require_full_video,
            "lease_minutes": campaign.lease_minutes,
        },
    }


TASK_ROWS_SQL = f"""
    SELECT t.id, t.status, t.lease_expires_at, i.media_type, i.thumbnail, i.fps, p.text
      FROM {Task._meta.db_table} t
      JOIN {Item._meta.db_table} i ON i.id = t.item_id
      JOIN {Prompt._meta.db_table} p ON p.id = i.prompt_id
     WHERE t.batch_id = %(b)s::bigint
     ORDER BY t.position"""


def _task_rows(batch_id: int) -> list[tuple]:
    """(task id, status, lease expiry, media type, thumbnail name, fps, prompt text) in position order."""
    if fast_sql_enabled():
        return sql_rows(TASK_ROWS_SQL, {"b": batch_id})
    return list(
        Task.objects.filter(batch_id=batch_id)
        .order_by("position")
        .values_list(
            "id", "status", "lease_expires_at", "item__media_type", "item__thumbnail", "item__fps", "item__prompt__text"
        )
    )


def _iso(value):
    return _DATETIME.to_representation(value) if value is not None else None


def _iso_memo():
    seen: dict = {}

    def iso(value):
        if value not in seen:
            seen[value] = _iso(value)
        return seen[value]

    return iso


def annotator_batches(*, user) -> QuerySet[Batch]:
    """The user's own batches, newest first, each with `n_total` and `n_rated` tasks (one query a page)."""
    return (
        Batch.objects.filter(annotator=user)
        .select_related("campaign")
        .only("id", "created_at", "closed_at", "status", "decision", "public_reason", "campaign__slug")
        .annotate(n_total=Count("tasks"), n_rated=Count("tasks", filter=Q(tasks__status=Task.Status.RATED)))
        .order_by("-created_at", "-id")
    )


def batch_list_row(batch: Batch) -> dict[str, Any]:
    """One row of the annotator's batch list (a batch from `annotator_batches`)."""
    return {
        "id": batch.pk,
        "campaign": batch.campaign.slug,
        "created_at": batch.created_at,
        "closed_at": batch.closed_at,
        "status": batch.status,
        "decision": PUBLIC_DECISION.get(batch.decision, "pending"),
        "reason": public_reason(batch),
        "progress": {"rated": batch.n_rated, "total": batch.n_total},  # type: ignore[attr-defined]  # annotated
    }
