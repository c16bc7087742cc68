"""Reads of the audit trail: per campaign, batch or annotator, oldest first, as rows or streamed as CSV."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator

from django.db.models import QuerySet

from ..models import AuditEvent

CSV_COLUMNS = [
    "id",
    "created_at",
    "kind",
    "campaign",
    "batch",
    "annotator",
    "source",
    "actor",
    "before",
    "after",
    "reason",
    "p_genuine",
    "figures",
]


def audit_events(*, campaign=None, batch=None, subject=None) -> QuerySet[AuditEvent]:
    """Events oldest first; `batch` and `subject` (the annotator) are rows or ids."""
    qs = AuditEvent.objects.select_related("campaign", "subject", "actor").order_by("created_at", "pk")
    if campaign is not None:
        qs = qs.filter(campaign=campaign)
    if batch is not None:
        qs = qs.filter(batch=batch)
    if subject is not None:
        qs = qs.filter(subject=subject)
    return qs


def audit_row(event: AuditEvent) -> dict:
    figures = event.figures or {}
    return {
        "id": event.pk,
        "created_at": event.created_at,
        "kind": event.kind,
        "campaign": event.campaign.slug if event.campaign else None,
        "batch": event.batch_id,
        "annotator": event.subject.username,
        "annotator_id": event.subject_id,
        "source": event.source,
        "actor": event.actor.username if event.actor else None,
        "before": event.before,
        "after": event.after,
        "reason": event.reason,
        "p_genuine": (figures.get("evidence") or {}).get("p_genuine"),
        "figures": figures,
    }


def _csv_cell(value) -> str:
    text = "" if value is None else str(value)
    # A cell a spreadsheet would run as a formula is written as text.
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") and not _is_number(text) else text


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def audit_csv(events) -> Iterator[str]:
    """The events as CSV, one line at a time (streams: no list of every event in memory)."""
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(CSV_COLUMNS)
    yield buf.getvalue()
    for event in events.iterator(chunk_size=2000):
        row = audit_row(event)
        buf.seek(0)
        buf.truncate()
        writer.writerow(
            [
                row["id"],
                row["created_at"].isoformat(),
                row["kind"],
                row["campaign"] or "",
                row["batch"] or "",
                _csv_cell(row["annotator"]),
                row["source"],
                _csv_cell(row["actor"]),
                row["before"],
                row["after"],
                _csv_cell(row["reason"]),
                "" if row["p_genuine"] is None else row["p_genuine"],
                json.dumps(row["figures"], sort_keys=True),
            ]
        )
        yield buf.getvalue()
