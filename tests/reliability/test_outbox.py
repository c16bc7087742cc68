"""The transactional outbox: a broker outage neither fails nor slows a request, and loses no scrutiny or
job; the relay publishes everything once the broker is back (a real, private Redis that the test stops)."""

from __future__ import annotations

import time

import pytest

from annotation.models import Batch, Job, OutboxMessage
from annotation.services.outbox import outbox_relay
from tests.assignment.conftest import make_pool
from tests.celery_worker import wait_for
from tests.factories import CampaignFactory
from tests.reliability.helpers import PrivateRedis, app_broker

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def redis_broker():
    broker = PrivateRedis().start()
    yield broker
    broker.stop()


def _rate_all(client, body):
    last = None
    for task in body["tasks"]:
        t0 = time.monotonic()
        resp = client.post(f"/api/v1/tasks/{task['id']}/rating/", {"quality": 3, "alignment": 4}, format="json")
        assert resp.status_code == 201, resp.content
        last = (time.monotonic() - t0, resp.json())
    return last


def test_a_rating_that_closes_a_batch_while_the_broker_is_down_is_fast_and_its_scrutiny_is_relayed_later(
    client_as, redis_broker
):
    campaign = CampaignFactory(batch_size=4, golden_per_batch=2)
    make_pool(campaign, n=12, generators=3, golden=4)
    client, _user = client_as("annotator")
    body = client.post(f"/api/v1/campaigns/{campaign.slug}/batches/", {}, format="json").json()
    with app_broker(redis_broker.url):
        redis_broker.stop()  # the outage
        seconds, last = _rate_all(client, body)
        assert last["batch"]["status"] == "closed"
        assert seconds < 0.5, f"the closing rating waited {seconds:.2f}s on a dead broker"
        message = OutboxMessage.objects.get(key=f"scrutiny:batch:{body['id']}")
        wait_for(
            lambda: OutboxMessage.objects.filter(pk=message.pk, attempts__gte=1).exists(),
            timeout=15,
            what="the publisher's failed attempt",
        )
        message.refresh_from_db()
        assert message.sent_at is None and "Connection" in message.last_error
        redis_broker.start()  # the broker is back, empty (it had no persistence)
        assert outbox_relay() == {"sent": 1, "waiting": 0, "pruned": 0}
        assert redis_broker.queue_length("default") == 1  # the scrutiny task is on its queue now
    message.refresh_from_db()
    assert message.sent_at is not None


def test_a_job_started_while_the_broker_is_down_answers_202_and_runs_after_the_relay(client_as, redis_broker):
    client, user = client_as("researcher")
    from annotation.services.jobs import job_create, job_enqueue

    with app_broker(redis_broker.url):
        redis_broker.stop()
        job = job_create(kind="selfcheck", params={"steps": 2}, created_by=user)
        t0 = time.monotonic()
        job_enqueue(job=job)  # autocommit: the commit hook runs now
        assert time.monotonic() - t0 < 0.2
        wait_for(
            lambda: OutboxMessage.objects.filter(key=f"job:{job.pk}", attempts__gte=1).exists(),
            timeout=15,
            what="the failed publish",
        )
        assert Job.objects.get(pk=job.pk).status == "queued"
        redis_broker.start()
        assert outbox_relay()["sent"] == 1
        assert redis_broker.queue_length("default") == 1


def test_the_relay_publishes_once_per_message_and_remembers(redis_broker):
    from annotation.services.outbox import outbox_enqueue

    with app_broker(redis_broker.url):
        redis_broker.stop()
        for n in range(3):
            outbox_enqueue(task="annotation.expire_leases", key=f"t:{n}")
        wait_for(lambda: OutboxMessage.objects.filter(attempts__gte=1).exists(), timeout=15, what="a failed publish")
        assert outbox_relay()["waiting"] == 3  # still down: nothing lost, nothing sent
        redis_broker.start()
        assert outbox_relay() == {"sent": 3, "waiting": 0, "pruned": 0}
        assert outbox_relay()["sent"] == 0  # a second pass sends nothing again
        assert redis_broker.queue_length("default") == 3


def test_a_change_that_rolls_back_leaves_no_message(redis_broker):
    from django.db import transaction

    from annotation.services.outbox import outbox_enqueue

    with app_broker(redis_broker.url):
        with pytest.raises(RuntimeError), transaction.atomic():
            outbox_enqueue(task="annotation.expire_leases", key="rolled-back")
            raise RuntimeError("the change failed")
    assert not OutboxMessage.objects.filter(key="rolled-back").exists()
    assert redis_broker.queue_length("default") == 0


def test_a_batch_closed_long_ago_and_never_scrutinized_is_swept(campaign):
    """Eager Celery: the sweep's message runs scrutiny at once; a second sweep finds nothing to do."""
    from datetime import timedelta

    from django.utils import timezone

    from annotation.services.batch_events import scrutiny_sweep
    from tests.factories import UserFactory

    annotator = UserFactory(role="annotator")
    batch = Batch.objects.create(
        campaign=campaign,
        annotator=annotator,
        status=Batch.Status.CLOSED,
        closed_at=timezone.now() - timedelta(minutes=10),
    )
    fresh = Batch.objects.create(
        campaign=campaign, annotator=UserFactory(role="annotator"), status=Batch.Status.CLOSED, closed_at=timezone.now()
    )
    assert scrutiny_sweep(older_than_s=120) == [batch.pk]
    batch.refresh_from_db()
    assert batch.scrutinized_at is not None  # scrutinized: a batch with no ratings has nothing to check
    assert batch.decision == Batch.Decision.APPROVED and batch.public_reason.startswith("Nothing to check")
    assert Batch.objects.get(pk=fresh.pk).scrutinized_at is None  # too recent: its own message may be on the way
    assert scrutiny_sweep(older_than_s=120) == []
