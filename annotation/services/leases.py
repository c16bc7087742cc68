"""Leases: how an annotator's hold on a task ends (expiry, an early finish, a batch that has nothing leased left
closes) and how it is extended (the rating page's heartbeat). Taking leases is assignment.py's job; ratings.py
and golden.py end and close through the public names here.

Locks follow the order in assignment.py's docstring (annotator profile -> the task being rated -> batch ->
other tasks (SKIP LOCKED) -> items in primary-key order): `leases_give_back` skips tasks locked by a rating in
flight and then waits for item locks in primary-key order only; the periodic expiry commits one chunk at a time.
"""

from __future__ import annotations

import logging
from collections import Counter
from datetime import datetime, timedelta

from django.db import transaction
from django.db.models import Exists, F, OuterRef
from django.db.models.functions import Greatest
from django.utils import timezone

from core.errors import Conflict, NotFound
from core.sql import fast_sql_enabled, sql_models, sql_row

from ..models import AnnotatorProfile, Batch, Item, Task
from .batch_events import batch_closed_notify
from .selection import priority_expression

EXPIRE_CHUNK = 5000
STRANDED_CHUNK = 1000
log = logging.getLogger(__name__)


def annotator_profile_lock(user) -> AnnotatorProfile:
    """Lock the annotator's profile row: serialises one annotator's batch requests (no double batch)."""
    if fast_sql_enabled():
        found = sql_models(AnnotatorProfile, "user_id = %(u)s::bigint", {"u": user.pk}, suffix="FOR NO KEY UPDATE")
        if found:
            return found[0]
    profile = AnnotatorProfile.objects.select_for_update(no_key=True).filter(user=user).first()
    if profile is None:
        AnnotatorProfile.objects.get_or_create(user=user)
        profile = AnnotatorProfile.objects.select_for_update(no_key=True).get(user=user)
    return profile


def leases_give_back(*, tasks, status: str, now: datetime) -> tuple[set[int], int]:
    """Turn the given leased tasks (a queryset) into `status` (expired / returned) and take their leases
    off Item.active_count. Tasks locked by someone else (being rated right now) are skipped. Returns the
    ids of the batches touched and the number of leases ended. Call inside a transaction."""
    rows = list(
        tasks.filter(status=Task.Status.LEASED)
        .select_for_update(skip_locked=True, no_key=True)
        .order_by("pk")
        .values_list("pk", "item_id", "batch_id")
    )
    if not rows:
        return set(), 0
    Task.objects.filter(pk__in=[r[0] for r in rows]).update(status=status)
    per_item = Counter(r[1] for r in rows)
    item_ids = sorted(per_item)
    # Item locks in primary-key order, like every other path that waits for them.
    list(
        Item.objects.select_for_update(no_key=True).filter(pk__in=item_ids).order_by("pk").values_list("pk", flat=True)
    )
    by_delta: dict[int, list[int]] = {}
    for item_id, n in per_item.items():
        by_delta.setdefault(n, []).append(item_id)
    for n, ids in by_delta.items():
        after = Greatest(F("active_count") - n, 0)
        Item.objects.filter(pk__in=ids).update(active_count=after, priority=priority_expression(after))
    return {r[2] for r in rows}, len(rows)


def batch_leases_expire(*, batch: Batch, now: datetime) -> int:
    """End the batch's leases that are past their time (call inside a transaction). Returns how many ended."""
    _, n = leases_give_back(
        tasks=Task.objects.filter(batch=batch, lease_expires_at__lte=now), status=Task.Status.EXPIRED, now=now
    )
    return n


def batch_close_if_done(*, batch: Batch, now: datetime) -> bool:
    """Close an open batch that has no leased task left; queue its scrutiny. True when it is closed."""
    if batch.status != Batch.Status.OPEN:
        return True
    if Task.objects.filter(batch=batch, status=Task.Status.LEASED).exists():
        return False
    closed = Batch.objects.filter(pk=batch.pk, status=Batch.Status.OPEN).update(
        status=Batch.Status.CLOSED, closed_at=now
    )
    batch.status, batch.closed_at = Batch.Status.CLOSED, now
    if closed:
        batch_closed_notify(batch=batch)
    return True


_B, _T = Batch._meta.db_table, Task._meta.db_table

# The batch's close when none of its tasks is leased, in one statement. The UPDATE takes the batch's row lock;
# had it to wait, the NOT EXISTS read a snapshot from before the wait, which can only show more leased tasks
# than there are (no task becomes leased after its batch is made), so a stale read never closes too early: it
# closes nothing and the caller takes the full path.
CLOSE_IDLE_SQL = f"""
    UPDATE {_B} SET status = 'closed', closed_at = %(now)s::timestamptz
     WHERE id = %(batch)s::bigint AND status = 'open'
       AND NOT EXISTS (SELECT 1 FROM {_T} WHERE batch_id = %(batch)s::bigint AND status = 'leased')
    RETURNING id"""


def batch_close_idle_fast(*, batch_id: int, now: datetime) -> bool:
    """On PostgreSQL, close an open batch that has no leased task at all (no dead lease to end first), and
    queue its scrutiny, in one prepared statement and the outbox row; inside the caller's transaction, after
    its task lock (lock order: task, batch). False when it closed nothing: the batch still holds a leased
    task, live or dead, or is not open; `batch_leases_expire` and `batch_close_if_done` then decide."""
    if sql_row(CLOSE_IDLE_SQL, {"batch": batch_id, "now": now}) is None:
        return False
    batch_closed_notify(batch=Batch(pk=batch_id))
    return True


def leases_expire(*, now: datetime | None = None) -> int:
    """Expire every lease past its time, in chunks (one transaction each, found through the
    task_live_leases partial index), and close the batches left with nothing leased, by this expiry or
    stranded by two ratings at once (`batches_close_stranded`). Returns the number of leases expired. Safe to
    run concurrently with itself and with rating."""
    total = 0
    while True:
        now_ = now or timezone.now()
        with transaction.atomic():
            chunk = list(
                Task.objects.filter(status=Task.Status.LEASED, lease_expires_at__lte=now_)
                .order_by("lease_expires_at")
                .values_list("pk", flat=True)[:EXPIRE_CHUNK]
            )
            if not chunk:
                break
            batch_ids, n = leases_give_back(
                tasks=Task.objects.filter(pk__in=chunk, lease_expires_at__lte=now_),
                status=Task.Status.EXPIRED,
                now=now_,
            )
            # skip_locked: a batch locked now is being finished or rated, and that path closes it.
            for batch in (
                Batch.objects.select_for_update(skip_locked=True, no_key=True)
                .filter(pk__in=sorted(batch_ids), status=Batch.Status.OPEN)
                .order_by("pk")
            ):
                batch_close_if_done(batch=batch, now=now_)
            total += n
        if len(chunk) < EXPIRE_CHUNK or n == 0:  # n == 0: the rest is locked by ratings in flight
            break
    batches_close_stranded(now=now)
    return total


def batches_close_stranded(*, now: datetime | None = None, limit: int = STRANDED_CHUNK) -> int:
    """Close the open batches that have no leased task left, and queue their scrutiny. Returns how many closed.

    An open batch always holds a leased task, except after one race: two ratings of its last two tasks at the
    same moment (one annotator in two tabs) each read the other's task as still leased (each statement's
    snapshot is from before the other commits), so neither closes the batch. The annotator's next batch request
    would close it; if they never come back, only this does (beat runs it with the lease expiry, every 60 s).
    Batches locked right now are skipped: their own request is closing or finishing them."""
    closed, now = 0, now or timezone.now()
    with transaction.atomic():
        # An anti-join of two partial indexes, open batches (batch_one_open_per_annotator) and leased tasks
        # (task_live_leases): its cost follows the annotators at work, not the tables. 2.5 ms for 2,077 open
        # batches among 20,739 with 1.05M tasks (EXPLAIN ANALYZE, 2026-12-01).
        stranded = (
            Batch.objects.select_for_update(skip_locked=True, no_key=True)
            .filter(status=Batch.Status.OPEN)
            .exclude(Exists(Task.objects.filter(batch=OuterRef("pk"), status=Task.Status.LEASED)))
            .order_by("pk")[:limit]
        )
        for batch in stranded:
            # batch_close_if_done looks again under the lock, and queues the scrutiny with the close
            if batch_close_if_done(batch=batch, now=now):
                closed += 1
    if closed:
        log.warning(
            "closed %d open batch(es) left with nothing leased (most likely two ratings of their last tasks at once)",
            closed,
        )
    return closed


def _locked_open_batch(*, batch_id: int, user) -> Batch:
    batch = (
        Batch.objects.select_for_update(of=("self",), no_key=True)
        .select_related("campaign")
        .filter(pk=batch_id, annotator=user)
        .first()
    )
    if batch is None:
        raise NotFound(f"batch {batch_id} not found")
    if batch.status != Batch.Status.OPEN:
        raise Conflict(f"batch {batch_id} is closed")
    return batch


@transaction.atomic
def batch_heartbeat(*, batch_id: int, user) -> datetime | None:
    """Extend the live leases of the caller's open batch by the campaign's lease_minutes. Returns the new
    expiry, or None when no lease was live (expired leases stay expired)."""
    # No batch row lock here: a rating holds its task and then locks the batch, so locking the batch and
    # then the tasks would be the opposite order.
    batch = Batch.objects.select_related("campaign").filter(pk=batch_id, annotator=user).first()
    if batch is None:
        raise NotFound(f"batch {batch_id} not found")
    if batch.status != Batch.Status.OPEN:
        raise Conflict(f"batch {batch_id} is closed")
    now = timezone.now()
    expires = now + timedelta(minutes=batch.campaign.lease_minutes)
    n = Task.objects.filter(batch=batch, status=Task.Status.LEASED, lease_expires_at__gt=now).update(
        lease_expires_at=expires
    )
    return expires if n else None


@transaction.atomic
def batch_finish(*, batch_id: int, user) -> Batch:
    """Finish the caller's open batch early: unrated tasks are returned to the pool and the batch closes."""
    batch = _locked_open_batch(batch_id=batch_id, user=user)
    now = timezone.now()
    batch_leases_expire(batch=batch, now=now)
    leases_give_back(tasks=Task.objects.filter(batch=batch), status=Task.Status.RETURNED, now=now)
    if not batch_close_if_done(batch=batch, now=now):
        # a task of this batch is being rated this very moment (locked): let that rating land first
        raise Conflict(f"batch {batch_id} has a rating in flight: try again")
    return batch
