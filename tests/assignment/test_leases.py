"""Leases: expiry (periodic sweep and on the next request), heartbeat, early finish."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from annotation.models import Batch, Item, Task
from annotation.services.leases import leases_expire
from annotation.tasks.assignment import expire_leases
from tests.assignment.conftest import table_counts

pytestmark = pytest.mark.django_db


@pytest.fixture
def leased(client_as, pool_campaign):
    client, user = client_as("annotator")
    body = client.post(f"/api/v1/campaigns/{pool_campaign.slug}/batches/", {}, format="json").json()
    return client, user, body


def backdate(task_ids, minutes=1):
    Task.objects.filter(pk__in=task_ids).update(lease_expires_at=timezone.now() - timedelta(minutes=minutes))


def test_sweep_expires_dead_leases_and_returns_items_to_pool(leased):
    client, user, body = leased
    ids = [t["id"] for t in body["tasks"]]
    backdate(ids[:2])
    items = list(Task.objects.filter(pk__in=ids[:2]).values_list("item_id", flat=True))
    assert expire_leases.apply().get() == 2  # the Celery task named annotation.expire_leases
    assert set(Task.objects.filter(pk__in=ids[:2]).values_list("status", flat=True)) == {Task.Status.EXPIRED}
    assert list(Item.objects.filter(pk__in=items).values_list("active_count", flat=True)) == [0, 0]
    assert Batch.objects.get(pk=body["id"]).status == Batch.Status.OPEN  # 4 live leases left
    assert leases_expire() == 0  # idempotent


def test_sweep_closes_a_batch_with_nothing_leased(leased, django_capture_on_commit_callbacks):
    client, user, body = leased
    ids = [t["id"] for t in body["tasks"]]
    assert (
        client.post(f"/api/v1/tasks/{ids[0]}/rating/", {"quality": 2, "alignment": 2}, format="json").status_code == 201
    )
    backdate(ids[1:])
    with django_capture_on_commit_callbacks() as callbacks:
        assert leases_expire() == 5
    batch = Batch.objects.get(pk=body["id"])
    assert batch.status == Batch.Status.CLOSED and len(callbacks) == 1
    assert Item.objects.filter(active_count__gt=0).count() == 1  # the rated one


def test_next_request_expires_dead_leases_of_the_open_batch(leased):
    client, user, body = leased
    ids = [t["id"] for t in body["tasks"]]
    backdate(ids[:3])
    again = client.post(f"/api/v1/campaigns/{body['campaign']['slug']}/batches/", {}, format="json")
    assert again.status_code == 200 and again.json()["id"] == body["id"]
    assert [t["status"] for t in again.json()["tasks"]][:3] == ["expired"] * 3 or sorted(
        t["status"] for t in again.json()["tasks"]
    ) == ["expired"] * 3 + ["leased"] * 3


def test_all_dead_open_batch_is_closed_and_a_new_one_handed_out(leased):
    client, user, body = leased
    backdate([t["id"] for t in body["tasks"]])
    again = client.post(f"/api/v1/campaigns/{body['campaign']['slug']}/batches/", {}, format="json")
    assert again.status_code == 201 and again.json()["id"] != body["id"]
    assert Batch.objects.get(pk=body["id"]).status == Batch.Status.CLOSED
    # the expired items are not handed to the same annotator again
    old_items = set(Task.objects.filter(batch_id=body["id"]).values_list("item_id", flat=True))
    new_items = set(Task.objects.filter(batch_id=again.json()["id"]).values_list("item_id", flat=True))
    assert not old_items & new_items


def test_heartbeat_extends_live_leases_only(leased):
    client, user, body = leased
    ids = [t["id"] for t in body["tasks"]]
    Task.objects.filter(pk__in=ids).update(lease_expires_at=timezone.now() + timedelta(minutes=2))
    backdate(ids[:1])
    resp = client.post(f"/api/v1/batches/{body['id']}/heartbeat/")
    assert resp.status_code == 200
    new_expiry = Task.objects.get(pk=ids[1]).lease_expires_at
    assert new_expiry > timezone.now() + timedelta(minutes=29)
    assert resp.json()["lease_expires_at"].startswith(new_expiry.strftime("%Y-%m-%dT%H:%M:%S"))
    assert Task.objects.get(pk=ids[0]).lease_expires_at < timezone.now()  # dead stays dead


def test_heartbeat_refusals(leased, client_as):
    client, user, body = leased
    other, _ = client_as("annotator")
    assert other.post(f"/api/v1/batches/{body['id']}/heartbeat/").status_code == 404
    assert client.post("/api/v1/batches/999999/heartbeat/").status_code == 404
    client.post(f"/api/v1/batches/{body['id']}/finish/")
    before = table_counts()
    resp = client.post(f"/api/v1/batches/{body['id']}/heartbeat/")
    assert resp.status_code == 409 and "closed" in resp.json()["detail"]
    assert table_counts() == before


def test_finish_returns_unrated_tasks_and_closes(leased, django_capture_on_commit_callbacks):
    client, user, body = leased
    ids = [t["id"] for t in body["tasks"]]
    client.post(f"/api/v1/tasks/{ids[0]}/rating/", {"quality": 4, "alignment": 4}, format="json")
    with django_capture_on_commit_callbacks() as callbacks:
        resp = client.post(f"/api/v1/batches/{body['id']}/finish/")
    assert resp.status_code == 200
    out = resp.json()
    assert out["status"] == "closed" and out["progress"] == {"rated": 1, "total": 6}
    assert [t["status"] for t in out["tasks"]].count("returned") == 5
    assert len(callbacks) == 1
    assert Item.objects.filter(active_count__gt=0).count() == 1


def test_finish_refusals_change_nothing(leased, client_as):
    client, user, body = leased
    other, _ = client_as("annotator")
    before = table_counts()
    assert other.post(f"/api/v1/batches/{body['id']}/finish/").status_code == 404
    assert table_counts() == before
    client.post(f"/api/v1/batches/{body['id']}/finish/")
    before = table_counts()
    assert client.post(f"/api/v1/batches/{body['id']}/finish/").status_code == 409
    assert table_counts() == before
