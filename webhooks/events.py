"""What each event says. The services that make an event true call one of these, inside their transaction;
the payloads live here so the webhooks app moves as one piece. Payloads name things by id and carry what a
receiver needs to act (a download link, a decision and its reason); never golden scores."""

from __future__ import annotations

from .models import Event
from .services import event_emit


def receive(event: str, **objects) -> None:
    """The receiver named in QEVAL_EVENT_RECEIVERS (core/events.py): the event's payload, to every endpoint."""
    builder = {
        Event.BATCH_DECIDED: batch_decided,
        Event.VERSION_READY: version_ready,
        Event.EXPORT_READY: export_ready,
        Event.TRAINING_FINISHED: training_finished,
    }.get(event)
    if builder is not None:
        builder(**objects)


def batch_decided(*, batch, before: str) -> None:
    event_emit(
        event=Event.BATCH_DECIDED,
        campaign=batch.campaign,
        data={
            "batch": batch.pk,
            "annotator": batch.annotator.username,
            "kind": batch.kind,
            "before": before,
            "decision": batch.decision,
            "source": batch.decision_source,
            "reason": batch.decision_reason,
            "decided_at": batch.decided_at,
            "url": f"/desk/batches/{batch.pk}/",
        },
    )


def version_ready(*, version) -> None:
    counts = version.counts or {}
    event_emit(
        event=Event.VERSION_READY,
        campaign=version.campaign,
        data={
            "version": version.pk,
            "number": version.number,
            "method": version.method,
            "source": version.source,
            "checksum": version.checksum,
            "items": counts.get("items"),
            "ratings": counts.get("ratings"),
            "annotators": counts.get("annotators"),
            "url": f"/api/v1/versions/{version.pk}/",
        },
    )


def export_ready(*, job) -> None:
    result = job.result or {}
    event_emit(
        event=Event.EXPORT_READY,
        campaign=job.campaign,
        data={
            "job": job.pk,
            "version": result.get("version_id"),
            "format": result.get("format"),
            "counts": result.get("counts"),
            "download_url": f"/api/v1/exports/{job.pk}/download/",
            "job_url": f"/jobs/{job.pk}/",
        },
    )


def training_finished(*, run) -> None:
    scorer = next(iter(run.scorers.all()), None) if run.pk else None
    event_emit(
        event=Event.TRAINING_FINISHED,
        campaign=run.campaign,
        data={
            "run": run.pk,
            "kind": run.kind,
            "status": run.status,
            "message": run.message,
            "error": run.error[-500:],
            "dataset_version": run.dataset_version_id,
            "scorer": scorer.pk if scorer else None,
            "url": f"/training/runs/{run.pk}/",
        },
    )
