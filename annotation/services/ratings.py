"""Ratings: an annotator's scores for a leased task. A rating turns the lease into a pending rating, so
Item.active_count does not change; the batch closes (and its scrutiny is queued) with its last rating."""

from __future__ import annotations

from django.db import connection, transaction
from django.db.models import Count, Q
from django.utils import timezone

from core.errors import Conflict, Gone, InvalidInput, NotFound

from ..models import SCORE_MAX, SCORE_MIN, Batch, Rating, Task
from .leases import batch_close_if_done, batch_leases_expire

MAX_DURATION_MS = 24 * 3600 * 1000


def rating_scores_clean(*, scores: dict, dimensions: list[str]) -> dict[str, int]:
    """Exactly the campaign's dimensions, each an integer 1..5 (booleans and floats are refused)."""
    if not isinstance(scores, dict):
        raise InvalidInput('scores must be an object like {"quality": 4, "alignment": 3}')
    missing = [d for d in dimensions if d not in scores]
    extra = sorted(k for k in scores if k not in dimensions)
    if missing:
        raise InvalidInput(f"missing score for {', '.join(missing)} (this campaign rates {', '.join(dimensions)})")
    if extra:
        raise InvalidInput(
            f"unexpected field {', '.join(map(str, extra))} (this campaign rates {', '.join(dimensions)})"
        )
    clean = {}
    for dim in dimensions:
        value = scores[dim]
        if isinstance(value, bool) or not isinstance(value, int):
            raise InvalidInput(f"{dim} must be an integer from {SCORE_MIN} to {SCORE_MAX}, got {value!r}")
        if not SCORE_MIN <= value <= SCORE_MAX:
            raise InvalidInput(f"{dim} must be from {SCORE_MIN} to {SCORE_MAX}, got {value}")
        clean[dim] = value
    return clean


def _duration_clean(duration_ms) -> int | None:
    if duration_ms is None:
        return None
    if isinstance(duration_ms, bool) or not isinstance(duration_ms, int) or not 0 <= duration_ms <= MAX_DURATION_MS:
        raise InvalidInput(f"duration_ms must be an integer from 0 to {MAX_DURATION_MS}, got {duration_ms!r}")
    return duration_ms


@transaction.atomic
def rating_submit(*, task_id: int, user, scores: dict, duration_ms: int | None = None) -> Rating:
    """Rate the caller's leased task. NotFound: not the caller's task; InvalidInput: bad scores;
    Conflict: already rated; Gone: the lease expired or was returned. Nothing changes on an error.
    The returned rating carries `batch_progress` ({"rated", "total"} of its batch, this rating included)."""
    task = (
        Task.objects.select_for_update(of=("self",), no_key=True)
        .select_related("batch__campaign")
        .filter(pk=task_id, annotator=user)
        .first()
    )
    if task is None:
        raise NotFound(f"task {task_id} not found")
    batch = task.batch
    clean = rating_scores_clean(scores=scores, dimensions=batch.campaign.dimensions)
    duration = _duration_clean(duration_ms)
    now = timezone.now()
    if task.status == Task.Status.RATED:
        raise Conflict(f"task {task_id} is already rated")
    if task.status != Task.Status.LEASED or task.lease_expires_at <= now:
        raise Gone(
            f"the lease on task {task_id} has {'expired' if task.status != Task.Status.RETURNED else 'been returned'}: "
            "ask for a new batch"
        )
    rating = Rating(
        annotator=user,
        item_id=task.item_id,
        batch=batch,
        task=task,
        duration_ms=duration,
        quality=clean.get("quality"),
        alignment=clean.get("alignment"),
    )
    if connection.vendor == "postgresql":
        counts = _store_postgresql(rating=rating, task=task, now=now)
    else:
        rating.save()
        Task.objects.filter(pk=task.pk).update(status=Task.Status.RATED)
        # One query for both the progress the page shows and whether a live lease is left.
        counts = Task.objects.filter(batch=batch).aggregate(
            total=Count("pk"),
            rated=Count("pk", filter=Q(status=Task.Status.RATED)),
            live=Count("pk", filter=Q(status=Task.Status.LEASED, lease_expires_at__gt=now)),
        )
    task.status = Task.Status.RATED
    if batch.kind == Batch.Kind.EXPERT:
        from .golden import golden_scores_update

        golden_scores_update(item=task.item)
    if not counts["live"]:
        # The last live lease was this one: end the dead ones and close the batch (order: task, batch, items).
        batch = Batch.objects.select_for_update(no_key=True).get(pk=batch.pk)
        batch_leases_expire(batch=batch, now=now)
        batch_close_if_done(batch=batch, now=now)
        rating.batch = batch
    rating.batch_progress = {"rated": counts["rated"], "total": counts["total"]}  # type: ignore[attr-defined]  # API
    return rating


_STORE_SQL = f"""
    WITH ins AS (
        INSERT INTO {Rating._meta.db_table}
               (annotator_id, item_id, batch_id, task_id, quality, alignment, duration_ms, created_at)
        VALUES (%(user)s, %(item)s, %(batch)s, %(task)s, %(quality)s, %(alignment)s, %(duration)s, %(now)s)
        RETURNING id
    ), upd AS (
        UPDATE {Task._meta.db_table} SET status = 'rated' WHERE id = %(task)s RETURNING id
    )
    SELECT (SELECT id FROM ins), (SELECT count(*) FROM upd),
           count(*),
           count(*) FILTER (WHERE status = 'rated'),
           count(*) FILTER (WHERE status = 'leased' AND lease_expires_at > %(now)s AND id <> %(task)s)
      FROM {Task._meta.db_table} WHERE batch_id = %(batch)s"""


def _store_postgresql(*, rating: Rating, task: Task, now) -> dict:
    """Insert the rating, mark the task rated and count the batch in one round trip (the hot path of
    the rating page). The count reads the snapshot from before the UPDATE: this task still shows as
    leased there, hence the +1 and the `id <>`."""
    with connection.cursor() as cur:
        cur.execute(
            _STORE_SQL,
            {
                "user": rating.annotator_id,
                "item": rating.item_id,
                "batch": rating.batch_id,
                "task": task.pk,
                "quality": rating.quality,
                "alignment": rating.alignment,
                "duration": rating.duration_ms,
                "now": now,
            },
        )
        rating_id, updated, total, rated, live = cur.fetchone()
    if updated != 1:  # cannot happen: the task row is locked by this transaction
        raise Conflict(f"task {task.pk} changed while it was being rated: try again")
    rating.pk, rating.created_at = rating_id, now
    rating._state.adding, rating._state.db = False, connection.alias
    return {"total": total, "rated": rated + 1, "live": live}
