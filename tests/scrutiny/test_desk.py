"""The approval desk pages: admins only, figures and plots shown, decisions and pauses recorded."""

import pytest
from django.test import Client

from annotation.models import AnnotatorProfile, Batch
from annotation.services.scrutiny import batch_scrutinize
from tests.factories import CampaignFactory
from tests.scrutiny.conftest import GOLDEN_A, GOLDEN_Q, closed_batch, make_golden, rounded


@pytest.fixture
def desk_batches(scrutiny_campaign, make_user):
    golden = make_golden(scrutiny_campaign)
    good, bad = make_user("annotator", username="good-annotator"), make_user("annotator", username="middling")
    approved = closed_batch(scrutiny_campaign, good, list(zip(golden, rounded(GOLDEN_Q), rounded(GOLDEN_A))))
    review = closed_batch(scrutiny_campaign, bad, list(zip(golden, [3, 1, 1, 1, 1, 4, 3, 4, 2, 4], rounded(GOLDEN_A))))
    return batch_scrutinize(batch_id=approved.pk), batch_scrutinize(batch_id=review.pk)


def logged_in(user):
    client = Client()
    client.force_login(user)
    return client


@pytest.mark.parametrize("role", ["annotator", "expert", "researcher"])
def test_the_desk_is_403_for_everyone_but_admins(desk_batches, make_user, role):
    client = logged_in(make_user(role))
    approved, _ = desk_batches
    for url in ("/desk/", f"/desk/batches/{approved.pk}/", f"/desk/annotators/{approved.annotator_id}/"):
        assert client.get(url).status_code == 403, url
    response = client.post(f"/desk/batches/{approved.pk}/", {"decision": "reject", "reason": "x"})
    assert response.status_code == 403
    assert Batch.objects.get(pk=approved.pk).decision == "approved"


def test_anonymous_visitors_are_sent_to_the_login_page(desk_batches):
    response = Client().get("/desk/")
    assert response.status_code == 302 and response["Location"].startswith("/login/")


def test_the_queue_lists_needs_review_first_with_figures(desk_batches, make_user, django_assert_max_num_queries):
    approved, review = desk_batches
    client = logged_in(make_user("admin"))
    with django_assert_max_num_queries(15):
        response = client.get("/desk/")
    html = response.content.decode()
    assert response.status_code == 200
    assert html.index(f"#{review.pk}") < html.index(f"#{approved.pk}")
    assert 'golden items">10</span> · 0.58' in html  # n · SRCC of the middling quality (this batch)
    filtered = client.get("/desk/?decision=approved").content.decode()
    assert f"#{approved.pk}" in filtered and f"#{review.pk}<" not in filtered


def test_the_queue_is_paginated(scrutiny_campaign, make_user):
    annotator = make_user()
    for _ in range(55):
        Batch.objects.create(campaign=scrutiny_campaign, annotator=annotator, status="closed")
    client = logged_in(make_user("admin"))
    first = client.get("/desk/").content.decode()
    assert "Page 1 of 2 (55 batches)" in first
    assert client.get("/desk/?page=2").content.decode().count('class="decision-pending"') == 5


def test_the_batch_page_plots_ratings_against_golden_scores(desk_batches, make_user):
    approved, _ = desk_batches
    html = logged_in(make_user("admin")).get(f"/desk/batches/{approved.pk}/").content.decode()
    assert html.count('<svg class="scatter"') == 2
    assert html.count('class="pt"') == 20  # ten golden points per dimension
    assert "golden 1.00, rating 1" in html


def test_an_admin_rejects_with_a_reason_and_the_decision_is_recorded(desk_batches, make_user):
    approved, _ = desk_batches
    admin = make_user("admin")
    client = logged_in(admin)
    response = client.post(
        f"/desk/batches/{approved.pk}/", {"decision": "reject", "reason": "copied answers"}, follow=True
    )
    assert f"Batch {approved.pk} rejected." in response.content.decode()
    approved.refresh_from_db()
    assert (approved.decision, approved.decision_source, approved.decided_by, approved.decision_reason) == (
        "rejected",
        "admin",
        admin,
        "copied answers",
    )


def test_a_rejection_without_a_reason_is_refused_with_a_message(desk_batches, make_user):
    approved, _ = desk_batches
    response = logged_in(make_user("admin")).post(
        f"/desk/batches/{approved.pk}/", {"decision": "reject", "reason": ""}, follow=True
    )
    assert "Not saved: a rejection needs a reason" in response.content.decode()
    approved.refresh_from_db()
    assert (approved.decision, approved.decision_source) == ("approved", "auto")


def test_the_annotator_page_shows_history_and_pauses(desk_batches, make_user):
    approved, _ = desk_batches
    client = logged_in(make_user("admin"))
    html = client.get(f"/desk/annotators/{approved.annotator_id}/").content.decode()
    assert '<svg class="history"' in html and 'id="approval-rate">100%' in html
    client.post(f"/desk/annotators/{approved.annotator_id}/", {"action": "pause", "reason": "spot check"})
    profile = AnnotatorProfile.objects.get(user_id=approved.annotator_id)
    assert (profile.is_paused, profile.paused_reason) == (True, "spot check")
    client.post(f"/desk/annotators/{approved.annotator_id}/", {"action": "resume"})
    profile.refresh_from_db()
    assert profile.is_paused is False


def test_the_desk_handles_a_quality_only_campaign(make_user):
    campaign = CampaignFactory(rate_alignment=False)
    batch = closed_batch(campaign, make_user(), [(i, 3, None) for i in make_golden(campaign, alignment=[None] * 10)])
    batch_scrutinize(batch_id=batch.pk)
    client = logged_in(make_user("admin"))
    assert client.get(f"/desk/?campaign={campaign.slug}").status_code == 200
    assert (
        logged_in(make_user("admin")).get(f"/desk/batches/{batch.pk}/").content.decode().count('<svg class="scatter"')
        == 1
    )


def test_admins_change_the_scrutiny_settings_in_the_django_admin(db):
    from annotation.services.users import user_add

    campaign = CampaignFactory()
    admin = user_add(username="desk-admin", role="admin", password="pass-word-1")
    client = logged_in(admin)
    url = f"/admin/annotation/campaign/{campaign.pk}/change/"
    html = client.get(url).content.decode()
    for field in (
        "approve_threshold",
        "reject_threshold",
        "min_golden",
        "expert_ratings_per_golden",
        "scrutiny_measure",
    ):
        assert f'name="{field}"' in html, field
    # Batch decisions are read-only there: they change through the desk, which keeps the counters right.
    batch = Batch.objects.create(campaign=campaign, annotator=admin, status="closed")
    assert 'name="decision"' not in client.get(f"/admin/annotation/batch/{batch.pk}/change/").content.decode()
