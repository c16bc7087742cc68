"""Skipping and flagging items on the rating page, and the admins' decisions on flagged items.

An annotator who cannot rate an item skips it, with a reason: "skip" (cannot judge it) or a flag (broken
media, unsafe content, missing prompt, something else). Either way the task ends as `skipped`, its
lease goes back (Item.active_count - 1, as an expiry would) and, since a task row stays, the item never
comes back to that annotator (unique annotator/item task). A flag also files an ItemFlag for the admins.

What the annotator gets back is the same for a golden and a regular item: the batch's progress and
status, nothing about the item. Golden items keep their golden slots for other annotators.

Lock order as in ratings (assignment.py's docstring): the task, then the batch, then items in pk order.
"""

from __future__ import annotations

from django.db import transaction
from django.db.models import Count, F, Q
from django.db.models.functions import Greatest
from django.utils import timezone

from core.errors import Conflict, Gone, InvalidInput, NotFound

from ..models import Batch, Item, ItemFlag, Task
from .leases import batch_close_if_done, batch_leases_expire, leases_give_back

SKIP = "skip"  # no flag: the annotator cannot judge this one
SKIP_REASONS = (SKIP, *ItemFlag.Reason.values)
MAX_NOTE: int = ItemFlag._meta.get_field("note").max_length or 500


def _clean(reason: str, note: str) -> tuple[str, str]:
    reason = (reason or "").strip()
    note = (note or "").strip()
    if reason not in SKIP_REASONS:
        raise InvalidInput(f"reason must be one of {', '.join(SKIP_REASONS)}")
    if len(note) > MAX_NOTE:
        raise InvalidInput(f"the note is too long: at most {MAX_NOTE} characters")
    if reason == ItemFlag.Reason.OTHER and not note:
        raise InvalidInput("say in a few words what is wrong with it (reason 'other' needs a note)")
    return reason, note


@transaction.atomic
def task_skip(*, task_id: int, user, reason: str, note: str = "") -> dict:
    """Skip (and, with a flag reason, flag) the caller's leased task. Returns {"status": "skipped",
    "batch": {"id", "status", "progress": {"rated", "skipped", "total"}}}, the same whatever the item.
    NotFound: not the caller's task; Conflict: already rated or skipped; Gone: the lease ended."""
    reason, note = _clean(reason, note)
    task = (
        Task.objects.select_for_update(of=("self",), no_key=True)
        .select_related("batch__campaign")
        .filter(pk=task_id, annotator=user)
        .first()
    )
    if task is None:
        raise NotFound(f"task {task_id} not found")
    now = timezone.now()
    if task.status in (Task.Status.RATED, Task.Status.SKIPPED):
        raise Conflict(f"task {task_id} is already {task.status}")
    if task.status != Task.Status.LEASED or task.lease_expires_at <= now:
        raise Gone(f"the lease on task {task_id} has ended: ask for a new batch")
    leases_give_back(tasks=Task.objects.filter(pk=task.pk), status=Task.Status.SKIPPED, now=now)
    if reason != SKIP:
        ItemFlag.objects.get_or_create(
            item_id=task.item_id,
            annotator=user,
            defaults={"campaign_id": task.batch.campaign_id, "task": task, "reason": reason, "note": note},
        )
    batch = task.batch
    counts = Task.objects.filter(batch=batch).aggregate(
        total=Count("pk"),
        rated=Count("pk", filter=Q(status=Task.Status.RATED)),
        skipped=Count("pk", filter=Q(status=Task.Status.SKIPPED)),
        live=Count("pk", filter=Q(status=Task.Status.LEASED, lease_expires_at__gt=now)),
    )
    if not counts["live"]:
        batch = Batch.objects.select_for_update(no_key=True).get(pk=batch.pk)
        batch_leases_expire(batch=batch, now=now)
        batch_close_if_done(batch=batch, now=now)
    return {
        "status": Task.Status.SKIPPED,
        "batch": {
            "id": batch.pk,
            "status": batch.status,
            "progress": {"rated": counts["rated"], "skipped": counts["skipped"], "total": counts["total"]},
        },
    }


@transaction.atomic
def flags_resolve(*, item_id: int, decision: str, user) -> dict:
    """Decide on every open flag of an item: "dismiss" (the item is fine: it stays in the pool) or "retire"
    (no more ratings: its target drops to the ratings it holds now, so assignment stops handing it out;
    its ratings and MOS stay). Golden items cannot be retired here: the golden sample is changed with
    create_golden_set. Returns {"item", "decision", "flags"}."""
    if decision not in ("dismiss", "retire"):
        raise InvalidInput("decision must be 'dismiss' or 'retire'")
    item = Item.objects.select_for_update(no_key=True).filter(pk=item_id).first()
    if item is None:
        raise NotFound(f"item {item_id} not found")
    flags = ItemFlag.objects.filter(item=item, status=ItemFlag.Status.OPEN)
    if not flags.exists():
        raise Conflict(f"item {item.item_id} has no open flag")
    if decision == "retire":
        if item.is_golden:
            raise Conflict(f"item {item.item_id} is in the golden sample: it cannot be retired here")
        # The target becomes the ratings it holds (active_count less its live leases): a lease that
        # ends later then leaves it at its target, out of the pool, instead of handing it out again.
        live = Task.objects.filter(item=item, status=Task.Status.LEASED).count()
        Item.objects.filter(pk=item.pk).update(target=Greatest(F("active_count") - live, 0))
    status = ItemFlag.Status.RETIRED if decision == "retire" else ItemFlag.Status.DISMISSED
    n = flags.update(status=status, resolved_by=user, resolved_at=timezone.now())
    return {"item": item.item_id, "decision": decision, "flags": n}
