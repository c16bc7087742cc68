"""Periodic lease expiry (celery beat runs it every 60 s: CELERY_BEAT_SCHEDULE["expire-leases"])."""

from celery import shared_task


@shared_task(name="annotation.expire_leases", acks_late=True)
def expire_leases() -> int:
    """Return expired leases to the pool in bulk and close the batches left with nothing leased; idempotent (a
    repeat finds nothing left to expire or close). Returns the number of leases expired."""
    from ..services.leases import leases_expire

    return leases_expire()
