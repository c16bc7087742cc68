"""The transactional outbox: enqueueing that survives a broker outage.

`outbox_enqueue` writes the intent to run a task (an OutboxMessage row) in the caller's transaction, so
the change and its follow-up work commit together or not at all. Right after the commit it hands the
message to this process's publisher thread, which publishes it once (no retries), so no request ever
waits on the broker (a dead Redis costs a publish about 2 s of connection attempts: the thread's, not
the request's). Whatever the broker did not take, the relay
(`outbox_relay`, the `annotation.outbox_relay` task on beat every OUTBOX_RELAY_EVERY_S, or
`manage.py outbox_relay`) publishes when it is back.

Delivery is at least once: a message can be published twice (a relay that dies between the broker's
answer and its own commit), and every task it names is idempotent. A message is held with
`SELECT ... FOR UPDATE SKIP LOCKED` while it is published, so the commit hook and a relay never
publish the same row at the same time.

With eager Celery (tests), publishing runs the task in this process: the row is marked sent first and
the task runs outside any transaction, as it would on a worker; its failure is logged and recorded on its
job, not raised into the request that enqueued it (a worker's failure never reaches that request either).
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterable
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from core.queue import eager, task_named

from ..models import OutboxMessage

log = logging.getLogger(__name__)
RELAY_BATCH = 500


def broker_errors() -> tuple[type[BaseException], ...]:
    """Exceptions that mean "the broker did not take the message" (leave it in the outbox)."""
    from kombu.exceptions import OperationalError as KombuOperationalError

    errors: list[type[BaseException]] = [KombuOperationalError, ConnectionError, TimeoutError, OSError]
    try:
        import redis

        errors += [redis.exceptions.ConnectionError, redis.exceptions.TimeoutError]
    except ImportError:  # pragma: no cover
        pass
    return tuple(errors)


def outbox_enqueue(
    *,
    task: str,
    args: Iterable[Any] = (),
    kwargs: dict | None = None,
    queue: str = "",
    key: str = "",
    robust: bool = False,
    task_id: str | None = None,
) -> OutboxMessage:
    """Record that `task(*args, **kwargs)` must run once the surrounding transaction commits, and try to
    publish it right after the commit. `robust`: an error from an eager task body (tests) is logged
    instead of raised to the caller. Returns the message (its `task_id` is the Celery task id)."""
    message = OutboxMessage.objects.create(
        task=task,
        args=list(args),
        kwargs=kwargs or {},
        queue=queue,
        key=key[:120],
        task_id=task_id or uuid.uuid4().hex,
    )
    message_id = message.pk
    if eager():
        transaction.on_commit(lambda: outbox_publish(message_id=message_id), robust=robust)
    else:
        transaction.on_commit(lambda: _PUBLISHER.submit(message_id))
    return message


class _Publisher:
    """One daemon thread per process that publishes committed messages in the background. Started lazily
    (after a fork, a child starts its own). When the broker refuses one, the rest wait for the relay."""

    def __init__(self):
        import queue

        self._queue: queue.SimpleQueue[int] = queue.SimpleQueue()
        self._pid = None
        self._lock = __import__("threading").Lock()

    def submit(self, message_id: int) -> None:
        import os
        import threading

        with self._lock:
            if self._pid != os.getpid():
                self._pid = os.getpid()
                threading.Thread(target=self._loop, name="outbox-publisher", daemon=True).start()
        self._queue.put(message_id)

    def _loop(self) -> None:
        from django.db import connection

        while True:
            message_id = self._queue.get()
            try:
                ok = outbox_publish(message_id=message_id)
            except Exception:  # the database, most likely: the relay publishes it later
                log.warning("outbox publisher could not publish message %s", message_id, exc_info=True)
                ok = False
            if not ok:
                while not self._queue.empty():  # the broker is down: leave the backlog to the relay
                    self._queue.get_nowait()
            if self._queue.empty():
                connection.close()  # hand the connection back (to the pool) while idle


_PUBLISHER = _Publisher()


def outbox_publish(*, message_id: int) -> bool:
    """Publish one waiting message. True when the broker took it (or it was sent already); False when the
    broker is unavailable (the message stays for the relay). Never raises a broker error."""
    if eager():
        claimed = OutboxMessage.objects.filter(pk=message_id, sent_at__isnull=True).update(
            sent_at=timezone.now(), attempts=F("attempts") + 1
        )
        if not claimed:
            return True
        message = OutboxMessage.objects.get(pk=message_id)
        try:
            task_named(message.task).apply_async(
                args=message.args,
                kwargs=message.kwargs,
                task_id=message.task_id,
                **({"queue": message.queue} if message.queue else {}),
            )
        except Exception:  # the task failed, as it would have on a worker: recorded on its row, not the caller's error
            log.warning("eager task %s%s failed", message.task, tuple(message.args), exc_info=True)
        return True
    with transaction.atomic():
        held = (
            OutboxMessage.objects.select_for_update(skip_locked=True)
            .filter(pk=message_id, sent_at__isnull=True)
            .first()
        )
        if held is None:
            return True  # sent already, or a relay holds it right now
        message = held
        try:
            _send(message)
        except broker_errors() as exc:
            OutboxMessage.objects.filter(pk=message.pk).update(
                attempts=F("attempts") + 1, last_error=f"{type(exc).__name__}: {exc}"[:500]
            )
            log.warning("outbox message %s (%s) waits for the broker: %s", message.pk, message.task, exc)
            return False
        OutboxMessage.objects.filter(pk=message.pk).update(
            sent_at=timezone.now(), attempts=F("attempts") + 1, last_error=""
        )
    return True


def outbox_relay(*, limit: int = 10_000) -> dict[str, int]:
    """Publish waiting messages, oldest first, until none is left, the broker refuses one (it is down:
    stop, the next relay goes on), or `limit` were sent. Also forgets sent messages older than
    OUTBOX_KEEP_SENT_DAYS. Returns {"sent", "waiting", "pruned"}."""
    sent = 0
    broker_down = False
    while sent < limit and not broker_down:
        ids = list(
            OutboxMessage.objects.filter(sent_at__isnull=True)
            .order_by("id")
            .values_list("id", flat=True)[: min(RELAY_BATCH, limit - sent)]
        )
        if not ids:
            break
        progressed = False
        for message_id in ids:
            if outbox_publish(message_id=message_id):
                sent += 1
                progressed = True
            else:
                broker_down = True
                break
        if not progressed:
            break
    pruned = outbox_prune()
    waiting = OutboxMessage.objects.filter(sent_at__isnull=True).count()
    if sent or waiting:
        log.info("outbox relay: %d sent, %d waiting", sent, waiting)
    return {"sent": sent, "waiting": waiting, "pruned": pruned}


def outbox_prune() -> int:
    keep_days = settings.OUTBOX_KEEP_SENT_DAYS
    cutoff = timezone.now() - timedelta(days=keep_days)
    deleted, _ = OutboxMessage.objects.filter(sent_at__lt=cutoff).delete()
    return deleted


def outbox_pending(*, key: str, since) -> bool:
    """True when a message about `key` still waits to be published, or was made after `since` (it may still
    sit in a busy queue): a sweep then leaves the key alone instead of piling up repeats."""
    from django.db.models import Q

    return OutboxMessage.objects.filter(Q(sent_at__isnull=True) | Q(created_at__gte=since), key=key).exists()


def _send(message: OutboxMessage) -> None:
    options: dict[str, Any] = {"task_id": message.task_id, "retry": False}
    if message.queue:
        options["queue"] = message.queue
    task_named(message.task).apply_async(args=message.args, kwargs=message.kwargs, **options)
