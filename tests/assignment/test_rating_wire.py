"""PostgreSQL: what a rating sends over the wire, read from libpq's own protocol trace of the connection.

A rating that leaves its batch open is one prepared statement and nothing else: PostgreSQL runs it as its own
transaction, without the BEGIN and COMMIT round trips (two of the four a rating took). A rating that must be
followed by more (the batch's last live lease, or an expert's rating, which updates the golden scores) writes
nothing alone and is stored again inside one transaction with what follows, so it is all-or-nothing as before.
These run outside the test's transaction (transactional db) so that the wire shows the rating's own."""

from __future__ import annotations

import os
import tempfile
from contextlib import contextmanager

import pytest
from django.db import connection
from psycopg import pq

from annotation.models import Batch, GoldenScore, Item, OutboxMessage, Rating, Task
from annotation.services.golden import expert_batch_request
from annotation.services.ratings import rating_submit
from core.errors import Conflict, Gone
from tests.factories import CampaignFactory, ItemFactory

pytestmark = pytest.mark.django_db(transaction=True)


@contextmanager
def wire():
    """The frontend's messages on this thread's connection while the block runs (libpq's PQtrace)."""
    assert connection.vendor == "postgresql"
    connection.ensure_connection()
    pgconn = connection.connection.pgconn
    sent: list[str] = []
    with tempfile.TemporaryFile("w+") as out:
        pgconn.trace(os.dup(out.fileno()))  # libpq gets its own descriptor: it closes it when untraced
        pgconn.set_trace_flags(pq.Trace.SUPPRESS_TIMESTAMPS)
        try:
            yield sent
        finally:
            pgconn.untrace()
            out.seek(0)
            sent.extend(line for line in out.read().splitlines() if line.startswith("F\t"))


def queries(sent: list[str]) -> list[str]:
    """The simple-protocol queries (BEGIN, COMMIT, ...) and one "<prepared>" per prepared statement run."""
    out = []
    for line in sent:
        kind = line.split("\t")[2].split()[0]
        if kind == "Query":
            out.append(line.split('"')[1])
        elif kind == "Bind":
            out.append("<prepared>")
    return out


def test_a_rating_that_leaves_its_batch_open_is_one_statement_without_begin_or_commit(open_batch):
    user, tasks, batch = open_batch
    with wire() as sent:
        receipt = rating_submit(task_id=tasks[0], user=user, scores={"quality": 4, "alignment": 2})
    assert queries(sent) == ["<prepared>"], sent
    assert receipt.batch_status == "open" and receipt.progress == {"rated": 1, "total": 4}
    assert Rating.objects.get(pk=receipt.id).task_id == tasks[0]
    assert Task.objects.get(pk=tasks[0]).status == Task.Status.RATED


def test_the_last_rating_is_stored_with_the_batch_closing_in_one_transaction(open_batch):
    user, tasks, batch = open_batch
    for task_id in tasks[:-1]:
        rating_submit(task_id=task_id, user=user, scores={"quality": 3, "alignment": 3})
    with wire() as sent:
        receipt = rating_submit(task_id=tasks[-1], user=user, scores={"quality": 3, "alignment": 3})
    sql = queries(sent)
    # alone: refused (it would close the batch), nothing written; then BEGIN, the statement again, the close (one
    # prepared statement: no lease is left, dead or live), the scrutiny's outbox row, COMMIT. (After the COMMIT:
    # the scrutiny itself, which eager Celery runs in this process.)
    assert sql[: sql.index("COMMIT") + 1] == [
        "<prepared>",
        "BEGIN",
        "<prepared>",
        "<prepared>",
        "INSERT INTO ",
        "COMMIT",
    ]
    assert "ROLLBACK" not in sql
    assert receipt.batch_status == "closed" and receipt.progress == {"rated": 4, "total": 4}
    closed = Batch.objects.get(pk=batch.pk)
    assert closed.status == Batch.Status.CLOSED and closed.closed_at == Rating.objects.get(pk=receipt.id).created_at
    assert Rating.objects.filter(batch=batch).count() == 4  # stored once
    assert OutboxMessage.objects.filter(key=f"scrutiny:batch:{batch.pk}").count() == 1


def test_a_last_rating_beside_dead_leases_ends_them_and_closes_in_the_same_transaction(open_batch):
    """The one-statement close leaves a batch that still holds a leased task, here two dead ones, to the steps
    that end them (their items back to the pool) before closing: all inside the rating's transaction."""
    user, tasks, batch = open_batch
    rating_submit(task_id=tasks[0], user=user, scores={"quality": 3, "alignment": 3})
    Task.objects.filter(pk__in=tasks[1:3]).update(lease_expires_at=batch.created_at)  # dead, still 'leased'
    dead_items = list(Task.objects.filter(pk__in=tasks[1:3]).values_list("item_id", flat=True))
    with wire() as sent:
        receipt = rating_submit(task_id=tasks[3], user=user, scores={"quality": 3, "alignment": 3})
    sql = queries(sent)
    in_transaction = sql[sql.index("BEGIN") + 1 : sql.index("COMMIT")]
    assert in_transaction[:2] == ["<prepared>", "<prepared>"] and len(in_transaction) > 3, sql  # then the steps
    assert receipt.batch_status == "closed"
    assert Batch.objects.get(pk=batch.pk).status == Batch.Status.CLOSED
    assert set(Task.objects.filter(pk__in=tasks[1:3]).values_list("status", flat=True)) == {Task.Status.EXPIRED}
    assert list(Item.objects.filter(pk__in=dead_items).values_list("active_count", flat=True)) == [0, 0]
    assert OutboxMessage.objects.filter(key=f"scrutiny:batch:{batch.pk}").count() == 1


def test_an_expert_rating_is_stored_with_its_golden_scores_in_one_transaction(make_user):
    campaign = CampaignFactory(batch_size=10, expert_ratings_per_golden=2)
    golden = [ItemFactory(campaign=campaign, is_golden=True) for _ in range(3)]
    expert = make_user("expert")
    batch, _ = expert_batch_request(campaign=campaign, user=expert)
    task = batch.tasks.order_by("position").first()
    with wire() as sent:
        rating_submit(task_id=task.pk, user=expert, scores={"quality": 2, "alignment": 5})
    sql = queries(sent)
    assert sql[0] == "<prepared>" and sql[1] == "BEGIN" and sql[-1] == "COMMIT", sql
    assert GoldenScore.objects.filter(item_id=task.item_id).count() == 2
    assert Rating.objects.filter(task=task).count() == 1
    assert {g.pk for g in golden} >= {task.item_id}


def test_refusals_alone_write_nothing_and_name_the_reason(open_batch):
    user, tasks, batch = open_batch
    rating_submit(task_id=tasks[0], user=user, scores={"quality": 4, "alignment": 2})
    with wire() as sent, pytest.raises(Conflict, match="already rated"):
        rating_submit(task_id=tasks[0], user=user, scores={"quality": 1, "alignment": 1})
    assert queries(sent) == ["<prepared>"]  # refused by the one statement: no transaction to roll back
    Task.objects.filter(pk=tasks[1]).update(status=Task.Status.EXPIRED)
    with pytest.raises(Gone, match="expired"):
        rating_submit(task_id=tasks[1], user=user, scores={"quality": 1, "alignment": 1})
    assert Rating.objects.filter(batch=batch).count() == 1
    assert list(Rating.objects.filter(batch=batch).values_list("quality", "alignment")) == [(4, 2)]
