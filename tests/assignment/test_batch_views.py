"""Batch detail and the "my batches" list."""

from __future__ import annotations

import pytest

from annotation.models import Batch

pytestmark = pytest.mark.django_db


def new_batch(client, campaign):
    return client.post(f"/api/v1/campaigns/{campaign.slug}/batches/", {}, format="json").json()


def test_detail_shows_public_decision_and_progress(client_as, pool_campaign):
    client, user = client_as("annotator")
    body = new_batch(client, pool_campaign)
    Batch.objects.filter(pk=body["id"]).update(
        decision=Batch.Decision.NEEDS_REVIEW, scrutiny={"quality": {"srcc": 0.5}}
    )
    out = client.get(f"/api/v1/batches/{body['id']}/").json()
    assert out["decision"] == "pending" and out["progress"] == {"rated": 0, "total": 6}
    assert "scrutiny" not in out and "srcc" not in str(out)
    Batch.objects.filter(pk=body["id"]).update(decision=Batch.Decision.REJECTED)
    assert client.get(f"/api/v1/batches/{body['id']}/").json()["decision"] == "rejected"


def test_detail_of_someone_elses_batch_is_404_but_admin_sees_it(client_as, pool_campaign):
    client, user = client_as("annotator")
    body = new_batch(client, pool_campaign)
    other, _ = client_as("annotator")
    assert other.get(f"/api/v1/batches/{body['id']}/").status_code == 404
    admin, _ = client_as("admin")
    assert admin.get(f"/api/v1/batches/{body['id']}/").json()["id"] == body["id"]


def test_list_shows_only_my_batches_without_n_plus_one(client_as, pool_campaign, django_assert_num_queries):
    client, user = client_as("annotator")
    other, _ = client_as("annotator")
    mine = []
    for _ in range(3):
        body = new_batch(client, pool_campaign)
        mine.append(body["id"])
        client.post(f"/api/v1/tasks/{body['tasks'][0]['id']}/rating/", {"quality": 3, "alignment": 3}, format="json")
        client.post(f"/api/v1/batches/{body['id']}/finish/")
    new_batch(other, pool_campaign)
    client.get("/api/v1/batches/")  # warm the token/role lookups' code paths
    # token with its roles (one query, core/api/auth.py) + count + page: the same for 3 batches as for 300
    with django_assert_num_queries(3):
        resp = client.get("/api/v1/batches/")
    out = resp.json()
    assert out["count"] == 3
    assert [r["id"] for r in out["results"]] == mine[::-1]
    row = out["results"][-1]  # the first batch: 4 regular + 2 golden (the golden sample then runs low)
    assert set(row) == {"id", "campaign", "created_at", "closed_at", "status", "decision", "reason", "progress"}
    assert row["campaign"] == pool_campaign.slug and row["status"] == "closed"
    assert row["progress"] == {"rated": 1, "total": 6}
    page = client.get("/api/v1/batches/?limit=2").json()
    assert len(page["results"]) == 2 and page["next"]
