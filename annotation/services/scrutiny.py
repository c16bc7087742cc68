"""Sample-and-Scrutinize: how well an annotator's ratings of golden items agree with the golden scores,
the automatic decision that follows, and `batch_decide`, the one place where a batch's decision changes.

The statistics and the two decision methods live in annotation/qc/ (pure, no Django; see
docs/scrutiny.md). Here: load a batch's evidence (services/qc_evidence.py), decide, store and audit.

`Batch.scrutiny` (never shown to annotators) holds, per dimension, the batch's own figures:
  n_golden, srcc and srcc_ci, plcc and plcc_ci (95% intervals), bias (mean rating - golden), mae,
  constant ("ratings" / "golden" when that side is constant: correlation undefined);
and under "evidence": the annotator's cumulative figures (every golden item they rated in the campaign
so far), the campaign reference each dimension was held against, the spam patterns found, P(genuine),
the method and what the golden scores are. When an annotator's P(genuine) crosses a decision line,
their other batches are decided again on all the evidence (see `_standing_changed`).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable

from django.db import transaction
from django.db.models import F
from django.db.models.functions import Greatest
from django.utils import timezone

from core.errors import Conflict, InvalidInput, NotFound
from core.events import BATCH_DECIDED, announce

from ..models import AuditEvent, Batch, Campaign, GoldenScore, Item, Rating
from ..qc import agreement, decide, find_patterns
from ..qc.decision import Verdict
from .audit import audit_record
from .campaigns import campaign_get
from .overlap import overlap_update
from .qc_evidence import (
    SCRUTINIZED_KINDS,
    batch_evidence,
    campaign_habits,
    campaign_prior_of,
    evidence_get,
    evidence_update,
    golden_source,
    other_evidence,
    qc_settings,
    references,
)
from .selection import priority_expression

AUTO, ADMIN = "auto", "admin"
# Decisions under which a batch's ratings count in Item.active_count (and, once approved, in MOS).
COUNTED = {Batch.Decision.PENDING, Batch.Decision.APPROVED, Batch.Decision.NEEDS_REVIEW}


# ---------------------------------------------------------------------------------------- figures


def correlation_figures(ratings: Iterable[float], golden: Iterable[float]) -> dict:
    """n, SRCC and PLCC with 95% intervals, bias and MAE of paired ratings and golden scores;
    correlations are None when undefined."""
    return agreement(ratings, golden).as_dict()


def batch_figures(*, batch: Batch) -> dict:
    """The batch's own figures per campaign dimension (its ratings of golden items)."""
    dims = batch.campaign.dimensions
    golden = {
        (i, d): s
        for i, d, s in GoldenScore.objects.filter(item__ratings__batch=batch, dimension__in=dims).values_list(
            "item_id", "dimension", "score"
        )
    }
    pairs: dict[str, tuple[list[float], list[float]]] = {d: ([], []) for d in dims}
    for row in Rating.objects.filter(batch=batch).order_by("item_id").values("item_id", *dims):
        for dim in dims:
            g = golden.get((row["item_id"], dim))
            if g is not None and row[dim] is not None:
                pairs[dim][0].append(row[dim])
                pairs[dim][1].append(g)
    return {dim: correlation_figures(*pairs[dim]) for dim in dims}


# --------------------------------------------------------------------------------------- decision


def scrutiny_verdict(*, campaign: Campaign, figures: dict) -> Verdict:
    """The `fixed` method's decision on a batch's own figures (pure; kept for the paper's protocol)."""
    from ..qc.decision import FIXED, Settings
    from ..qc.evidence import agreement_from_dict
    from ..qc.reference import campaign_reference

    settings = qc_settings(campaign)
    settings = Settings(**{**settings.__dict__, "method": FIXED})
    own = {d: agreement_from_dict(figures.get(d)) for d in campaign.dimensions}
    refs = {d: campaign_reference(d, []) for d in campaign.dimensions}
    return decide(settings=settings, dimensions=campaign.dimensions, batch=own, cumulative=own, references=refs)


def _round(value):
    return None if value is None or (isinstance(value, float) and math.isnan(value)) else round(value, 4)


def batch_verdict(*, batch: Batch) -> tuple[dict, Verdict, float | None]:
    """Figures and the automatic verdict for a closed batch under its campaign's method, from all of
    the annotator's golden evidence so far and the batch's own; brings the annotator's evidence row up
    to date (the campaign's reference reads it). Also returns the annotator's P(genuine) before."""
    campaign = batch.campaign
    dims = campaign.dimensions
    ev = batch_evidence(batch=batch)
    others = other_evidence(campaign=campaign, annotator_id=batch.annotator_id)
    refs = references(campaign=campaign, others=others)
    patterns = find_patterns(ev.ratings, durations_ms=ev.durations_ms, habits=campaign_habits(others))
    source = golden_source(campaign=campaign)
    # A dimension the annotator has never rated (a vendor file with a quality column only) is left out of
    # the decision, as in a campaign that rates one dimension: "every rated dimension" needs its golden items,
    # and one never rated would hold every batch for review for want of them.
    rated = [d for d in dims if ev.cumulative[d].n_golden or any(v is not None for v in ev.ratings[d])] or dims
    verdict = decide(
        settings=qc_settings(campaign),
        dimensions=rated,
        batch=ev.own,
        cumulative=ev.cumulative,
        references=refs,
        patterns=patterns,
        golden_source=source,
        prior=campaign_prior_of(others),
        n_rated=ev.n_rated,
    )
    before = evidence_get(campaign=campaign, annotator_id=batch.annotator_id)
    evidence_update(
        campaign=campaign,
        annotator_id=batch.annotator_id,
        cumulative=ev.cumulative,
        habits=ev.habits,
        p_genuine=verdict.p_genuine,
    )
    figures = {d: ev.own[d].as_dict() for d in dims}
    figures["evidence"] = {
        "method": campaign.scrutiny_method,
        "cumulative": {d: ev.cumulative[d].as_dict() for d in dims},
        "reference": {d: refs[d].as_dict() for d in dims},
        "patterns": [p.as_dict() for p in verdict.patterns],
        "p_genuine": _round(verdict.p_genuine),
        "golden_source": source,
    }
    return figures, verdict, before.p_genuine if before else None


# ------------------------------------------------------------------------------ decision changes


def _locked_batch(batch_id: int) -> Batch:
    try:
        return Batch.objects.select_for_update(of=("self",)).select_related("campaign").get(pk=batch_id)
    except Batch.DoesNotExist:
        raise NotFound(f"batch {batch_id} does not exist") from None


def _move_counts(*, batch: Batch, delta: int) -> int:
    """Add `delta` to active_count of every item rated in `batch`, in bulk, under the item row locks
    (taken in primary-key order, as assignment takes them, so concurrent lockers cannot deadlock)."""
    item_ids = list(Rating.objects.filter(batch=batch).order_by("item_id").values_list("item_id", flat=True))
    for start in range(0, len(item_ids), 5000):
        chunk = item_ids[start : start + 5000]
        list(Item.objects.select_for_update().filter(pk__in=chunk).order_by("pk").values_list("pk", flat=True))
        # One rating per annotator and item, and one annotator per batch: each item moves by exactly delta.
        after = Greatest(F("active_count") + delta, 0)
        Item.objects.filter(pk__in=chunk).update(active_count=after, priority=priority_expression(after))
    return len(item_ids)


@transaction.atomic
def batch_decide(
    *, batch: Batch | int, decision: str, source: str, reason: str = "", by=None, public_reason: str | None = None
) -> Batch:
    """Set a closed batch's decision: the only code path that changes Batch.decision.

    Moving between counted (pending / approved / needs_review) and not counted (rejected) adds or
    removes the batch's ratings from Item.active_count, so a rejected batch's items return to the
    assignment pool and approving it again restores them; any other move leaves the counters alone,
    so repeating a decision is harmless. `source` is "auto" (scrutiny) or "admin" (then `by` and, for
    a rejection, `reason` are required). Every admin decision, and every automatic one that changes the
    decision, is appended to the audit trail with the figures of the moment. `public_reason` is what
    the annotator reads (an admin's reason is shown to them as written).
    """
    batch = _locked_batch(batch if isinstance(batch, int) else batch.pk)
    if decision not in Batch.Decision.values:
        raise InvalidInput(f"unknown decision {decision!r}: choose approved, rejected or needs_review")
    if source == ADMIN:
        if decision not in (Batch.Decision.APPROVED, Batch.Decision.REJECTED):
            raise InvalidInput("an admin decides approve or reject")
        if decision == Batch.Decision.REJECTED and not (reason or "").strip():
            raise InvalidInput("a rejection needs a reason (the annotator's record keeps it)")
        if by is None:
            raise InvalidInput("an admin decision must name who made it")
    if batch.kind == Batch.Kind.EXPERT:
        raise Conflict(f"batch {batch.pk} is an expert batch: its ratings make golden scores and are not reviewed")
    if batch.status != Batch.Status.CLOSED:
        raise Conflict(f"batch {batch.pk} is still open: it can be decided once it is closed")
    was_counted, counted = batch.decision in COUNTED, decision in COUNTED
    if was_counted != counted:
        _move_counts(batch=batch, delta=1 if counted else -1)
    before = batch.decision
    batch.decision = decision
    batch.decision_source = source
    batch.decision_reason = (reason or "").strip()
    batch.decided_by = by if source == ADMIN else None
    batch.decided_at = timezone.now()
    if source == ADMIN:
        batch.public_reason = _admin_public_reason(decision, batch.decision_reason)
    elif public_reason is not None:
        batch.public_reason = public_reason
    batch.save(
        update_fields=["decision", "decision_source", "decision_reason", "decided_by", "decided_at", "public_reason"]
    )
    if (before == Batch.Decision.APPROVED) != (decision == Batch.Decision.APPROVED):
        # The items' approved ratings changed: adaptive overlap and selection look at them again.
        overlap_update(
            campaign=batch.campaign, item_ids=list(Rating.objects.filter(batch=batch).values_list("item_id", flat=True))
        )
    if source == ADMIN or before != decision:
        audit_record(
            kind=AuditEvent.Kind.BATCH_DECISION,
            campaign=batch.campaign,
            batch=batch,
            subject=batch.annotator,
            actor=batch.decided_by,
            source=source,
            before=before,
            after=decision,
            reason=batch.decision_reason,
            figures=batch.scrutiny,
        )
        announce(BATCH_DECIDED, batch=batch, before=before)  # receivers hear of it once this transaction commits
    return batch


def _admin_public_reason(decision: str, reason: str) -> str:
    word = "Approved by an admin" if decision == Batch.Decision.APPROVED else "Rejected by an admin"
    return f"{word}: {reason}" if reason else f"{word}."


@transaction.atomic
def batch_scrutinize(*, batch_id: int) -> Batch:
    """Scrutinize a closed batch (the Celery task `annotation.scrutinize_batch` calls this). Idempotent:
    an unchanged batch is left exactly as it is; an admin's decision is never overwritten (the new
    automatic verdict is recorded beside it in auto_decision / auto_reason)."""
    batch = _locked_batch(batch_id)
    if batch.status != Batch.Status.CLOSED:
        raise Conflict(f"batch {batch.pk} is still open: scrutiny runs when it closes")
    if batch.kind == Batch.Kind.EXPERT:
        return _expert_batch_accept(batch)
    figures, verdict, p_before = batch_verdict(batch=batch)
    if _standing_changed(batch.campaign, p_before, verdict.p_genuine):
        _rescrutinize_others_on_commit(batch)
    risk = _round(verdict.risk)
    unchanged = (
        batch.scrutinized_at is not None
        and batch.scrutiny == figures
        and batch.risk == risk
        and batch.auto_decision == verdict.decision
        and batch.auto_reason == verdict.reason
    )
    if unchanged:
        return batch
    batch.scrutiny, batch.auto_decision, batch.auto_reason = figures, verdict.decision, verdict.reason
    batch.risk = risk
    batch.scrutinized_at = timezone.now()
    batch.save(update_fields=["scrutiny", "auto_decision", "auto_reason", "risk", "scrutinized_at"])
    if batch.decision_source != ADMIN:
        batch = batch_decide(
            batch=batch,
            decision=verdict.decision,
            source=AUTO,
            reason=verdict.reason,
            public_reason=verdict.public_reason,
        )
    return batch


def _standing_changed(campaign: Campaign, before: float | None, after: float | None) -> bool:
    """Did the annotator's P(genuine) cross a decision line (approve or reject)? Their other batches were
    decided on the evidence of their time and must be decided again on all of it: an early batch held
    for thin evidence is approved once the record is conclusive, and one approved on a lucky start is
    held once the record no longer supports it."""
    if before is None or after is None or campaign.scrutiny_method != Campaign.Method.CALIBRATED:
        return False
    lines = (campaign.approve_probability, campaign.reject_probability)
    return any((before >= line) != (after >= line) for line in lines)


def _rescrutinize_others_on_commit(batch: Batch) -> None:
    from .outbox import outbox_enqueue

    # Through the outbox: committed with the decision, published when the broker takes it.
    outbox_enqueue(
        task="annotation.rescrutinize_annotator",
        args=[batch.campaign_id, batch.annotator_id, batch.pk],
        key=f"rescrutiny:{batch.campaign_id}:{batch.annotator_id}",
        robust=True,
    )


def annotator_rescrutinize(*, campaign_id: int, annotator_id: int, exclude: int | None = None) -> list[int]:
    """Decide again the annotator's other closed batches in the campaign (each in its own transaction;
    admins' decisions stay as they are). Returns their ids."""
    batches = Batch.objects.filter(
        campaign_id=campaign_id,
        annotator_id=annotator_id,
        status=Batch.Status.CLOSED,
        kind__in=SCRUTINIZED_KINDS,
        scrutinized_at__isnull=False,
    ).exclude(decision_source=ADMIN)
    if exclude is not None:
        batches = batches.exclude(pk=exclude)
    ids = list(batches.order_by("pk").values_list("pk", flat=True))
    for batch_id in ids:
        batch_scrutinize(batch_id=batch_id)
    return ids


def _expert_batch_accept(batch: Batch) -> Batch:
    """Expert batches are not scrutinized (their ratings make the golden scores): they are approved
    once, automatically, so the desk and the annotator's history show them as done."""
    if batch.scrutinized_at is None:
        now = timezone.now()
        reason = "expert batch: golden-score ratings are not scrutinized"
        Batch.objects.filter(pk=batch.pk).update(
            decision=Batch.Decision.APPROVED,
            decision_source=AUTO,
            decision_reason=reason,
            decided_at=now,
            auto_decision=Batch.Decision.APPROVED,
            auto_reason=reason,
            scrutinized_at=now,
            public_reason="Thank you: expert ratings make the golden scores.",
        )
        batch.refresh_from_db()
    return batch


def batch_admin_decide(*, batch_id: int, decision: str, reason: str, user) -> Batch:
    """An admin approves or rejects (`decision` "approve" / "reject" or the stored values)."""
    value = {"approve": Batch.Decision.APPROVED, "reject": Batch.Decision.REJECTED}.get(decision, decision)
    if value not in (Batch.Decision.APPROVED, Batch.Decision.REJECTED):
        raise InvalidInput(f"decision must be 'approve' or 'reject' (got {decision!r})")
    return batch_decide(batch=batch_id, decision=value, source=ADMIN, reason=reason, by=user)


# --------------------------------------------------------------------------------- many batches


def batches_to_scrutinize(*, campaign: Campaign, rescrutinize: bool = False):
    """Closed, scrutinized-kind batches of a campaign; without `rescrutinize` only those never scrutinized
    (this also sweeps up batches whose queued task was lost)."""
    qs = Batch.objects.filter(campaign=campaign, status=Batch.Status.CLOSED, kind__in=SCRUTINIZED_KINDS)
    if not rescrutinize:
        qs = qs.filter(scrutinized_at__isnull=True)
    return qs.order_by("pk")


def batches_scrutinize(
    *, campaign: Campaign, rescrutinize: bool = False, on_progress: Callable[[int, int], None] | None = None
) -> list[int]:
    """Scrutinize a campaign's closed batches, each in its own transaction; returns their ids."""
    ids = list(batches_to_scrutinize(campaign=campaign, rescrutinize=rescrutinize).values_list("pk", flat=True))
    for i, batch_id in enumerate(ids, 1):
        batch_scrutinize(batch_id=batch_id)
        if on_progress:
            on_progress(i, len(ids))
    return ids


def rescrutiny_enqueue(*, campaign: Campaign, why: str = "golden scores changed"):
    """Golden scores changed: every decision held against them is recomputed on the workers. One queued
    job per campaign at a time (a burst of expert ratings queues one job, which reads the scores as they
    are when it runs). Returns the job, or None when none was needed."""
    from ..models import Job
    from .jobs import job_create, job_enqueue

    if not Batch.objects.filter(campaign=campaign, kind__in=SCRUTINIZED_KINDS, scrutinized_at__isnull=False).exists():
        return None
    if Job.objects.filter(kind="scrutinize", campaign=campaign, status=Job.Status.QUEUED, params__all=True).exists():
        return None
    job = job_create(kind="scrutinize", campaign=campaign, params={"campaign": campaign.slug, "all": True, "why": why})
    return job_enqueue(job=job)


def scrutinize_job(*, job, progress) -> dict:
    """Job runner (kind "scrutinize"): params {"campaign": slug, "all": bool}."""
    campaign = campaign_get(slug=job.params["campaign"])
    ids = list(
        batches_to_scrutinize(campaign=campaign, rescrutinize=bool(job.params.get("all"))).values_list("pk", flat=True)
    )
    progress.set_total(len(ids), "scrutinizing batches")
    for batch_id in ids:
        batch_scrutinize(batch_id=batch_id)
        progress.advance(1)
    return {"batch_ids": ids}


# ------------------------------------------------------------------------------------ reporting


def batch_rows(*, batches: Iterable[Batch], dimensions: list[str]) -> list[dict]:
    """Plain rows (for the table, the API and the desk): figures per dimension and the decision."""
    rows = []
    for b in batches:
        figs = b.scrutiny or {}
        rows.append(
            {
                "batch": b.pk,
                "annotator": b.annotator.username,
                "annotator_id": b.annotator_id,
                "kind": b.kind,
                "external_ref": b.external_ref,
                "decision": b.decision,
                "decision_source": b.decision_source,
                "reason": b.decision_reason,
                "auto_decision": b.auto_decision,
                "auto_reason": b.auto_reason,
                "decided_by": b.decided_by.username if b.decided_by else None,
                "decided_at": b.decided_at,
                "scrutinized_at": b.scrutinized_at,
                "closed_at": b.closed_at,
                "figures": {
                    d: figs.get(d, {"n_golden": 0, "srcc": None, "plcc": None, "bias": None}) for d in dimensions
                },
                "evidence": figs.get("evidence") or {},
                "p_genuine": (figs.get("evidence") or {}).get("p_genuine"),
                "risk": b.risk,
                "public_reason": b.public_reason,
            }
        )
    return rows


def _fmt(value) -> str:
    return "-" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{value:.2f}"


def scrutiny_table(*, rows: list[dict], dimensions: list[str]) -> str:
    """The command line's table: one line per batch."""
    header = ["batch", "annotator"] + [f"{d} n" for d in dimensions]
    header += [f"{d} SRCC/PLCC" for d in dimensions] + ["decision", "reason"]
    lines = [header]
    for r in rows:
        figs = r["figures"]
        line = [str(r["batch"]), r["annotator"]] + [str(figs[d]["n_golden"]) for d in dimensions]
        line += [f"{_fmt(figs[d]['srcc'])}/{_fmt(figs[d]['plcc'])}" for d in dimensions]
        line += [r["decision"] + (" (admin)" if r["decision_source"] == ADMIN else ""), r["reason"]]
        lines.append(line)
    widths = [max(len(row[i]) for row in lines) for i in range(len(header) - 1)]
    return "\n".join(
        "  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row[:-1])) + "  " + row[-1] for row in lines
    ).rstrip()


# ------------------------------------------------------------------------------------ annotators


@transaction.atomic
def annotator_pause(*, user, reason: str = "", by=None) -> None:
    """A paused annotator gets no new batches (assignment checks AnnotatorProfile.is_paused). Recorded in
    the audit trail (who paused whom, when, why)."""
    from ..models import AnnotatorProfile

    profile, _ = AnnotatorProfile.objects.select_for_update().get_or_create(user=user)
    before = "paused" if profile.is_paused else "active"
    profile.is_paused, profile.paused_reason = True, (reason or "")[:300]
    profile.save(update_fields=["is_paused", "paused_reason"])
    audit_record(
        kind=AuditEvent.Kind.PAUSED,
        subject=user,
        actor=by,
        source=ADMIN if by else AUTO,
        before=before,
        after="paused",
        reason=profile.paused_reason,
    )


@transaction.atomic
def annotator_resume(*, user, by=None) -> None:
    from ..models import AnnotatorProfile

    profile, _ = AnnotatorProfile.objects.select_for_update().get_or_create(user=user)
    before = "paused" if profile.is_paused else "active"
    profile.is_paused, profile.paused_reason = False, ""
    profile.save(update_fields=["is_paused", "paused_reason"])
    audit_record(
        kind=AuditEvent.Kind.RESUMED,
        subject=user,
        actor=by,
        source=ADMIN if by else AUTO,
        before=before,
        after="active",
    )


__all__ = [
    "batch_verdict",
    "batch_admin_decide",
    "batch_decide",
    "batch_figures",
    "batch_rows",
    "batch_scrutinize",
    "batches_scrutinize",
    "correlation_figures",
    "scrutiny_table",
    "scrutiny_verdict",
    "annotator_pause",
    "annotator_resume",
]
