"""The beat task `annotation.expire_leases` runs on a real Celery worker (real Redis) and returns dead
leases to the pool."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.conf import settings
from django.utils import timezone

from annotation.models import Item, Task
from annotation.services.assignment import batch_request
from annotation.tasks.assignment import expire_leases
from tests.assignment.conftest import make_pool
from tests.celery_worker import wait_for
from tests.factories import CampaignFactory, UserFactory


def test_beat_schedule_names_the_task():
    assert settings.CELERY_BEAT_SCHEDULE["expire-leases"]["task"] == expire_leases.name == "annotation.expire_leases"


@pytest.mark.celery_worker
@pytest.mark.django_db(transaction=True)
def test_expire_leases_runs_on_a_real_worker(celery_worker):
    campaign = CampaignFactory(batch_size=3, golden_per_batch=0)
    make_pool(campaign, n=3, generators=1)
    batch, _ = batch_request(campaign=campaign, user=UserFactory(role="annotator"))
    Task.objects.filter(batch=batch).update(lease_expires_at=timezone.now() - timedelta(minutes=1))
    expire_leases.delay()
    wait_for(
        lambda: not Task.objects.filter(batch=batch, status=Task.Status.LEASED).exists(),
        timeout=60,
        what="the worker to expire the leases",
    )
    assert set(Task.objects.filter(batch=batch).values_list("status", flat=True)) == {Task.Status.EXPIRED}
    assert set(Item.objects.filter(campaign=campaign).values_list("active_count", flat=True)) == {0}
    batch.refresh_from_db()
    assert batch.status == "closed"
