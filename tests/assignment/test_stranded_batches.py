"""A batch left open with nothing leased is closed by the periodic sweep, and its scrutiny queued.

Two ratings of a batch's last two tasks at the same moment (one annotator, two tabs) each count the other's
task as still leased (each statement reads a snapshot from before the other commits), so neither takes the
batch's last live lease and neither closes it. Nothing asks that annotator's batch again if they leave, and
an open batch is never scrutinized: its ratings would wait for ever. The sweep that expires leases (beat,
every 60 s) closes such batches too. The race is reproduced here, not simulated: the first rating is held
uncommitted on a second connection while the second rating is stored."""

from __future__ import annotations

import logging
import threading
from contextlib import contextmanager

import pytest
from django.db import connection, transaction

from annotation.models import Batch, OutboxMessage, Rating, Task
from annotation.services.leases import batches_close_stranded, leases_expire
from annotation.services.ratings import rating_submit
from annotation.tasks.assignment import expire_leases

pytestmark = pytest.mark.django_db(transaction=True)


@contextmanager
def held_open_elsewhere(work):
    """Run `work()` inside a transaction on another connection (its own thread) and keep that transaction open
    while the block runs; it commits when the block ends. Yields what `work` returned."""
    ready, release = threading.Event(), threading.Event()
    out: dict = {}

    def run():
        try:
            with transaction.atomic():
                out["value"] = work()
                ready.set()
                assert release.wait(30), "the test never released the other transaction"
        except BaseException as exc:  # noqa: BLE001 - re-raised in the test's thread
            out["error"] = exc
            ready.set()
        finally:
            connection.close()

    thread = threading.Thread(target=run)
    thread.start()
    try:
        assert ready.wait(30)
        if "error" in out:
            raise out["error"]
        yield out["value"]
    finally:
        release.set()
        thread.join(30)
    if "error" in out:
        raise out["error"]


def rate_last_two_at_once(user, first: int, second: int) -> tuple[str, str]:
    """Rate `first` on another connection and hold its transaction open while `second` is rated here; then
    let the first commit. Returns the batch status each rating answered."""

    def rate(task_id: int, value: int) -> str:
        return rating_submit(task_id=task_id, user=user, scores={"quality": value, "alignment": value}).batch_status

    with held_open_elsewhere(lambda: rate(first, 3)) as first_status:
        second_status = rate(second, 4)
    return first_status, second_status


@contextmanager
def warnings_of(name: str):
    """The messages `name` logs at WARNING or above while the block runs. A handler of its own on the logger, not
    pytest's caplog on the root logger: the first task a process publishes makes Celery's Django fix-up run
    django.setup() (core.queue.task_named), whose logging setup replaces the root logger's handlers, pytest's
    capture among them, for the rest of that test; here the close's scrutiny can be that first task."""
    logged: list[str] = []
    handler = logging.Handler(logging.WARNING)
    handler.emit = lambda record: logged.append(record.getMessage())  # type: ignore[method-assign]
    logger = logging.getLogger(name)
    logger.addHandler(handler)
    try:
        yield logged
    finally:
        logger.removeHandler(handler)


def scrutiny_messages(batch_id: int) -> int:
    return OutboxMessage.objects.filter(key=f"scrutiny:batch:{batch_id}").count()


def test_two_tabs_rating_the_last_two_tasks_strand_the_batch_and_the_sweep_closes_it(open_batch):
    user, tasks, batch = open_batch
    for task_id in tasks[:2]:
        rating_submit(task_id=task_id, user=user, scores={"quality": 2, "alignment": 2})
    assert connection.vendor == "postgresql"

    first, second = rate_last_two_at_once(user, tasks[2], tasks[3])

    # the race itself: both stored, neither saw itself as the last, so the batch stayed open with nothing leased
    assert (first, second) == ("open", "open")
    assert Rating.objects.filter(batch=batch).count() == 4
    assert not Task.objects.filter(batch=batch, status=Task.Status.LEASED).exists()
    batch.refresh_from_db()
    assert batch.status == Batch.Status.OPEN and scrutiny_messages(batch.pk) == 0

    # the beat task: no lease to expire, one stranded batch closed. (`.result`, not `.get()`: eager tasks run in
    # several threads by earlier tests can leave Celery's process-wide "join would block" flag set.)
    with warnings_of("annotation.services.leases") as logged:
        swept = expire_leases.apply()
    assert swept.successful() and swept.result == 0
    assert any("closed 1 open batch(es) left with nothing leased" in m for m in logged)  # an operator sees it
    batch.refresh_from_db()
    assert batch.status == Batch.Status.CLOSED and batch.closed_at is not None
    assert scrutiny_messages(batch.pk) == 1
    assert batches_close_stranded() == 0  # idempotent


def test_the_sweep_leaves_open_batches_with_a_lease_alone_even_an_expired_one(open_batch):
    user, tasks, batch = open_batch
    for task_id in tasks[:3]:
        rating_submit(task_id=task_id, user=user, scores={"quality": 2, "alignment": 2})
    assert batches_close_stranded() == 0
    batch.refresh_from_db()
    assert batch.status == Batch.Status.OPEN and scrutiny_messages(batch.pk) == 0
    # an expired but still leased task is the lease sweep's to end; after it the batch closes as before
    Task.objects.filter(pk=tasks[3]).update(lease_expires_at=batch.created_at)
    assert leases_expire() == 1
    batch.refresh_from_db()
    assert batch.status == Batch.Status.CLOSED and scrutiny_messages(batch.pk) == 1


def test_the_sweep_skips_a_batch_someone_holds(open_batch):
    """A batch locked right now is being closed or finished by its own request: the sweep neither waits for it
    nor closes it twice."""
    user, tasks, batch = open_batch
    Task.objects.filter(batch=batch).update(status=Task.Status.RATED)  # stranded, as after the race
    with held_open_elsewhere(lambda: Batch.objects.select_for_update(no_key=True).get(pk=batch.pk)):
        assert batches_close_stranded() == 0
    assert batches_close_stranded() == 1
    batch.refresh_from_db()
    assert batch.status == Batch.Status.CLOSED and scrutiny_messages(batch.pk) == 1
