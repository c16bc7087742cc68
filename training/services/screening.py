"""The scorer screens what comes in (beyond the paper): a campaign's screening scorer pre-scores every new
item on the workers (training queue), storing quality and alignment predictions with their five level
probabilities (ItemPrediction). Researchers filter and sort items by them; an item the scorer is sure is
broken (P(Bad) on visual quality >= hold_probability, before anyone rated it) is held out of the pool
for an admin's quick check (ItemCheck) instead of costing ratings; and the scorer's disagreement with
the human MOS steers value selection (annotation/services/selection.py).
"""

from __future__ import annotations

import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from django.core.files.storage import default_storage
from django.db import transaction
from django.db.models import Avg, Count
from django.utils import timezone

from annotation.models import Batch, Campaign, Item, Rating
from core.errors import Conflict, InvalidInput, NotFound

from ..models import ItemCheck, ItemPrediction, Scorer, ScreeningPolicy

SCREEN_CHUNK = 200
# The ratings that make a MOS (annotation/services/mos.py): expert batches are approved automatically but
# make the golden scores, never a MOS.
MOS_KINDS = (Batch.Kind.ANNOTATION, Batch.Kind.IMPORTED)


def screening_get(*, campaign: Campaign) -> ScreeningPolicy | None:
    return ScreeningPolicy.objects.filter(campaign=campaign, is_active=True).select_related("scorer").first()


@transaction.atomic
def screening_set(
    *, campaign: Campaign, scorer: Scorer | None, hold_probability: float = 0.9
) -> ScreeningPolicy | None:
    """Turn screening on with this scorer (None: off). Items already in the campaign are not re-scored:
    `screening_rescore` does that on the workers."""
    if not 0 <= hold_probability <= 1:
        raise InvalidInput("hold_probability must be between 0 and 1 (1: never hold)")
    if scorer is None:
        ScreeningPolicy.objects.filter(campaign=campaign).update(is_active=False)
        return None
    policy, _ = ScreeningPolicy.objects.update_or_create(
        campaign=campaign, defaults={"scorer": scorer, "hold_probability": hold_probability, "is_active": True}
    )
    return policy


def items_created(*, campaign_id: int, item_ids: list[int]) -> None:
    """Hook (settings.QEVAL_ITEMS_CREATED_HOOKS): new items are screened on the workers after commit."""
    if not ScreeningPolicy.objects.filter(campaign_id=campaign_id, is_active=True).exists():
        return
    from annotation.services.outbox import outbox_enqueue

    # Through the outbox, in the creating transaction: a broker outage loses no screening.
    for start in range(0, len(item_ids), SCREEN_CHUNK):
        outbox_enqueue(
            task="training.screen_items", args=[campaign_id, list(item_ids[start : start + SCREEN_CHUNK])], robust=True
        )


def screening_rescore(*, campaign: Campaign) -> int:
    """Queue every regular item of the campaign that the screening scorer has not scored yet."""
    policy = screening_get(campaign=campaign)
    if policy is None:
        raise Conflict(f"campaign {campaign.slug!r} has no screening scorer")
    done = ItemPrediction.objects.filter(scorer=policy.scorer, item__campaign=campaign).values("item_id")
    ids = list(
        Item.objects.filter(campaign=campaign, is_golden=False)
        .exclude(pk__in=done)
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    items_created(campaign_id=campaign.pk, item_ids=ids)
    return len(ids)


@contextmanager
def _local_copies(names: list[str]):
    """Local file paths for stored media (the storage's own path, or a temporary copy from S3)."""
    try:
        yield [default_storage.path(n) for n in names]
        return
    except NotImplementedError:
        pass
    with tempfile.TemporaryDirectory() as tmp:
        paths = []
        for i, name in enumerate(names):
            local = Path(tmp) / f"{i}{Path(name).suffix}"
            with default_storage.open(name, "rb") as src, open(local, "wb") as dst:
                dst.write(src.read())
            paths.append(str(local))
        yield paths


def screening_run(*, campaign_id: int, item_ids: list[int]) -> dict:
    """Score these items with the campaign's screening scorer, store the predictions, hold the broken
    ones. Idempotent: a repeat overwrites the same predictions and holds nothing twice."""
    from training.scorer.predict import score_items  # torch

    from .scorers import _loaded

    policy = ScreeningPolicy.objects.filter(campaign_id=campaign_id, is_active=True).select_related("scorer").first()
    if policy is None:
        return {"scored": 0}
    items = list(
        Item.objects.filter(pk__in=item_ids, campaign_id=campaign_id)
        .select_related("prompt")
        .only("pk", "media", "media_type", "active_count", "prompt__text")
    )
    if not items:
        return {"scored": 0}
    with _local_copies([i.media.name or "" for i in items]) as paths:
        results = score_items(
            _loaded(policy.scorer.path),
            [{"media": p, "prompt": i.prompt.text, "media_type": i.media_type} for i, p in zip(items, paths)],
            batch_size=8,
        )
    rows = [
        ItemPrediction(
            item=item,
            scorer=policy.scorer,
            dimension=d,
            prediction=round(float(res[d]), 4),
            probs={k: round(float(v), 4) for k, v in res[f"{d}_probs"].items()},
        )
        for item, res in zip(items, results)
        for d in ("quality", "alignment")
    ]
    held = 0
    with transaction.atomic():
        ItemPrediction.objects.bulk_create(
            rows,
            update_conflicts=True,
            unique_fields=["item", "scorer", "dimension"],
            update_fields=["prediction", "probs"],
        )
        for item, res in zip(items, results):
            p_bad = float(res["quality_probs"].get("Bad", 0.0))
            if p_bad >= policy.hold_probability and policy.hold_probability < 1 and item.active_count == 0:
                held += _hold(
                    item,
                    reason=f"screening scorer {policy.scorer.name}: P(Bad) {p_bad:.2f} on visual quality "
                    f"(holds at {policy.hold_probability:g}); predicted quality {res['quality']:.2f}",
                )
    return {"scored": len(items), "held": held}


def _hold(item: Item, *, reason: str) -> int:
    check, created = ItemCheck.objects.get_or_create(item=item, defaults={"reason": reason[:300]})
    if not created:
        return 0  # an admin's earlier decision (or an earlier hold) stands
    Item.objects.filter(pk=item.pk).update(is_held=True)
    return 1


@transaction.atomic
def item_check_decide(*, item_id: int, decision: str, user) -> ItemCheck:
    """An admin's quick check of a held item: "release" (back to the pool) or "broken" (never rated)."""
    check = ItemCheck.objects.select_for_update().filter(item_id=item_id).select_related("item").first()
    if check is None:
        raise NotFound(f"item {item_id} was not held by screening")
    if decision not in ("release", "broken"):
        raise InvalidInput("decision must be 'release' or 'broken'")
    check.status = ItemCheck.Status.RELEASED if decision == "release" else ItemCheck.Status.BROKEN
    check.decided_by, check.decided_at = user, timezone.now()
    check.save(update_fields=["status", "decided_by", "decided_at"])
    Item.objects.filter(pk=item_id).update(is_held=decision != "release")
    return check


# --------------------------------------------------------------------------- agreement as ratings arrive


def screening_agreement(*, campaign: Campaign, min_ratings: int = 2, top: int = 20) -> dict:
    """The screening scorer against the current human MOS (approved ratings so far): SRCC and PLCC per
    dimension over items with at least `min_ratings` approved ratings, and the items where they disagree
    most. Two queries per dimension."""
    import numpy as np
    from scipy.stats import pearsonr, spearmanr

    policy = screening_get(campaign=campaign)
    out: dict = {
        "scorer": policy.scorer.name if policy else None,
        "dimensions": {},
        "disagreements": [],
        "held": ItemCheck.objects.filter(item__campaign=campaign, status=ItemCheck.Status.HELD).count(),
    }
    if policy is None:
        return out
    worst = []
    for dim in campaign.dimensions:
        mos = dict(
            Rating.objects.filter(
                item__campaign=campaign,
                batch__decision=Batch.Decision.APPROVED,
                batch__kind__in=MOS_KINDS,
                **{f"{dim}__isnull": False},
            )
            .values("item_id")
            .annotate(m=Avg(dim), n=Count("pk"))
            .filter(n__gte=min_ratings)
            .values_list("item_id", "m")
        )
        preds = dict(
            ItemPrediction.objects.filter(scorer=policy.scorer, dimension=dim, item_id__in=list(mos)).values_list(
                "item_id", "prediction"
            )
        )
        ids = [i for i in mos if i in preds]
        figures: dict[str, Any] = {"n": len(ids), "srcc": None, "plcc": None}
        if len(ids) >= 3:
            h, p = np.array([mos[i] for i in ids]), np.array([preds[i] for i in ids])
            if np.ptp(h) > 0 and np.ptp(p) > 0:  # ptp: equal floats can have a std a hair above zero
                figures["srcc"] = round(float(spearmanr(h, p).statistic), 4)
                figures["plcc"] = round(float(pearsonr(h, p).statistic), 4)
        out["dimensions"][dim] = figures
        worst += [(abs(preds[i] - mos[i]), i, dim, preds[i], mos[i]) for i in ids]
    names = dict(Item.objects.filter(pk__in=[w[1] for w in worst]).values_list("pk", "item_id"))
    out["disagreements"] = [
        {
            "item": i,
            "item_id": names.get(i),
            "dimension": d,
            "prediction": round(p, 2),
            "mos": round(m, 2),
            "difference": round(diff, 2),
        }
        for diff, i, d, p, m in sorted(worst, reverse=True)[:top]
    ]
    return out


def screening_disagreement(*, campaign: Campaign) -> dict[int, float]:
    """Per item, the selection bonus from the scorer: its disagreement with the current MOS, or before any
    rating its own uncertainty (annotation/services/selection.py: disagreement_bonus)."""
    from annotation.services.selection import disagreement_bonus

    policy = screening_get(campaign=campaign)
    if policy is None:
        return {}
    mos: dict[tuple[int, str], float] = {}
    for dim in campaign.dimensions:
        for item_id, m in (
            Rating.objects.filter(
                item__campaign=campaign,
                batch__decision=Batch.Decision.APPROVED,
                batch__kind__in=MOS_KINDS,
                **{f"{dim}__isnull": False},
            )
            .values("item_id")
            .annotate(m=Avg(dim))
            .values_list("item_id", "m")
        ):
            mos[(item_id, dim)] = m
    out: dict[int, float] = {}
    for item_id, dim, pred, probs in (
        ItemPrediction.objects.filter(scorer=policy.scorer, item__campaign=campaign)
        .values_list("item_id", "dimension", "prediction", "probs")
        .iterator(chunk_size=5000)
    ):
        bonus = disagreement_bonus(prediction=pred, mos=mos.get((item_id, dim)), probs=probs)
        out[item_id] = max(out.get(item_id, 0.0), bonus)
    return out


def predictions_list(
    *,
    campaign: Campaign,
    scorer: Scorer | None = None,
    dimension: str = "quality",
    order: str = "prediction",
    held: bool | None = None,
    lo: float | None = None,
    hi: float | None = None,
):
    """Items with their predictions, to filter and sort by (a queryset of ItemPrediction)."""
    if dimension not in ("quality", "alignment"):
        raise InvalidInput("dimension must be quality or alignment")
    if order not in ("prediction", "-prediction"):
        raise InvalidInput("order must be 'prediction' or '-prediction'")
    if scorer is None:
        policy = screening_get(campaign=campaign)
        if policy is None:
            raise InvalidInput(f"campaign {campaign.slug!r} has no screening scorer: name one with ?scorer=")
        scorer = policy.scorer
    qs = ItemPrediction.objects.filter(item__campaign=campaign, scorer=scorer, dimension=dimension)
    if held is not None:
        qs = qs.filter(item__is_held=held)
    if lo is not None:
        qs = qs.filter(prediction__gte=lo)
    if hi is not None:
        qs = qs.filter(prediction__lte=hi)
    return qs.select_related("item", "item__generator").order_by(order, "item_id")


__all__ = [
    "items_created",
    "item_check_decide",
    "predictions_list",
    "screening_agreement",
    "screening_disagreement",
    "screening_get",
    "screening_rescore",
    "screening_run",
    "screening_set",
]
