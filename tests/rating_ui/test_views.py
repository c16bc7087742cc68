"""The annotator pages through Django's test client: campaign instructions, the rating shell, My batches."""

from __future__ import annotations

import json
import re
from datetime import timedelta

import pytest
from django.utils import timezone

from annotation.models import Batch, Task
from tests.factories import CampaignFactory, ItemFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def logged_in(client, make_user):
    def _as(role="annotator"):
        user = make_user(role)
        client.force_login(user)
        return user

    return _as


def rate_config(response) -> dict:
    html = response.content.decode()
    match = re.search(r'<script id="rate-config" type="application/json">(.*?)</script>', html, re.S)
    assert match, "the rating page has no rate-config script"
    return json.loads(match.group(1))


@pytest.mark.parametrize("url", ["/campaigns/c1/", "/campaigns/c1/rate/", "/my/batches/"])
def test_pages_need_a_login(client, url):
    CampaignFactory(slug="c1")
    response = client.get(url)
    assert response.status_code == 302
    assert response["Location"].startswith("/login/?next=")


def test_campaign_page_shows_instructions_anchors_and_start_button(client, logged_in):
    CampaignFactory(
        slug="c1",
        name="Spring set",
        instructions="Look closely at hands.\nThen rate.",
        anchors={"quality": {"1": "Melted faces everywhere", "5": "Indistinguishable from a photo"}},
    )
    logged_in("annotator")
    html = client.get("/campaigns/c1/").content.decode()
    assert "Spring set" in html and "Look closely at hands." in html
    # the campaign's own anchors where set, the built-in defaults elsewhere, for both dimensions
    assert "Melted faces everywhere" in html and "Indistinguishable from a photo" in html
    assert "Clean and realistic, with only minor flaws." in html  # default quality 4
    assert "Everything the prompt asks for is shown, correctly." in html  # default alignment 5
    for word in ("Bad", "Poor", "Fair", "Good", "Excellent"):
        assert f"</span> {word}</dt>" in html
    assert 'href="/campaigns/c1/rate/"' in html and "Start rating" in html
    assert "?mode=expert" not in html  # annotators get no expert button


def test_campaign_page_shows_only_the_campaigns_dimensions(client, logged_in):
    CampaignFactory(slug="c1", rate_alignment=False)
    logged_in("annotator")
    html = client.get("/campaigns/c1/").content.decode()
    assert "Visual quality" in html
    assert "Alignment with the prompt" not in html


def test_experts_get_the_expert_mode_button(client, logged_in):
    CampaignFactory(slug="c1")
    logged_in("expert")
    html = client.get("/campaigns/c1/").content.decode()
    assert 'href="/campaigns/c1/rate/?mode=expert"' in html
    assert "Expert mode: rate golden items" in html


def test_unknown_or_inactive_campaign_is_404(client, logged_in):
    CampaignFactory(slug="off", is_active=False)
    logged_in("annotator")
    assert client.get("/campaigns/off/").status_code == 404
    assert client.get("/campaigns/off/rate/").status_code == 404
    assert client.get("/campaigns/nope/").status_code == 404


def test_rating_shell_carries_slug_dimensions_and_mode_and_sets_csrf_cookie(client, logged_in):
    CampaignFactory(slug="c1", name="Spring set", rate_alignment=False, require_full_video=True)
    user = logged_in("annotator")
    response = client.get("/campaigns/c1/rate/")
    assert response.status_code == 200
    config = rate_config(response)
    assert config["slug"] == "c1" and config["mode"] == "annotate" and config["user"] == user.pk
    assert config["dimensions"] == ["quality"]
    assert config["requireFullVideo"] is True
    assert [lvl["word"] for lvl in config["scales"][0]["levels"]] == ["Bad", "Poor", "Fair", "Good", "Excellent"]
    assert "csrftoken" in response.cookies
    html = response.content.decode()
    assert 'data-dimension="quality"' in html and 'data-dimension="alignment"' not in html
    assert html.count('aria-pressed="false"') == 5
    assert 'role="alert"' in html and "frontend/rate.js" in html


def test_expert_mode_needs_the_expert_role(client, logged_in):
    CampaignFactory(slug="c1")
    logged_in("annotator")
    response = client.get("/campaigns/c1/rate/?mode=expert")
    assert response.status_code == 403
    assert b"expert role" in response.content


def test_expert_mode_shell_for_experts(client, logged_in):
    CampaignFactory(slug="c1")
    logged_in("expert")
    response = client.get("/campaigns/c1/rate/?mode=expert")
    assert rate_config(response)["mode"] == "expert"
    assert "Expert mode: golden items" in response.content.decode()


def test_unknown_mode_is_a_clear_400(client, logged_in):
    CampaignFactory(slug="c1")
    logged_in("annotator")
    response = client.get("/campaigns/c1/rate/?mode=fast")
    assert response.status_code == 400
    assert b"Unknown mode 'fast'" in response.content


def _batch(user, *, decision, status=Batch.Status.CLOSED, rated=2, leased=1, **fields):
    campaign = CampaignFactory()
    batch = Batch.objects.create(campaign=campaign, annotator=user, status=status, decision=decision, **fields)
    expires = timezone.now() + timedelta(minutes=30)
    for i in range(rated + leased):
        Task.objects.create(
            batch=batch,
            item=ItemFactory(campaign=campaign),
            annotator=user,
            position=i,
            status=Task.Status.RATED if i < rated else Task.Status.LEASED,
            lease_expires_at=expires,
            is_golden=i == 0,
        )
    return batch


def test_my_batches_shows_status_progress_and_decisions_without_scrutiny(
    client, logged_in, make_user, django_assert_max_num_queries
):
    user = logged_in("annotator")
    secret = {"quality": {"n_golden": 8, "srcc": 0.123456, "plcc": 0.654321, "bias": 1.75}}
    approved = _batch(user, decision=Batch.Decision.APPROVED, scrutiny=secret)
    rejected = _batch(
        user,
        decision=Batch.Decision.REJECTED,
        scrutiny=secret,
        decision_reason="SRCC 0.123456 below reject threshold 0.4",
        auto_reason="srcc 0.123456",
    )
    review = _batch(user, decision=Batch.Decision.NEEDS_REVIEW, scrutiny=secret)
    pending = _batch(user, decision=Batch.Decision.PENDING)
    open_batch = _batch(user, decision=Batch.Decision.PENDING, status=Batch.Status.OPEN, rated=1, leased=3)
    other = _batch(make_user("annotator"), decision=Batch.Decision.APPROVED)

    with django_assert_max_num_queries(7):  # session, user, roles, count, page, standing: no query per batch
        html = client.get("/my/batches/").content.decode()

    def row(batch):
        match = re.search(rf'<tr data-batch="{batch.pk}">(.*?)</tr>', html, re.S)
        return match.group(1) if match else None

    assert "Approved" in row(approved) and "2 / 3" in row(approved) and "Closed" in row(approved)
    assert "Rejected" in row(rejected)
    # needs_review is the admins' business: annotators see "Pending", as in the batch API
    assert "Pending" in row(review) and "review" not in row(review).lower()
    assert "Pending" in row(pending)
    assert "In progress" in row(open_batch) and "1 / 4" in row(open_batch) and "continue" in row(open_batch)
    assert row(other) is None  # never someone else's batch
    for leak in ("0.123456", "0.654321", "1.75", "srcc", "SRCC", "golden", "threshold"):
        assert leak not in html


def test_my_batches_empty(client, logged_in):
    logged_in("annotator")
    assert "No batches yet" in client.get("/my/batches/").content.decode()
