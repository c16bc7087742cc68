"""Throttles and quotas (login lockout, job_start throttle, running-jobs cap, free-disk guard, retention) and
leaks (no server paths, downloads scoped like their jobs, no Hub without the setting)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from django.core.cache import cache
from django.core.management import call_command
from django.test import Client, override_settings
from django.utils import timezone

from annotation.models import DatasetVersion, Job
from core.errors import InvalidInput
from tests.mos.conftest import rated, version  # noqa: F401  (fixtures)

pytestmark = pytest.mark.django_db


@override_settings(AXES_FAILURE_LIMIT=3)
def test_repeated_wrong_passwords_lock_the_login_out_even_for_the_right_one(make_user):
    user = make_user("annotator", username="victim")
    user.set_password("right-pass-1")
    user.save()
    client = Client()
    for _ in range(2):
        assert client.post("/login/", {"username": "victim", "password": "wrong"}).status_code == 200
    assert client.post("/login/", {"username": "victim", "password": "wrong"}).status_code == 429  # the 3rd
    locked = client.post("/login/", {"username": "victim", "password": "right-pass-1"})
    assert locked.status_code == 429 and b"too many failed logins" in locked.content
    assert int(locked["Retry-After"]) == 15 * 60
    other = Client(REMOTE_ADDR="10.9.9.9").post("/login/", {"username": "victim", "password": "right-pass-1"})
    assert other.status_code == 302  # another address is not locked out with the attacker's


def test_starting_jobs_is_throttled_per_user(client_as, monkeypatch, version):
    from core.api.throttles import JobStartThrottle

    cache.clear()
    monkeypatch.setattr(JobStartThrottle, "rate", "2/hour", raising=False)
    client, _ = client_as("researcher")
    url = f"/api/v1/campaigns/{version.campaign.slug}/versions/"
    assert [client.post(url, {"method": "mean"}, format="json").status_code for _ in range(3)] == [202, 202, 429]
    assert "throttled" in client.post(url, {}, format="json").json()["detail"].lower()
    assert client.get(url).status_code == 200  # reading is not starting a job
    cache.clear()


@override_settings(QEVAL_MAX_ACTIVE_JOBS_PER_USER=2)
def test_a_user_with_too_many_jobs_running_is_refused_with_429(client_as, version):
    client, user = client_as("researcher")
    for _ in range(2):
        Job.objects.create(kind="selfcheck", created_by=user, status="running")
    response = client.post(f"/api/v1/campaigns/{version.campaign.slug}/versions/", {"method": "mean"}, format="json")
    assert response.status_code == 429
    assert response.json()["detail"].startswith("you have 2 jobs queued or running, the limit is 2")
    assert Job.objects.filter(created_by=user).count() == 2


@override_settings(QEVAL_EXPORT_MIN_FREE_BYTES=1 << 60)
def test_an_export_is_refused_with_507_when_the_disk_is_short(client_as, version):
    client, _ = client_as("researcher")
    response = client.post(f"/api/v1/versions/{version.pk}/exports/", {"format": "mos-csv"}, format="json")
    assert response.status_code == 507 and "QEVAL_EXPORT_MIN_FREE_BYTES" in response.json()["detail"]
    assert not Job.objects.filter(kind="dataset_export").exists()


def _export(client, version, django_capture_on_commit_callbacks) -> dict:
    with django_capture_on_commit_callbacks(execute=True):
        started = client.post(
            f"/api/v1/versions/{version.pk}/exports/", {"format": "mos-csv", "media": "none"}, format="json"
        )
    assert started.status_code == 202
    return client.get(started.json()["status_url"]).json()


def test_an_export_job_shows_no_server_path_and_its_download_is_scoped_like_the_job(
    client_as, version, django_capture_on_commit_callbacks, settings
):
    owner, _ = client_as("researcher")
    job = _export(owner, version, django_capture_on_commit_callbacks)
    assert job["status"] == "succeeded" and job["download_url"] == f"/api/v1/exports/{job['id']}/download/"
    assert "out" not in job["result"] and str(settings.EXPORT_ROOT) not in str(job)
    assert owner.get(job["download_url"]).status_code == 200
    stranger, _ = client_as("researcher")
    for url in (
        f"/api/v1/jobs/{job['id']}/",
        job["download_url"],
        "/api/v1/jobs/999999/",
        "/api/v1/exports/999999/download/",
    ):
        response = stranger.get(url)
        assert response.status_code == 404, url  # the same answer for another's job and no job
    admin, _ = client_as("admin")
    assert admin.get(job["download_url"]).status_code == 200


def test_a_failed_jobs_error_leaves_server_folders_out(client_as):
    client, user = client_as("researcher")
    job = Job.objects.create(
        kind="selfcheck",
        created_by=user,
        status="failed",
        error="cannot read /srv/qeval/data/imports/batch-7/manifest.csv: denied",
    )
    assert client.get(f"/api/v1/jobs/{job.pk}/").json()["error"] == "cannot read manifest.csv: denied"


def test_retention_dry_run_lists_and_apply_removes_unused_exports_and_versions(
    client_as, version, django_capture_on_commit_callbacks, capsys
):
    from annotation.services.mos import mos_aggregate

    client, user = client_as("researcher")
    job = _export(client, version, django_capture_on_commit_callbacks)
    folder = Path(Job.objects.get(pk=job["id"]).result["out"])
    newer = [mos_aggregate(campaign=version.campaign, method="mean") for _ in range(3)]
    old = timezone.now() - timedelta(days=40)
    Job.objects.filter(pk=job["id"]).update(finished_at=old, created_at=old)
    DatasetVersion.objects.filter(pk=version.pk).update(created_at=old)

    call_command("retention", "--dry-run")
    out = capsys.readouterr().out
    assert f"export job {job['id']}" in out and f"version {version.pk} " in out
    assert "would remove 1 exports" in out and "and 1 dataset versions unused for 30 days" in out
    assert folder.is_dir() and DatasetVersion.objects.filter(pk=version.pk).exists()  # a dry run removes nothing

    call_command("retention")
    assert not folder.exists() and not DatasetVersion.objects.filter(pk=version.pk).exists()
    assert all(DatasetVersion.objects.filter(pk=v.pk).exists() for v in newer)  # the newest 3 are kept
    gone = client.get(job["download_url"])
    assert gone.status_code == 410 and "removed by retention" in gone.json()["detail"]


def test_a_recent_download_keeps_an_export(client_as, version, django_capture_on_commit_callbacks):
    from annotation.services.retention import retention_plan

    client, _ = client_as("researcher")
    job = _export(client, version, django_capture_on_commit_callbacks)
    old = timezone.now() - timedelta(days=40)
    Job.objects.filter(pk=job["id"]).update(finished_at=old, created_at=old)
    assert [e.job_id for e in retention_plan().exports] == [job["id"]]
    assert client.get(job["download_url"]).status_code == 200
    assert retention_plan().exports == []


def test_workers_name_a_missing_base_model_instead_of_reaching_for_the_hub(tmp_path):
    from training.services.runs import base_model_check

    base_model_check(name=str(tmp_path))  # a local folder is fine
    with pytest.raises(
        InvalidInput, match=r"base model 'acme/no-such-model' is not on this worker.*QEVAL_ALLOW_HUB_DOWNLOADS"
    ):
        base_model_check(name="acme/no-such-model")


def test_training_and_scorer_answers_name_no_server_folder(client_as):
    from training.api import RunDetailOutput, ScorerOutput

    assert not {"output_dir", "export_dir", "predictions_path"} & set(RunDetailOutput.Meta.fields)
    assert "path" not in ScorerOutput.Meta.fields
