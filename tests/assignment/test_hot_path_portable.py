"""The annotator's hot path (token authentication, roles, rating, batch request), database-neutral: these
tests run here on PostgreSQL twice, through the prepared-SQL fast path and through the ORM path
(QEVAL_SQL_FAST_PATH off), and on SQLite, the embedded default, through test_hot_path_sqlite.py (where only
the ORM path exists). Both paths must answer the same, refuse the same and leave the same rows."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.auth.models import Group
from django.utils import timezone
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from annotation.models import Batch, Item, Rating, Task
from annotation.models_outbox import OutboxMessage
from annotation.services.users import user_active_set, user_roles_set, user_token
from tests.assignment.conftest import table_counts

pytestmark = pytest.mark.django_db


@pytest.fixture(params=["fast", "orm"])
def path(request, settings):
    """Each test once per path (on SQLite both are the ORM path: the fast one falls back to it)."""
    settings.QEVAL_SQL_FAST_PATH = request.param == "fast"
    return request.param


def token_client(key: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return client


def batches(client):
    return client.get("/api/v1/batches/")


# ---------------------------------------------------------------------------------- authentication


def test_a_deleted_token_is_refused_at_once(path, make_user):
    user = make_user("annotator")
    client = token_client(user_token(user=user))
    assert batches(client).status_code == 200
    Token.objects.filter(user=user).delete()
    resp = batches(client)
    assert resp.status_code == 401 and resp.json()["detail"] == "Invalid token."


def test_a_rotated_token_replaces_the_old_one_at_once(path, make_user):
    user = make_user("annotator")
    old = user_token(user=user)
    assert batches(token_client(old)).status_code == 200
    Token.objects.filter(user=user).delete()
    new = user_token(user=user)
    assert new != old
    assert batches(token_client(old)).status_code == 401
    assert batches(token_client(new)).status_code == 200


def test_a_deactivated_user_is_refused_at_once(path, make_user):
    user = make_user("annotator")
    client = token_client(user_token(user=user))
    assert batches(client).status_code == 200
    user_active_set(user=user, active=False)
    resp = batches(client)
    assert resp.status_code == 401 and resp.json()["detail"] == "User inactive or deleted."
    user_active_set(user=user, active=True)
    assert batches(client).status_code == 200


def test_a_role_change_takes_effect_at_once(path, make_user, pool_campaign):
    user = make_user("annotator")
    client = token_client(user_token(user=user))
    assert batches(client).status_code == 200
    user_roles_set(user=user, roles=["researcher"])
    assert batches(client).status_code == 403  # the annotator API needs annotator, expert or admin
    assert client.post(f"/api/v1/campaigns/{pool_campaign.slug}/batches/", {}, format="json").status_code == 403
    user.groups.add(Group.objects.get(name="annotator"))  # straight through the ORM, no service
    assert batches(client).status_code == 200
    user.is_superuser = True  # a superuser counts as every role
    user.save(update_fields=["is_superuser"])
    user.groups.clear()
    assert batches(client).status_code == 200


def test_a_bad_token_is_refused(path):
    assert batches(token_client("nope")).status_code == 401
    assert batches(token_client("a\x00b")).status_code == 401
    assert batches(APIClient()).status_code in (401, 403)


def test_the_authenticated_user_is_the_tokens_own(path, make_user):
    user = make_user("annotator")
    other = make_user("annotator")
    client = token_client(user_token(user=user))
    body = client.post(
        "/api/v1/campaigns/nope/batches/", {}, format="json"
    ).json()  # 404 names the campaign: auth passed
    assert "nope" in body["detail"]
    assert batches(token_client(user_token(user=other))).json()["count"] == 0


# ------------------------------------------------------------------------------------------ rating


@pytest.fixture
def leased(path, client_as, pool_campaign):
    client, user = client_as("annotator")
    resp = client.post(f"/api/v1/campaigns/{pool_campaign.slug}/batches/", {}, format="json")
    assert resp.status_code == 201
    return client, user, resp.json()


def rate(client, task_id, payload):
    return client.post(f"/api/v1/tasks/{task_id}/rating/", payload, format="json")


def test_a_rating_is_stored_with_its_progress(leased):
    client, user, body = leased
    task_id = body["tasks"][0]["id"]
    counters = sorted(Item.objects.values_list("pk", "active_count"))
    resp = rate(client, task_id, {"quality": 4, "alignment": 2, "duration_ms": 1500})
    assert resp.status_code == 201
    out = resp.json()
    assert out["batch"] == {"id": body["id"], "status": "open", "progress": {"rated": 1, "total": 6}}
    rating = Rating.objects.get(pk=out["id"])
    assert (rating.quality, rating.alignment, rating.duration_ms, rating.annotator_id) == (4, 2, 1500, user.pk)
    assert rating.task_id == task_id and rating.batch_id == body["id"]
    assert Task.objects.get(pk=task_id).status == "rated"
    assert sorted(Item.objects.values_list("pk", "active_count")) == counters  # a lease became a rating


def test_the_last_rating_closes_the_batch_through_the_outbox(leased):
    client, user, body = leased
    ids = [t["id"] for t in body["tasks"]]
    Task.objects.filter(pk=ids[-1]).update(lease_expires_at=timezone.now() - timedelta(minutes=1))  # a dead lease
    dead_item = Task.objects.get(pk=ids[-1]).item_id
    count_before = Item.objects.get(pk=dead_item).active_count
    for n, task_id in enumerate(ids[:-1], start=1):
        out = rate(client, task_id, {"quality": 3, "alignment": 3}).json()
        assert out["batch"]["progress"] == {"rated": n, "total": 6}
    assert out["batch"]["status"] == "closed"
    batch = Batch.objects.get(pk=body["id"])
    assert batch.status == "closed" and batch.closed_at is not None
    assert Task.objects.get(pk=ids[-1]).status == "expired"  # the dead lease ended with the batch
    assert Item.objects.get(pk=dead_item).active_count == count_before - 1
    # scrutiny is queued in the same transaction, through the outbox (published after the commit)
    assert OutboxMessage.objects.filter(task="annotation.scrutinize_batch", key=f"scrutiny:batch:{batch.pk}").exists()


@pytest.mark.parametrize(
    "payload, reason",
    [
        ({"quality": 3}, "missing score for alignment"),
        ({"quality": 3, "alignment": 3, "aesthetics": 2}, "unexpected field aesthetics"),
        ({"quality": 0, "alignment": 3}, "quality must be from 1 to 5"),
        ({"quality": 3, "alignment": 6}, "alignment must be from 1 to 5"),
        ({"quality": 3.0, "alignment": 3}, "quality must be an integer"),
        ({"quality": True, "alignment": 3}, "quality must be an integer"),
        ({"quality": "3", "alignment": 3}, "quality must be an integer"),
        ({"quality": 3, "alignment": 3, "duration_ms": -1}, "duration_ms must be an integer"),
        ({"quality": 3, "alignment": 3, "duration_ms": "5"}, "duration_ms must be an integer"),
        ({}, "missing score for quality, alignment"),
    ],
)
def test_bad_input_is_400_and_changes_nothing(leased, payload, reason):
    client, _, body = leased
    before = table_counts()
    resp = rate(client, body["tasks"][0]["id"], payload)
    assert resp.status_code == 400 and reason in resp.json()["detail"]
    assert table_counts() == before


def test_refusals_keep_their_order_and_change_nothing(leased, client_as):
    client, _, body = leased
    task_id = body["tasks"][0]["id"]
    other, _ = client_as("annotator")
    before = table_counts()
    assert rate(other, task_id, {"quality": 9}).status_code == 404  # not yours, before the bad scores
    assert rate(client, 10**9, {"quality": 3, "alignment": 3}).status_code == 404
    assert table_counts() == before
    assert rate(client, task_id, {"quality": 3, "alignment": 3}).status_code == 201
    after = table_counts()
    assert rate(client, task_id, {"quality": 9}).status_code == 400  # bad scores, before "already rated"
    resp = rate(client, task_id, {"quality": 3, "alignment": 3})
    assert resp.status_code == 409 and "already rated" in resp.json()["detail"]
    assert table_counts() == after


def test_an_expired_or_returned_lease_is_410(leased):
    client, _, body = leased
    first, second = body["tasks"][0]["id"], body["tasks"][1]["id"]
    Task.objects.filter(pk=first).update(lease_expires_at=timezone.now() - timedelta(seconds=1))
    before = table_counts()
    resp = rate(client, first, {"quality": 3, "alignment": 3})
    assert resp.status_code == 410 and "expired" in resp.json()["detail"]
    assert table_counts() == before
    Task.objects.filter(pk=second).update(status="returned")
    resp = rate(client, second, {"quality": 3, "alignment": 3})
    assert resp.status_code == 410 and "returned" in resp.json()["detail"]


def test_a_one_dimension_campaign_takes_exactly_its_dimension(path, client_as, pool_campaign):
    pool_campaign.rate_alignment = False
    pool_campaign.save(update_fields=["rate_alignment"])
    client, _ = client_as("annotator")
    body = client.post(f"/api/v1/campaigns/{pool_campaign.slug}/batches/", {}, format="json").json()
    task_id = body["tasks"][0]["id"]
    assert rate(client, task_id, {"quality": 3, "alignment": 3}).status_code == 400
    assert rate(client, task_id, {"quality": 3}).status_code == 201
    assert Rating.objects.get(task_id=task_id).alignment is None


# ----------------------------------------------------------------------------------- batch request


def test_a_new_batch_has_its_tasks_in_order_and_reloads(path, client_as, pool_campaign):
    client, user = client_as("annotator")
    resp = client.post(f"/api/v1/campaigns/{pool_campaign.slug}/batches/", {}, format="json")
    assert resp.status_code == 201
    body = resp.json()
    tasks = Task.objects.filter(batch_id=body["id"]).order_by("position")
    assert [t.pk for t in tasks] == [t["id"] for t in body["tasks"]]
    assert [t.position for t in tasks] == list(range(6))
    assert sum(t.is_golden for t in tasks) == 2 and all(t.annotator_id == user.pk for t in tasks)
    assert len({t.item_id for t in tasks}) == 6
    first = body["tasks"][0]
    assert set(first) == {
        "id",
        "media_url",
        "thumbnail_url",
        "media_type",
        "fps",
        "prompt",
        "dimensions",
        "status",
        "lease_expires_at",
    }
    assert first["media_url"] == f"/api/v1/tasks/{first['id']}/media/" and first["status"] == "leased"
    assert first["prompt"] == tasks[0].item.prompt.text and first["dimensions"] == ["quality", "alignment"]
    assert body["progress"] == {"rated": 0, "total": 6} and body["campaign"]["slug"] == pool_campaign.slug
    # every regular and golden item of the batch counts its lease
    assert all(Item.objects.get(pk=t.item_id).active_count == 1 for t in tasks)
    rate(client, first["id"], {"quality": 2, "alignment": 2})
    again = client.post(f"/api/v1/campaigns/{pool_campaign.slug}/batches/", {}, format="json")
    assert again.status_code == 200 and again.json()["id"] == body["id"]
    assert again.json()["progress"] == {"rated": 1, "total": 6}
    assert again.json()["tasks"][0]["status"] == "rated"


def test_batches_never_repeat_an_item_and_run_dry(path, client_as, pool_campaign):
    client, user = client_as("annotator")
    seen: list[int] = []
    while True:
        resp = client.post(f"/api/v1/campaigns/{pool_campaign.slug}/batches/", {}, format="json")
        if resp.status_code == 204:
            break
        body = resp.json()
        assert resp.status_code == 201
        for task in body["tasks"]:
            assert rate(client, task["id"], {"quality": 3, "alignment": 4}).status_code == 201
        seen += list(Task.objects.filter(batch_id=body["id"]).values_list("item_id", flat=True))
    assert len(seen) == len(set(seen)) and len(seen) >= 12  # the 12 regular items, each once
    assert Rating.objects.filter(annotator=user).count() == len(seen)


def test_a_paused_annotator_and_an_unknown_campaign_are_refused(path, client_as, pool_campaign):
    from annotation.models import AnnotatorProfile

    client, user = client_as("annotator")
    assert client.post("/api/v1/campaigns/nope/batches/", {}, format="json").status_code == 404
    AnnotatorProfile.objects.filter(user=user).update(is_paused=True, paused_reason="too fast")
    resp = client.post(f"/api/v1/campaigns/{pool_campaign.slug}/batches/", {}, format="json")
    assert resp.status_code == 403 and "too fast" in resp.json()["detail"]
