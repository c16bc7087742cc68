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


def _export_job(campaign, version, user):
    params = {"version_id": version.pk, "format": "mos-csv", "split": None, "seed": 0, "media": "none"}
    return job_create(kind="dataset_export", campaign=campaign, created_by=user, params={**params, "golden": "keep"})


def test_the_page_lists_and_follows_only_the_jobs_the_viewer_may_open(rated, logged_in, make_user):
    # Another researcher's export and running jobs would answer 404 to this one (job page, status, download):
    # the page neither lists them nor has its buttons follow them; an admin, who may open them, sees them.
    campaign = rated[0]
    version = mos_aggregate(campaign=campaign)
    someone = make_user("researcher")
    theirs = _export_job(campaign, version, someone)
    job_run(job_id=theirs.pk)
    their_aggregation = job_create(
        kind="mos_aggregate", campaign=campaign, created_by=someone, params={"method": "mean"}
    )
    their_export = _export_job(campaign, version, someone)  # still queued
    client, user = logged_in("researcher")
    mine = _export_job(campaign, version, user)
    job_run(job_id=mine.pk)
    html = client.get(f"/research/{campaign.slug}/").content.decode()
    assert f'<li data-job="{mine.pk}">' in html and f"/api/v1/exports/{mine.pk}/download/" in html
    for job in (theirs, their_aggregation, their_export):
        assert f"/api/v1/exports/{job.pk}/download/" not in html
        assert f'data-job="{job.pk}"' not in html and f'data-active="{job.pk}"' not in html
    assert 'data-active=""' in html  # nothing of theirs to follow
    admin, _ = logged_in("admin")
    seen = admin.get(f"/research/{campaign.slug}/").content.decode()
    assert f'<li data-job="{theirs.pk}">' in seen and f'<li data-job="{mine.pk}">' in seen
    assert f'data-active="{their_aggregation.pk}"' in seen and f'data-active="{their_export.pk}"' in seen


def test_two_running_aggregations_give_the_button_one_job_the_newest(rated, logged_in):
    # Two tabs, two clicks: both jobs run. The button follows one job id, not the two ids run together.
    campaign = rated[0]
    client, user = logged_in("researcher")
    first, second = (
        job_create(kind="mos_aggregate", campaign=campaign, created_by=user, params={"method": m})
        for m in ("mean", "zscore")
    )
    html = client.get(f"/research/{campaign.slug}/").content.decode()
    assert f'data-kind="mos_aggregate"\n        data-active="{second.pk}"' in html
    assert f"{first.pk}{second.pk}" not in html


def test_other_peoples_jobs_are_not_found(rated, logged_in, make_user):
    job = job_create(kind="selfcheck", params={}, created_by=make_user("researcher"))
    client, _ = logged_in("researcher")
    response = client.get(f"/jobs/{job.pk}/")
    assert response.status_code == 404 and f"There is no job {job.pk} you can see." in response.content.decode()
