"""The generation pages render for researchers (coverage heat map with gaps, forms), are refused to annotators,
and their forms call the same services as the API."""

from __future__ import annotations

import pytest
from django.test import Client

pytest.importorskip("diffusers")


def login(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.mark.django_db
def test_campaign_page_shows_coverage_gaps_prompt_sets_and_generators(
    make_user, campaign, prompt_set, tiny_generators, django_capture_on_commit_callbacks
):
    client = login(make_user("researcher"))
    image_gen, _ = tiny_generators
    with django_capture_on_commit_callbacks(execute=True):
        resp = client.post(
            f"/generation/{campaign.slug}/jobs/", {"generators": [image_gen], "prompt_set": "main", "seeds": "1"}
        )
    assert resp.status_code == 302 and "/generation/jobs/" in resp["Location"]
    page = client.get(f"/generation/{campaign.slug}/").content.decode()
    assert "Coverage: items by generator and taxonomy" in page and image_gen in page
    assert page.count('class="gen-cell gen-gap"') > 10  # empty cells of the taxonomy are marked
    assert "main" in page and "Register a generator" in page
    job_page = client.get(resp["Location"]).content.decode()
    assert "succeeded" in job_page and "4 made" in job_page and image_gen in job_page
    assert client.get("/generation/").status_code == 200


@pytest.mark.django_db
def test_forms_report_bad_input_and_annotators_are_refused(make_user, campaign):
    client = login(make_user("researcher"))
    resp = client.post(
        f"/generation/{campaign.slug}/generators/",
        {"name": "g", "kind": "diffusers", "model": "m", "params": "steps=zero"},
        follow=True,
    )
    assert "steps must be a whole number" in resp.content.decode()
    resp = client.post(f"/generation/{campaign.slug}/jobs/", {"generators": ["none"]}, follow=True)
    assert "is not registered" in resp.content.decode()
    annotator = login(make_user("annotator"))
    assert annotator.get(f"/generation/{campaign.slug}/").status_code == 403
