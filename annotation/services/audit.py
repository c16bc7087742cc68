"""The audit trail: every batch decision (automatic or by an admin) and every pause or resume of an
annotator is a new AuditEvent row, never changed afterwards. Reading it (per batch, per annotator or per
campaign, or streamed as CSV): selectors/audit.py."""

from __future__ import annotations

from ..models import AuditEvent


def audit_record(
    *,
    kind: str,
    subject,
    source: str,
    campaign=None,
    batch=None,
    actor=None,
    before: str = "",
    after: str = "",
    reason: str = "",
    figures: dict | None = None,
) -> AuditEvent:
    """Append one event (call inside the transaction that made the change, so both land or neither)."""
    return AuditEvent.objects.create(
        kind=kind,
        campaign=campaign,
        batch=batch,
        subject=subject,
        actor=actor,
        source=source,
        before=before or "",
        after=after or "",
        reason=reason or "",
        figures=figures or {},
    )
