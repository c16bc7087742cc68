"""The whole generation path on the real parts: prompts imported through the API, a tiny generator registered, a
generation job queued through the API and run by a REAL Celery worker on the `generation` queue (real Redis,
PostgreSQL), items written into the campaign, and an annotator who gets them in a batch and rates one."""

from __future__ import annotations

import pytest

from annotation.models import Item, Job, Rating
from generation.models import GenerationJob, GenerationOutput
from tests.celery_worker import wait_for
from tests.factories import CampaignFactory

from .conftest import PROMPTS

pytest.importorskip("diffusers")


@pytest.mark.celery_worker
@pytest.mark.django_db(transaction=True)
def test_prompt_set_to_generated_items_to_a_rated_batch_on_a_real_worker(celery_worker, client_as, prompt_files):
    campaign = CampaignFactory(batch_size=4, golden_per_batch=0)
    researcher, _ = client_as("researcher")
    with open(prompt_files.csv(PROMPTS), "rb") as fh:
        resp = researcher.post(
            f"/api/v1/campaigns/{campaign.slug}/prompt-sets/",
            {"file": fh, "name": "main", "classify": "rules"},
            format="multipart",
        )
    assert resp.status_code == 202, resp.content
    job = wait_for(
        lambda: Job.objects.filter(pk=resp.json()["job_id"], status__in=["succeeded", "failed"]).first(),
        timeout=90,
        what="the prompt import job",
    )
    assert job.status == "succeeded", job.error
    assert job.result["added"] == 4 and job.result["classified"]["prompts"] == 3

    name = f"tiny-{campaign.slug}"
    resp = researcher.post(
        f"/api/v1/campaigns/{campaign.slug}/generators/", {"name": name, "kind": "tiny", "tiny": "image"}, format="json"
    )
    assert resp.status_code == 201, resp.content
    resp = researcher.post(
        f"/api/v1/campaigns/{campaign.slug}/generation-jobs/",
        {"generators": [name], "prompt_set": "main", "seeds": 2},
        format="json",
    )
    assert resp.status_code == 202, resp.content
    job_id = resp.json()["id"]
    assert resp.json()["to_make"] == 8 and resp.json()["status"] == "queued"

    def finished():
        gen_job = GenerationJob.objects.get(pk=job_id)
        return gen_job if gen_job.is_finished else None

    gen_job = wait_for(finished, timeout=240, interval=0.5, what=f"generation job {job_id} on the worker")
    assert gen_job.status == "succeeded", gen_job.message
    outputs = GenerationOutput.objects.filter(job=gen_job)
    assert outputs.filter(status="done").count() == 8
    workers = set(outputs.values_list("worker", flat=True))
    assert all(w.startswith("celery@") for w in workers)  # made by the worker process, not in this one
    detail = researcher.get(f"/api/v1/generation-jobs/{job_id}/").json()
    g = detail["progress"]["generators"][0]
    assert (g["made"], g["failed"], g["percent"]) == (8, 0, 100.0) and g["outputs_per_min"] > 0
    assert Item.objects.filter(campaign=campaign).count() == 8

    annotator, user = client_as("annotator")
    batch = annotator.post(f"/api/v1/campaigns/{campaign.slug}/batches/")
    assert batch.status_code == 201, batch.content
    tasks = batch.json()["tasks"]
    assert len(tasks) == 4 and {t["media_type"] for t in tasks} == {"image"}
    media = annotator.get(tasks[0]["media_url"])
    assert media.status_code == 200 and b"".join(media.streaming_content)[:8] == b"\x89PNG\r\n\x1a\n"
    rated = annotator.post(
        f"/api/v1/tasks/{tasks[0]['id']}/rating/", {"quality": 2, "alignment": 4, "duration_ms": 900}, format="json"
    )
    assert rated.status_code == 201, rated.content
    rating = Rating.objects.get(annotator=user)
    assert (rating.quality, rating.alignment) == (2, 4) and rating.item.generation.job_id == job_id
