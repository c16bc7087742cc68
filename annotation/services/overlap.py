"""Adaptive overlap (`overlap_policy = "adaptive"`, beyond the paper): ratings where they change the
answer.

Under the paper's protocol every image gets 6 ratings and every video 3, whether its first raters agree
perfectly or scatter from 1 to 5, and whether they are the campaign's most careful raters or its least.
Under adaptive overlap an item starts with `min_ratings_per_image` (`_video`) as its target, and each
time a batch is approved (only approved ratings count) its items are looked at again: an item whose MOS
is not yet precise enough on every dimension gets one more rating (target + 1), up to
`max_ratings_per_item`; an item precise enough stops where it is. The pool and its guarantees are the
assignment's own (active_count < target): leases and pending ratings already count, so an item is never
leased beyond what it needs.

How precise an item's MOS is, per dimension. Raters differ: on a real lab set their agreement with the
golden scores spans SRCC 0.3-0.9, so a rating from a careful rater says more than one from a careless
one. Each rater's noise is known from their golden evidence (scrutiny: the variance of rating - golden
score once their offset is removed, `resid_var`), shrunk towards the campaign's median rater
(RATER_PRIOR_N golden items' worth); a rater without evidence counts as the median. With w_r = 1/noise_r:

    precision = sum of w_r over the item's approved ratings
    ambiguity = (sum of w_r (x_r - weighted mean)^2 / (n - 1)), shrunk towards 1 (PRIOR_DOF)
    half-width = 1.96 x sqrt(ambiguity / precision)

The item stops when the half-width is at most `overlap_ci_target` on every dimension. Ambiguity is how
much more the raters scatter on this item than their own noise predicts: items raters disagree on need
more ratings. Without golden evidence every rater weighs the same and this is the usual interval of a
mean with a shrunk spread.

The MOS such a campaign should use is `mle` with the generator prior (`mos.campaign_estimator`): items
that stop at 3 ratings need raters weighed and their generator's items to lean on (docs/loop.md has the
benchmark behind it).

Every change of targets happens under the item row locks, taken in primary-key order (as everywhere).
"""

from __future__ import annotations

import numpy as np
from django.db.models import Count, F, Q

from ..models import AnnotatorEvidence, Batch, Campaign, Item, MediaType, Rating
from .selection import priority_expression

PRIOR_DOF = 2  # the ambiguity ratio's prior, worth 2 degrees of freedom at 1 (raters as noisy as usual)
RATER_PRIOR_N = 10  # a rater's noise is shrunk towards the median rater's by 10 golden items' worth
DEFAULT_NOISE = 0.8  # rating noise variance of a rater when the campaign knows none
NOISE_FLOOR = 0.1  # no rater is taken for better than this (golden scores are noisy too)
COUNTED_KINDS = (Batch.Kind.ANNOTATION, Batch.Kind.IMPORTED)
CHUNK = 2000
Z95 = 1.96


def rater_noise(*, campaign: Campaign) -> dict[tuple[int, str], float]:
    """(annotator id, dimension) -> noise variance from golden evidence, shrunk to the median rater."""
    rows = list(AnnotatorEvidence.objects.filter(campaign=campaign).values_list("annotator_id", "figures"))
    out: dict[tuple[int, str], float] = {}
    for dim in campaign.dimensions:
        known = [
            (a, f[dim]["resid_var"], f[dim]["n_golden"])
            for a, f in rows
            if (f.get(dim) or {}).get("resid_var") is not None and (f.get(dim) or {}).get("n_golden", 0) >= 2
        ]
        median = float(np.median([v for _, v, _ in known])) if known else DEFAULT_NOISE
        out[(-1, dim)] = max(median, NOISE_FLOOR)  # anyone without evidence
        for annotator, value, n in known:
            shrunk = (RATER_PRIOR_N * median + n * value) / (RATER_PRIOR_N + n)
            out[(annotator, dim)] = max(shrunk, NOISE_FLOOR)
    return out


def half_width(values: np.ndarray, weights: np.ndarray) -> float:
    """1.96 x the standard error of an item's MOS from its ratings and their raters' weights (1/noise)."""
    n = len(values)
    if n == 0:
        return float("inf")
    precision = float(weights.sum())
    mean = float(np.average(values, weights=weights))
    scatter = float(np.sum(weights * (values - mean) ** 2)) / (n - 1) if n > 1 else 1.0
    ambiguity = (PRIOR_DOF * 1.0 + (n - 1) * scatter) / (PRIOR_DOF + n - 1)
    return Z95 * float(np.sqrt(ambiguity / precision))


def approved_ratings_of(*, item_ids: list[int], dimensions: list[str]) -> dict[int, list[tuple]]:
    """item id -> [(annotator id, score per dimension...)] of its approved ratings (one query)."""
    out: dict[int, list[tuple]] = {}
    rows = Rating.objects.filter(
        item_id__in=item_ids, batch__decision=Batch.Decision.APPROVED, batch__kind__in=COUNTED_KINDS
    ).values_list("item_id", "annotator_id", *dimensions)
    for item_id, annotator_id, *scores in rows:
        out.setdefault(item_id, []).append((annotator_id, *scores))
    return out


def adaptive_targets(
    *,
    campaign: Campaign,
    items: list[tuple[int, str, int]],
    ratings: dict[int, list[tuple]],
    noise: dict[tuple[int, str], float],
) -> dict[int, tuple[int, float]]:
    """New (target, priority_scale) per item. `items`: (id, media_type, target)."""
    dims = campaign.dimensions
    hi = campaign.max_ratings_per_item
    out = {}
    for pk, media_type, _ in items:
        rows = ratings.get(pk, [])
        n = len(rows)
        lo = campaign.min_ratings_per_image if media_type == MediaType.IMAGE else campaign.min_ratings_per_video
        widths = []
        for k, dim in enumerate(dims, start=1):
            pairs = [(r[k], 1 / noise.get((r[0], dim), noise[(-1, dim)])) for r in rows if r[k] is not None]
            values = np.array([v for v, _ in pairs], dtype=float)
            weights = np.array([w for _, w in pairs], dtype=float)
            widths.append(half_width(values, weights))
        wide = max(widths, default=float("inf")) > campaign.overlap_ci_target
        target = lo if n < lo else (n + 1 if wide and n < hi else max(n, lo))
        # Selection's spread factor: how far the item is from precise enough (1.0 before any rating).
        scale = 1.0 if not rows else float(min(max(widths) / campaign.overlap_ci_target, 3.0))
        out[pk] = (int(target), round(scale, 3))
    return out


def overlap_update(*, campaign: Campaign, item_ids: list[int]) -> int:
    """Re-decide the targets (and selection priorities) of these items from their approved ratings.
    Call inside the transaction that approved or un-approved their ratings. Returns items changed."""
    adaptive = campaign.overlap_policy == Campaign.Overlap.ADAPTIVE
    if not adaptive and campaign.selection_policy != Campaign.Selection.VALUE:
        return 0
    item_ids = sorted(set(item_ids))
    noise = rater_noise(campaign=campaign)
    changed = 0
    for start in range(0, len(item_ids), CHUNK):
        chunk = item_ids[start : start + CHUNK]
        rows = list(
            Item.objects.select_for_update(no_key=True)
            .filter(pk__in=chunk, is_golden=False)
            .order_by("pk")
            .values_list("pk", "media_type", "target")
        )
        new = adaptive_targets(
            campaign=campaign,
            items=rows,
            noise=noise,
            ratings=approved_ratings_of(item_ids=[r[0] for r in rows], dimensions=campaign.dimensions),
        )
        groups: dict[tuple[int | None, float], list[int]] = {}
        for pk, _, _ in rows:
            target, scale = new[pk]
            groups.setdefault((target if adaptive else None, scale), []).append(pk)
        for (new_target, scale), pks in groups.items():
            fields: dict[str, float] = {"priority_scale": scale}
            if new_target is not None:
                fields["target"] = new_target
            Item.objects.filter(pk__in=pks).update(**fields)
            changed += len(pks)
        Item.objects.filter(pk__in=[r[0] for r in rows]).update(priority=priority_expression())
    return changed


def overlap_refresh(*, campaign: Campaign) -> int:
    """Re-decide every regular item of the campaign (after switching policy or changing its settings)."""
    ids = list(Item.objects.filter(campaign=campaign, is_golden=False).order_by("pk").values_list("pk", flat=True))
    return overlap_update(campaign=campaign, item_ids=ids)


def overlap_summary(*, campaign: Campaign) -> dict:
    """Counts for the pages: items, still open, raised above the minimum, at the cap."""
    base = Item.objects.filter(campaign=campaign, is_golden=False)
    return base.aggregate(
        items=Count("pk"),
        open=Count("pk", filter=Q(active_count__lt=F("target"), is_held=False)),
        raised=Count(
            "pk",
            filter=(
                Q(media_type=MediaType.IMAGE, target__gt=campaign.min_ratings_per_image)
                | Q(media_type=MediaType.VIDEO, target__gt=campaign.min_ratings_per_video)
            ),
        ),
        at_cap=Count("pk", filter=Q(target__gte=campaign.max_ratings_per_item)),
    )
