"""The generation API: who may use it, what it answers, and bad input answered with a reason and nothing changed."""

from __future__ import annotations

import pytest

from annotation.models import Generator, Item
from generation.models import GenerationJob, PromptSet

from .conftest import PROMPTS

pytest.importorskip("diffusers")


@pytest.mark.django_db
def test_annotators_and_experts_are_refused(client_as, campaign):
    for role in ("annotator", "expert"):
        client, _ = client_as(role)
        for url in (
            f"/api/v1/campaigns/{campaign.slug}/prompt-sets/",
            f"/api/v1/campaigns/{campaign.slug}/coverage/",
            f"/api/v1/campaigns/{campaign.slug}/generators/",
        ):
            assert client.get(url).status_code == 403, (role, url)


@pytest.mark.django_db
def test_prompt_import_through_the_api_and_its_listing(
    client_as, campaign, prompt_files, django_capture_on_commit_callbacks
):
    client, _ = client_as("researcher")
    with open(prompt_files.jsonl(PROMPTS), "rb") as fh, django_capture_on_commit_callbacks(execute=True):
        resp = client.post(
            f"/api/v1/campaigns/{campaign.slug}/prompt-sets/", {"file": fh, "name": "api set"}, format="multipart"
        )
    assert resp.status_code == 202
    job = client.get(resp.json()["status_url"]).json()
    assert job["status"] == "succeeded" and job["result"]["added"] == 4
    sets = client.get(f"/api/v1/campaigns/{campaign.slug}/prompt-sets/").json()
    assert sets[0]["slug"] == "api-set" and (sets[0]["prompts"], sets[0]["long"], sets[0]["unclassified"]) == (4, 1, 3)
    prompts = client.get(f"/api/v1/campaigns/{campaign.slug}/prompt-sets/api-set/prompts/?long=1").json()
    assert prompts["count"] == 1 and prompts["results"][0]["is_long"] is True
    with django_capture_on_commit_callbacks(execute=True):
        resp = client.post(
            f"/api/v1/campaigns/{campaign.slug}/prompt-sets/api-set/classify/", {"method": "rules"}, format="json"
        )
    assert resp.status_code == 202
    assert client.get(resp.json()["status_url"]).json()["result"]["rules"] == 3
    bad = client.post(
        f"/api/v1/campaigns/{campaign.slug}/prompt-sets/api-set/classify/", {"method": "llm"}, format="json"
    )
    assert bad.status_code == 400 and "needs a model or an endpoint" in bad.json()["detail"]


@pytest.mark.django_db
def test_a_bad_prompt_file_fails_its_job_with_the_row(client_as, campaign, prompt_files):
    from annotation.services.jobs import job_run
    from core.errors import InvalidInput

    client, _ = client_as("researcher")
    with open(prompt_files.csv([{"text": "ok", "category": "Nope"}]), "rb") as fh:
        resp = client.post(f"/api/v1/campaigns/{campaign.slug}/prompt-sets/", {"file": fh}, format="multipart")
    with pytest.raises(InvalidInput):  # what a worker runs; it records the reason on the job
        job_run(job_id=resp.json()["job_id"])
    job = client.get(resp.json()["status_url"]).json()
    assert job["status"] == "failed" and "prompts.csv line 2: category 'Nope' is not in taxonomy" in job["error"]
    assert not PromptSet.objects.filter(campaign=campaign).exists()
    resp = client.post(
        f"/api/v1/campaigns/{campaign.slug}/prompt-sets/", {"file": ("x.txt", b"hi")}, format="multipart"
    )
    assert resp.status_code == 400


@pytest.mark.django_db
def test_generators_jobs_outputs_review_and_coverage(
    client_as, campaign, prompt_set, django_capture_on_commit_callbacks
):
    client, user = client_as("researcher")
    base = f"/api/v1/campaigns/{campaign.slug}"
    bad = client.post(
        f"{base}/generators/", {"name": "x", "kind": "diffusers", "model": "m", "params": {"steps": "0"}}, format="json"
    )
    assert bad.status_code == 400 and "steps must be between 1 and 1000" in bad.json()["detail"]
    assert not Generator.objects.filter(name="x").exists()
    name = f"api-tiny-{campaign.slug}"
    created = client.post(f"{base}/generators/", {"name": name, "kind": "tiny", "tiny": "image"}, format="json")
    assert created.status_code == 201 and created.json()["spec"]["model"] == "tiny:image"
    assert [g["name"] for g in client.get(f"{base}/generators/").json()] == [name]

    bad = client.post(f"{base}/generation-jobs/", {"generators": ["nope"]}, format="json")
    assert bad.status_code == 400 and "'nope' is not registered" in bad.json()["detail"]
    assert not GenerationJob.objects.exists()
    with django_capture_on_commit_callbacks(execute=True):
        started = client.post(
            f"{base}/generation-jobs/", {"generators": [name], "review": True, "seeds": 1}, format="json"
        )
    assert started.status_code == 202
    job = started.json()
    assert job["to_make"] == 4 and job["params"]["review"] is True
    # Eager Celery in this test: the batches ran inside the request.
    detail = client.get(f"/api/v1/generation-jobs/{job['id']}/").json()
    assert detail["status"] == "succeeded" and detail["progress"]["review"] == 4
    outputs = client.get(f"/api/v1/generation-jobs/{job['id']}/outputs/?status=review").json()
    assert outputs["count"] == 4 and outputs["results"][0]["provenance"]["seed"] == 0
    thumb = client.get(outputs["results"][0]["thumbnail_url"])
    assert thumb.status_code == 200 and thumb["Content-Type"] == "image/jpeg"
    review = client.post(f"{base}/generation-outputs/review/", {"decision": "approve", "job": job["id"]}, format="json")
    assert review.json() == {"approved": 4, "failed": 0, "skipped": 0}
    assert Item.objects.filter(campaign=campaign).count() == 4
    assert client.post(f"/api/v1/generation-jobs/{job['id']}/cancel/").status_code == 409

    cov = client.get(f"{base}/coverage/?by=category").json()
    assert cov["items"]["total"] == 4 and cov["prompts"]["long_share"] == 0.25
    csv = client.get(f"{base}/coverage/?export=items")
    assert csv["Content-Type"].startswith("text/csv") and csv.content.decode().startswith(
        "category,group,subcategory," + name
    )
    assert client.get(f"{base}/coverage/?by=colour").status_code == 400


@pytest.mark.django_db
def test_list_endpoints_do_not_grow_queries_with_rows(client_as, campaign, prompt_set, django_assert_max_num_queries):
    client, _ = client_as("researcher")
    with django_assert_max_num_queries(8):
        resp = client.get(f"/api/v1/campaigns/{campaign.slug}/prompt-sets/main/prompts/")
    assert resp.json()["count"] == 4
