"""Periodic fault-tolerance tasks (beat; in the embedded default the worker runs beat itself, `-B`):
the outbox relay, the stale-job sweep, the pending-scrutiny sweep and retention. Thin: call the service."""

from celery import shared_task


@shared_task(name="annotation.outbox_relay", acks_late=True, ignore_result=True)
def outbox_relay() -> dict:
    from ..services.outbox import outbox_relay as relay

    return relay()


@shared_task(name="annotation.jobs_sweep", acks_late=True, ignore_result=True)
def jobs_sweep() -> dict:
    """Every kind of job's sweep (settings.QEVAL_JOB_SWEEPS): {"jobs": {...}, "training_runs": {...}}."""
    from django.conf import settings
    from django.utils.module_loading import import_string

    return {name: import_string(path)() for name, path in settings.QEVAL_JOB_SWEEPS.items()}


@shared_task(name="annotation.scrutiny_sweep", acks_late=True, ignore_result=True)
def scrutiny_sweep() -> list[int]:
    from ..services.batch_events import scrutiny_sweep as sweep

    return sweep()


@shared_task(name="annotation.retention_apply", acks_late=True, ignore_result=True)
def retention_apply() -> dict:
    from ..services.retention import retention_apply as apply

    return apply(dry_run=False).summary()
