"""A real worker on the real Redis picks up a queued job and reports its progress to the database."""

import pytest
from django.db import transaction

from annotation.models import Job
from annotation.services.jobs import job_create, job_enqueue
from tests.celery_worker import wait_for


@pytest.mark.celery_worker
@pytest.mark.django_db(transaction=True)
def test_a_queued_job_runs_to_completion_on_a_real_worker(celery_worker):
    with transaction.atomic():
        job = job_enqueue(job=job_create(kind="selfcheck", params={"steps": 4}))
    done = wait_for(
        lambda: Job.objects.filter(pk=job.pk, status__in=["succeeded", "failed"]).first(),
        timeout=60,
        what="the selfcheck job",
    )
    assert done.status == "succeeded", done.error
    assert (done.progress, done.total, done.result["ok"]) == (4, 4, True)
