"""What happens when a batch closes: its scrutiny is queued through the outbox (services/outbox.py), in the
closing transaction, so a broker outage neither fails the annotator's request nor loses the scrutiny.
`scrutiny_sweep` (beat, every SCRUTINY_SWEEP_EVERY_S) catches any closed batch still not scrutinized."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.utils import timezone

from ..models import Batch
from .outbox import outbox_enqueue, outbox_pending

SCRUTINIZE_TASK = "annotation.scrutinize_batch"
SWEEP_LIMIT = 1000


def _key(batch_id: int) -> str:
    return f"scrutiny:batch:{batch_id}"


def batch_closed_notify(*, batch: Batch) -> None:
    """Call inside the transaction that closed `batch`; scrutiny runs on the workers after commit."""
    # robust: with eager Celery (tests) a failing scrutiny must not fail the rating that closed the batch.
    outbox_enqueue(task=SCRUTINIZE_TASK, args=[batch.pk], key=_key(batch.pk), robust=True)


def scrutiny_sweep(*, older_than_s: float | None = None, limit: int = SWEEP_LIMIT) -> list[int]:
    """Queue scrutiny for closed batches that are still not scrutinized `older_than_s` seconds after closing
    (their message was lost: a worker died without redelivery, a broker lost its data) and have no message
    waiting in the outbox or made within that time. Returns the batch ids queued. Idempotent: scrutiny of a batch is."""
    after = float(settings.SCRUTINY_SWEEP_AFTER_S if older_than_s is None else older_than_s)
    cutoff = timezone.now() - timedelta(seconds=after)
    ids = list(
        Batch.objects.filter(status=Batch.Status.CLOSED, scrutinized_at__isnull=True, closed_at__lte=cutoff)
        .order_by("closed_at")
        .values_list("id", flat=True)[:limit]
    )
    queued = []
    for batch_id in ids:
        if not outbox_pending(key=_key(batch_id), since=cutoff):
            outbox_enqueue(task=SCRUTINIZE_TASK, args=[batch_id], key=_key(batch_id), robust=True)
            queued.append(batch_id)
    return queued
