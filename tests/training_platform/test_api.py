"""The training API without running a model: validation, permissions, lists without N+1, cancel."""

from __future__ import annotations

import pytest

from annotation.models import DatasetVersion
from tests.factories import CampaignFactory
from training.models import Scorer, TrainingRun
from training.services.runs import StillRunning, run_cancel, run_create, run_execute


@pytest.fixture
def version(db, campaign):
    return DatasetVersion.objects.create(campaign=campaign, number=1, method="mean", checksum="x" * 64)


@pytest.fixture
def scorer(db, tmp_path):
    (tmp_path / "config.json").write_text("{}")
    return Scorer.objects.create(name="folder-scorer", path=str(tmp_path))


@pytest.mark.django_db
@pytest.mark.parametrize("role", ["annotator", "expert"])
def test_non_researchers_get_403_everywhere(client_as, version, scorer, role):
    client, _ = client_as(role)
    assert client.get("/api/v1/training-runs/").status_code == 403
    resp = client.post("/api/v1/training-runs/", {"kind": "train", "dataset_version": version.pk}, format="json")
    assert resp.status_code == 403
    assert client.get("/api/v1/scorers/").status_code == 403
    assert client.post(f"/api/v1/scorers/{scorer.pk}/score/", {"prompt": "x"}).status_code == 403
    assert TrainingRun.objects.count() == 0


@pytest.mark.django_db
def test_unknown_config_key_is_400_and_names_the_key(client_as, version):
    client, _ = client_as("researcher")
    resp = client.post(
        "/api/v1/training-runs/",
        {"kind": "train", "dataset_version": version.pk, "config": {"epochs": 1, "learning_rat": 0.1}},
        format="json",
    )
    assert resp.status_code == 400
    assert "learning_rat" in resp.json()["detail"]
    assert TrainingRun.objects.count() == 0


@pytest.mark.django_db
@pytest.mark.parametrize(
    "payload, reason",
    [
        ({"kind": "train", "dataset_version": 999999}, "does not exist"),
        ({"kind": "train"}, "dataset_version is required"),
        ({"kind": "evaluate", "dataset_version": "VERSION"}, "needs a scorer"),
        ({"kind": "bake", "dataset_version": "VERSION"}, "kind must be one of"),
        ({"kind": "train", "dataset_version": "VERSION", "config": {"output_dir": "/tmp/x"}}, "set by the platform"),
        ({"kind": "train", "dataset_version": "VERSION", "config": {"epochs": "many"}}, "bad value for epochs"),
        # The worker would send this environment variable's value as the endpoint's key (SECRET_KEY, a storage key).
        (
            {"kind": "train", "dataset_version": "VERSION", "config": {"v2s_api_key_env": "SECRET_KEY"}},
            "v2s_api_key_env are set by the platform",
        ),
        (
            {"kind": "train", "dataset_version": "VERSION", "config": {"v2s_endpoint": "https://collector.example/v1"}},
            "no LLM endpoint is configured here",
        ),
    ],
)
def test_bad_launches_are_400_with_a_reason(client_as, version, payload, reason):
    client, _ = client_as("researcher")
    if payload.get("dataset_version") == "VERSION":
        payload = {**payload, "dataset_version": version.pk}
    resp = client.post("/api/v1/training-runs/", payload, format="json")
    assert resp.status_code == 400, resp.content
    assert reason in resp.json()["detail"]
    assert TrainingRun.objects.count() == 0


@pytest.mark.django_db
def test_config_may_be_yaml_text(client_as, version, django_capture_on_commit_callbacks):
    client, user = client_as("researcher")
    # Not executed: the on_commit hook that would enqueue it is captured, not run.
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        resp = client.post(
            "/api/v1/training-runs/",
            {"kind": "train", "dataset_version": version.pk, "config": "epochs: 3\nlearning_rate: 0.001\n"},
            format="json",
        )
    assert resp.status_code == 202, resp.content
    body = resp.json()
    assert body["status"] == "queued" and body["config"] == {"epochs": 3, "learning_rate": 0.001}
    assert body["base_model"] == "Qwen/Qwen2-VL-7B-Instruct"
    assert len(callbacks) == 1
    run = TrainingRun.objects.get(pk=body["id"])
    assert run.created_by == user and run.output_dir.endswith(f"run-{run.pk:06d}")


@pytest.mark.django_db
def test_run_list_has_no_n_plus_one(client_as, django_assert_num_queries, scorer):
    client, user = client_as("researcher")

    def make(n):
        for _ in range(n):
            c = CampaignFactory()
            v = DatasetVersion.objects.create(campaign=c, number=1, method="mean", checksum="x" * 64)
            run_create(kind="evaluate", dataset_version_id=v.pk, config={}, scorer_id=scorer.pk, created_by=user)

    make(1)
    client.get("/api/v1/training-runs/")  # warm the token/role lookups' caches alike for both calls
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as one:
        assert client.get("/api/v1/training-runs/").status_code == 200
    make(5)
    with django_assert_num_queries(len(one.captured_queries)):
        resp = client.get("/api/v1/training-runs/")
    body = resp.json()
    assert body["count"] == 6 and len(body["results"]) == 6
    assert {r["scorer_name"] for r in body["results"]} == {"folder-scorer"}
    assert "loss_curve" not in body["results"][0]


@pytest.mark.django_db
def test_scorer_list(client_as, scorer):
    client, _ = client_as("admin")
    body = client.get("/api/v1/scorers/").json()
    assert [s["name"] for s in body["results"]] == ["folder-scorer"]


@pytest.mark.django_db
def test_cancel_a_queued_run_cancels_it_and_the_worker_then_does_nothing(client_as, version):
    client, user = client_as("researcher")
    run = run_create(kind="train", dataset_version_id=version.pk, config={}, created_by=user)
    resp = client.post(f"/api/v1/training-runs/{run.pk}/cancel/")
    assert resp.status_code == 200 and resp.json()["status"] == "cancelled"
    assert run_execute(run_id=run.pk) is None  # a late delivery of the task
    run.refresh_from_db()
    assert run.status == "cancelled" and run.attempts == 0
    again = client.post(f"/api/v1/training-runs/{run.pk}/cancel/")
    assert again.status_code == 409 and "already finished" in again.json()["detail"]


@pytest.mark.django_db
def test_cancel_a_running_run_only_flags_it(version):
    run = run_create(kind="train", dataset_version_id=version.pk, config={})
    TrainingRun.objects.filter(pk=run.pk).update(status="running")
    run = run_cancel(run_id=run.pk)
    assert run.status == "running" and run.cancel_requested


@pytest.mark.django_db
def test_a_redelivered_task_leaves_a_live_run_alone(version):
    from django.utils import timezone

    run = run_create(kind="train", dataset_version_id=version.pk, config={})
    TrainingRun.objects.filter(pk=run.pk).update(status="running", heartbeat_at=timezone.now(), attempts=1)
    with pytest.raises(StillRunning):
        run_execute(run_id=run.pk)
    run.refresh_from_db()
    assert run.attempts == 1 and run.status == "running"


@pytest.mark.django_db
def test_detail_404_and_missing_scorer_404(client_as):
    client, _ = client_as("researcher")
    assert client.get("/api/v1/training-runs/424242/").status_code == 404
    resp = client.post("/api/v1/scorers/424242/score/", {"prompt": "x"})
    assert resp.status_code == 404 and "does not exist" in resp.json()["detail"]


def test_training_tasks_are_routed_to_the_training_queue():
    from config.celery import app

    for name in ("training.execute_run", "training.score_batch"):
        assert app.amqp.router.route({}, name, args=(), kwargs={})["queue"].name == "training"


def test_loss_curve_is_thinned_to_the_limit_keeping_first_and_last():
    from training.services.runs import thin_curve

    points = [{"step": s, "loss": 1.0 / s, "lr": 0.1} for s in range(1, 5001)]
    thinned = thin_curve(points, limit=500)
    assert 250 <= len(thinned) <= 500
    assert thinned[0]["step"] == 1 and thinned[-1]["step"] == 5000
    steps = [p["step"] for p in thinned]
    assert steps == sorted(set(steps))
    assert thin_curve(points[:10], limit=500) == points[:10]


@pytest.mark.django_db
def test_a_listed_llm_endpoint_is_taken_and_every_run_sends_the_deployments_key_only(client_as, version, settings):
    from training.services.configs import platform_keys

    settings.QEVAL_LLM_ENDPOINTS = ["http://vllm.internal:8000/v1"]
    client, _ = client_as("researcher")
    resp = client.post(
        "/api/v1/training-runs/",
        {"kind": "train", "dataset_version": version.pk, "config": {"v2s_endpoint": "http://vllm.internal:8000/v1/"}},
        format="json",
    )
    assert resp.status_code == 202, resp.content
    assert resp.json()["config"] == {"v2s_endpoint": "http://vllm.internal:8000/v1"}
    refused = client.post(
        "/api/v1/training-runs/",
        {"kind": "train", "dataset_version": version.pk, "config": {"v2s_endpoint": "http://10.1.2.3/v1"}},
        format="json",
    )
    assert refused.status_code == 400
    assert (
        refused.json()["detail"]
        == "endpoint http://10.1.2.3/v1 is not one this deployment calls: choose http://vllm.internal:8000/v1"
    )
    assert platform_keys()["v2s_api_key_env"] == "QEVAL_LLM_API_KEY"
    assert platform_keys(data_dir="d", output_dir="o") == {
        "v2s_api_key_env": "QEVAL_LLM_API_KEY",
        "data_dir": "d",
        "output_dir": "o",
        "resume_from": "latest",
    }
