"""The database side of quality control: load what annotation/qc/ (pure) needs to decide a batch,
and keep each annotator's evidence row (AnnotatorEvidence) up to date.

Per batch, the queries are bounded by one annotator's work, never by the campaign's size:
- the batch's ratings (in the order given, with their times) and the golden scores of its items;
- the annotator's ratings of golden items in the campaign, all their batches so far (index
  rating_unique_annotator_item), with their golden scores: the cumulative evidence;
- the other annotators' evidence rows (one row per annotator: the campaign's reference and habits);
- the experts' agreement (the ceiling), cached per process until the campaign's golden scores change.
"""

from __future__ import annotations

import math
import time
from collections import Counter
from dataclasses import dataclass

import numpy as np
from django.db.models import Count, Max, Q

from core.sql import fast_sql_enabled, sql_models

from ..models import AnnotatorEvidence, Batch, Campaign, GoldenScore, Rating
from ..qc import agreement, campaign_reference, expert_agreement
from ..qc.decision import Settings
from ..qc.evidence import Agreement, agreement_from_dict
from ..qc.patterns import CampaignHabits
from ..qc.reference import Reference

SCRUTINIZED_KINDS = (Batch.Kind.ANNOTATION, Batch.Kind.IMPORTED)
HABIT_WINDOW = 500  # an annotator's habits are read from their latest ratings


def qc_settings(campaign: Campaign) -> Settings:
    measures = {"srcc": ("srcc",), "plcc": ("plcc",)}.get(campaign.scrutiny_measure, ("srcc", "plcc"))
    return Settings(
        method=campaign.scrutiny_method,
        measures=measures,
        approve_threshold=campaign.approve_threshold,
        reject_threshold=campaign.reject_threshold,
        min_golden=campaign.min_golden,
        approve_probability=campaign.approve_probability,
        reject_probability=campaign.reject_probability,
    )


@dataclass
class BatchEvidence:
    """Everything the decision needs about one batch."""

    ratings: dict[str, list[int]]  # per dimension, in the order given (the campaign rates each)
    durations_ms: list[int]
    own: dict[str, Agreement]  # this batch's golden items
    cumulative: dict[str, Agreement]  # the annotator's golden items in all their batches so far
    habits: dict  # this annotator's habits (for the campaign's reference)
    n_rated: int = 0  # the batch's ratings (0: every lease ran out, or every item was skipped or flagged)


def _pairs(rows, golden: dict[tuple[int, str], float], dims) -> dict[str, tuple[list[float], list[float]]]:
    pairs: dict[str, tuple[list[float], list[float]]] = {d: ([], []) for d in dims}
    for row in rows:
        for d in dims:
            g = golden.get((row["item_id"], d))
            if g is not None and row[d] is not None:
                pairs[d][0].append(row[d])
                pairs[d][1].append(g)
    return pairs


def _golden_of(item_ids, dims) -> dict[tuple[int, str], float]:
    out: dict[tuple[int, str], float] = {}
    ids = sorted(set(item_ids))
    for start in range(0, len(ids), 5000):
        out.update(
            {
                (i, d): s
                for i, d, s in GoldenScore.objects.filter(
                    item_id__in=ids[start : start + 5000], dimension__in=dims
                ).values_list("item_id", "dimension", "score")
            }
        )
    return out


def batch_evidence(*, batch: Batch) -> BatchEvidence:
    campaign = batch.campaign
    dims = campaign.dimensions
    rows = list(Rating.objects.filter(batch=batch).order_by("created_at", "pk").values("item_id", "duration_ms", *dims))
    golden_rows = list(
        Rating.objects.filter(
            annotator_id=batch.annotator_id,
            batch__campaign=campaign,
            batch__kind__in=SCRUTINIZED_KINDS,
            item__is_golden=True,
        ).values("item_id", *dims)
    )
    golden = _golden_of([r["item_id"] for r in rows] + [r["item_id"] for r in golden_rows], dims)
    own = _pairs(rows, golden, dims)
    cumulative = _pairs(golden_rows, golden, dims)
    return BatchEvidence(
        ratings={d: [r[d] for r in rows] for d in dims},
        durations_ms=[r["duration_ms"] for r in rows if r["duration_ms"] is not None],
        own={d: agreement(*own[d]) for d in dims},
        cumulative={d: agreement(*cumulative[d]) for d in dims},
        habits=annotator_habits(campaign=campaign, annotator_id=batch.annotator_id),
        n_rated=len(rows),
    )


def annotator_habits(*, campaign: Campaign, annotator_id: int) -> dict:
    """How this annotator rates (their latest HABIT_WINDOW ratings in the campaign)."""
    dims = campaign.dimensions
    rows = list(
        Rating.objects.filter(annotator_id=annotator_id, batch__campaign=campaign, batch__kind__in=SCRUTINIZED_KINDS)
        .order_by("-pk")
        .values("duration_ms", *dims)[:HABIT_WINDOW]
    )
    if not rows:
        return {}
    out: dict = {"n": len(rows), "modal_share": {}}
    for d in dims:
        values = [r[d] for r in rows if r[d] is not None]
        if values:
            out["modal_share"][d] = round(Counter(values).most_common(1)[0][1] / len(values), 4)
    if set(dims) == {"quality", "alignment"}:
        both = [(r["quality"], r["alignment"]) for r in rows if r["quality"] is not None and r["alignment"] is not None]
        if both:
            out["same_both"] = round(sum(q == a for q, a in both) / len(both), 4)
    timed = [r["duration_ms"] for r in rows if r["duration_ms"] is not None]
    if timed:
        out["median_ms"] = float(np.median(timed))
    return out


# ------------------------------------------------------------------------------ the campaign's view

MIN_HABIT_RATERS = 3  # a campaign habit is a median over at least this many other annotators


def campaign_habits(rows: list[AnnotatorEvidence]) -> CampaignHabits:
    """Medians over the other annotators' habits (robust: a few spammers do not move them)."""
    habits = [r.habits for r in rows if r.habits]
    if len(habits) < MIN_HABIT_RATERS:
        return CampaignHabits()
    modal: dict[str, float] = {}
    for d in ("quality", "alignment"):
        values = [h["modal_share"][d] for h in habits if d in h.get("modal_share", {})]
        if len(values) >= MIN_HABIT_RATERS:
            modal[d] = float(np.median(values))
    same = [h["same_both"] for h in habits if "same_both" in h]
    ms = [h["median_ms"] for h in habits if "median_ms" in h]
    return CampaignHabits(
        modal_share=modal or None,
        same_both_share=float(np.median(same)) if len(same) >= MIN_HABIT_RATERS else None,
        median_duration_ms=float(np.median(ms)) if len(ms) >= MIN_HABIT_RATERS else None,
    )


def other_evidence(*, campaign: Campaign, annotator_id: int) -> list[AnnotatorEvidence]:
    return list(
        AnnotatorEvidence.objects.filter(campaign=campaign)
        .exclude(annotator_id=annotator_id)
        .only("figures", "habits", "p_genuine", "n_golden")
    )


def references(*, campaign: Campaign, others: list[AnnotatorEvidence]) -> dict[str, Reference]:
    ceiling = golden_ceiling(campaign=campaign)
    return {
        d: campaign_reference(d, [agreement_from_dict(r.figures.get(d)) for r in others], ceiling=ceiling.get(d))
        for d in campaign.dimensions
    }


# The experts' agreement only changes when golden scores do: cache it per process, keyed by the
# campaign's golden-score count and latest change.
_CEILING: dict[int, tuple[tuple, dict[str, Agreement | None]]] = {}
_CEILING_TTL = 600.0


def golden_ceiling(*, campaign: Campaign) -> dict[str, Agreement | None]:
    stamp = GoldenScore.objects.filter(item__campaign=campaign).aggregate(n=Count("pk"), last=Max("updated_at"))
    key = (stamp["n"], stamp["last"], int(time.monotonic() // _CEILING_TTL))
    cached = _CEILING.get(campaign.pk)
    if cached and cached[0] == key:
        return cached[1]
    triples: dict[str, list[tuple[int, int, float]]] = {d: [] for d in campaign.dimensions}
    rows = Rating.objects.filter(batch__campaign=campaign, batch__kind=Batch.Kind.EXPERT).values_list(
        "item_id", "annotator_id", *campaign.dimensions
    )
    for item_id, expert_id, *scores in rows.iterator(chunk_size=5000):
        for d, s in zip(campaign.dimensions, scores):
            if s is not None:
                triples[d].append((item_id, expert_id, s))
    value = {d: expert_agreement(t) for d, t in triples.items()}
    _CEILING[campaign.pk] = (key, value)
    return value


def golden_source(*, campaign: Campaign) -> str:
    """What the golden scores are, in words (the reference a decision was held against)."""
    agg = GoldenScore.objects.filter(item__campaign=campaign).aggregate(
        n=Count("item", distinct=True),
        experts=Count("pk", filter=Q(source=GoldenScore.Source.EXPERTS)),
        imported=Count("pk", filter=Q(source=GoldenScore.Source.IMPORTED)),
    )
    if not agg["n"]:
        return "no golden scores"
    kinds = []
    if agg["experts"]:
        kinds.append("means of expert ratings")
    if agg["imported"]:
        kinds.append("imported scores")
    return f"{agg['n']} golden items ({' and '.join(kinds)})"


# ------------------------------------------------------------------------------ the evidence row


def evidence_update(
    *, campaign: Campaign, annotator_id: int, cumulative: dict[str, Agreement], habits: dict, p_genuine: float | None
) -> AnnotatorEvidence:
    row, _ = AnnotatorEvidence.objects.update_or_create(
        campaign=campaign,
        annotator_id=annotator_id,
        defaults={
            "figures": {d: a.as_dict() for d, a in cumulative.items()},
            "habits": habits,
            "n_golden": max((a.n_golden for a in cumulative.values()), default=0),
            "p_genuine": None if p_genuine is None or math.isnan(p_genuine) else round(p_genuine, 4),
        },
    )
    return row


def campaign_prior_of(others: list[AnnotatorEvidence]) -> float:
    """The campaign's share of genuine raters (annotation/qc/decision.py: campaign_prior), from the
    other annotators with enough golden evidence."""
    from ..qc.decision import campaign_prior
    from ..qc.reference import MIN_RATER_N

    return campaign_prior([r.p_genuine for r in others if r.n_golden >= MIN_RATER_N and r.p_genuine is not None])


def evidence_get(*, campaign: Campaign, annotator_id: int) -> AnnotatorEvidence | None:
    if fast_sql_enabled():  # read at every batch request of a calibrated campaign
        where = "campaign_id = %(c)s::bigint AND annotator_id = %(a)s::bigint"
        found = sql_models(
            AnnotatorEvidence, where, {"c": campaign.pk, "a": annotator_id}, suffix="ORDER BY id LIMIT 1"
        )
        return found[0] if found else None
    return AnnotatorEvidence.objects.filter(campaign=campaign, annotator_id=annotator_id).first()
