"""THE Celery path: a real worker (tests/celery_worker.py, default + training queues, real Redis) runs a
training run launched through the API, end to end, on the tiny model."""

from __future__ import annotations

import pytest

from tests.celery_worker import wait_for
from tests.factories import CampaignFactory
from training.models import Scorer, TrainingRun

from .conftest import make_rated_version

pytest.importorskip("torch")


@pytest.mark.celery_worker
@pytest.mark.django_db(transaction=True)
def test_a_real_worker_trains_a_run_launched_through_the_api(celery_worker, client_as, tiny_config):
    version = make_rated_version(CampaignFactory(), n_items=8)
    client, _ = client_as("researcher")
    resp = client.post(
        "/api/v1/training-runs/", {"kind": "train", "dataset_version": version.pk, "config": tiny_config}, format="json"
    )
    assert resp.status_code == 202, resp.content
    run_id = resp.json()["id"]

    def finished():
        run = TrainingRun.objects.get(pk=run_id)
        return run if run.is_finished else None

    run = wait_for(finished, timeout=240, interval=0.5, what=f"training run {run_id} to finish on the worker")
    assert run.status == "succeeded", run.error
    assert run.celery_task_id  # it went through the broker, not eager
    assert run.attempts == 1 and [p["step"] for p in run.loss_curve] == [1, 2]
    assert run.export_job_id is not None
    scorer = Scorer.objects.get(training_run=run)
    assert scorer.path.endswith("/model/final")
    detail = client.get(f"/api/v1/training-runs/{run_id}/").json()
    assert detail["status"] == "succeeded" and detail["registered_scorer"]["name"] == scorer.name
