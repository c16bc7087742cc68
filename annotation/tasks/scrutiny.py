"""Scrutiny on the workers: queued by batch_closed_notify when a batch closes (after commit)."""

import logging

from celery import shared_task

log = logging.getLogger(__name__)


@shared_task(name="annotation.scrutinize_batch", acks_late=True)
def scrutinize_batch(batch_id: int) -> None:
    """Idempotent: a repeat (redelivery after a lost worker) finds the batch unchanged and changes nothing."""
    from core.errors import Conflict, NotFound

    from ..services.scrutiny import batch_scrutinize

    try:
        batch_scrutinize(batch_id=batch_id)
    except (NotFound, Conflict) as exc:  # deleted meanwhile, or reopened: nothing to scrutinize, no retry helps
        log.warning("scrutiny of batch %s skipped: %s", batch_id, exc.message)


@shared_task(name="annotation.rescrutinize_annotator", acks_late=True)
def rescrutinize_annotator(campaign_id: int, annotator_id: int, exclude: int | None = None) -> None:
    """An annotator's standing changed: decide their other batches again (idempotent)."""
    from ..services.scrutiny import annotator_rescrutinize

    annotator_rescrutinize(campaign_id=campaign_id, annotator_id=annotator_id, exclude=exclude)
