"""One state machine for every long-running piece of work: dataset jobs (annotation.Job), training runs,
benchmarks and generation jobs share their statuses, the moves allowed between them and the timestamps
each move sets.

    queued ──claim──► running ──► succeeded | failed | cancelled
      ▲                  │ ▲
      └────requeue───────┘ └─ claim again (its worker died: the sweep re-queues it, or the next delivery
                                takes it over)
    queued ──────────────────► succeeded | failed | cancelled   (nothing to do, could not be queued, cancelled
                                                                 before it started, given up after attempts)

A finished status is final: nothing moves a job out of it, so a worker presumed dead that comes back late
cannot overwrite what the sweep or a cancel decided. Entering `running` sets `started_at` (once: a re-run
keeps the first start); entering a finished status sets `finished_at`.

Three ways to move, for the ways the services write:
- `transition(obj, status)` in memory: checks the move, sets the fields on the instance and returns their
  names (for a caller that saves the row itself, under SELECT ... FOR UPDATE);
- `transition_save(obj, status, also=[...])`: the same, then one conditional UPDATE of those fields that
  lands only while the row is still in a status the move is allowed from (False, and the row re-read, when
  another process finished it meanwhile);
- `transition_where(model, pk, status, **fields)`: one conditional UPDATE without loading the row.

Each model keeps its own `Status` choices (a subset of these values: dataset jobs are never cancelled,
benchmarks neither); the machine works on the values.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any

from django.apps import apps
from django.conf import settings
from django.db import connection
from django.db.models import F, Model
from django.db.models.functions import Coalesce
from django.utils import timezone

from .errors import Conflict, TooManyRequests

log = logging.getLogger(__name__)

QUEUED, RUNNING, SUCCEEDED, FAILED, CANCELLED = "queued", "running", "succeeded", "failed", "cancelled"
LIVE = (QUEUED, RUNNING)
FINISHED = (SUCCEEDED, FAILED, CANCELLED)

# status -> the statuses it may move to.
TRANSITIONS: dict[str, frozenset[str]] = {
    QUEUED: frozenset({RUNNING, SUCCEEDED, FAILED, CANCELLED}),
    RUNNING: frozenset({QUEUED, RUNNING, SUCCEEDED, FAILED, CANCELLED}),
    SUCCEEDED: frozenset(),
    FAILED: frozenset(),
    CANCELLED: frozenset(),
}


class InvalidTransition(Conflict):
    """A move the state machine does not allow (409): e.g. finishing a job that has already finished."""


def allowed(current: str, target: str) -> bool:
    return target in TRANSITIONS.get(current, frozenset())


def sources_of(target: str) -> tuple[str, ...]:
    """The statuses from which `target` may be entered."""
    return tuple(s for s, targets in TRANSITIONS.items() if target in targets)


def transition(obj: Any, target: str, *, now: datetime | None = None) -> list[str]:
    """Move `obj` (a row with `status`, `started_at`, `finished_at`) to `target` in memory; InvalidTransition
    when the machine does not allow it. Returns the names of the fields set, for `save(update_fields=...)`."""
    current = str(obj.status)
    if not allowed(current, target):
        raise InvalidTransition(f"{_name(obj)} is {current}; it cannot become {target}")
    now = now or timezone.now()
    obj.status = target
    fields = ["status"]
    if target == RUNNING and getattr(obj, "started_at", None) is None:
        obj.started_at = now
        fields.append("started_at")
    if target in FINISHED:
        obj.finished_at = now
        fields.append("finished_at")
    return fields


def transition_save(obj: Any, target: str, *, also: Iterable[str] = (), now: datetime | None = None) -> bool:
    """`transition` then save `obj`'s moved fields and `also` with one UPDATE conditional on the row's status
    in the database still allowing the move. True when it landed; else the row is re-read (it had finished)."""
    fields = transition(obj, target, now=now)
    fields += [f for f in also if f not in fields]
    moved = (
        type(obj)
        ._default_manager.filter(pk=obj.pk, status__in=sources_of(target))
        .update(**{f: getattr(obj, f) for f in fields})
    )
    if not moved:
        obj.refresh_from_db()
    return bool(moved)


def transition_where(
    model: type[Model],
    pk: Any,
    target: str,
    *,
    sources: Iterable[str] | None = None,
    now: datetime | None = None,
    **fields: Any,
) -> bool:
    """Move row `pk` of `model` to `target` with one conditional UPDATE (also writing `fields`), only from a
    status the move is allowed from (narrowed to `sources` when given). True when the row moved."""
    allowed_from = tuple(sources_of(target))
    if sources is not None:
        allowed_from = tuple(s for s in sources if s in allowed_from)
    now = now or timezone.now()
    values: dict[str, Any] = {"status": target, **fields}
    if target == RUNNING:
        values.setdefault("started_at", Coalesce(F("started_at"), now))
    if target in FINISHED:
        values.setdefault("finished_at", now)
    return bool(model._default_manager.filter(pk=pk, status__in=allowed_from).update(**values))


def _name(obj: Any) -> str:
    return f"{type(obj).__name__.lower()} {getattr(obj, 'pk', '')}".strip()


def active_jobs_count(*, user) -> int:
    """Jobs of every kind `user` has queued or running: one index-backed count per model named in
    QEVAL_JOB_MODELS (dataset jobs, training runs, generation jobs)."""
    return sum(
        apps.get_model(label)._default_manager.filter(created_by=user, status__in=LIVE).count()
        for label in settings.QEVAL_JOB_MODELS
    )


def active_jobs_check(*, user) -> None:
    """TooManyRequests (429) when `user` already has QEVAL_MAX_ACTIVE_JOBS_PER_USER jobs queued or running."""
    limit = settings.QEVAL_MAX_ACTIVE_JOBS_PER_USER
    if limit <= 0 or user is None or not getattr(user, "pk", None):
        return
    count = active_jobs_count(user=user)
    if count >= limit:
        raise TooManyRequests(
            f"you have {count} jobs queued or running, the limit is {limit} "
            "(QEVAL_MAX_ACTIVE_JOBS_PER_USER); start this one when one of them has finished"
        )


class Heartbeat:
    """Calls `beat()` every `every_s` seconds from a daemon thread until stopped: the work itself may sit in one
    long query or a long computation without reporting progress, and a sweep takes a job whose beat is stale
    for one whose worker died."""

    def __init__(self, beat: Callable[[], Any], *, every_s: float, name: str = "heartbeat"):
        self.beat, self.every_s = beat, every_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name=name, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)

    def _loop(self) -> None:
        try:
            while not self._stop.wait(self.every_s):
                try:
                    self.beat()
                except Exception:  # a lost connection must not kill the work; the next beat retries
                    log.warning("heartbeat failed", exc_info=True)
                    connection.close()
        finally:
            connection.close()  # this thread's own connection


def redact_paths(text: str) -> str:
    """`text` with the folders of absolute paths left out (`/srv/data/exports/job-3/x.csv` -> `x.csv`): an
    error shown through the API must not tell how the server's disks are laid out."""
    return re.sub(r"(?<![\w.:/])/(?:[^/\s'\"]+/)+", "", text or "")
