"""Rating a task: the happy path, the batch closing with its last rating, and every refusal (which
must leave the data as it was)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from annotation.models import Batch, Item, Rating, Task
from tests.assignment.conftest import table_counts

pytestmark = pytest.mark.django_db


@pytest.fixture
def leased(client_as, pool_campaign):
    client, user = client_as("annotator")
    body = client.post(f"/api/v1/campaigns/{pool_campaign.slug}/batches/", {}, format="json").json()
    return client, user, body


def rate(client, task_id, payload):
    return client.post(f"/api/v1/tasks/{task_id}/rating/", payload, format="json")


def test_rating_is_stored_and_counts_progress(leased):
    client, user, body = leased
    task_id = body["tasks"][0]["id"]
    active_before = sorted(Item.objects.values_list("pk", "active_count"))
    resp = rate(client, task_id, {"quality": 5, "alignment": 1, "duration_ms": 4200})
    assert resp.status_code == 201
    out = resp.json()
    assert out["batch"] == {"id": body["id"], "status": "open", "progress": {"rated": 1, "total": 6}}
    rating = Rating.objects.get(pk=out["id"])
    task = Task.objects.get(pk=task_id)
    assert (rating.quality, rating.alignment, rating.duration_ms) == (5, 1, 4200)
    assert rating.item_id == task.item_id and rating.annotator == user and rating.batch_id == body["id"]
    assert task.status == Task.Status.RATED
    # a lease became a pending rating: the counters do not move
    assert sorted(Item.objects.values_list("pk", "active_count")) == active_before


def test_last_rating_closes_the_batch_and_queues_scrutiny(leased, django_capture_on_commit_callbacks):
    client, user, body = leased
    ids = [t["id"] for t in body["tasks"]]
    for task_id in ids[:-1]:
        assert rate(client, task_id, {"quality": 3, "alignment": 3}).json()["batch"]["status"] == "open"
    with django_capture_on_commit_callbacks() as callbacks:
        out = rate(client, ids[-1], {"quality": 3, "alignment": 3}).json()
    assert out["batch"] == {"id": body["id"], "status": "closed", "progress": {"rated": 6, "total": 6}}
    batch = Batch.objects.get(pk=body["id"])
    assert batch.status == Batch.Status.CLOSED and batch.closed_at is not None
    assert len(callbacks) == 1  # batch_closed_notify queued scrutiny


def test_last_live_lease_rated_closes_batch_and_expires_dead_ones(leased):
    client, user, body = leased
    ids = [t["id"] for t in body["tasks"]]
    Task.objects.filter(pk__in=ids[1:]).update(lease_expires_at=timezone.now() - timedelta(minutes=1))
    out = rate(client, ids[0], {"quality": 3, "alignment": 3}).json()
    assert out["batch"]["status"] == "closed"
    assert set(Task.objects.filter(pk__in=ids[1:]).values_list("status", flat=True)) == {Task.Status.EXPIRED}
    rated_item = Task.objects.get(pk=ids[0]).item
    assert rated_item.active_count == 1
    assert Item.objects.filter(tasks__pk__in=ids[1:], active_count__gt=0).count() == 0


@pytest.mark.parametrize(
    "payload, reason",
    [
        ({"quality": 3}, "missing score for alignment"),
        ({"quality": 3, "alignment": 3, "mood": 2}, "unexpected field mood"),
        ({"quality": 3.0, "alignment": 3}, "integer"),
        ({"quality": True, "alignment": 3}, "integer"),
        ({"quality": "3", "alignment": 3}, "integer"),
        ({"quality": 0, "alignment": 3}, "from 1 to 5"),
        ({"quality": 3, "alignment": 6}, "from 1 to 5"),
        ({"quality": 3, "alignment": 3, "duration_ms": -5}, "duration_ms"),
        ({"quality": 3, "alignment": 3, "duration_ms": 1.5}, "duration_ms"),
    ],
)
def test_bad_scores_are_400_and_change_nothing(leased, payload, reason):
    client, user, body = leased
    before = table_counts()
    resp = rate(client, body["tasks"][0]["id"], payload)
    assert resp.status_code == 400
    assert reason in resp.json()["detail"]
    assert table_counts() == before


def test_campaign_rating_one_dimension_refuses_the_other(client_as, pool_campaign):
    pool_campaign.rate_alignment = False
    pool_campaign.save()
    client, _ = client_as("annotator")
    body = client.post(f"/api/v1/campaigns/{pool_campaign.slug}/batches/", {}, format="json").json()
    assert body["tasks"][0]["dimensions"] == ["quality"]
    resp = rate(client, body["tasks"][0]["id"], {"quality": 3, "alignment": 3})
    assert resp.status_code == 400 and "alignment" in resp.json()["detail"]
    assert rate(client, body["tasks"][0]["id"], {"quality": 3}).status_code == 201
    assert Rating.objects.get().alignment is None


def test_someone_elses_task_is_404(leased, client_as):
    client, user, body = leased
    other, _ = client_as("annotator")
    before = table_counts()
    assert rate(other, body["tasks"][0]["id"], {"quality": 3, "alignment": 3}).status_code == 404
    assert rate(other, 999999, {"quality": 3, "alignment": 3}).status_code == 404
    assert table_counts() == before


def test_second_rating_is_409(leased):
    client, user, body = leased
    task_id = body["tasks"][0]["id"]
    assert rate(client, task_id, {"quality": 3, "alignment": 3}).status_code == 201
    before = table_counts()
    resp = rate(client, task_id, {"quality": 4, "alignment": 4})
    assert resp.status_code == 409 and "already rated" in resp.json()["detail"]
    assert table_counts() == before
    assert Rating.objects.get().quality == 3


def test_expired_lease_is_410(leased):
    client, user, body = leased
    task_id = body["tasks"][0]["id"]
    Task.objects.filter(pk=task_id).update(lease_expires_at=timezone.now() - timedelta(seconds=1))
    before = table_counts()
    resp = rate(client, task_id, {"quality": 3, "alignment": 3})
    assert resp.status_code == 410 and "expired" in resp.json()["detail"]
    assert table_counts() == before


def test_returned_lease_is_410(leased):
    client, user, body = leased
    assert client.post(f"/api/v1/batches/{body['id']}/finish/").status_code == 200
    before = table_counts()
    resp = rate(client, body["tasks"][0]["id"], {"quality": 3, "alignment": 3})
    assert resp.status_code == 410 and "returned" in resp.json()["detail"]
    assert table_counts() == before


def test_non_object_body_is_400(leased):
    client, user, body = leased
    before = table_counts()
    resp = client.post(f"/api/v1/tasks/{body['tasks'][0]['id']}/rating/", [3, 3], format="json")
    assert resp.status_code == 400
    assert table_counts() == before
