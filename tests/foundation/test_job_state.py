"""The one job state machine (core/jobs.py) that dataset jobs, training runs, benchmarks and generation jobs share:
the moves it allows, the timestamps it sets, and that a finished status stays final."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from annotation.models import Job
from core import jobs as state
from core.errors import Conflict
from training.models import TrainingRun


class Row:
    def __init__(self, status: str, started_at=None):
        self.status, self.started_at, self.finished_at, self.pk = status, started_at, None, 7


def test_the_allowed_moves():
    assert state.allowed("queued", "running") and state.allowed("running", "succeeded")
    assert state.allowed("running", "queued")  # a lost worker's job goes back to the queue
    assert state.allowed("running", "running")  # taken over after its worker died
    assert state.allowed("queued", "cancelled") and state.allowed("queued", "failed")
    for final in state.FINISHED:
        assert not any(state.allowed(final, target) for target in (*state.LIVE, *state.FINISHED))
    assert set(state.sources_of("succeeded")) == {"queued", "running"}


def test_transition_sets_the_start_once_and_the_end():
    first = timezone.now() - timedelta(hours=1)
    row = Row("queued")
    assert state.transition(row, "running", now=first) == ["status", "started_at"]
    assert (row.status, row.started_at) == ("running", first)
    assert state.transition(row, "running") == ["status"]  # taken over: the first start stays
    assert row.started_at == first
    end = timezone.now()
    assert state.transition(row, "succeeded", now=end) == ["status", "finished_at"]
    assert (row.status, row.finished_at) == ("succeeded", end)


def test_a_finished_status_is_final():
    row = Row("failed")
    with pytest.raises(state.InvalidTransition) as caught:
        state.transition(row, "running")
    assert isinstance(caught.value, Conflict) and caught.value.status_code == 409
    assert caught.value.message == "row 7 is failed; it cannot become running"
    assert row.status == "failed"


@pytest.mark.django_db
def test_transition_save_lands_only_while_the_row_may_still_move():
    job = Job.objects.create(kind="selfcheck", status=Job.Status.RUNNING, started_at=timezone.now())
    stale = Job.objects.get(pk=job.pk)
    # Meanwhile the sweep gave up on it.
    Job.objects.filter(pk=job.pk).update(status=Job.Status.FAILED, error="its worker stopped responding")
    stale.error = ""
    assert state.transition_save(stale, Job.Status.SUCCEEDED, also=["error"]) is False
    assert (stale.status, stale.error) == ("failed", "its worker stopped responding")  # re-read from the row
    fresh = Job.objects.create(kind="selfcheck", status=Job.Status.RUNNING, started_at=timezone.now())
    fresh.result = {"ok": True}
    assert state.transition_save(fresh, Job.Status.SUCCEEDED, also=["result"]) is True
    fresh.refresh_from_db()
    assert (fresh.status, fresh.result) == ("succeeded", {"ok": True}) and fresh.finished_at is not None


@pytest.mark.django_db
def test_transition_where_moves_a_row_without_loading_it(campaign):
    from tests.training_platform.conftest import make_rated_version

    version = make_rated_version(campaign, n_items=3, n_annotators=2)
    run = TrainingRun.objects.create(kind="train", campaign=campaign, dataset_version=version)
    assert state.transition_where(TrainingRun, run.pk, "running", message="starting") is True
    run.refresh_from_db()
    assert (run.status, run.message) == ("running", "starting") and run.started_at is not None
    started = run.started_at
    assert state.transition_where(TrainingRun, run.pk, "running") is True  # taken over: the start is kept
    run.refresh_from_db()
    assert run.started_at == started
    assert state.transition_where(TrainingRun, run.pk, "cancelled", message="cancelled") is True
    assert state.transition_where(TrainingRun, run.pk, "succeeded", message="late") is False  # final
    assert state.transition_where(TrainingRun, run.pk, "failed", sources=["queued"]) is False
    run.refresh_from_db()
    assert (run.status, run.message) == ("cancelled", "cancelled") and run.finished_at is not None
