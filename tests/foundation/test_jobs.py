import pytest

from annotation.models import Job
from annotation.services.jobs import job_create, job_run

pytestmark = pytest.mark.django_db


def test_job_run_records_progress_and_result_and_is_idempotent():
    job = job_create(kind="selfcheck", params={"steps": 5})
    calls = []
    job_run(job_id=job.pk, on_update=lambda done, total, msg: calls.append((done, total)))
    job.refresh_from_db()
    assert (job.status, job.progress, job.total, job.result["ok"]) == ("succeeded", 5, 5, True)
    assert calls[-1] == (5, 5)
    finished_at = job.finished_at
    job_run(job_id=job.pk)  # a repeat changes nothing
    job.refresh_from_db()
    assert job.finished_at == finished_at


def test_unknown_job_kind_is_refused():
    with pytest.raises(ValueError, match="unknown job kind"):
        job_create(kind="nope", params={})
    assert Job.objects.count() == 0


def test_job_api_and_page_visibility(client_as, client):
    researcher_client, researcher = client_as("researcher")
    annotator_client, annotator = client_as("annotator")
    cli_job = job_create(kind="selfcheck", params={})  # started from the command line: no creator
    own = job_create(kind="selfcheck", params={}, created_by=annotator)
    assert researcher_client.get(f"/api/v1/jobs/{cli_job.pk}/").json()["kind"] == "selfcheck"
    assert annotator_client.get(f"/api/v1/jobs/{cli_job.pk}/").status_code == 404
    assert annotator_client.get(f"/api/v1/jobs/{own.pk}/").json()["id"] == own.pk
    client.force_login(researcher)
    page = client.get(f"/jobs/{cli_job.pk}/")
    assert page.status_code == 200 and b"selfcheck" in page.content
    client.force_login(annotator)
    assert client.get(f"/jobs/{cli_job.pk}/").status_code == 404


def nul_runner(*, job, progress):
    """A job runner that hands the database a value it cannot store, as an input file could."""
    from annotation.models import Item

    return {"n": Item.objects.filter(item_id="a\x00b").count()}


@pytest.mark.django_db(transaction=True)  # the refused query ends the transaction, as on a worker (autocommit)
def test_a_value_the_database_refuses_fails_the_job_with_a_reason_a_person_can_act_on(monkeypatch):
    from django.db import DataError

    from annotation.services import jobs

    monkeypatch.setitem(jobs.JOB_RUNNERS, "selfcheck", f"{__name__}.nul_runner")
    job = job_create(kind="selfcheck", params={})
    with pytest.raises(DataError):
        job_run(job_id=job.pk)
    job.refresh_from_db()
    assert job.status == "failed"
    assert (
        job.error
        == "a value cannot be stored (a NUL character in text, or a number out of range): remove it and try again"
    )
