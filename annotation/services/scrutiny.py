"""Sample-and-Scrutinize: how well a batch's ratings on golden items agree with the golden scores, the
automatic decision that follows, and `batch_decide`, the one place where a batch's decision changes.

Figures per dimension (stored on `Batch.scrutiny`, never shown to annotators):
  n_golden  golden items rated in the batch that have a golden score on that dimension
  srcc      Spearman rank correlation (scipy.stats.spearmanr) of ratings vs golden scores
  plcc      Pearson linear correlation (scipy.stats.pearsonr)
  bias      mean of (rating - golden score): the annotator's offset
  constant  "ratings" / "golden" when that side is constant (correlation undefined), else null

Decision (campaign settings `scrutiny_measure`, `approve_threshold`, `reject_threshold`, `min_golden`):
  only dimensions with at least `min_golden` golden items (and at least 2) are judged;
  reject        a judged dimension has constant ratings, or a measure below reject_threshold
  needs_review  a dimension has too few golden items, constant golden scores, or a measure in between
  approve       every dimension judged, every measure at or above approve_threshold
"""
from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import numpy as np
from django.db import transaction
from django.db.models import F
from django.db.models.functions import Greatest
from django.utils import timezone

from ..models import Batch, Campaign, GoldenScore, Item, Rating
from .campaigns import campaign_get
from .errors import Conflict, InvalidInput, NotFound

AUTO, ADMIN = "auto", "admin"
SCRUTINIZED_KINDS = (Batch.Kind.ANNOTATION, Batch.Kind.IMPORTED)
# Decisions under which a batch's ratings count in Item.active_count (and, once approved, in MOS).
COUNTED = {Batch.Decision.PENDING, Batch.Decision.APPROVED, Batch.Decision.NEEDS_REVIEW}


# ---------------------------------------------------------------------------------------- figures


def correlation_figures(ratings: Iterable[float], golden: Iterable[float]) -> dict:
    """n, SRCC, PLCC, bias of paired ratings and golden scores; correlations are None when undefined."""
    from scipy.stats import pearsonr, spearmanr

    r = np.asarray(list(ratings), dtype=float)
    g = np.asarray(list(golden), dtype=float)
    out = {"n_golden": int(r.size), "srcc": None, "plcc": None, "bias": None, "constant": None}
    if r.size == 0:
        return out
    out["bias"] = round(float(np.mean(r - g)), 4)
    if r.size < 2:
        return out
    if np.all(r == r[0]):
        out["constant"] = "ratings"
        return out
    if np.all(g == g[0]):
        out["constant"] = "golden"
        return out
    out["srcc"] = round(float(spearmanr(r, g).statistic), 4)
    out["plcc"] = round(float(pearsonr(r, g).statistic), 4)
    return out


def batch_figures(*, batch: Batch) -> dict:
    """Figures per campaign dimension for `batch` (one query over its ratings joined to golden scores)."""
    dims = batch.campaign.dimensions
    golden: dict[tuple[int, str], float] = {
        (item_id, dim): score
        for item_id, dim, score in GoldenScore.objects.filter(
            item__ratings__batch=batch, dimension__in=dims
        ).values_list("item_id", "dimension", "score")
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


@dataclass(frozen=True)
class Verdict:
    decision: str
    reason: str


def _measures(campaign: Campaign) -> list[str]:
    return {"srcc": ["srcc"], "plcc": ["plcc"]}.get(campaign.scrutiny_measure, ["srcc", "plcc"])


def scrutiny_verdict(*, campaign: Campaign, figures: dict) -> Verdict:
    """The automatic decision for a batch's figures under the campaign's settings (pure function)."""
    measures = _measures(campaign)
    approve_at, reject_below = campaign.approve_threshold, campaign.reject_threshold
    min_n = max(campaign.min_golden, 2)
    rejects, reviews = [], []
    for dim in campaign.dimensions:
        f = figures.get(dim) or {"n_golden": 0}
        n = f["n_golden"]
        if n < min_n:
            reviews.append(f"too few golden items on {dim}: {n} < {min_n}")
            continue
        if f.get("constant") == "ratings":
            rejects.append(f"{dim} ratings are constant over {n} golden items: correlation undefined")
            continue
        if f.get("constant") == "golden":
            reviews.append(f"golden scores on {dim} are constant over these {n} items: correlation undefined")
            continue
        for m in measures:
            value = f[m]
            if value < reject_below:
                rejects.append(f"{dim} {m.upper()} {value:.2f} < reject threshold {reject_below:g}")
            elif value < approve_at:
                reviews.append(f"{dim} {m.upper()} {value:.2f} between thresholds {reject_below:g} and {approve_at:g}")
    if rejects:
        return Verdict(Batch.Decision.REJECTED, "; ".join(rejects))
    if reviews:
        return Verdict(Batch.Decision.NEEDS_REVIEW, "; ".join(reviews))
    summary = ", ".join(
        f"{dim} " + "/".join(f"{m.upper()} {figures[dim][m]:.2f}" for m in measures) for dim in campaign.dimensions
    )
    return Verdict(Batch.Decision.APPROVED, f"{summary} >= {approve_at:g}")


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
        chunk = item_ids[start:start + 5000]
        list(Item.objects.select_for_update().filter(pk__in=chunk).order_by("pk").values_list("pk", flat=True))
        # One rating per annotator and item, and one annotator per batch: each item moves by exactly delta.
        Item.objects.filter(pk__in=chunk).update(active_count=Greatest(F("active_count") + delta, 0))
    return len(item_ids)


@transaction.atomic
def batch_decide(*, batch: Batch | int, decision: str, source: str, reason: str = "", by=None) -> Batch:
    """Set a closed batch's decision: the only code path that changes Batch.decision.

    Moving between counted (pending / approved / needs_review) and not counted (rejected) adds or
    removes the batch's ratings from Item.active_count, so a rejected batch's items return to the
    assignment pool and approving it again restores them; any other move leaves the counters alone,
    so repeating a decision is harmless. `source` is "auto" (scrutiny) or "admin" (then `by` and, for
    a rejection, `reason` are required).
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
    batch.decision = decision
    batch.decision_source = source
    batch.decision_reason = (reason or "").strip()
    batch.decided_by = by if source == ADMIN else None
    batch.decided_at = timezone.now()
    batch.save(update_fields=["decision", "decision_source", "decision_reason", "decided_by", "decided_at"])
    return batch


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
    figures = batch_figures(batch=batch)
    verdict = scrutiny_verdict(campaign=batch.campaign, figures=figures)
    unchanged = (
        batch.scrutinized_at is not None and batch.scrutiny == figures
        and batch.auto_decision == verdict.decision and batch.auto_reason == verdict.reason
    )
    if unchanged:
        return batch
    batch.scrutiny, batch.auto_decision, batch.auto_reason = figures, verdict.decision, verdict.reason
    batch.scrutinized_at = timezone.now()
    batch.save(update_fields=["scrutiny", "auto_decision", "auto_reason", "scrutinized_at"])
    if batch.decision_source != ADMIN:
        batch = batch_decide(batch=batch, decision=verdict.decision, source=AUTO, reason=verdict.reason)
    return batch


def _expert_batch_accept(batch: Batch) -> Batch:
    """Expert batches are not scrutinized (their ratings make the golden scores): they are approved
    once, automatically, so the desk and the annotator's history show them as done."""
    if batch.scrutinized_at is None:
        now = timezone.now()
        reason = "expert batch: golden-score ratings are not scrutinized"
        Batch.objects.filter(pk=batch.pk).update(
            decision=Batch.Decision.APPROVED, decision_source=AUTO, decision_reason=reason, decided_at=now,
            auto_decision=Batch.Decision.APPROVED, auto_reason=reason, scrutinized_at=now,
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


def scrutinize_job(*, job, progress) -> dict:
    """Job runner (kind "scrutinize"): params {"campaign": slug, "all": bool}."""
    campaign = campaign_get(slug=job.params["campaign"])
    ids = list(
        batches_to_scrutinize(campaign=campaign, rescrutinize=bool(job.params.get("all")))
        .values_list("pk", flat=True)
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
        rows.append({
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
            "decided_by": b.decided_by.username if b.decided_by_id else None,
            "decided_at": b.decided_at,
            "scrutinized_at": b.scrutinized_at,
            "closed_at": b.closed_at,
            "figures": {d: figs.get(d, {"n_golden": 0, "srcc": None, "plcc": None, "bias": None}) for d in dimensions},
        })
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
def annotator_pause(*, user, reason: str = "") -> None:
    """A paused annotator gets no new batches (assignment checks AnnotatorProfile.is_paused)."""
    from ..models import AnnotatorProfile

    profile, _ = AnnotatorProfile.objects.select_for_update().get_or_create(user=user)
    profile.is_paused, profile.paused_reason = True, (reason or "")[:300]
    profile.save(update_fields=["is_paused", "paused_reason"])


@transaction.atomic
def annotator_resume(*, user) -> None:
    from ..models import AnnotatorProfile

    profile, _ = AnnotatorProfile.objects.select_for_update().get_or_create(user=user)
    profile.is_paused, profile.paused_reason = False, ""
    profile.save(update_fields=["is_paused", "paused_reason"])


__all__ = [
    "batch_admin_decide", "batch_decide", "batch_figures", "batch_rows", "batch_scrutinize", "batches_scrutinize",
    "correlation_figures", "scrutiny_table", "scrutiny_verdict", "annotator_pause", "annotator_resume",
]
