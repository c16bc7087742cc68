"""Which open item a batch takes first, when the campaign selects by expected value
(`selection_policy = "value"`; the default "fullest" takes the items closest to their target).

An item's priority is the expected value of one more rating of it:

    priority = priority_bonus + priority_scale * gain(active_count)

- gain(n) = (1/sqrt(n+1) - 1/sqrt(n+2)) / (1 - 1/sqrt(2)): how much one more rating narrows the item's
  MOS interval, relative to the first rating of an item (1.0). `n` is active_count (approved and pending
  ratings and live leases), so taking a lease lowers the priority at once and the next batch goes
  elsewhere: work spreads over the items whose answer is least settled.
- priority_scale: the item's rating spread relative to the campaign's typical spread (its posterior
  standard deviation, services/overlap.py): items raters disagree on are worth more ratings.
- priority_bonus: W_DISAGREE x how far the screening scorer's prediction is from the current MOS
  (or, before any rating, how unsure the scorer is), plus W_COVERAGE x how under-rated the item's
  taxonomy category is (its share of approved ratings below its share of items).

The priority is kept in the same UPDATE that changes active_count (lease, give back, rejection), so the
pool index item_open_pool_value (campaign, generator, -priority, shuffle_key) is always right; the round
robin over generators and every guarantee of assignment stay as they are.
"""

from __future__ import annotations

import math

from django.db.models import F, FloatField, Value
from django.db.models.functions import Cast, Sqrt

W_DISAGREE = 0.5
W_COVERAGE = 0.25
_NORM = 1 - 1 / math.sqrt(2)


def gain(n: int) -> float:
    return (1 / math.sqrt(n + 1) - 1 / math.sqrt(n + 2)) / _NORM


def priority_expression(active_count=None):
    """The priority as a database expression of the row's own columns (active_count after the update
    when given as an expression)."""
    n = Cast(active_count if active_count is not None else F("active_count"), FloatField())
    g = (Value(1.0) / Sqrt(n + Value(1.0)) - Value(1.0) / Sqrt(n + Value(2.0))) / Value(_NORM)
    return F("priority_bonus") + F("priority_scale") * g


def priority_sql(n: str) -> str:
    """The same expression in SQL, for raw statements: `n` is the SQL of the new active_count."""
    return (
        f"priority_bonus + priority_scale * ((1.0 / sqrt(({n})::float8 + 1.0) - 1.0 / sqrt(({n})::float8 + 2.0))"
        f" / {_NORM!r})"
    )


def priority_of(*, active_count: int, scale: float, bonus: float) -> float:
    return bonus + scale * gain(active_count)


def disagreement_bonus(*, prediction: float | None, mos: float | None, probs: dict | None = None) -> float:
    """W_DISAGREE x |prediction - MOS| / 4 once the item has a MOS; before that, W_DISAGREE x the
    scorer's own uncertainty (entropy of its five level probabilities over log 5)."""
    if prediction is None:
        return 0.0
    if mos is not None:
        return W_DISAGREE * min(abs(prediction - mos) / 4.0, 1.0)
    if probs:
        ps = [max(float(p), 1e-12) for p in probs.values()]
        total = sum(ps)
        entropy = -sum(p / total * math.log(p / total) for p in ps)
        return W_DISAGREE * entropy / math.log(len(ps))
    return 0.0


def coverage_bonus(*, rating_share: float, item_share: float) -> float:
    """W_COVERAGE x how far a category's share of approved ratings falls short of its share of items."""
    if item_share <= 0:
        return 0.0
    return W_COVERAGE * max(0.0, 1.0 - rating_share / item_share)


def selection_refresh(*, campaign, disagreement: dict[int, float] | None = None) -> int:
    """Recompute every open regular item's priority bonus: its category's coverage, plus the scorer's
    disagreement (given per item id by the screening side, training/services/screening.py). Returns the
    items updated. Items with the same bonus are updated together; distinct values in chunks."""
    from django.db.models import Count

    from ..models import Batch, Item, Rating

    items = Item.objects.filter(campaign=campaign, is_golden=False)
    per_category = dict(
        items.values_list("prompt__category").annotate(n=Count("pk")).values_list("prompt__category", "n")
    )
    rated = dict(
        Rating.objects.filter(item__campaign=campaign, item__is_golden=False, batch__decision=Batch.Decision.APPROVED)
        .values_list("item__prompt__category")
        .annotate(n=Count("pk"))
        .values_list("item__prompt__category", "n")
    )
    n_items, n_rated = sum(per_category.values()) or 1, sum(rated.values())
    cover = {
        cat: coverage_bonus(rating_share=(rated.get(cat, 0) / n_rated) if n_rated else 1.0, item_share=n / n_items)
        for cat, n in per_category.items()
    }
    disagreement = disagreement or {}
    updated = 0
    rows = items.values_list("pk", "prompt__category").order_by("pk")
    batch: list[Item] = []
    for pk, cat in rows.iterator(chunk_size=5000):
        batch.append(Item(pk=pk, priority_bonus=round(cover.get(cat, 0.0) + disagreement.get(pk, 0.0), 4)))
        if len(batch) >= 2000:
            updated += Item.objects.bulk_update(batch, ["priority_bonus"])
            batch = []
    if batch:
        updated += Item.objects.bulk_update(batch, ["priority_bonus"])
    items.update(priority=priority_expression())
    return updated
