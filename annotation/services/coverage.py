"""Coverage of a campaign: which items still need ratings, which MOS are still uncertain, and extra
ratings for the uncertain ones.

- below target: items of a version whose counted ratings (the largest `n` over the dimensions) are fewer
  than `Item.target`; items with no MOS in the version are counted apart as "unrated" (coverage_summary
  states each definition). The assignment pool already hands them out (it selects `active_count < target`),
  so nothing needs changing for them.
- uncertain: items of a version whose 95% CI half-width exceeds `campaign.ci_width_threshold` on any
  dimension (items with a single rating have no CI and count as below target, not uncertain).
- extra ratings: raise `Item.target` of uncertain items by `step` (default 2), capped at
  `campaign.max_ratings_per_item`, so the assignment engine puts them back into new batches.

Everything is computed with numpy over two flat queries (items, scores of the version): no per-item
queries, fine for 100K items.
"""

from __future__ import annotations

import numpy as np
from django.db import transaction
from django.db.models import F, Value
from django.db.models.functions import Least

from core.errors import InvalidInput

from ..models import Campaign, DatasetVersion, Item, ItemScore

UPDATE_CHUNK = 10_000


def _items(campaign: Campaign) -> tuple[np.ndarray, np.ndarray]:
    rows = list(Item.objects.filter(campaign=campaign).values_list("id", "target").iterator(chunk_size=50_000))
    arr = np.array(rows, dtype=np.int64).reshape(-1, 2)
    return arr[:, 0], arr[:, 1]


def _version_scores(version: DatasetVersion) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rows = ItemScore.objects.filter(version=version).values_list("item_id", "n", "ci95").iterator(chunk_size=50_000)
    arr = np.array(list(rows), dtype=np.float64).reshape(-1, 3)
    return arr[:, 0].astype(np.int64), arr[:, 1].astype(np.int64), arr[:, 2]


def coverage_compute(*, version: DatasetVersion) -> dict:
    """Per-item coverage arrays of a version: ids, targets, n (max over dimensions), uncertain flags."""
    campaign = version.campaign
    ids, targets = _items(campaign)
    s_item, s_n, s_ci = _version_scores(version)
    order = np.argsort(ids)
    ids, targets = ids[order], targets[order]
    pos = np.searchsorted(ids, s_item)
    valid = (pos < len(ids)) & (ids[np.minimum(pos, len(ids) - 1)] == s_item) if len(ids) else np.zeros(0, bool)
    n = np.zeros(len(ids), dtype=np.int64)
    np.maximum.at(n, pos[valid], s_n[valid])
    wide = np.zeros(len(ids), dtype=bool)
    too_wide = valid & np.isfinite(s_ci) & (s_ci > campaign.ci_width_threshold)
    wide[pos[too_wide]] = True
    return {"ids": ids, "targets": targets, "n": n, "uncertain": wide}


def coverage_summary(*, version: DatasetVersion) -> dict:
    """Counts for the version API, the statistics page and the command line, with one definition each:

    - items: items of the version, those with a MOS in it (as `version.counts["items"]` and the export's rows);
      `campaign_items` counts every item of the campaign and `unrated` those without a MOS yet;
    - below target: items of the version with fewer counted ratings than their target;
    - single rating: items of the version with one rating, which have no CI yet;
    - uncertain: items of the version whose 95% CI half-width exceeds the campaign's threshold.
    """
    c = coverage_compute(version=version)
    scored = c["n"] > 0
    below = scored & (c["n"] < c["targets"])
    return {
        "items": int(scored.sum()),
        "items_scored": int(scored.sum()),
        "campaign_items": int(len(c["ids"])),
        "unrated": int((~scored).sum()),
        "items_complete": int((scored & ~below).sum()),
        "below_target": int(below.sum()),
        "single_rating": int((c["n"] == 1).sum()),
        "uncertain": int(c["uncertain"].sum()),
        "ci_width_threshold": version.campaign.ci_width_threshold,
        "max_ratings_per_item": version.campaign.max_ratings_per_item,
    }


def coverage_uncertain_ids(*, version: DatasetVersion) -> list[int]:
    c = coverage_compute(version=version)
    return c["ids"][c["uncertain"]].tolist()


@transaction.atomic
def coverage_extra_ratings(*, version: DatasetVersion, step: int = 2) -> dict:
    """Raise the target of the version's uncertain items by `step`, up to campaign.max_ratings_per_item.

    Returns {"uncertain": n, "raised": items whose target went up, "at_cap": uncertain items already at
    the cap}. One UPDATE per 10K ids; `active_count` is untouched, so the raised items re-enter the
    assignment pool (`active_count < target`) at once.
    """
    if not isinstance(step, int) or step < 1:
        raise InvalidInput(f"step must be a positive integer (got {step!r})")
    campaign = version.campaign
    cap = int(campaign.max_ratings_per_item)
    ids = coverage_uncertain_ids(version=version)
    raised = 0
    for start in range(0, len(ids), UPDATE_CHUNK):
        chunk = ids[start : start + UPDATE_CHUNK]
        raised += Item.objects.filter(pk__in=chunk, target__lt=cap).update(target=Least(F("target") + step, Value(cap)))
    return {"uncertain": len(ids), "raised": raised, "at_cap": len(ids) - raised, "cap": cap, "step": step}
