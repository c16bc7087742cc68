"""Starting a version or an export is idempotent per request (a double click makes one job); exports keep
their download links on every visit; the job page shows progress and the download."""

import pytest

from annotation.models import Job
from annotation.services.jobs import job_create, job_run
from annotation.services.mos import mos_aggregate

pytestmark = pytest.mark.django_db


def test_a_double_click_makes_one_version_job(rated, client_as):
    campaign = rated[0]
    client, _ = client_as("researcher")
    url = f"/api/v1/campaigns/{campaign.slug}/versions/"
    first = client.post(url, {"method": "mean"}, format="json", HTTP_IDEMPOTENCY_KEY="click-0001")
    second = client.post(url, {"method": "mean"}, format="json", HTTP_IDEMPOTENCY_KEY="click-0001")
    assert first.status_code == second.status_code == 202
    assert first.json()["job"]["id"] == second.json()["job"]["id"]
    other = client.post(url, {"method": "mean"}, format="json", HTTP_IDEMPOTENCY_KEY="click-0002")
    assert other.json()["job"]["id"] != first.json()["job"]["id"]
    assert Job.objects.filter(kind="mos_aggregate").count() == 2
    bad = client.post(url, {"method": "mean"}, format="json", HTTP_IDEMPOTENCY_KEY="x")
    assert bad.status_code == 400 and "Idempotency-Key" in bad.json()["detail"]


def test_a_double_click_makes_one_export_job_and_someone_else_gets_their_own(rated, client_as):
    version = mos_aggregate(campaign=rated[0])
    url = f"/api/v1/versions/{version.pk}/exports/"
    client, _ = client_as("researcher")
    a = client.post(url, {"format": "mos-csv"}, format="json", HTTP_IDEMPOTENCY_KEY="export-click-1").json()
    b = client.post(url, {"format": "mos-csv"}, format="json", HTTP_IDEMPOTENCY_KEY="export-click-1").json()
    other, _ = client_as("researcher")
    c = other.post(url, {"format": "mos-csv"}, format="json", HTTP_IDEMPOTENCY_KEY="export-click-1").json()
    assert a["job"]["id"] == b["job"]["id"] != c["job"]["id"]


def test_export_downloads_last_and_the_job_page_offers_them(rated, logged_in):
    campaign = rated[0]
    version = mos_aggregate(campaign=campaign)
    client, user = logged_in("researcher")
    job = job_create(
        kind="dataset_export",
        campaign=campaign,
        created_by=user,
        params={
            "version_id": version.pk,
            "format": "mos-csv",
            "split": None,
            "seed": 0,
            "media": "none",
            "golden": "keep",
        },
    )
    job_run(job_id=job.pk)
    for _ in range(2):  # and again on the next visit
        html = client.get(f"/research/{campaign.slug}/").content.decode()
        assert f'<li data-job="{job.pk}">' in html and f"/api/v1/exports/{job.pk}/download/" in html
    page = client.get(f"/jobs/{job.pk}/").content.decode()
    assert 'id="download"' in page and "mos.csv" in page and "Export" in page
    download = client.get(f"/api/v1/exports/{job.pk}/download/")
    assert download.status_code == 200 and download["Content-Type"] == "application/zip"


def test_a_running_job_is_shown_on_the_button(rated, logged_in):
    campaign = rated[0]
    client, user = logged_in("researcher")
    job = job_create(kind="mos_aggregate", campaign=campaign, created_by=user, params={"method": "mean"})
    html = client.get(f"/research/{campaign.slug}/").content.decode()
    assert f'data-kind="mos_aggregate"\n        data-active="{job.pk}"' in html


def test_other_peoples_jobs_are_not_found(rated, logged_in, make_user):
    job = job_create(kind="selfcheck", params={}, created_by=make_user("researcher"))
    client, _ = logged_in("researcher")
    response = client.get(f"/jobs/{job.pk}/")
    assert response.status_code == 404 and f"There is no job {job.pk} you can see." in response.content.decode()
