"""The scrutiny API: admins only; a rejection needs a reason; figures never reach annotators."""

import json

import pytest

from annotation.models import AnnotatorProfile, Batch
from annotation.services.scrutiny import batch_scrutinize
from tests.scrutiny.conftest import GOLDEN_A, GOLDEN_Q, closed_batch, make_golden, rounded


@pytest.fixture
def scrutinized(scrutiny_campaign, make_user):
    golden = make_golden(scrutiny_campaign)
    annotator = make_user("annotator")
    batch = closed_batch(scrutiny_campaign, annotator, list(zip(golden, rounded(GOLDEN_Q), rounded(GOLDEN_A))))
    return batch_scrutinize(batch_id=batch.pk), annotator


def decision_url(batch_id):
    return f"/api/v1/batches/{batch_id}/decision/"


@pytest.mark.parametrize("role", ["annotator", "expert", "researcher"])
def test_only_admins_may_decide(scrutinized, client_as, role):
    batch, _ = scrutinized
    client, _ = client_as(role)
    response = client.post(decision_url(batch.pk), {"decision": "reject", "reason": "x"}, format="json")
    assert response.status_code == 403
    batch.refresh_from_db()
    assert batch.decision == "approved"


def test_anonymous_requests_are_refused(scrutinized, api_client):
    batch, _ = scrutinized
    assert api_client.post(decision_url(batch.pk), {"decision": "approve"}, format="json").status_code in (401, 403)
    assert api_client.get(f"/api/v1/campaigns/{batch.campaign.slug}/scrutiny/").status_code in (401, 403)


def test_an_admin_rejection_is_recorded_with_who_when_and_why(scrutinized, client_as):
    batch, _ = scrutinized
    client, admin = client_as("admin")
    response = client.post(
        decision_url(batch.pk), {"decision": "reject", "reason": "all answers in 3 s"}, format="json"
    )
    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["decision"], body["decision_source"], body["reason"], body["decided_by"]) == (
        "rejected",
        "admin",
        "all answers in 3 s",
        admin.username,
    )
    assert body["auto_decision"] == "approved" and body["figures"]["quality"]["n_golden"] == 10
    batch.refresh_from_db()
    assert (batch.decision, batch.decided_by_id, batch.decided_at is not None) == ("rejected", admin.pk, True)


def test_a_rejection_without_a_reason_is_400_and_changes_nothing(scrutinized, client_as):
    batch, _ = scrutinized
    client, _ = client_as("admin")
    response = client.post(decision_url(batch.pk), {"decision": "reject"}, format="json")
    assert response.status_code == 400
    assert response.json() == {"detail": "a rejection needs a reason (the annotator's record keeps it)"}
    batch.refresh_from_db()
    assert (batch.decision, batch.decision_source) == ("approved", "auto")


def test_a_bad_decision_word_is_400(scrutinized, client_as):
    batch, _ = scrutinized
    client, _ = client_as("admin")
    response = client.post(decision_url(batch.pk), {"decision": "maybe"}, format="json")
    assert response.status_code == 400 and "decision" in response.json()["detail"]


def test_an_unknown_batch_is_404(db, client_as):
    client, _ = client_as("admin")
    response = client.post(decision_url(999999), {"decision": "approve"}, format="json")
    assert response.status_code == 404 and response.json() == {"detail": "batch 999999 does not exist"}


def test_the_campaign_scrutiny_list_gives_admins_the_figures(scrutinized, client_as, django_assert_max_num_queries):
    batch, annotator = scrutinized
    client, _ = client_as("admin")
    url = f"/api/v1/campaigns/{batch.campaign.slug}/scrutiny/"
    with django_assert_max_num_queries(12):
        response = client.get(url)
    assert response.status_code == 200
    body = response.json()
    assert body["count"] == 1
    row = body["results"][0]
    assert (row["batch"], row["annotator"], row["decision"]) == (batch.pk, annotator.username, "approved")
    assert row["figures"]["quality"]["srcc"] > 0.9
    assert client.get(url + "?decision=rejected").json()["count"] == 0
    assert client.get(url + "?decision=bogus").status_code == 400
    assert client.get("/api/v1/campaigns/nope/scrutiny/").status_code == 404
    other, _ = client_as("researcher")
    assert other.get(url).status_code == 403


def test_pause_and_resume_an_annotator(scrutinized, client_as):
    _, annotator = scrutinized
    client, _ = client_as("admin")
    response = client.post(f"/api/v1/annotators/{annotator.pk}/pause/", {"reason": "low SRCC"}, format="json")
    assert response.status_code == 200 and response.json()["is_paused"] is True
    assert AnnotatorProfile.objects.get(user=annotator).paused_reason == "low SRCC"
    response = client.post(f"/api/v1/annotators/{annotator.pk}/resume/", format="json")
    assert response.json()["is_paused"] is False
    assert client.post("/api/v1/annotators/999999/pause/", format="json").status_code == 404
    annotator_client, _ = client_as("annotator")
    assert annotator_client.post(f"/api/v1/annotators/{annotator.pk}/pause/", format="json").status_code == 403


def test_a_paused_annotator_gets_no_new_batch(scrutiny_campaign, client_as):
    admin_client, _ = client_as("admin")
    client, annotator = client_as("annotator")
    admin_client.post(f"/api/v1/annotators/{annotator.pk}/pause/", {"reason": "review"}, format="json")
    response = client.post(f"/api/v1/campaigns/{scrutiny_campaign.slug}/batches/", {}, format="json")
    assert response.status_code == 403 and "paused" in response.json()["detail"]


def test_annotators_see_their_decision_but_never_the_figures(scrutinized, client_as):
    batch, annotator = scrutinized
    client, _ = client_as(user=annotator)
    listing = client.get("/api/v1/batches/")
    detail = client.get(f"/api/v1/batches/{batch.pk}/")
    assert listing.status_code == 200 and detail.status_code == 200
    assert detail.json()["decision"] == "approved"
    assert batch.auto_reason
    for response in (listing, detail):
        text = json.dumps(response.json()).lower()
        for secret in ("srcc", "plcc", "golden", "bias", "n_golden", batch.auto_reason.lower()):
            assert secret not in text, secret
    assert Batch.objects.get(pk=batch.pk).scrutiny  # the figures exist, only hidden
