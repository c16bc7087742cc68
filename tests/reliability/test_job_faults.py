"""Jobs survive a worker that dies whole: its heartbeat stops, the sweep re-queues the job (bounded), a new
worker finishes it; a second delivery of a job that is alive elsewhere does nothing."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import override_settings
from django.utils import timezone

from annotation.models import Job
from annotation.services.jobs import job_create, job_enqueue, job_run, jobs_sweep
from tests.celery_worker import wait_for
from tests.mos.conftest import rated  # noqa: F401  (fixture)
from tests.reliability.helpers import PrivateRedis, app_broker, kill_whole, start_worker, stop


def _stale(job: Job, minutes: int = 10) -> None:
    Job.objects.filter(pk=job.pk).update(
        status="running",
        heartbeat_at=timezone.now() - timedelta(minutes=minutes),
        started_at=timezone.now() - timedelta(minutes=minutes),
    )


@pytest.mark.django_db
def test_the_sweep_requeues_a_stale_job_and_the_requeued_job_runs_once(django_capture_on_commit_callbacks):
    job = job_create(kind="selfcheck", params={"steps": 2})
    Job.objects.filter(pk=job.pk).update(attempts=1)
    _stale(job)
    with django_capture_on_commit_callbacks(execute=True):
        assert jobs_sweep() == {"requeued": [job.pk], "failed": [], "resent": []}
    job.refresh_from_db()  # eager Celery: the outbox ran it as soon as the sweep committed
    assert (job.status, job.attempts, job.result["ok"]) == ("succeeded", 2, True)
    assert jobs_sweep() == {"requeued": [], "failed": [], "resent": []}


@pytest.mark.django_db
def test_a_job_whose_worker_died_too_often_fails_with_the_reason():
    job = job_create(kind="selfcheck", params={})
    Job.objects.filter(pk=job.pk).update(attempts=3)
    _stale(job)
    assert jobs_sweep()["failed"] == [job.pk]
    job.refresh_from_db()
    assert job.status == "failed"
    assert "stopped responding 3 time(s)" in job.error and "gave up after 3 attempts" in job.error


@pytest.mark.django_db
def test_a_job_with_a_fresh_heartbeat_is_left_alone_and_a_second_delivery_does_nothing():
    job = job_create(kind="selfcheck", params={})
    Job.objects.filter(pk=job.pk).update(
        status="running", attempts=1, heartbeat_at=timezone.now(), started_at=timezone.now()
    )
    assert jobs_sweep()["requeued"] == []
    again = job_run(job_id=job.pk)  # the broker redelivered while the first worker still works
    assert again.status == "running"
    assert Job.objects.get(pk=job.pk).attempts == 1


@pytest.mark.django_db
@override_settings(JOB_QUEUED_RESEND_S=60)
def test_a_job_queued_long_after_its_message_went_out_is_published_again(django_capture_on_commit_callbacks):
    from annotation.models import OutboxMessage

    job = Job.objects.create(kind="selfcheck", params={})  # as if its message was lost by the broker
    Job.objects.filter(pk=job.pk).update(created_at=timezone.now() - timedelta(minutes=5))
    with django_capture_on_commit_callbacks(execute=True):
        assert jobs_sweep()["resent"] == [job.pk]
    assert Job.objects.get(pk=job.pk).status == "succeeded"
    assert OutboxMessage.objects.filter(key=f"job:{job.pk}").count() == 1


@pytest.mark.django_db(transaction=True)
def test_a_worker_killed_whole_mid_job_loses_nothing(tmp_path):
    """A real worker (its own Redis) runs a slow job; the whole worker is SIGKILLed; the sweep (stale after 3 s)
    re-queues the job; a new worker finishes it: succeeded, two attempts, the work done once."""
    broker = PrivateRedis().start()
    env = {"QEVAL_JOB_HEARTBEAT_S": "0.5"}
    worker = start_worker(broker.url, tmp_path / "w1.log", extra_env=env)
    try:
        with app_broker(broker.url):
            job = job_create(kind="selfcheck", params={"steps": 40, "sleep_s": 0.25})
            job_enqueue(job=job)
            wait_for(
                lambda: Job.objects.filter(pk=job.pk, status="running", progress__gte=2).exists(),
                timeout=60,
                what="the job to start on the worker",
            )
            kill_whole(worker)
            progress_at_death = Job.objects.get(pk=job.pk).progress
            assert Job.objects.get(pk=job.pk).status == "running"  # nothing told the database
            with override_settings(JOB_HEARTBEAT_STALE_S=3):
                wait_for(
                    lambda: jobs_sweep()["requeued"] == [job.pk],
                    timeout=30,
                    interval=1,
                    what="the sweep to notice the dead worker",
                )
            worker = start_worker(broker.url, tmp_path / "w2.log", extra_env=env)
            wait_for(lambda: Job.objects.get(pk=job.pk).status == "succeeded", timeout=90, what="the job to finish")
        job.refresh_from_db()
        assert job.attempts == 2 and job.progress == job.total == 40 and 2 <= progress_at_death < 40
        assert job.result["ok"] is True
    finally:
        stop(worker)
        broker.stop()


@pytest.mark.django_db
def test_an_aggregation_rerun_after_its_worker_died_makes_no_second_version(rated):
    from annotation.models import DatasetVersion

    campaign = rated[0]
    job = job_create(kind="mos_aggregate", params={"method": "mean", "params": None}, campaign=campaign)
    first = job_run(job_id=job.pk).result
    _stale(job)  # as if the worker died after the version's commit, before the job's end
    again = job_run(job_id=job.pk)
    assert (again.status, again.result["version_id"]) == ("succeeded", first["version_id"])
    assert DatasetVersion.objects.filter(campaign=campaign).count() == 1
