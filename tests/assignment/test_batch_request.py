"""Asking for a batch: composition, reload, no work, refusals, ordering across generators."""

from __future__ import annotations

from collections import Counter

import pytest

from annotation.models import AnnotatorProfile, Batch, Item, Task
from annotation.services.assignment import batch_request
from core.errors import Forbidden
from tests.assignment.conftest import make_pool, table_counts
from tests.factories import CampaignFactory

pytestmark = pytest.mark.django_db


def url(campaign):
    return f"/api/v1/campaigns/{campaign.slug}/batches/"


def test_new_batch_has_regular_and_golden_items_with_leases(client_as, pool_campaign):
    client, user = client_as("annotator")
    resp = client.post(url(pool_campaign), {}, format="json")
    assert resp.status_code == 201
    body = resp.json()
    assert len(body["tasks"]) == 6
    tasks = Task.objects.filter(batch_id=body["id"])
    assert Counter(t.is_golden for t in tasks) == {False: 4, True: 2}
    assert sorted(t.position for t in tasks) == list(range(6))
    assert body["progress"] == {"rated": 0, "total": 6}
    assert body["campaign"] == {
        "slug": pool_campaign.slug,
        "name": pool_campaign.name,
        "require_full_video": False,
        "lease_minutes": 30,
    }
    task = body["tasks"][0]
    assert set(task) == {
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
    assert task["dimensions"] == ["quality", "alignment"] and task["status"] == "leased"
    # each leased item counts its lease
    leased = [t.item_id for t in tasks]
    assert all(c == 1 for c in Item.objects.filter(pk__in=leased).values_list("active_count", flat=True))
    assert Item.objects.exclude(pk__in=leased).filter(active_count__gt=0).count() == 0


def test_reload_returns_the_open_batch_with_rated_tasks(client_as, pool_campaign):
    client, user = client_as("annotator")
    first = client.post(url(pool_campaign), {}, format="json").json()
    rated = first["tasks"][0]["id"]
    assert (
        client.post(f"/api/v1/tasks/{rated}/rating/", {"quality": 3, "alignment": 2}, format="json").status_code == 201
    )
    before = table_counts()
    again = client.post(url(pool_campaign), {}, format="json")
    assert again.status_code == 200
    body = again.json()
    assert body["id"] == first["id"]
    assert [t["id"] for t in body["tasks"]] == [t["id"] for t in first["tasks"]]
    assert body["tasks"][0]["status"] == "rated"
    assert body["progress"] == {"rated": 1, "total": 6}
    assert table_counts() == before


def test_no_work_left_answers_204(client_as):
    campaign = CampaignFactory(batch_size=4)
    client, _ = client_as("annotator")
    assert client.post(url(campaign), {}, format="json").status_code == 204
    make_pool(campaign, n=3, generators=1, target=1)
    other, _ = client_as("annotator")
    assert other.post(url(campaign), {}, format="json").status_code == 201  # takes all 3 items
    resp = client.post(url(campaign), {}, format="json")
    assert resp.status_code == 204 and resp.content == b""
    assert Batch.objects.filter(campaign=campaign).count() == 1


def test_paused_annotator_is_refused(client_as, pool_campaign):
    client, user = client_as("annotator")
    AnnotatorProfile.objects.filter(user=user).update(is_paused=True, paused_reason="low agreement")
    before = table_counts()
    resp = client.post(url(pool_campaign), {}, format="json")
    assert resp.status_code == 403 and "paused" in resp.json()["detail"]
    assert table_counts() == before and not Batch.objects.exists()


def test_inactive_campaign_is_refused(client_as, pool_campaign):
    pool_campaign.is_active = False
    pool_campaign.save()
    client, _ = client_as("annotator")
    resp = client.post(url(pool_campaign), {}, format="json")
    assert resp.status_code == 403 and "not active" in resp.json()["detail"]
    assert not Batch.objects.exists()


def test_unknown_campaign_is_404(client_as):
    client, _ = client_as("annotator")
    assert client.post("/api/v1/campaigns/nope/batches/", {}, format="json").status_code == 404


def test_bad_mode_is_400_and_expert_mode_is_for_experts_only(client_as, pool_campaign):
    client, _ = client_as("annotator")
    resp = client.post(url(pool_campaign), {"mode": "fast"}, format="json")
    assert resp.status_code == 400 and "mode" in resp.json()["detail"]
    expert, _ = client_as("expert")
    resp = expert.post(url(pool_campaign), {"mode": "expert"}, format="json")
    assert resp.status_code == 201 and len(resp.json()["tasks"]) >= 1  # golden items that need expert scores
    assert client.post(url(pool_campaign), {"mode": "expert"}, format="json").status_code == 403


def test_researcher_without_annotator_role_is_refused(client_as, pool_campaign):
    client, _ = client_as("researcher")
    assert client.post(url(pool_campaign), {}, format="json").status_code == 403


def test_annotator_never_gets_an_item_twice(make_user):
    campaign = CampaignFactory(batch_size=4, golden_per_batch=2)
    make_pool(campaign, n=10, generators=2, golden=3)
    user = make_user("annotator")
    seen = []
    for _ in range(5):
        batch, created = batch_request(campaign=campaign, user=user)
        if batch is None:
            break
        assert created
        items = list(batch.tasks.values_list("item_id", flat=True))
        seen += items
        batch.tasks.update(status=Task.Status.RETURNED)  # close it by hand so a new one is handed out
        Batch.objects.filter(pk=batch.pk).update(status=Batch.Status.CLOSED)
    assert len(seen) == len(set(seen)) == 13  # every regular and golden item exactly once, then no work


def test_batches_round_robin_across_generators_fullest_first(make_user):
    campaign = CampaignFactory(batch_size=6, golden_per_batch=0)
    items = make_pool(campaign, n=30, generators=3)
    fullest = items[:3]  # one per generator
    Item.objects.filter(pk__in=[i.pk for i in fullest]).update(active_count=4)
    batch, _ = batch_request(campaign=campaign, user=make_user("annotator"))
    leased = list(Item.objects.filter(tasks__batch=batch))
    assert Counter(i.generator_id for i in leased) == {g: 2 for g in {i.generator_id for i in items}}
    assert {i.pk for i in fullest} <= {i.pk for i in leased}


def test_golden_items_only_in_golden_slots(make_user):
    campaign = CampaignFactory(batch_size=3, golden_per_batch=1)
    make_pool(campaign, n=3, generators=1, golden=5)
    batch, _ = batch_request(campaign=campaign, user=make_user("annotator"))
    assert Counter(batch.tasks.values_list("is_golden", flat=True)) == {False: 3, True: 1}
    assert all(t.item.is_golden == t.is_golden for t in batch.tasks.select_related("item"))


def test_service_refuses_paused_with_a_clear_error(make_user, pool_campaign):
    user = make_user("annotator")
    AnnotatorProfile.objects.filter(user=user).update(is_paused=True)
    with pytest.raises(Forbidden, match="paused"):
        batch_request(campaign=pool_campaign, user=user)
