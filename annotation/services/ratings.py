"""Ratings: an annotator's scores for a leased task. A rating turns the lease into a pending rating, so
Item.active_count does not change; the batch closes (and its scrutiny is queued) with its last rating."""

from __future__ import annotations

from dataclasses import dataclass

from django.db import transaction
from django.db.models import Count, Q
from django.utils import timezone

from core.errors import Conflict, Gone, InvalidInput, NotFound
from core.sql import fast_sql_enabled

from ..models import DIMENSIONS, MAX_DURATION_MS, SCORE_MAX, SCORE_MIN, Batch, Item, Rating, Task
from .leases import batch_close_idle_fast, batch_close_if_done, batch_leases_expire
from .ratings_fast import rating_store_fast


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


@dataclass(frozen=True)
class RatingReceipt:
    """What the rating page needs back: the rating's id, its batch (closed by this rating?) and the batch's
    progress ({"rated", "total"}, this rating included)."""

    id: int
    batch_id: int
    batch_status: str
    progress: dict[str, int]


def rating_submit(*, task_id: int, user, scores: dict, duration_ms: int | None = None) -> RatingReceipt:
    """Rate the caller's leased task. NotFound: not the caller's task; InvalidInput: bad scores;
    Conflict: already rated; Gone: the lease expired or was returned. Nothing changes on an error.

    On PostgreSQL the lock, the checks, the insert and the batch's counts are one prepared statement
    (ratings_fast.py). Most ratings need nothing else: the statement then runs alone, as its own transaction
    (no BEGIN and COMMIT round trips: two of a rating's four with the database). A rating that closes its
    batch, or an expert's, runs it again inside a transaction with what follows it. Elsewhere (SQLite, or
    QEVAL_SQL_FAST_PATH=false) the ORM does the same in steps, inside one transaction."""
    if not fast_sql_enabled():
        return _rating_submit_orm(task_id=task_id, user=user, scores=scores, duration_ms=duration_ms)
    valid = _valid_without_campaign(scores, duration_ms)
    found = rating_store_fast(
        task_id=task_id, user_id=user.pk, scores=scores, duration_ms=duration_ms, valid=valid, alone=True
    )
    if found.rating_id is not None:
        return RatingReceipt(found.rating_id, found.batch_id, found.batch_status, found.progress())
    if not found.needs_transaction:
        _refuse(task_id=task_id, scores=scores, duration_ms=duration_ms, **found.refusal())
    return _rating_submit_with_what_follows(
        task_id=task_id, user=user, scores=scores, duration_ms=duration_ms, valid=valid
    )


@transaction.atomic
def _rating_submit_with_what_follows(*, task_id: int, user, scores: dict, duration_ms, valid: bool) -> RatingReceipt:
    """The statement again, in one transaction with what must commit with the rating: the golden scores of an
    expert's rating, the batch's close after its last live lease."""
    found = rating_store_fast(
        task_id=task_id, user_id=user.pk, scores=scores, duration_ms=duration_ms, valid=valid, alone=False
    )
    if found.rating_id is None:
        _refuse(task_id=task_id, scores=scores, duration_ms=duration_ms, **found.refusal())
        raise Conflict(f"task {task_id} changed while it was being rated: try again")  # cannot happen
    status = found.batch_status
    if found.kind == Batch.Kind.EXPERT:
        from .golden import golden_scores_update

        golden_scores_update(item=Item.objects.get(pk=found.item_id))
    if not found.live:
        status = _close_if_last(batch_id=found.batch_id, now=found.now)
    return RatingReceipt(found.rating_id, found.batch_id, status, found.progress())


def _valid_without_campaign(scores, duration_ms) -> bool:
    """The checks that need no campaign, by the same validators: known dimensions only, integers in range, a
    sane duration. The fast path's statement writes nothing when they fail, and `_refuse` names the reason."""
    if not isinstance(scores, dict) or not scores or not set(scores) <= set(DIMENSIONS):
        return False
    try:
        rating_scores_clean(scores=scores, dimensions=list(scores))
        _duration_clean(duration_ms)
    except InvalidInput:
        return False
    return True


def _refuse(*, task_id: int, scores, duration_ms, found: bool, dimensions: list[str], status: str, live_lease: bool):
    """Raise the error a refused rating gets, in the order the ORM path checks: not the caller's task,
    bad scores, bad duration, already rated, lease over. Returns when none applies."""
    if not found:
        raise NotFound(f"task {task_id} not found")
    rating_scores_clean(scores=scores, dimensions=dimensions)
    _duration_clean(duration_ms)
    if status == Task.Status.RATED:
        raise Conflict(f"task {task_id} is already rated")
    if status != Task.Status.LEASED or not live_lease:
        raise Gone(
            f"the lease on task {task_id} has {'expired' if status != Task.Status.RETURNED else 'been returned'}: "
            "ask for a new batch"
        )


def _close_if_last(*, batch_id: int, now) -> str:
    """The caller's rating took the batch's last live lease: end the dead ones and close the batch (lock
    order: task, batch, items). Returns the batch's status. On PostgreSQL a batch with no lease left at all,
    the usual case, closes in one statement; one with dead leases takes the steps below."""
    if fast_sql_enabled() and batch_close_idle_fast(batch_id=batch_id, now=now):
        return Batch.Status.CLOSED
    batch = Batch.objects.select_for_update(no_key=True).get(pk=batch_id)
    batch_leases_expire(batch=batch, now=now)
    batch_close_if_done(batch=batch, now=now)
    return batch.status


@transaction.atomic
def _rating_submit_orm(*, task_id: int, user, scores: dict, duration_ms: int | None) -> RatingReceipt:
    task = (
        Task.objects.select_for_update(of=("self",), no_key=True)
        .select_related("batch__campaign")
        .filter(pk=task_id, annotator=user)
        .first()
    )
    now = timezone.now()
    _refuse(
        task_id=task_id,
        scores=scores,
        duration_ms=duration_ms,
        found=task is not None,
        dimensions=task.batch.campaign.dimensions if task else [],
        status=task.status if task else "",
        live_lease=task is not None and task.lease_expires_at > now,
    )
    assert task is not None  # _refuse raised NotFound otherwise
    batch = task.batch
    clean = rating_scores_clean(scores=scores, dimensions=batch.campaign.dimensions)
    rating = Rating.objects.create(
        annotator=user,
        item_id=task.item_id,
        batch=batch,
        task=task,
        duration_ms=_duration_clean(duration_ms),
        quality=clean.get("quality"),
        alignment=clean.get("alignment"),
    )
    Task.objects.filter(pk=task.pk).update(status=Task.Status.RATED)
    # One query for both the progress the page shows and whether a live lease is left.
    counts = Task.objects.filter(batch=batch).aggregate(
        total=Count("pk"),
        rated=Count("pk", filter=Q(status=Task.Status.RATED)),
        live=Count("pk", filter=Q(status=Task.Status.LEASED, lease_expires_at__gt=now)),
    )
    if batch.kind == Batch.Kind.EXPERT:
        from .golden import golden_scores_update

        golden_scores_update(item=task.item)
    status = batch.status
    if not counts["live"]:
        status = _close_if_last(batch_id=batch.pk, now=now)
    return RatingReceipt(rating.pk, batch.pk, status, {"rated": counts["rated"], "total": counts["total"]})
