"""Store-and-write phases of imports run one at a time (a PostgreSQL advisory lock), so a failing
import never removes a file that a concurrent import is about to use."""

import threading

import psycopg
import pytest
from django.conf import settings
from django.db import connection

from annotation.models import Item, Job
from annotation.services.imports import WRITE_LOCK_KEY, items_import
from annotation.services.jobs import Progress, job_create
from tests.celery_worker import wait_for
from tests.factories import CampaignFactory


@pytest.mark.django_db(transaction=True)
def test_an_import_waits_for_the_write_lock_and_then_rechecks_and_writes(content):
    campaign = CampaignFactory()
    job = job_create(kind="import_items", params={}, campaign=campaign)
    manifest = content.csv([content.row("a"), content.row("b")])
    db = settings.DATABASES["default"]
    holder = psycopg.connect(
        host=db["HOST"] or "127.0.0.1",
        port=db["PORT"] or 5432,
        user=db["USER"] or "postgres",
        dbname=db["NAME"],
        autocommit=True,
    )
    holder.execute("SELECT pg_advisory_lock(%s)", [WRITE_LOCK_KEY])
    errors = []

    def run():
        try:
            items_import(campaign=campaign, manifest=manifest, progress=Progress(job), job=job)
        except Exception as exc:  # reported to the test below
            errors.append(exc)
        finally:
            connection.close()

    thread = threading.Thread(target=run)
    thread.start()
    try:
        wait_for(
            lambda: Job.objects.get(pk=job.pk).message.startswith("waiting for other imports"),
            timeout=30,
            what="the import to wait for the lock",
        )
        assert not Item.objects.filter(campaign=campaign).exists()
    finally:
        holder.execute("SELECT pg_advisory_unlock(%s)", [WRITE_LOCK_KEY])
        holder.close()
        thread.join(timeout=60)
    assert not errors
    assert set(Item.objects.filter(campaign=campaign).values_list("item_id", flat=True)) == {"a", "b"}
