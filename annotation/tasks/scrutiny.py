from celery import shared_task


@shared_task(name="annotation.scrutinize_batch", acks_late=True)
def scrutinize_batch(batch_id: int) -> None:
    from ..services.scrutiny import batch_scrutinize

    batch_scrutinize(batch_id=batch_id)
