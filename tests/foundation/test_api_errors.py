"""One error path: views raise, the exception handler in core answers {"detail": ...} with the status; the old import
paths kept for unmerged branches hand out the very same classes and a decorator that changes nothing."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.django_db


def test_a_serializer_error_is_one_line_under_detail(client_as, campaign):
    client, _ = client_as("admin")
    response = client.patch(f"/api/v1/campaigns/{campaign.slug}/qc-settings/", {"min_golden": -1}, format="json")
    assert response.status_code == 400
    assert response.json() == {"detail": "min_golden: Ensure this value is greater than or equal to 0."}


def test_several_fields_are_joined_in_the_order_given(client_as):
    client, _ = client_as("researcher")
    response = client.post("/api/v1/benchmarks/", {"split": "test"}, format="json")
    assert response.status_code == 400
    assert response.json() == {"detail": "dataset_version: This field is required.; methods: This field is required."}


def test_a_service_error_keeps_its_status_and_message(client_as):
    client, _ = client_as("researcher")
    response = client.post("/api/v1/training-runs/99999999/cancel/")
    assert response.status_code == 404
    assert response.json() == {"detail": "training run 99999999 does not exist"}


def test_an_unknown_campaign_is_a_404_naming_it(client_as):
    client, _ = client_as("annotator")
    response = client.post("/api/v1/campaigns/no-such-campaign/batches/", {}, format="json")
    assert response.status_code == 404
    assert response.json() == {"detail": "campaign 'no-such-campaign' does not exist"}
