"""API of versions and exports: permissions, validation, the 202 job flow and the download."""

import io
import json
import zipfile

import pytest

from annotation.models import DatasetVersion, Job
from annotation.services.mos import mos_aggregate


@pytest.mark.parametrize("role", ["annotator", "expert"])
def test_annotators_and_experts_get_403_everywhere(version, client_as, role):
    client, _ = client_as(role)
    slug = version.campaign.slug
    assert client.get(f"/api/v1/campaigns/{slug}/versions/").status_code == 403
    assert client.post(f"/api/v1/campaigns/{slug}/versions/", {"method": "mean"}, format="json").status_code == 403
    assert client.get(f"/api/v1/versions/{version.pk}/").status_code == 403
    assert client.post(f"/api/v1/versions/{version.pk}/exports/", {"format": "sft"}, format="json").status_code == 403
    assert client.post(f"/api/v1/versions/{version.pk}/extra-ratings/", {}, format="json").status_code == 403
    assert client.get("/api/v1/exports/1/download/").status_code == 403


def test_researcher_lists_versions_and_sees_coverage(version, client_as):
    client, _ = client_as("researcher")
    listed = client.get(f"/api/v1/campaigns/{version.campaign.slug}/versions/").json()
    assert [(v["id"], v["number"], v["checksum"]) for v in listed] == [(version.pk, 1, version.checksum)]
    detail = client.get(f"/api/v1/versions/{version.pk}/").json()
    assert detail["version"]["counts"]["ratings"] == 12
    assert detail["coverage"]["items"] == 3 and detail["coverage"]["below_target"] == 3  # 4 of 6 ratings each


def test_post_version_runs_an_aggregation_job(rated, client_as, django_capture_on_commit_callbacks):
    campaign = rated[0]
    client, user = client_as("researcher")
    with django_capture_on_commit_callbacks(execute=True):
        resp = client.post(f"/api/v1/campaigns/{campaign.slug}/versions/", {"method": "bt500"}, format="json")
    assert resp.status_code == 202, resp.content
    job = Job.objects.get(pk=resp.json()["job"]["id"])
    assert job.status == "succeeded", job.error
    version = DatasetVersion.objects.get(pk=job.result["version_id"])
    assert (version.method, version.created_by_id) == ("bt500", user.pk)
    status = client.get(f"/api/v1/jobs/{job.pk}/").json()
    assert status["status"] == "succeeded" and status["progress"] == status["total"]


@pytest.mark.parametrize(
    "body,fragment", [({"method": "median"}, "method"), ({"method": "mle", "params": {"x": 1}}, "x")]
)
def test_bad_aggregation_requests_are_400_and_make_no_job(rated, client_as, body, fragment):
    client, _ = client_as("researcher")
    resp = client.post(f"/api/v1/campaigns/{rated[0].slug}/versions/", body, format="json")
    assert resp.status_code == 400 and fragment in resp.json()["detail"]
    assert not Job.objects.exists()


def test_unknown_campaign_or_version_is_404(db, client_as):
    client, _ = client_as("researcher")
    assert client.get("/api/v1/campaigns/nope/versions/").status_code == 404
    resp = client.post("/api/v1/versions/999999/exports/", {"format": "sft"}, format="json")
    assert resp.status_code == 404 and "999999" in resp.json()["detail"]


@pytest.mark.parametrize(
    "body,fragment",
    [
        ({"format": "xml"}, "format"),
        ({"format": "sft", "split": "train=0.9"}, "sum to 1"),
        ({"format": "sft", "media": "teleport"}, "media"),
    ],
)
def test_bad_export_requests_are_400_and_make_no_job(version, client_as, body, fragment):
    client, _ = client_as("researcher")
    resp = client.post(f"/api/v1/versions/{version.pk}/exports/", body, format="json")
    assert resp.status_code == 400 and fragment in resp.json()["detail"]
    assert not Job.objects.exists()


def test_export_job_and_zip_download(version, client_as, django_capture_on_commit_callbacks):
    client, _ = client_as("researcher")
    with django_capture_on_commit_callbacks(execute=True):
        resp = client.post(
            f"/api/v1/versions/{version.pk}/exports/",
            {"format": "sft", "split": "train=0.34,val=0.33,test=0.33", "seed": 2},
            format="json",
        )
    assert resp.status_code == 202, resp.content
    job_id = resp.json()["job"]["id"]
    assert Job.objects.get(pk=job_id).status == "succeeded"
    download = client.get(f"/api/v1/exports/{job_id}/download/")
    assert download.status_code == 200 and download["Content-Type"] == "application/zip"
    archive = zipfile.ZipFile(io.BytesIO(b"".join(download.streaming_content)))
    names = set(archive.namelist())
    assert {"manifest.json", "sft_train.jsonl", "sft_val.jsonl", "sft_test.jsonl"} <= names
    assert sum(n.startswith("media/") for n in names) == 3
    manifest = json.loads(archive.read("manifest.json"))
    assert manifest["dataset_version"]["id"] == version.pk and sum(manifest["counts"].values()) == 6
    single = client.get(f"/api/v1/exports/{job_id}/download/?file=manifest.json")
    assert json.loads(b"".join(single.streaming_content)) == manifest
    assert client.get(f"/api/v1/exports/{job_id}/download/?file=../../etc/passwd").status_code == 404


def test_download_of_an_unfinished_export_is_409(version, client_as):
    from annotation.services.jobs import job_create

    client, user = client_as("researcher")
    job = job_create(kind="dataset_export", params={"version_id": version.pk, "format": "sft"}, created_by=user)
    resp = client.get(f"/api/v1/exports/{job.pk}/download/")
    assert resp.status_code == 409 and "queued" in resp.json()["detail"]


def test_extra_ratings_action(version, client_as):
    client, _ = client_as("admin")
    resp = client.post(f"/api/v1/versions/{version.pk}/extra-ratings/", {"step": 1}, format="json")
    assert resp.status_code == 200 and set(resp.json()) >= {"uncertain", "raised", "cap"}
    assert client.post(f"/api/v1/versions/{version.pk}/extra-ratings/", {"step": 0}, format="json").status_code == 400


def test_version_list_query_count_is_flat(version, client_as, django_assert_max_num_queries):
    mos_aggregate(campaign=version.campaign)
    client, _ = client_as("researcher")
    with django_assert_max_num_queries(6):
        assert len(client.get(f"/api/v1/campaigns/{version.campaign.slug}/versions/").json()) == 2
