"""The hot paths stay a fixed, small number of queries, whatever the batch or pool size."""

from __future__ import annotations

import pytest

from tests.assignment.conftest import make_pool
from tests.factories import CampaignFactory

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("n_items", [12, 60])
def test_batch_request_and_rating_query_counts(client_as, django_assert_max_num_queries, n_items):
    campaign = CampaignFactory(batch_size=n_items // 3, golden_per_batch=2)
    make_pool(campaign, n=n_items, generators=3, golden=4)
    client, _ = client_as("annotator")
    client.get("/api/v1/batches/")
    # token, roles, campaign, savepoint, profile, open batch, generators, candidates, golden bounds,
    # golden (+1 when the scan wraps around), counters, batch, tasks, release, answer
    with django_assert_max_num_queries(16):
        body = client.post(f"/api/v1/campaigns/{campaign.slug}/batches/", {}, format="json").json()
    assert len(body["tasks"]) == n_items // 3 + 2
    # token, roles, savepoint, task lock, the rating CTE, release
    with django_assert_max_num_queries(6):
        resp = client.post(
            f"/api/v1/tasks/{body['tasks'][0]['id']}/rating/", {"quality": 2, "alignment": 5}, format="json"
        )
    assert resp.status_code == 201
    # reload of the open batch: token, roles, campaign, savepoint, profile, open batch, dead leases,
    # leased left?, release, answer
    with django_assert_max_num_queries(10):
        again = client.post(f"/api/v1/campaigns/{campaign.slug}/batches/", {}, format="json")
    assert again.status_code == 200
