"""Events other systems may hear of (a batch decided, a dataset version ready, an export ready, a training run
finished), announced by the services that make them true, inside their transaction.

The apps that make events (annotation, training) must not import the app that delivers them (webhooks sits above
them), so the receivers are named in settings (QEVAL_EVENT_RECEIVERS: dotted paths of functions called as
`receiver(event, **objects)`), like QEVAL_ITEMS_CREATED_HOOKS. A receiver that does not know an event ignores it.
"""

from __future__ import annotations

from functools import cache

from django.conf import settings
from django.utils.module_loading import import_string

BATCH_DECIDED = "batch.decided"
VERSION_READY = "version.ready"
EXPORT_READY = "export.ready"
TRAINING_FINISHED = "training.finished"
EVENTS = (BATCH_DECIDED, VERSION_READY, EXPORT_READY, TRAINING_FINISHED)


@cache
def _receiver(path: str):
    return import_string(path)


def announce(event: str, **objects) -> None:
    """Hand the event to every receiver named in settings (each records it in the caller's transaction)."""
    if event not in EVENTS:
        raise ValueError(f"unknown event {event!r}")  # a programming error, not input
    for path in settings.QEVAL_EVENT_RECEIVERS:
        _receiver(path)(event, **objects)
