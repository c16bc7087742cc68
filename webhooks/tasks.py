"""Thin Celery tasks: load by id, call the service. Idempotent and acks_late (settings): a delivery that is
no longer pending is left alone, so a repeated task sends nothing twice."""

from celery import shared_task


@shared_task(name="webhooks.deliver", ignore_result=True)
def deliver(delivery_id: int) -> None:
    from .services import delivery_attempt

    delivery_attempt(delivery_id=delivery_id)


@shared_task(name="webhooks.resend_due", ignore_result=True)
def resend_due() -> int:
    from .services import deliveries_resend_due

    return deliveries_resend_due()
