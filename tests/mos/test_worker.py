"""A REAL Celery worker (separate process, real Redis) runs an export job end to end."""

import json
from pathlib import Path

import pytest
from django.db import transaction

from annotation.models import Job
from annotation.services.exports.manifest import file_sha256
from annotation.services.jobs import job_create, job_enqueue
from tests.celery_worker import wait_for


@pytest.mark.celery_worker
@pytest.mark.django_db(transaction=True)
def test_a_real_worker_runs_an_export_job(celery_worker, version):
    with transaction.atomic():
        job = job_enqueue(
            job=job_create(
                kind="dataset_export",
                campaign=version.campaign,
                params={
                    "version_id": version.pk,
                    "format": "mos-parquet",
                    "split": {"train": 0.5, "test": 0.5},
                    "seed": 1,
                    "media": "copy",
                },
            )
        )
    done = wait_for(
        lambda: Job.objects.filter(pk=job.pk, status__in=["succeeded", "failed"]).first(),
        timeout=90,
        what="the export job",
    )
    assert done.status == "succeeded", done.error
    out = Path(done.result["out"])
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["format"] == "mos-parquet" and sum(manifest["counts"].values()) == 3
    assert file_sha256(out / "mos.parquet") == manifest["files"][0]["sha256"]
    assert done.progress == done.total == 3
    import pyarrow.parquet as pq

    table = pq.read_table(out / "mos.parquet").to_pandas()
    assert len(table) == 3 and set(table["split"]) <= {"train", "test"}
